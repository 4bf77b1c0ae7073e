//! `memscape hopfield`: classical, dense and modern Hopfield baselines
//! ([`memscape::pipeline::hopfield`]).

use memscape::pipeline::{HopfieldRequest, hopfield};
use memscape::store::sorted_json;

use crate::flags::{HopfieldArgs, HopfieldModel};

/// The baseline the flags ask for.
pub(crate) fn request(args: &HopfieldArgs) -> HopfieldRequest {
    HopfieldRequest {
        model: match args.model {
            HopfieldModel::Classical => memscape::pipeline::HopfieldModel::Classical,
            HopfieldModel::Dense => memscape::pipeline::HopfieldModel::Dense,
            HopfieldModel::Modern => memscape::pipeline::HopfieldModel::Modern,
        },
        n: args.n,
        alpha: args.alpha,
        degree: args.degree,
        nets: args.nets,
        per_net: args.per_net,
        flip: args.flip,
        seed: args.seed,
    }
}

pub fn run(args: HopfieldArgs) -> anyhow::Result<i32> {
    let request = request(&args);
    let result = sorted_json(&hopfield(&request)?);
    // one quantity a line, in the document's (sorted) order
    for (key, value) in result.as_object().expect("a JSON object") {
        eprintln!("{key:>24}  {}", value.to_string().trim_matches('"'));
    }
    if args.json {
        super::print_json(&result);
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// Each default stated once (issue 29): `memscape hopfield` with only the model and the
    /// load it asks for gives `HopfieldRequest::default()`.
    #[test]
    fn hopfield_without_optional_flags_is_the_library_default_request() {
        let cli =
            crate::flags::Cli::parse_from(["memscape", "hopfield", "classical", "--alpha", "0.1"]);
        let crate::flags::Command::Hopfield(args) = cli.command else {
            unreachable!("parsed hopfield")
        };
        assert_eq!(
            serde_json::to_value(request(&args)).unwrap(),
            serde_json::to_value(HopfieldRequest::default()).unwrap()
        );
    }
}

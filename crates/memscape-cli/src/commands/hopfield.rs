//! `memscape hopfield`: classical, dense and modern Hopfield baselines
//! ([`memscape::pipeline::hopfield`]).

use memscape::pipeline::{HopfieldRequest, hopfield};
use memscape::store::sorted_json;

use crate::flags::{HopfieldArgs, HopfieldModel};

pub fn run(args: HopfieldArgs) -> anyhow::Result<i32> {
    let request = HopfieldRequest {
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
    };
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

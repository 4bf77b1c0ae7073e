//! `memscape hopfield`: classical, dense and modern Hopfield baselines.

use memscape::dataset::synthetic::binary;
use memscape::hopfield::{self as hop, Interaction};
use memscape::rng::{stream, uniform};
use ndarray::Array2;

use crate::flags::{HopfieldArgs, HopfieldModel};

/// `rows` of `patterns` with a fraction `flip` of their bits flipped (stream per row).
fn corrupted(patterns: &Array2<f64>, rows: usize, flip: f64, seed: u64) -> Array2<f64> {
    let mut s = patterns.slice(ndarray::s![..rows, ..]).to_owned();
    for (i, mut row) in s.rows_mut().into_iter().enumerate() {
        let mut rng = stream(seed, i as u64);
        row.mapv_inplace(|v| if uniform(&mut rng) < flip { -v } else { v });
    }
    s
}

pub fn run(args: HopfieldArgs) -> anyhow::Result<i32> {
    if !(args.alpha.is_finite() && args.alpha > 0.0) {
        anyhow::bail!("--alpha must be > 0, got {}", args.alpha);
    }
    if args.n < 2 {
        anyhow::bail!("--n must be ≥ 2, got {}", args.n);
    }
    if !(0.0..0.5).contains(&args.flip) {
        anyhow::bail!("--flip must be in [0, 0.5), got {}", args.flip);
    }
    if matches!(args.model, HopfieldModel::Dense) && args.degree < 2 {
        anyhow::bail!(
            "--degree must be ≥ 2 (F(z) = z^degree; 2 is the classical network), got {}",
            args.degree
        );
    }
    let n = args.n;
    let result = match args.model {
        HopfieldModel::Classical => {
            let k = ((args.alpha * n as f64).round() as usize).max(1);
            let (mut unstable, mut overlap, mut count) = (0.0, 0.0, 0);
            for net_seed in 0..args.nets as u64 {
                let p = binary(k, n, args.seed * 1000 + net_seed);
                let net = hop::Classical::hebbian(p.view());
                unstable += hop::unstable_bit_fraction(&net, p.view());
                let starts = corrupted(&p, args.per_net.min(k), args.flip, net_seed);
                for (mu, s0) in starts.rows().into_iter().enumerate() {
                    let mut s = s0.to_owned();
                    net.run_async(&mut s, net_seed * 1000 + mu as u64, 200);
                    overlap += hop::overlap(s.view(), p.row(mu));
                    count += 1;
                }
            }
            serde_json::json!({
                "model": "classical", "n": n, "alpha": args.alpha, "k": k,
                "unstable_bit_fraction": unstable / args.nets as f64,
                "theory_one_step": hop::normal_cdf(-1.0 / args.alpha.sqrt()),
                "retrieval_overlap": overlap / count as f64,
                "ags_overlap": hop::ags_overlap(args.alpha),
                "ags_alpha_c": hop::ags_critical_alpha(),
            })
        }
        HopfieldModel::Dense | HopfieldModel::Modern => {
            let (f, k) = match args.model {
                HopfieldModel::Dense => (
                    Interaction::Polynomial(args.degree),
                    ((args.alpha * (n as f64).powi(args.degree as i32 - 1)).round() as usize)
                        .max(1),
                ),
                _ => (
                    Interaction::Exponential,
                    ((args.alpha * n as f64).exp().round() as usize).max(1),
                ),
            };
            if k > 5_000_000 {
                anyhow::bail!(
                    "--alpha gives K = {k} patterns; at most 5,000,000 fit in memory here"
                );
            }
            let mut unstable = 0.0;
            for net_seed in 0..args.nets as u64 {
                let p = binary(k, n, args.seed * 1000 + net_seed);
                let starts = corrupted(&p, args.per_net.min(k), args.flip, net_seed);
                unstable += hop::dense_unstable_bit_fraction(p.view(), starts.view(), f);
            }
            let mut r = serde_json::json!({
                "model": if matches!(f, Interaction::Exponential) { "modern" } else { "dense" },
                "n": n, "alpha": args.alpha, "k": k, "flip": args.flip,
                "unstable_bit_fraction": unstable / args.nets as f64,
            });
            match f {
                Interaction::Polynomial(d) => {
                    r["theory_one_step"] = hop::dense_error_theory(n, k, d).into()
                }
                Interaction::Exponential => {
                    r["demircigil_bound"] = hop::demircigil_bound(args.flip).into()
                }
            }
            r
        }
    };
    for (key, value) in result.as_object().expect("a JSON object") {
        eprintln!("{key:>24}  {}", value.to_string().trim_matches('"'));
    }
    if args.json {
        super::print_json(&result);
    }
    Ok(0)
}

//! `memscape rf`: the random-features score model, its timescales against the theory.

use memscape::error::significant;
use memscape::store::{Manifest, RunDir};
use memscape_train::rf::{RfRequest, RfSolver, rf_study, runs_at};

use crate::flags::{RfArgs, RfSolverArg};

/// The study the flags ask for.
pub(crate) fn request(args: &RfArgs) -> anyhow::Result<RfRequest> {
    let psi_n = args
        .psi_n
        .split(',')
        .map(|v| v.trim().parse::<f64>())
        .collect::<Result<Vec<f64>, _>>()
        .map_err(|_| {
            anyhow::anyhow!(
                "--psi-n must be a comma-separated list of numbers, got {:?}",
                args.psi_n
            )
        })?;
    Ok(RfRequest {
        d: args.d,
        psi_p: args.psi_p,
        psi_n,
        t: args.t,
        steps: args.steps,
        seeds: args.seeds,
        seed: args.seed,
        noise_draws: args.noise_draws,
        step_fraction: args.step_fraction,
        checkpoints: args.checkpoints,
        test_points: args.test_points,
        solver: match args.solver {
            RfSolverArg::Modes => RfSolver::Modes,
            RfSolverArg::Gradient => RfSolver::Gradient,
        },
        gen_level: args.gen_level,
        resamples: args.resamples,
    })
}

pub fn run(args: RfArgs, command: Vec<String>) -> anyhow::Result<i32> {
    let request = request(&args)?;
    for w in request.validate()? {
        eprintln!("warning: {w}");
    }
    let study = rf_study(request)?;
    let out = RunDir::create(&args.out)?;
    let mut files = study.write(&out)?;
    files.extend(memscape_report::rf_figures(out.path())?);
    files.extend(["report.html".into(), "manifest.json".into()]);
    let mut manifest = Manifest::new(command, serde_json::to_value(&study.request)?);
    manifest.seeds.insert("seed".into(), study.request.seed);
    manifest.timings.insert("study".into(), study.seconds);
    manifest.files = files;
    out.write_json("manifest.json", &manifest)?;
    let problems = memscape_report::write_report(out.path())?;
    anyhow::ensure!(problems.is_empty(), "report: {}", problems.join("; "));

    let th = &study.theory;
    eprintln!(
        "t = {}: Δ_t = {}, μ₁ = {}, b_t = {}, v_t² = {}, s_t² = {}; Bayes loss {}",
        study.request.t,
        significant(th.delta, 5),
        significant(th.mu1, 5),
        significant(th.b, 5),
        significant(th.v2, 5),
        significant(th.s2, 5),
        significant(th.bayes_loss(), 5)
    );
    let fmt = |t: Option<f64>| t.map_or("—".to_string(), |v| format!("{v:.3e}"));
    eprintln!(
        "{:>6} {:>6} {:>4}  {:>10} {:>10} {:>23}  {:>10} {:>10} {:>23}",
        "psi_n", "n", "m", "tau_gen th", "tau_gen", "95% CI", "tau_mem th", "tau_mem", "95% CI"
    );
    for ts in &study.timescales {
        let run = runs_at(&study.runs, ts.psi_n)[0];
        eprintln!(
            "{:>6} {:>6} {:>4}  {:>10.3e} {:>10} {:>23}  {:>10.3e} {:>10} {:>23}",
            ts.psi_n,
            run.n,
            run.noise_draws,
            ts.predicted_tau_gen,
            fmt(ts.tau_gen),
            format!("[{}, {}]", fmt(ts.tau_gen_ci[0]), fmt(ts.tau_gen_ci[1])),
            ts.predicted_tau_mem,
            fmt(ts.tau_mem),
            format!("[{}, {}]", fmt(ts.tau_mem_ci[0]), fmt(ts.tau_mem_ci[1])),
        );
    }
    match &study.fit {
        Some(f) => eprintln!(
            "tau_mem = {:.3e} psi_n^q with q = {:.3} [{:.3}, {:.3}] ({} of {} seed resamples in which every psi_n reached tau_mem); the predicted tau_mem gives q = {:.3} over these psi_n",
            f.a, f.q, f.ci[0], f.ci[1], f.resamples, study.request.resamples, f.predicted_q
        ),
        None => eprintln!("no fit: tau_mem was reached at fewer than two psi_n (more --steps)"),
    }
    if let Some(e) = study.score_exponent {
        eprintln!("E_score* ∝ psi_n^{e:.3} (MT Fig. 5: −0.59)");
    }
    eprintln!("wrote {} in {:.1} s", out.path().display(), study.seconds);
    if args.json {
        super::print_json(&study);
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// Each default stated once (issue 29): `memscape rf` without flags asks the library for
    /// `RfRequest::default()`, Bonnaire et al.'s setting.
    #[test]
    fn rf_without_flags_is_the_library_default_request() {
        let crate::flags::Command::Rf(args) =
            crate::flags::Cli::parse_from(["memscape", "rf"]).command
        else {
            unreachable!("parsed rf")
        };
        assert_eq!(
            serde_json::to_value(request(&args).unwrap()).unwrap(),
            serde_json::to_value(RfRequest::default()).unwrap()
        );
    }
}

//! `memscape attractors`: the critical points of the exact landscape at one beta (with
//! `--checkpoint`, a trained network's: [`super::attractors_trained`]).

use memscape::analysis::landscape::basin::{
    basin_map, basin_weights, energy_grid, morse_smale, padded_box, score_grid,
};
use memscape::analysis::landscape::critical::{SearchConfig, critical_points};
use memscape::analysis::samples::classify::train_spacing;
use memscape::denoiser::Landscape;
use memscape::error::require_positive;
use memscape::store::{Manifest, RunDir};
use memscape::units::Beta;

use crate::flags::AttractorsArgs;

pub fn run(args: AttractorsArgs, command: Vec<String>) -> anyhow::Result<i32> {
    let beta = match (args.beta, args.sigma) {
        (Some(b), _) => require_positive("--beta", b)?,
        (None, Some(s)) => Beta::from_sigma(require_positive("--sigma", s)?).value(),
        (None, None) => anyhow::bail!("--beta or --sigma is required"),
    };
    if args.checkpoint.is_some() {
        return super::attractors_trained::run(args, Beta(beta).sigma(), command);
    }
    let patterns = super::patterns(&args.data, args.k, args.subset_seed)?;
    let out = RunDir::create(&args.out)?;
    let exact = exact_landscape(
        &out,
        &patterns,
        beta,
        &Search {
            random_starts: args.random_starts,
            basin_starts: args.basin_starts,
            samples: args.samples,
            seed: args.seed,
        },
    )?;
    let (result, set, config, seconds) = (exact.result, exact.set, exact.config, exact.seconds);
    let mut files = exact.files;
    let mut manifest = Manifest::new(
        command,
        serde_json::json!({"args": format!("{args:?}"), "search": config}),
    );
    manifest.seeds.insert("search".into(), args.seed);
    files.extend(["report.html".into(), "manifest.json".into()]);
    manifest.files = files;
    manifest.timings.insert("search_s".into(), seconds);
    out.write_json("manifest.json", &manifest)?;
    let problems = memscape_report::write_report(out.path())?;
    anyhow::ensure!(problems.is_empty(), "report: {}", problems.join("; "));
    let euler = match set.euler_characteristic {
        Some(1) => "Euler characteristic 1".to_string(),
        Some(chi) => format!("Euler characteristic {chi} (≠ 1: the search missed points)"),
        None => {
            let degenerate: Vec<String> = set
                .points
                .iter()
                .filter(|p| p.degenerate)
                .map(|p| format!("{:?} (kernel dimension {})", p.x, p.kernel_dim))
                .collect();
            format!(
                "Euler characteristic undefined: beta is a bifurcation value, degenerate at {}",
                degenerate.join(", ")
            )
        }
    };
    eprintln!(
        "beta {beta}: {} minima ({} memories), {} saddles, {} maxima; {euler}; {:.2} s; wrote {}",
        set.minima,
        set.points
            .iter()
            .filter(|p| p.kind == memscape::analysis::landscape::critical::Kind::Memory)
            .count(),
        set.saddles,
        set.maxima,
        seconds,
        out.path().display()
    );
    if args.json {
        super::print_json(&result);
    }
    Ok(0)
}

/// How the exact landscape is searched and drawn.
pub struct Search {
    pub random_starts: usize,
    /// Monte Carlo starts for the basin weights (0: skip).
    pub basin_starts: usize,
    /// Samples of the exact model stopped at this sigma, drawn on a 2-D landscape (0: none).
    pub samples: usize,
    pub seed: u64,
}

/// The exact landscape written into a run directory.
pub struct ExactLandscape {
    pub result: serde_json::Value,
    pub files: Vec<String>,
    pub set: memscape::analysis::landscape::critical::CriticalSet,
    pub config: SearchConfig,
    pub seconds: f64,
}

/// The critical points of E(x; beta) over `patterns`, their Morse–Smale connections and basin
/// weights, written to `out` as `attractors.json`; on 2-D data also the energy, score and basin
/// grids, the patterns and the exact model's samples stopped at sigma = 1/√beta, and the
/// landscape figures.
pub fn exact_landscape(
    out: &RunDir,
    patterns: &ndarray::Array2<f64>,
    beta: f64,
    search: &Search,
) -> anyhow::Result<ExactLandscape> {
    let land = Landscape::new(patterns.view(), beta)?;
    let spacing = train_spacing(patterns.view())?;
    let mut config = SearchConfig::for_spacing(spacing);
    config.random_starts = search.random_starts;
    config.seed = search.seed;
    let clock = std::time::Instant::now();
    let set = critical_points(&land, &config, None)?;
    let radius = 0.05 * spacing;
    let connections = morse_smale(&land, &set, radius);
    let (weights, elsewhere, unconverged) = if search.basin_starts > 0 {
        basin_weights(&land, &set, search.basin_starts, search.seed, radius)
    } else {
        (vec![], 0.0, 0.0)
    };
    let seconds = clock.elapsed().as_secs_f64();
    let mut result = serde_json::json!({
        "beta": beta,
        "sigma": Beta(beta).sigma(),
        "critical_points": set.points,
        "counts": {"minima": set.minima, "saddles": set.saddles, "maxima": set.maxima},
        "euler_characteristic": set.euler_characteristic,
        "complete": set.euler_characteristic == Some(1),
        "degenerate": set.points.iter().filter(|p| p.degenerate).count(),
        "connections": connections,
        "basin_weights": weights.iter().map(|(i, w)| serde_json::json!({"point": i, "weight": w})).collect::<Vec<_>>(),
        "basin_elsewhere": elsewhere,
        "basin_unconverged": unconverged,
        "num_starts": set.num_starts,
        "num_unconverged": set.num_unconverged,
        "seconds": seconds,
    });
    let mut files = vec!["attractors.json".to_string()];
    if patterns.ncols() == 2 {
        // the basin of every point of a 101 × 101 grid over the data's box, padded by 20%
        let [x0, x1, y0, y1] = padded_box(patterns.view());
        let map = basin_map(&land, &set, [x0, x1, y0, y1], 101, radius);
        out.write_npy("basin_map.npy", &map.mapv(|v| v as f64))?;
        result["basin_map"] = serde_json::json!({"file": "basin_map.npy", "bounds": [x0, x1, y0, y1], "resolution": 101, "labels": "position in critical_points, −1 where the descent ends elsewhere"});
        files.push("basin_map.npy".into());
        out.write_npy(
            "energy_grid.npy",
            &energy_grid(&land, [x0, x1, y0, y1], 101),
        )?;
        out.write_npy("score_grid.npy", &score_grid(&land, [x0, x1, y0, y1], 21))?;
        out.write_npy("patterns.npy", patterns)?;
        if search.samples > 0 {
            // samples of the exact model stopped at this landscape's sigma = 1/√beta
            let sigma = Beta(beta).sigma();
            let den = memscape::denoiser::EmpiricalDenoiser::<f64>::new(patterns.view())?;
            let (samples, sampler) = memscape::sampler::stopped_samples(
                &den,
                patterns.view(),
                search.samples,
                sigma,
                ("em", 100, true),
                search.seed,
            )?;
            out.write_npy("samples.npy", &samples)?;
            result["samples"] =
                serde_json::json!({"file": "samples.npy", "n": search.samples, "sampler": sampler});
            files.push("samples.npy".into());
        }
        result["grids"] = serde_json::json!({"bounds": [x0, x1, y0, y1], "energy": "energy_grid.npy (101 × 101, row = y)", "score": "score_grid.npy (21 × 21 × 2, −beta ∇E)"});
        files.extend([
            "energy_grid.npy".into(),
            "score_grid.npy".into(),
            "patterns.npy".into(),
        ]);
    }
    out.write_json("attractors.json", &result)?;
    files.extend(memscape_report::landscape_figures(out.path())?);
    Ok(ExactLandscape {
        result,
        files,
        set,
        config,
        seconds,
    })
}

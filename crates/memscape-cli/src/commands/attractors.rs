//! `memscape attractors`: the critical points of the exact landscape at one beta.

use memscape::analysis::basin::{basin_weights, morse_smale};
use memscape::analysis::classify::train_spacing;
use memscape::analysis::critical::{SearchConfig, critical_points};
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
    let patterns = super::patterns(&args.data, args.k, args.subset_seed)?;
    let land = Landscape::new(patterns.view(), beta)?;
    let spacing = train_spacing(patterns.view())?;
    let mut config = SearchConfig::for_spacing(spacing);
    config.random_starts = args.random_starts;
    config.seed = args.seed;
    let clock = std::time::Instant::now();
    let set = critical_points(&land, &config, None)?;
    let radius = 0.05 * spacing;
    let connections = morse_smale(&land, &set, radius);
    let (weights, elsewhere, unconverged) = if args.basin_starts > 0 {
        basin_weights(&land, &set, args.basin_starts, args.seed, radius)
    } else {
        (vec![], 0.0, 0.0)
    };
    let seconds = clock.elapsed().as_secs_f64();
    let result = serde_json::json!({
        "beta": beta,
        "sigma": Beta(beta).sigma(),
        "critical_points": set.points,
        "counts": {"minima": set.minima, "saddles": set.saddles, "maxima": set.maxima},
        "euler_characteristic": set.euler_characteristic,
        "complete": set.euler_characteristic == 1,
        "connections": connections,
        "basin_weights": weights.iter().map(|(i, w)| serde_json::json!({"point": i, "weight": w})).collect::<Vec<_>>(),
        "basin_elsewhere": elsewhere,
        "basin_unconverged": unconverged,
        "num_starts": set.num_starts,
        "num_unconverged": set.num_unconverged,
        "seconds": seconds,
    });
    let out = RunDir::create(&args.out)?;
    out.write_json("attractors.json", &result)?;
    let mut manifest = Manifest::new(
        command,
        serde_json::json!({"args": format!("{args:?}"), "search": config}),
    );
    manifest.seeds.insert("search".into(), args.seed);
    manifest.files = vec!["attractors.json".into(), "manifest.json".into()];
    manifest.timings.insert("search_s".into(), seconds);
    out.write_json("manifest.json", &manifest)?;
    eprintln!(
        "beta {beta}: {} minima ({} memories), {} saddles, {} maxima; Euler characteristic {}{}; {:.2} s; wrote {}",
        set.minima,
        set.points
            .iter()
            .filter(|p| p.kind == memscape::analysis::critical::Kind::Memory)
            .count(),
        set.saddles,
        set.maxima,
        set.euler_characteristic,
        if set.euler_characteristic == 1 {
            ""
        } else {
            " (≠ 1: the search missed points, or some are degenerate)"
        },
        seconds,
        out.path().display()
    );
    if args.json {
        super::print_json(&result);
    }
    Ok(0)
}

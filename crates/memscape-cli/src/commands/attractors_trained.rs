//! `memscape attractors --checkpoint FILE --sigma S`: the landscape of a trained network at one
//! noise level ([`memscape::pipeline::trained_landscape`]): the census of its own samples, the
//! recovery levels and relative energies of its largest basins, and on 2-D data the grids,
//! written with the landscape's figures and report.

use memscape::analysis::landscape::attractor::AttractorKind;
use memscape::pipeline::{LANDSCAPE_DEFAULTS, LandscapeRequest, trained_landscape};
use memscape::store::{Manifest, RunDir};

use crate::flags::AttractorsArgs;

pub fn run(args: AttractorsArgs, sigma: f64, command: Vec<String>) -> anyhow::Result<i32> {
    let path = args.checkpoint.clone().expect("called with a checkpoint");
    let (model, meta, set) =
        super::checkpoint_and_set(&path, &args.data, args.k, args.holdout, args.subset_seed)?;
    let train = set.train.points.view();
    let d = train.ncols();
    let request = LandscapeRequest {
        sigma,
        samples: args.samples,
        eigenvalues: args
            .eigenvalues
            .unwrap_or(LANDSCAPE_DEFAULTS.eigenvalues_for(d)),
        recovery: args.recovery,
        trials: args.trials,
        seed: args.seed,
        census: args.census.settings(),
    };
    // bad input is refused before the run directory exists
    request.validate(d, set.heldout.points.view())?;
    let out = RunDir::create(&args.out)?;
    let t = trained_landscape(
        &model,
        set.train.points.view(),
        set.heldout.points.view(),
        &request,
    )?;
    let mut files = t.write(&out, Some(meta.step), Some(&path))?;
    files.extend(memscape_report::landscape_figures(out.path())?);
    let result = t.document(Some(meta.step), Some(&path));
    let (c, config, recovery_config, seconds) = (&t.census, t.config, t.recovery_config, t.seconds);
    let count = |k: AttractorKind| c.counts.get(k);
    let mut manifest = Manifest::new(
        command,
        serde_json::json!({"args": format!("{args:?}"), "census": config, "recovery": recovery_config}),
    );
    manifest.seeds.insert("sampler".into(), args.seed);
    files.extend(["report.html".into(), "manifest.json".into()]);
    manifest.files = files;
    manifest.timings.insert("census_s".into(), seconds);
    out.write_json("manifest.json", &manifest)?;
    let problems = memscape_report::write_report(out.path())?;
    anyhow::ensure!(problems.is_empty(), "report: {}", problems.join("; "));
    eprintln!(
        "the network at step {} (sigma {sigma}): {} memories, {} spurious, {} off-support, {} manifolds, {} saddles, {} uncertain; {} of {} samples unsettled ({:.1}% [{:.1}, {:.1}]); census {} denoiser rows = {:.2} × sampling's {} ({:.1} per settled sample), {:.2} s; wrote {}",
        meta.step,
        count(AttractorKind::Memory),
        count(AttractorKind::Spurious),
        count(AttractorKind::OffSupport),
        count(AttractorKind::Manifold),
        count(AttractorKind::Saddle),
        count(AttractorKind::Uncertain),
        c.unsettled,
        args.samples,
        100.0 * c.unsettled_share,
        100.0 * c.unsettled_ci[0],
        100.0 * c.unsettled_ci[1],
        c.cost.total(),
        c.cost.total() as f64 / t.sampling_rows.max(1) as f64,
        t.sampling_rows,
        c.rows_per_settled_sample(),
        seconds,
        out.path().display()
    );
    if let Some(e) = c.euler.filter(|e| e.fails()) {
        eprintln!(
            "warning: the flow points into the box {:?}, where #minima − #saddles + #maxima must be 1, but the census counts {} − {} + {} = {}: critical points are missing",
            e.bounds, e.minima, e.saddles, e.maxima, e.chi
        );
    }
    if args.json {
        super::print_json(&memscape::store::sorted_json(&result));
    }
    Ok(0)
}

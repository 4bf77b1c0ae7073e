//! The report's sections of the landscapes: an `attractors` run (the exact model's critical
//! points or a trained network's census), a `bifurcate` run and a `trace` run.

use std::fmt::Write;

use memscape::analysis::landscape::bifurcation::Counts;
use memscape::analysis::landscape::trace::{Diagram, Interval, TraceEvent};
use memscape::pipeline::{BifurcationDocument, TrainedDocument, parameter_name};

use super::{figure, finite};
use crate::{Attractors, RunReader, json_text, serde_name};

/// The landscape section of an `attractors` run.
pub(super) fn attractors_section(reader: &RunReader, out: &mut String, problems: &mut Vec<String>) {
    let a = match reader.attractors() {
        Ok(Attractors::Exact(a)) => a,
        Ok(Attractors::Trained(t)) => return trained_attractors_section(reader, &t, out, problems),
        Err(e) => return problems.push(e.to_string()),
    };
    let c = &a.counts;
    let _ = write!(
        out,
        "<section><h2>Critical points at beta = {}</h2><p><b>{}</b> minima, <b>{}</b> saddles, <b>{}</b> maxima; Euler characteristic Σ(−1)^index = <b>{}</b>{}.</p>",
        json_text(&a.beta),
        c.minima,
        c.saddles,
        c.maxima,
        euler(a.euler_characteristic),
        if a.complete {
            " (the set is complete)"
        } else if a.euler_characteristic.is_none() {
            " (beta is a bifurcation value: degenerate points are flagged with their kernel dimension in the table)"
        } else {
            " (≠ 1: the search missed points)"
        }
    );
    if a.grids.is_some() {
        figure(
            reader,
            "landscape",
            "Energy E(x; beta) (colour, square-root scale), the score field −beta ∇E (white arrows, log length), training patterns (crosses) and critical points by kind; black segments join each index-1 saddle to the minima its unstable manifold reaches. From <code>energy_grid.npy</code>, <code>score_grid.npy</code>, <code>patterns.npy</code>, <code>attractors.json</code>.",
            out,
            problems,
        );
        figure(
            reader,
            "basins",
            "Basins of attraction: each grid point coloured by the minimum its descent (x ← D(x)) reaches, grey where it ends elsewhere; same overlay. From <code>basin_map.npy</code> and <code>attractors.json</code>.",
            out,
            problems,
        );
    }
    out.push_str("<table><thead><tr><th>#</th><th>kind</th><th>index</th><th>energy</th><th>x</th><th>smallest |eigenvalue|</th></tr></thead><tbody>");
    for (i, p) in a.critical_points.iter().enumerate().take(200) {
        let x: Vec<String> = p.x.iter().take(4).map(|v| format!("{v:.4}")).collect();
        let min_eig = p
            .eigenvalues
            .iter()
            .fold(f64::INFINITY, |m, v| m.min(v.abs()));
        let _ = write!(
            out,
            "<tr><td>{i}</td><td>{}</td><td>{}</td><td>{:.5}</td><td>({}{})</td><td>{min_eig:.2e}</td></tr>",
            serde_name(&p.kind),
            p.index,
            p.energy,
            x.join(", "),
            if p.x.len() > 4 { ", …" } else { "" }
        );
    }
    out.push_str("</tbody></table><p class=\"note\">Table: <code>attractors.json</code> (first 200 points).</p></section>");
}

/// The landscape section of `attractors --checkpoint`: the census of a trained network.
pub(super) fn trained_attractors_section(
    reader: &RunReader,
    a: &TrainedDocument,
    out: &mut String,
    problems: &mut Vec<String>,
) {
    let (c, census) = (&a.counts, &a.census);
    let n = |v: f64| finite(v, 4);
    let r = &census.unsettled_reasons;
    let _ = write!(
        out,
        "<section><h2>Fixed points of the network at step {} at sigma = {}</h2><p><b>{}</b> memories, <b>{}</b> spurious, <b>{}</b> off-support, <b>{}</b> manifolds, <b>{}</b> saddles, <b>{}</b> uncertain (index not certified), from {} samples stopped at this sigma; <b>{}</b> unsettled ({} [{}, {}]: flow not converged {}, on a flat set {}, at a saddle or uncertain point {}, not analysed {}). Each sample follows the flow dx/ds = D(x) − x by pseudo-transient continuation (x ← D(x) itself diverges where the Jacobian has eigenvalues below −1); Newton–Krylov polishes each group's point to round-off, and Arnoldi on finite-difference products certifies its index from the rightmost part of the spectrum (every eigenvalue above 1 − margin, margin {}). A manifold is a connected set of near-fixed points with eigenvalues within the margin of 1. Saddles also from midpoints, strings and softest directions between stable points. The census cost {} denoiser rows, {} × what drawing the samples cost.</p>",
        json_text(&a.step),
        json_text(&a.sigma),
        c.memory,
        c.spurious,
        c.off_support,
        c.manifold,
        c.saddle,
        c.uncertain,
        census.num_samples,
        census.unsettled,
        n(census.unsettled_share),
        n(census.unsettled_ci[0]),
        n(census.unsettled_ci[1]),
        r.unconverged,
        r.flat,
        r.saddle_or_uncertain,
        r.not_analysed,
        json_text(&census.config.map(|c| c.fixed.margin)),
        census.rows,
        n(census.rows_to_sampling),
    );
    if a.grids.is_some() {
        figure(
            reader,
            "landscape",
            "The network's energy E = −sigma² log p_sigma (colour, square-root scale; integrated from its score along grid lines), its score (D − x)/sigma² (white arrows, log length), training patterns (crosses), its samples stopped at sigma (dots) and its fixed points by kind. From <code>energy_grid.npy</code>, <code>score_grid.npy</code>, <code>samples.npy</code>, <code>attractors.json</code>.",
            out,
            problems,
        );
        figure(
            reader,
            "basins",
            "Basins: each grid point coloured by the attractor its flow dx/ds = D(x) − x settles in, grey where it ends elsewhere. From <code>basin_map.npy</code>.",
            out,
            problems,
        );
    }
    let optional = |v: Option<f64>| v.map_or("—".to_string(), n);
    out.push_str("<table><thead><tr><th>#</th><th>kind</th><th>index</th><th>certified</th><th>basin (95% CI)</th><th>gap 1 − Re λ_max</th><th>leading eigenvalues (Re)</th><th>dimension, extent</th><th>‖J − Jᵀ‖/‖J‖</th><th>to nearest pattern</th></tr></thead><tbody>");
    for (i, p) in a.critical_points.iter().enumerate().take(200) {
        let _ = write!(
            out,
            "<tr><td>{i}</td><td>{}</td><td>{}</td><td>{}</td><td>{} [{}, {}]</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            serde_name(&p.kind),
            json_text(&p.index),
            match &p.uncertain {
                Some(why) => format!("no ({})", serde_name(why).replace('_', " ")),
                None => p.certified.to_string(),
            },
            n(p.basin),
            n(p.basin_ci[0]),
            n(p.basin_ci[1]),
            optional(p.gap),
            p.eigenvalues
                .iter()
                .take(4)
                .map(|v| format!("{:.3}", v[0]))
                .collect::<Vec<_>>()
                .join(", "),
            match (p.dimension, p.extent) {
                (Some(d), Some(e)) => format!("{d}, {e:.3}"),
                _ => "—".to_string(),
            },
            optional(p.asymmetry),
            n(p.nearest_train),
        );
    }
    out.push_str("</tbody></table>");
    if !a.recovery.is_empty() {
        out.push_str("<table><thead><tr><th>#</th><th>critical sigma (95% CI)</th><th>DDPM time t</th><th>implied radius (95% CI)</th><th>displacement s*√d</th><th>censored (high / low)</th></tr></thead><tbody>");
        for r in &a.recovery {
            let v = &r.recovery;
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{} [{}, {}]</td><td>{}</td><td>{} [{}, {}]</td><td>{}</td><td>{} / {}</td></tr>",
                r.attractor,
                n(v.critical_sigma),
                n(v.ci[0]),
                n(v.ci[1]),
                n(v.critical_t),
                n(v.radius),
                n(v.radius_ci[0]),
                n(v.radius_ci[1]),
                n(v.displacement),
                v.censored_high,
                v.censored_low
            );
        }
        out.push_str("</tbody></table>");
    }
    if !a.energies.is_empty() {
        out.push_str("<table><thead><tr><th>from</th><th>to</th><th>E(to) − E(from)</th><th>barrier along the segment</th></tr></thead><tbody>");
        for e in &a.energies {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                e.from,
                e.to,
                n(e.delta),
                n(e.barrier)
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("<p class=\"note\">Tables: <code>attractors.json</code>. Critical sigma: the noise level at which 90% of noised copies still return (reverse ODE, then settling) within delta_m, located per trial by bisection; implied radius s*·Φ⁻¹(0.9), the distance of a flat basin boundary crossed that often; DDPM time t on the linear schedule (vp_beta 0.1..20). Energies: E = −sigma² log p_sigma along the straight segment, by Gauss–Legendre quadrature of the score.</p></section>");
}

/// An Euler characteristic; none (a degenerate point in the set) is undefined.
pub(super) fn euler(value: Option<i64>) -> String {
    value.map_or("undefined (a degenerate point)".to_string(), |v| {
        v.to_string()
    })
}

/// The section of a `bifurcate` run: the events and the diagram.
pub(super) fn bifurcation_section(
    reader: &RunReader,
    out: &mut String,
    problems: &mut Vec<String>,
) {
    let b: BifurcationDocument = match reader.document("bifurcations.json") {
        Ok(b) => b,
        Err(e) => return problems.push(e.to_string()),
    };
    let key = parameter_name(&b.parameter);
    out.push_str("<section><h2>Bifurcations</h2>");
    figure(
        reader,
        "bifurcation",
        "Every branch of critical points, followed by pseudo-arclength continuation: first coordinate (top) and energy (bottom) against the parameter, coloured by Morse index; dashed lines mark the located events. From <code>bifurcations.json</code>.",
        out,
        problems,
    );
    if !b.unexplained.is_empty() {
        let _ = write!(
            out,
            "<p class=\"warn\">Between these grid values the counts changed more than the events explain (a missed event): {}</p>",
            b.unexplained
                .iter()
                .map(json_text)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let _ = write!(
        out,
        "<table><thead><tr><th>{key}</th><th>type</th><th>kernel dim</th><th>branches at the point (index before→after)</th><th>counts before (min/saddle/max)</th><th>counts after</th><th>|D³E[v,v,v]|</th></tr></thead><tbody>"
    );
    let counts = |c: &Counts| format!("{}/{}/{}", c.minima, c.saddles, c.maxima);
    let side = |v: Option<usize>| v.map_or("–".to_string(), |i| i.to_string());
    for e in &b.events {
        let branches: Vec<String> = e
            .branches
            .iter()
            .map(|b| format!("{}→{}", side(b.index_before), side(b.index_after)))
            .collect();
        let _ = write!(
            out,
            "<tr><td>{:.8}</td><td>{}{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2e}</td></tr>",
            e.at,
            serde_name(&e.kind),
            match e.supercritical {
                Some(true) => " (supercritical)",
                Some(false) => " (subcritical)",
                None => "",
            },
            e.k.map_or(String::new(), |k| format!(", k = {k}")),
            e.kernel_dim,
            branches.join(" "),
            counts(&e.counts_before),
            counts(&e.counts_after),
            e.cubic,
        );
    }
    out.push_str(
        "</tbody></table><p class=\"note\">Table: <code>bifurcations.json</code>.</p></section>",
    );
}

/// A `trace` run: its figure, and its events table with the unexplained intervals.
pub(super) fn trace_section(reader: &RunReader, out: &mut String, problems: &mut Vec<String>) {
    let doc = match reader.json("trace.json") {
        Ok(d) => d,
        Err(e) => return problems.push(e.to_string()),
    };
    let row = |out: &mut String, place: String, e: &TraceEvent| {
        let list = |v: &[usize]| {
            v.iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let _ = write!(
            out,
            "<tr><td>{place}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            serde_name(&e.kind),
            list(&e.born),
            list(&e.died),
            e.passing
                .iter()
                .map(|p| format!("{}→{}", p[0], p[1]))
                .collect::<Vec<_>>()
                .join(" "),
            e.kernel_dim
        );
    };
    let head = |out: &mut String, place: &str| {
        let _ = write!(
            out,
            "<table><thead><tr><th>{place}</th><th>type</th><th>born (indices)</th><th>died</th><th>passing (index before→after)</th><th>kernel dim</th></tr></thead><tbody>"
        );
    };
    if let Some(units) = doc["units"].as_array() {
        out.push_str("<section><h2>Fixed points through training</h2>");
        figure(
            reader,
            "trace",
            "Each fixed point's life from checkpoint to checkpoint, continued along the chord of the weights between consecutive checkpoints: its distance to the nearest training pattern against the step, coloured by its kind at the last checkpoint it reached; ▲ births and ▼ deaths (folds). From <code>trace.json</code>.",
            out,
            problems,
        );
        for u in units {
            let d: Diagram = match serde_json::from_value(u["trace"]["diagram"].clone()) {
                Ok(d) => d,
                Err(e) => return problems.push(format!("trace.json: {e}")),
            };
            let _ = write!(
                out,
                "<h3>K = {}, seed {}</h3><p>{} lives, {} events; unexplained step intervals: {}. First spurious attractor holding ≥ {} of the samples: {}.</p>",
                u["k"],
                u["seed"],
                d.lives.len(),
                d.events.len(),
                if d.unexplained.is_empty() {
                    "none".to_string()
                } else {
                    d.unexplained
                        .iter()
                        .map(|w| format!("[{}, {}]", w[0], w[1]))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
                u["trace"]["spur_level"],
                match u["trace"]["spurious_birth"]
                    .as_array()
                    .map(|a| (a[0].as_f64(), a[1].as_bool()))
                {
                    Some((Some(s), Some(true))) => format!("born at step {s:.1}"),
                    Some((Some(s), _)) => format!("already there where first found (step {s})"),
                    _ => "none".to_string(),
                }
            );
            head(out, "step");
            for e in d.events.iter().take(200) {
                row(out, format!("{:.1}", e.step), &e.event);
            }
            out.push_str("</tbody></table>");
        }
        out.push_str("<p class=\"note\">Tables: <code>trace.json</code> (first 200 events per run; <code>memscape trace</code> also writes them as <code>events.csv</code> and <code>lives.csv</code>).</p></section>");
        return;
    }
    out.push_str("<section><h2>Fixed points through sigma</h2>");
    figure(
        reader,
        "trace_sigma",
        "The network's fixed points (top) and the exact model's of the same training set (bottom), continued from the lowest to the highest sigma: distance to the nearest training pattern against sigma, coloured by index; ▲ births and ▼ deaths and merges. From <code>trace.json</code> and <code>train.npy</code>.",
        out,
        problems,
    );
    for key in ["network", "exact"] {
        let interval: Interval = match serde_json::from_value(doc["sigma"][key]["interval"].clone())
        {
            Ok(i) => i,
            Err(e) => return problems.push(format!("trace.json: {e}")),
        };
        let _ = write!(
            out,
            "<h3>{key}</h3><p>{}</p>",
            if interval.explained {
                "Every point paired: the counts carried across the events equal the census's at the highest sigma."
            } else {
                "Not explained: a branch was lost, or a census lacked points the continuation reached."
            }
        );
        head(out, "sigma");
        for e in &interval.events {
            row(out, format!("{:.5}", e.theta.exp()), e);
        }
        out.push_str("</tbody></table>");
    }
    out.push_str(
        "<p class=\"note\">Tables: <code>events.csv</code>, <code>trace.json</code>.</p></section>",
    );
}

//! The report's sections of the studies: a map's phase table and figures, a dynamics run's
//! timescales, its attractors along training and its sample grids, and the random-features
//! model's losses.

use std::fmt::Write;

use memscape::pipeline::{LandscapeCounts, MapResults};
use memscape_train::dynamics::DynamicsResults;

use super::landscapes::euler;
use super::{capacity, escape, estimate, figure, finite, step, two_places};
use crate::{RunReader, json_text};

/// The phase-map section: headline, figure, table.
pub(super) fn phase_section(
    reader: &RunReader,
    results: &MapResults,
    out: &mut String,
    problems: &mut Vec<String>,
) {
    let mut models = vec![("exact".to_string(), &results.capacities)];
    for (name, t) in &results.trained {
        models.push((name.clone(), &t.capacities));
    }
    out.push_str("<section><h2>Headline</h2><ul>");
    for (name, c) in &models {
        let _ = write!(
            out,
            "<li><b>{}</b>: memorization capacity (largest K with ≥ 50% memorized) <b>{}</b>; \
             spurious peak <b>{}</b> at K = {}; generalization capacity (smallest K with ≥ 50% \
             generalized) <b>{}</b></li>",
            escape(name),
            capacity(c.memorization, c.memorization_ci),
            estimate(c.spurious_peak, c.spurious_peak_ci),
            c.spurious_peak_k,
            capacity(c.generalization, c.generalization_ci),
        );
    }
    let _ = write!(
        out,
        "<li>Final noise level sigma_min = {:.4} (pairs closer than 2·sigma_min merge: beta·d² &lt; 4); {} samples per K and model</li>\
         </ul><p class=\"note\">Intervals are bootstrap 95% percentile intervals over the samples.{}</p></section>",
        results.sigma_min,
        results.num_samples,
        if models.len() > 1 {
            " The trained model (mlp) is one network per K, trained with the configuration in the manifest; its rows are dashed in the figure."
        } else {
            ""
        },
    );
    out.push_str("<section><h2>Phase diagram</h2>");
    figure(
        reader,
        "phase",
        "Fractions of memorized, spurious, generalized and off-support samples against K (log scale), with 95% bands, f_mem dashed, the chance levels of memorized and spurious (held-out draws classified as samples) dotted in their own light bands, and the capacities marked. Drawn from <code>results.json</code>; the same numbers are in <code>phase.csv</code>.",
        out,
        problems,
    );
    if results.rows.iter().any(|r| r.census.is_some()) {
        figure(
            reader,
            "census",
            "The attractor census of each K at sigma_min, one line per model: memories, spurious attractors, manifolds (connected near-fixed sets with eigenvalues within the margin of 1), saddles between neighbouring stable points, off-support attractors, and the share of samples in no basin. From <code>results.json</code> (rows' <code>census</code>); the counts are in <code>phase.csv</code>.",
            out,
            problems,
        );
    }
    if reader.dir().join("samples_grid.svg").is_file() {
        figure(
            reader,
            "samples_grid",
            "Generated samples of the exact model at the K of the spurious peak (left of each pair) beside their nearest training image (right), up to 8 per class: memorized closest to the training set first, spurious closest to another sample first, generalized and off-support farthest from any sample first (Pham et al.'s orders). From <code>labels.csv</code>, <code>samples_k*.npy</code> and <code>train.npy</code>.",
            out,
            problems,
        );
    }
    model_grids(reader, out, problems);
    for (stem, method) in [("embedding", "PCA"), ("tsne", "t-SNE"), ("umap", "UMAP")] {
        if reader.dir().join(format!("{stem}.svg")).is_file() {
            let source = if stem == "embedding" {
                "<code>embedding.csv</code> (all K, with the attractor and DBSCAN cluster of each sample)"
            } else {
                "<code>embedding_nonlinear.csv</code> (up to 500 patterns and the first samples, 1000 points)"
            };
            figure(
                reader,
                stem,
                &format!(
                    "{method} of the training patterns (crosses) and the exact model's samples at the K of the spurious peak; left coloured by class, right by DBSCAN cluster at the automatic threshold (first valley of the pairwise-distance density; grey: noise). From {source}."
                ),
                out,
                problems,
            );
        }
    }
    for l in &results.landscapes {
        let counts = match &l.counts {
            LandscapeCounts::Exact(c) => format!(
                "{} minima, {} saddles, {} maxima (Euler characteristic {})",
                c.minima,
                c.saddles,
                c.maxima,
                euler(l.euler_characteristic.flatten())
            ),
            LandscapeCounts::Trained(c) => format!(
                "{} memories, {} spurious, {} off-support, {} manifolds, {} saddles, {} uncertain",
                c.memory, c.spurious, c.off_support, c.manifold, c.saddle, c.uncertain
            ),
        };
        let dir = &l.dir;
        for (stem, what) in [("landscape", "energy landscape"), ("basins", "basins")] {
            figure(
                reader,
                &format!("{dir}/{stem}"),
                &format!(
                    "The {} model's {what} at K = {} ({}) and sigma_min = {:.4}: {counts}. Samples stopped at sigma_min (dots), training patterns (crosses), fixed points by kind. From <code>{dir}/attractors.json</code> and its grids.",
                    escape(&l.model),
                    l.k,
                    if l.peak_of.is_empty() {
                        "the spurious-peak K".to_string()
                    } else {
                        format!("the {} model's spurious peak", escape(&l.peak_of))
                    },
                    l.sigma
                ),
                out,
                problems,
            );
        }
    }
    out.push_str("<table><thead><tr><th>model</th><th>K</th><th>memorized</th><th>spurious</th><th>generalized</th><th>off-support</th><th>f_mem</th><th>MMD² (held-out floor)</th><th>Fréchet (held-out floor), precision, recall</th><th>exact quality (held-out)</th><th>attractors</th><th>memories / spurious / off-support / manifolds (dimensions) / saddles / uncertain</th><th>unsettled</th><th>DBSCAN clusters (spurious)</th><th>HDBSCAN clusters (spurious)</th><th>single-linkage clusters</th></tr></thead><tbody>");
    for r in &results.rows {
        let (db, hdb, f) = (&r.clusters.dbscan, &r.clusters.hdbscan, &r.fractions);
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} ({})</td><td>{} ({})</td><td>{}</td></tr>",
            escape(&r.model),
            r.k,
            with_chance(
                estimate(f.memorized, f.ci.memorized),
                r.chance.map(|c| (c.memorized, c.excess.memorized))
            ),
            with_chance(
                estimate(f.spurious, f.ci.spurious),
                r.chance.and_then(|c| c.spurious.zip(c.excess.spurious))
            ),
            estimate(f.generalized, f.ci.generalized),
            estimate(f.off_support, f.ci.off_support),
            with_chance(
                estimate(f.f_mem, f.ci.f_mem),
                r.chance.map(|c| (c.f_mem, c.excess.f_mem))
            ),
            match r.quality {
                Some(q) => format!("{:.2e} ({:.2e})", q.mmd2, q.mmd2_heldout),
                None => "—".to_string(),
            },
            match r.fidelity {
                Some(f) => format!(
                    "{:.3e} ({:.3e}), {:.3}, {:.3}",
                    f.frechet, f.frechet_heldout, f.precision, f.recall
                ),
                None => "—".to_string(),
            },
            match &r.exact_quality {
                Some(q) => format!(
                    "{:.4} ({})",
                    q.samples,
                    q.heldout.map_or("—".into(), |h| format!("{h:.4}"))
                ),
                None => "—".to_string(),
            },
            r.num_attractors,
            match &r.census {
                Some(c) => {
                    let n = &c.counts;
                    format!(
                        "{} / {} / {} / {} ({}) / {} / {}",
                        n.memory,
                        n.spurious,
                        n.off_support,
                        n.manifold,
                        c.manifold_dimensions
                            .iter()
                            .map(|d| d.to_string())
                            .collect::<Vec<_>>()
                            .join(", "),
                        n.saddle,
                        n.uncertain
                    )
                }
                None => "—".to_string(),
            },
            match &r.census {
                Some(c) => estimate(c.unsettled_share, c.unsettled_ci),
                None => "—".to_string(),
            },
            db.clusters,
            db.spurious,
            hdb.clusters,
            hdb.spurious,
            r.clusters.single_linkage.clusters,
        );
    }
    out.push_str("</tbody></table><p class=\"note\">Table: <code>phase.csv</code> / <code>results.json</code>; per-sample labels and distances in <code>labels.csv</code>. Chance: the fraction of held-out draws of the data, as many as the samples, classified as if they were samples with the same thresholds (what a perfect generator gets by coincidence), and the excess of the samples over it, each with its bootstrap 95% interval (<code>chance</code> in <code>results.json</code>). Off-support: neither memorized nor spurious, and farther from the data (training and held-out points) than the 0.99 quantile of the held-out points' own leave-one-out distances (<code>support</code> in <code>results.json</code>): noise, never counted as generalized. MMD²: unbiased Gaussian-kernel MMD² of the samples against held-out data; in brackets, the same score of held-out data itself, the floor a perfect generator reaches. Fréchet: the Fréchet distance between the Gaussians fitted to the samples and to half the held-out set, in the data's own space, with the other half's score as the floor; precision: the share of samples inside the held-out data's manifold (the union of balls reaching each point's 3rd nearest neighbour), recall: the share of held-out points inside the samples' manifold (Kynkäänniemi et al. 2019; <code>fidelity</code> in <code>results.json</code>). Exact quality, where the distribution is known: the mean log-density (Gaussian mixtures; higher is better) or the mean distance to the support (circle, sphere; 0 is perfect), of the samples and in brackets of the held-out points. Attractors: the distinct stable points and manifolds that hold samples in the attractor census at sigma_min: each sample follows the flow dx/ds = D(x) − x (the exact model by its unit step x ← D(x), a network by pseudo-transient continuation); Newton polishes each group's point and Arnoldi certifies its index; a manifold is a connected set of near-fixed points whose Jacobian has eigenvalues within the margin of 1 (its dimension: how many); saddles are those Newton finds from the midpoints of neighbouring stable points. Unsettled: samples in no basin (flow not converged, on a flat set, at a saddle), with its bootstrap 95% interval. Clusters: of the settled samples, DBSCAN and single linkage at the automatic threshold (first valley of the density of log pairwise distances) and HDBSCAN (no threshold; minimum cluster size 5), independent counts of the attractors; a cluster counts as spurious when most of its samples are.</p></section>");
}

/// The section of a `dynamics` run: tau_mem, tau_gen, the fit, the (K, step) map.
pub(super) fn dynamics_section(
    reader: &RunReader,
    results: &DynamicsResults,
    out: &mut String,
    problems: &mut Vec<String>,
) {
    out.push_str("<section><h2>Headline</h2><ul>");
    match &results.fit {
        Some(f) => {
            let _ = write!(
                out,
                "<li>tau_mem = a·K^p with <b>p = {}</b> (bootstrap 95% interval [{}, {}]) over {} values of K</li>",
                finite(f.p, 3),
                finite(f.ci[0], 3),
                finite(f.ci[1], 3),
                f.num_k
            );
        }
        None => out.push_str("<li>No fit: tau_mem was reached at fewer than two K.</li>"),
    }
    let _ = write!(
        out,
        "<li>tau_mem: the first step where f_mem reaches {} (interpolated in log step); tau_gen: the checkpoint of the smallest held-out loss, and (sample quality) the first checkpoint whose MMD² to held-out data, above the held-out floor, is within {}% of its minimum ((s − floor) ≤ (1 + x)(min − floor)), with its bootstrap 95% interval over the seeds; {} seeds, {} samples per checkpoint</li></ul></section>",
        json_text(&results.fmem_level),
        100.0 * results.gen_level,
        results.seeds,
        results.num_samples
    );
    out.push_str("<section><h2>Phase map over K and training step</h2>");
    figure(
        reader,
        "dynamics",
        "Each cell is one K and checkpoint, coloured by the seed-averaged mix of memorized (red), spurious (orange) and generalized (blue) samples; black dots and bars are tau_mem with its bootstrap 95% interval, the dashed line the fit tau_mem = a·K^p, triangles tau_gen. From <code>results.json</code>; the same cells per seed are in <code>phase.csv</code>.",
        out,
        problems,
    );
    figure(
        reader,
        "fmem_curves",
        "f_mem (share of samples with d1/d2 < 1/3) against the training step, averaged over seeds, one line per K; the dashed line is the level that defines tau_mem; dotted in each K's colour, with its light band, the chance level of f_mem (held-out draws classified as samples), where the run had held-out data. From <code>results.json</code>.",
        out,
        problems,
    );
    out.push_str("<table><thead><tr><th>K</th><th>tau_mem</th><th>95% interval</th><th>tau_gen (held-out loss)</th><th>tau_gen (sample quality)</th><th>95% interval</th></tr></thead><tbody>");
    for (i, t) in results.tau_mem.iter().enumerate() {
        let held_out = results.tau_gen.get(i);
        let quality = results.tau_gen_quality.get(i);
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>[{}, {}]</td><td>{}</td><td>{}</td><td>[{}, {}]</td></tr>",
            t.k,
            step(t.step),
            step(t.ci[0]),
            step(t.ci[1]),
            held_out.map_or("—".into(), |g| step(g.step)),
            quality.map_or("—".into(), |g| step(g.step)),
            quality.map_or("—".into(), |g| step(g.ci[0])),
            quality.map_or("—".into(), |g| step(g.ci[1])),
        );
    }
    out.push_str("</tbody></table><p class=\"note\">Tables: <code>phase.csv</code> (every K, seed and checkpoint: fractions, dominant phase, train and held-out losses), <code>loss.csv</code> (mini-batch loss of every step), <code>results.json</code>.</p></section>");
    if !results.tau_spur.is_empty() {
        attractors_along_training(reader, results, out, problems);
    }
    if results.grid_k.is_some() {
        out.push_str("<section><h2>Samples along training</h2>");
        model_grids(reader, out, problems);
        out.push_str("</section>");
    }
}

/// The attractor census of a `dynamics` run: counts, tau_spur against tau_mem, basins, and
/// the interventions table.
pub(super) fn attractors_along_training(
    reader: &RunReader,
    results: &DynamicsResults,
    out: &mut String,
    problems: &mut Vec<String>,
) {
    out.push_str("<section><h2>Attractors along training</h2>");
    let _ = write!(
        out,
        "<p>At every checkpoint each sample follows the flow dx/ds = D(x) − x at sigma_min (pseudo-transient continuation: x ← D(x) itself diverges where the network's Jacobian has eigenvalues below −1); Newton–Krylov polishes the point of each group of settled samples to round-off, and Arnoldi on finite-difference Jacobian products certifies its index from the rightmost part of its spectrum: a certified index 0 near a training pattern is a memory, elsewhere on the data's support a spurious attractor, off it an off-support attractor; a connected set of near-fixed points with eigenvalues within the margin of 1 a manifold; index ≥ 1 a saddle (also found from midpoints, strings and softest directions). Basins count samples whose flow converged; the rest are unsettled. <b>tau_spur</b> is the first step at which the seed-averaged share of samples in <i>persistent</i> spurious basins (a certified stable point within delta_m of the attractor at the next checkpoint; the last checkpoint has none) reaches {}; its interval, the ratio tau_spur/tau_mem and the exponent gap come from the same bootstrap resamples as tau_mem (seeds, then samples). A checkpoint whose census holds no attractor with more than half the samples unsettled (D near the identity, early in training) is too early to read.</p>",
        json_text(&results.spur_level)
    );
    let early: Vec<String> = results
        .rows
        .iter()
        .filter(|r| r.attractors.as_ref().is_some_and(|a| !a.readable))
        .map(|r| format!("K = {} seed {} step {}", r.k, r.seed, r.step))
        .collect();
    if !early.is_empty() {
        let _ = write!(
            out,
            "<p><b>Too early to read</b> (no attractor, most samples unsettled): {}.</p>",
            escape(&early.join("; "))
        );
    }
    figure(
        reader,
        "attractor_counts",
        "Seed-mean counts of memories, spurious attractors, manifolds, saddles and off-support attractors, and the unsettled share, against the training step, one line per K. From <code>results.json</code> (rows' <code>attractors</code>); every point is in <code>attractors.csv</code>.",
        out,
        problems,
    );
    figure(
        reader,
        "tau_spur",
        "tau_spur (orange) and tau_mem (red) against K with their bootstrap 95% intervals (a bar to the top: not reached in some resamples) and their power-law fits (dashed). From <code>results.json</code>.",
        out,
        problems,
    );
    figure(
        reader,
        "basin_sizes",
        "The share of samples in each attractor's basin at the last checkpoint, by kind (offset within each K), pooled over seeds. From <code>attractors.csv</code>.",
        out,
        problems,
    );
    out.push_str("<table><thead><tr><th>K</th><th>tau_spur</th><th>95% interval</th><th>tau_mem</th><th>tau_spur / tau_mem</th><th>95% interval</th></tr></thead><tbody>");
    for (i, t) in results.tau_spur.iter().enumerate() {
        let r = results.spur_ratio.get(i);
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>[{}, {}]</td><td>{}</td><td>{}</td><td>[{}, {}]</td></tr>",
            t.k,
            step(t.step),
            step(t.ci[0]),
            step(t.ci[1]),
            results.tau_mem.get(i).map_or("—".into(), |m| step(m.step)),
            two_places(r.and_then(|r| r.ratio)),
            two_places(r.and_then(|r| r.ci[0])),
            two_places(r.and_then(|r| r.ci[1])),
        );
    }
    out.push_str("</tbody></table>");
    if let Some(g) = &results.exponent_gap {
        let _ = write!(
            out,
            "<p>Exponent gap p_spur − p_mem = <b>{}</b> (95% interval [{}, {}], {} paired resamples): 0 when tau_spur/tau_mem does not depend on K.</p>",
            finite(g.gap, 2),
            finite(g.ci[0], 2),
            finite(g.ci[1], 2),
            g.resamples
        );
    }
    if results.interventions.len() > 1 {
        out.push_str("<h3>Interventions</h3><table><thead><tr><th>intervention</th><th>K</th><th>tau_mem</th><th>tau_spur</th><th>memories</th><th>spurious attractors</th><th>saddles</th><th>off-support</th><th>spurious mass</th><th>mean memory basin</th><th>mean spurious basin</th></tr></thead><tbody>");
        for row in &results.interventions {
            for k in &row.by_k {
                let _ = write!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(&row.name),
                    k.k,
                    step(k.tau_mem),
                    step(k.tau_spur),
                    two_places(k.memory_attractors),
                    two_places(k.spurious_attractors),
                    two_places(k.saddles),
                    two_places(k.off_support_attractors),
                    two_places(k.spurious_mass),
                    two_places(k.mean_memory_basin),
                    two_places(k.mean_spurious_basin),
                );
            }
        }
        out.push_str("</tbody></table><p class=\"note\">Counts, masses and basins: seed means at the last checkpoint. From <code>results.json</code> (<code>interventions</code>) and <code>attractors.csv</code>.</p>");
    }
    out.push_str("</section>");
}

/// Inlines every `samples_grid_{model}_k{K}.svg` (a trained model at each K, or a dynamics
/// run's checkpoints `step{S}`), in order of model and K.
pub(super) fn model_grids(reader: &RunReader, out: &mut String, problems: &mut Vec<String>) {
    let mut grids: Vec<(String, u64, String)> = std::fs::read_dir(reader.dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let stem = name.strip_suffix(".svg")?.to_string();
            let (model, k) = stem.strip_prefix("samples_grid_")?.rsplit_once("_k")?;
            Some((model.to_string(), k.parse().ok()?, stem))
        })
        .collect();
    grids.sort();
    for (model, k, stem) in grids {
        let who = match model.strip_prefix("step") {
            Some(step) => format!(
                "the network at training step {} (first seed)",
                step.trim_start_matches('0')
            ),
            None => format!("the trained {model}"),
        };
        figure(
            reader,
            &stem,
            &format!(
                "Samples of {who} at K = {k} beside their nearest training images, by class (off-support: farther from the data than held-out images are; noise, not generalization). From <code>labels.csv</code>, <code>samples_{model}_k{k}.npy</code> and <code>train.npy</code>."
            ),
            out,
            problems,
        );
    }
}

/// The section of an `rf` run: the timescales against the theory, the spectrum, the curves.
pub(super) fn rf_section(reader: &RunReader, out: &mut String, problems: &mut Vec<String>) {
    let study = match crate::rf::read_study(reader) {
        Ok(s) => s,
        Err(e) => return problems.push(e.to_string()),
    };
    let (r, th) = (&study.request, &study.theory);
    let _ = write!(
        out,
        "<section><h2>Random-features model (Bonnaire et al. 2025, §3)</h2><ul>\
         <li>s_A(x) = (A/√p) tanh(Wx/√d), d = {}, p = {} (psi_p = {}), t = {}, {} gradient-descent steps of dτ = {:.4e} ({} solver), {} seeds</li>\
         <li>theory at t: Δ_t = {:.5}, μ₁ = {:.5}, b_t = {:.5}, v_t² = {:.5}, s_t² = {:.5}; Bayes loss 1 − Δ_t/Γ_t² = {:.5}</li>\
         <li>tau_gen: the first checkpoint whose score error E_score (the test loss above its Bayes floor, over Δ_t) is within {}% of its minimum; tau_mem: the first time the test − train gap reaches {} of its limit at tau → ∞; both from seed means, with bootstrap 95% intervals over the seeds; predicted: psi_p/(Δ_t λ_min) at the lower edge of ρ₂ and of ρ₁</li>",
        r.d,
        r.p(),
        r.psi_p,
        r.t,
        r.steps,
        study.runs.first().map_or(f64::NAN, |run| run.dtau),
        r.solver.name(),
        r.seeds,
        th.delta,
        th.mu1,
        th.b,
        th.v2,
        th.s2,
        th.bayes_loss(),
        100.0 * r.gen_level,
        memscape_train::rf::GAP_SHARE,
    );
    match &study.fit {
        Some(f) => {
            let _ = write!(
                out,
                "<li>fit tau_mem = a·psi_n^q: q = {:.3} [{:.3}, {:.3}] ({} of {} resamples); the predicted tau_mem over the same psi_n: q = {:.3} (1 where psi_p ≫ psi_n)</li>",
                f.q, f.ci[0], f.ci[1], f.resamples, r.resamples, f.predicted_q
            );
        }
        None => out.push_str("<li>No fit: tau_mem was reached at fewer than two psi_n.</li>"),
    }
    if let Some(e) = study.score_exponent {
        let _ = write!(
            out,
            "<li>the smallest score error E_score* against psi_n: exponent {e:.3} (MT Fig. 5: −0.59)</li>"
        );
    }
    for w in &study.warnings {
        let _ = write!(out, "<li class=\"warn\">{}</li>", escape(w));
    }
    out.push_str("</ul>");
    let fmt = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.3e}"));
    out.push_str("<table><thead><tr><th>psi_n</th><th>n</th><th>noise draws m</th><th>tau_gen predicted</th><th>tau_gen</th><th>95% interval</th><th>tau_mem predicted</th><th>tau_mem</th><th>95% interval</th><th>measured/predicted tau_mem</th><th>E_score*</th><th>eigenvalues in δ-spread / ρ₁ / ρ₂ (theory)</th><th>in none</th></tr></thead><tbody>");
    for t in &study.timescales {
        let Some(run) = memscape_train::rf::runs_at(&study.runs, t.psi_n)
            .first()
            .copied()
        else {
            continue;
        };
        let s = &run.spectrum;
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.3e}</td><td>{}</td><td>[{}, {}]</td><td>{:.3e}</td><td>{}</td><td>[{}, {}]</td><td>{}</td><td>{:.3e}</td><td>{} / {} / {} ({} / {} / {})</td><td>{:.1}%</td></tr>",
            t.psi_n,
            run.n,
            run.noise_draws,
            t.predicted_tau_gen,
            fmt(t.tau_gen),
            fmt(t.tau_gen_ci[0]),
            fmt(t.tau_gen_ci[1]),
            t.predicted_tau_mem,
            fmt(t.tau_mem),
            fmt(t.tau_mem_ci[0]),
            fmt(t.tau_mem_ci[1]),
            t.tau_mem
                .map_or("—".into(), |m| format!("{:.3}", m / t.predicted_tau_mem)),
            t.score_min,
            s.counts[0],
            s.counts[1],
            s.counts[2],
            s.expected[0],
            s.expected[1],
            s.expected[2],
            100.0 * s.outside,
        );
    }
    out.push_str("</tbody></table>");
    for (name, caption) in [
        (
            "rf_timescales",
            "tau_gen and tau_mem against psi_n: markers measured (bars: 95% intervals over seeds), dashed the theory's predictions, the solid line the fit. From <code>rf.json</code>.",
        ),
        (
            "rf_losses",
            "Top: the score error (seed mean) against the training time, one line per psi_n; its plateau onset is tau_gen. Bottom: the test − train loss gap over its limit at tau → ∞; its crossing of the dashed level is tau_mem. From <code>rf.json</code>; every checkpoint of every seed is in <code>rf.csv</code>.",
        ),
        (
            "rf_spectrum",
            "U's eigenvalues for the first seed of each psi_n, as counts per bin of log10 λ, over the theory's parts: the noise draws' spread of the δ peak at s_t², the bulk ρ₁ and the envelope of ρ₂ (Theorem 3.2). From <code>spectrum.csv</code>.",
        ),
    ] {
        figure(reader, name, caption, out, problems);
    }
    out.push_str("</section>");
}

/// A fraction's cell with its chance level and the excess over it beneath, where held-out data
/// gave them.
fn with_chance(
    fraction: String,
    chance: Option<(
        memscape::analysis::samples::classify::Estimate,
        memscape::analysis::samples::classify::Estimate,
    )>,
) -> String {
    match chance {
        Some((level, excess)) => format!(
            "{fraction}<br><span class=\"note\">chance {}; excess {}</span>",
            estimate(level.value, level.ci),
            estimate(excess.value, excess.ci)
        ),
        None => fraction,
    }
}

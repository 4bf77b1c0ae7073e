//! Issue 26: a trained circle MLP's fixed points followed through training time.
//!
//! - At every checkpoint, the counts the trace carries across the located events equal the
//!   census's, or the interval is listed as unexplained; no branch is lost, and every census
//!   point of every checkpoint lies on a life.
//! - Adding the intermediate checkpoints (tracing every checkpoint, against every other one)
//!   keeps the events of each coarse interval: each has a fine event of the same type and
//!   indices, moved by at most half the coarse interval's width (the chord of the weights is
//!   not the training path). The fine trace may resolve more: pairs born and dead between
//!   the checkpoints, which the coarse chord passes by.

use memscape::analysis::landscape::attractor::CensusSettings;
use memscape::dataset::data_scale;
use memscape::pipeline::LandscapeRequest;
use memscape_train::trace::{RunTrace, trace_checkpoints};
use memscape_train::{Architecture, ScoreModel, TrainConfig, train};
use ndarray::Array2;

/// K points on the unit circle at fixed, uneven angles.
fn circle(k: usize) -> Array2<f64> {
    Array2::from_shape_fn((k, 2), |(i, j)| {
        let a =
            2.0 * std::f64::consts::PI * (i as f64 + 0.3 * ((i * 7) % 5) as f64 / 5.0) / k as f64;
        if j == 0 { a.cos() } else { a.sin() }
    })
}

fn trained(k: usize) -> (Array2<f64>, Vec<(usize, ScoreModel)>) {
    let points = circle(k);
    let config = TrainConfig {
        architecture: Architecture::Mlp,
        width: 64,
        depth: 3,
        steps: 3000,
        checkpoints: 24,
        ..Default::default()
    };
    let mut models = vec![];
    // the checkpoints from step 300 on: earlier ones are too early to read (the trace would
    // start at the first readable one)
    train(&config, points.view(), None, |m, meta, _| {
        if meta.step >= 300 {
            models.push((meta.step, m.clone()));
        }
        Ok(())
    })
    .unwrap();
    (points, models)
}

fn run(points: &Array2<f64>, models: &[(usize, ScoreModel)]) -> RunTrace {
    let refs: Vec<(usize, &ScoreModel)> = models.iter().map(|(s, m)| (*s, m)).collect();
    let request = LandscapeRequest {
        sigma: 0.02 * data_scale(points.view()),
        samples: 200,
        eigenvalues: 2,
        recovery: 0,
        trials: 1,
        seed: 0,
        census: CensusSettings::default(),
    };
    let empty = Array2::zeros((0, 2));
    trace_checkpoints(&refs, points.view(), empty.view(), &request, 0.1, |_, _| {}).unwrap()
}

#[test]
fn the_trace_carries_the_census_counts_and_keeps_its_events_between_checkpoints() {
    let (points, models) = trained(8);
    let fine = run(&points, &models);
    let d = &fine.diagram;
    for (i, iv) in d.intervals.iter().enumerate() {
        assert_eq!(iv.lost, 0, "interval {i}");
        assert_eq!(iv.explained, iv.counts_carried == iv.counts_after);
        assert_eq!(
            d.unexplained.contains(&[d.steps[i], d.steps[i + 1]]),
            !iv.explained
        );
    }
    for (c, checkpoint) in fine.checkpoints[fine.traced_from..].iter().enumerate() {
        for p in 0..checkpoint.points.len() {
            assert!(
                d.lives.iter().any(|l| l.at[c] == Some(p)),
                "census point {p} of checkpoint {c} is on no life"
            );
        }
    }
    assert!(!d.events.is_empty());
    let coarse_models: Vec<(usize, ScoreModel)> = models
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 0 || *i == models.len() - 1)
        .map(|(_, m)| m.clone())
        .collect();
    let coarse = run(&points, &coarse_models);
    let steps = &coarse.diagram.steps;
    // the coarse intervals the fine trace covers
    for w in steps.windows(2).filter(|w| w[0] >= d.steps[0]) {
        let within = |t: &RunTrace| {
            let mut e: Vec<_> = t
                .diagram
                .events
                .iter()
                .filter(|e| e.step > w[0] && e.step < w[1])
                .map(|e| {
                    (
                        e.step,
                        e.event.kind,
                        e.event.born.clone(),
                        e.event.died.clone(),
                    )
                })
                .collect();
            e.sort_by(|a, b| a.0.total_cmp(&b.0));
            e
        };
        let (a, mut b) = (within(&coarse), within(&fine));
        // each coarse event has a fine one of the same type and indices, the nearest unmatched
        for x in &a {
            let j = (0..b.len())
                .filter(|&j| (b[j].1, &b[j].2, &b[j].3) == (x.1, &x.2, &x.3))
                .min_by(|&i, &j| (b[i].0 - x.0).abs().total_cmp(&(b[j].0 - x.0).abs()))
                .unwrap_or_else(|| panic!("[{}, {}]: {x:?} unmatched in {b:?}", w[0], w[1]));
            assert!(
                (b[j].0 - x.0).abs() <= 0.5 * (w[1] - w[0]),
                "[{}, {}]: coarse {} fine {}",
                w[0],
                w[1],
                x.0,
                b[j].0
            );
            b.remove(j);
        }
    }
}

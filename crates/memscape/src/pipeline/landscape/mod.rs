//! The landscapes `memscape attractors` measures, as library studies: the exact model's at one
//! beta ([`exact_landscape`]: its critical points, Morse–Smale connections, basins and 2-D
//! grids), and a trained network's at one noise level ([`trained_landscape`], with
//! `--checkpoint`; also `map`'s landscapes on 2-D data), and a model's fixed points followed
//! through sigma beside the exact model's ([`sigma_trace`], `memscape trace --checkpoint`).
//!
//! In the trained landscape, the network's own samples, stopped at sigma, settle and start the
//! census ([`crate::analysis::landscape::attractor`]). The stable points with the largest basins
//! get their critical recovery level, and the relative energy from the largest basin's point to
//! every other stable point along a segment ([`crate::analysis::landscape::recovery`]). On 2-D
//! data come grids of the energy, the score and the basins.

mod trained;
mod exact;
mod sigma;

pub use exact::*;
pub use sigma::*;
pub use trained::*;

use serde::{Deserialize, Serialize, Serializer};

use crate::analysis::landscape::attractor::KindCounts;
use crate::analysis::landscape::bifurcation::Counts;
use crate::store::sorted_json;

/// A landscape drawn beside a map on 2-D data, as `results.json` lists it: the model, K and
/// sigma it was drawn at, the subdirectory `dir` that holds it as `memscape attractors` writes
/// it, and its counts. Fields (and the counts' keys) in alphabetical order, as `results.json`
/// has always had them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapLandscape {
    #[serde(serialize_with = "sorted_keys")]
    pub counts: LandscapeCounts,
    pub dir: String,
    /// The exact landscape's Euler characteristic (`Some(None)`, written `null`, when a
    /// degenerate point leaves it undefined); absent for a network's landscape.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::numbers::present"
    )]
    pub euler_characteristic: Option<Option<i64>>,
    pub k: usize,
    pub model: String,
    /// The model whose spurious peak chose K (empty in documents written before it was kept).
    #[serde(default)]
    pub peak_of: String,
    pub sigma: f64,
}

/// A map landscape's counts: the exact model's critical points by index, or a trained
/// network's attractors by kind.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LandscapeCounts {
    Exact(Counts),
    Trained(KindCounts),
}

/// Serializes `value` with its keys sorted ([`sorted_json`]).
fn sorted_keys<T: Serialize, S: Serializer>(
    value: &T,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    sorted_json(value).serialize(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::landscape::attractor::CensusSettings;
    use crate::analysis::landscape::attractor::SaddleSearch;
    use crate::denoiser::EmpiricalDenoiser;
    use ndarray::Array2;

    /// `attractors.json` reads back (as the report reads it) into the document it was written
    /// from: the exact landscape of a triangle with its grids and samples, and the census of a
    /// network (here the exact denoiser in its place) with recovery levels.
    #[test]
    fn attractor_documents_read_back_as_written() {
        let patterns = ndarray::array![[1.0, 0.0], [-0.5, 0.866], [-0.5, -0.866]];
        let exact = exact_landscape(
            patterns.view(),
            &ExactLandscapeRequest {
                beta: 4.0,
                random_starts: 50,
                basin_starts: 50,
                samples: 50,
                seed: 3,
            },
        )
        .unwrap();
        let written = sorted_json(&exact.document());
        let read: ExactDocument = serde_json::from_value(written.clone()).unwrap();
        assert_eq!(sorted_json(&read), written);
        assert!(read.grids.is_some() && read.samples.is_some());
        let network = EmpiricalDenoiser::<f64>::new(patterns.view()).unwrap();
        let trained = trained_landscape(
            &network,
            patterns.view(),
            Array2::<f64>::zeros((0, 2)).view(),
            &LandscapeRequest {
                sigma: 0.3,
                samples: 60,
                eigenvalues: 2,
                recovery: 1,
                trials: 4,
                seed: 3,
                census: CensusSettings::default(),
            },
        )
        .unwrap();
        let written = sorted_json(&trained.document(Some(7), None));
        let read: TrainedDocument = serde_json::from_value(written.clone()).unwrap();
        assert_eq!(sorted_json(&read), written);
        assert_eq!(read.step, Some(7));
        assert!(!read.critical_points.is_empty() && !read.recovery.is_empty());
    }

    /// A trained landscape's `attractors.json` as the census of issue 25's first form wrote it
    /// (no cost ratios, no settling cost, the saddle search a yes/no) still reads: the ratios
    /// as NaN (the report prints "—"), `true` as the full search; a configuration of a form no
    /// longer read is dropped, not the document.
    #[test]
    fn earlier_trained_documents_still_read() {
        let patterns = ndarray::array![[1.0, 0.0], [-1.0, 0.0]];
        let network = EmpiricalDenoiser::<f64>::new(patterns.view()).unwrap();
        let request = LandscapeRequest {
            sigma: 0.3,
            samples: 20,
            eigenvalues: 2,
            recovery: 0,
            ..LandscapeRequest::default()
        };
        let t = trained_landscape(
            &network,
            patterns.view(),
            Array2::<f64>::zeros((0, 2)).view(),
            &request,
        )
        .unwrap();
        let mut doc = sorted_json(&t.document(None, None));
        let census = doc["census"].as_object_mut().unwrap();
        census.remove("rows_to_sampling");
        census.remove("rows_per_settled_sample");
        census["cost"].as_object_mut().unwrap().remove("settle");
        census["config"]["saddle_search"] = serde_json::json!(true);
        let read: TrainedDocument = serde_json::from_value(doc.clone()).unwrap();
        assert!(
            read.census.rows_to_sampling.is_nan() && read.census.rows_per_settled_sample.is_nan()
        );
        assert_eq!(read.census.cost.settle, 0);
        assert_eq!(
            read.census.config.unwrap().saddle_search,
            SaddleSearch::Full
        );
        doc["census"]["config"]["saddle_search"] = serde_json::json!(false);
        let read: TrainedDocument = serde_json::from_value(doc.clone()).unwrap();
        assert_eq!(
            read.census.config.unwrap().saddle_search,
            SaddleSearch::None
        );
        doc["census"]["config"]
            .as_object_mut()
            .unwrap()
            .remove("settle");
        let read: TrainedDocument = serde_json::from_value(doc).unwrap();
        assert!(read.census.config.is_none());
    }

    /// A map landscape's entry reads back as the variant it was written from, with its keys in
    /// the sorted order `results.json` has always had.
    #[test]
    fn map_landscape_entries_round_trip_with_sorted_keys() {
        let exact = MapLandscape {
            counts: LandscapeCounts::Exact(Counts {
                minima: 3,
                saddles: 2,
                maxima: 0,
            }),
            dir: "landscape_exact_k3".into(),
            euler_characteristic: Some(Some(1)),
            k: 3,
            model: "exact".into(),
            peak_of: "mlp".into(),
            sigma: 0.05,
        };
        let trained = MapLandscape {
            counts: LandscapeCounts::Trained(KindCounts {
                memory: 2,
                spurious: 1,
                ..KindCounts::default()
            }),
            dir: "landscape_mlp_k3".into(),
            euler_characteristic: None,
            model: "mlp".into(),
            ..exact.clone()
        };
        let text = serde_json::to_string(&[&exact, &trained]).unwrap();
        assert!(
            text.starts_with(r#"[{"counts":{"maxima":0,"minima":3,"saddles":2},"dir":"#),
            "{text}"
        );
        assert!(text.contains(
            r#"{"manifold":0,"memory":2,"off_support":0,"saddle":0,"spurious":1,"uncertain":0}"#
        ));
        let back: Vec<MapLandscape> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, vec![exact, trained]);
    }
}

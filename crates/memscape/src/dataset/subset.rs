//! Nested training subsets and a held-out split (Pham et al. §2.1, pham.md: "subsets are nested
//! across K"). One seeded permutation of the pool is drawn; the held-out set is its last
//! `holdout` entries and the training set for K is its first K, so the K = 10 set lies inside
//! the K = 100 set and no training set ever meets the held-out set.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::{Patterns, data_scale};
use crate::error::{Error, Result};
use crate::rng::permutation;

/// The seed of the permutation every study's nested training sets are drawn from by default.
pub const DEFAULT_SUBSET_SEED: u64 = 42;

/// A seeded ordering of a pool of points into nested training prefixes and a held-out tail.
#[derive(Debug, Clone, Serialize)]
pub struct Split {
    pub seed: u64,
    order: Vec<usize>,
    pub holdout: usize,
}

impl Split {
    /// Orders `pool_size` points by the permutation of `seed` and keeps the last `holdout`
    /// aside. Errors when nothing is left for training.
    pub fn new(pool_size: usize, holdout: usize, seed: u64) -> Result<Self> {
        if holdout >= pool_size {
            return Err(Error::invalid(
                "holdout",
                format!("< the number of points in the data ({pool_size})"),
                holdout,
            ));
        }
        Ok(Split {
            seed,
            order: permutation(pool_size, seed),
            holdout,
        })
    }

    /// How many points training sets can draw from.
    pub fn max_k(&self) -> usize {
        self.order.len() - self.holdout
    }

    /// Pool indices of the training set of size `k`: the first `k` of the permutation.
    pub fn train_indices(&self, k: usize) -> Result<&[usize]> {
        if k == 0 || k > self.max_k() {
            return Err(Error::invalid(
                "k",
                format!(
                    "between 1 and the number of points available for training ({}{})",
                    self.max_k(),
                    if self.holdout > 0 {
                        format!(" after holding out {}", self.holdout)
                    } else {
                        String::new()
                    }
                ),
                k,
            ));
        }
        Ok(&self.order[..k])
    }

    /// Pool indices of the held-out points.
    pub fn heldout_indices(&self) -> &[usize] {
        &self.order[self.max_k()..]
    }

    /// The training set of size `k`.
    pub fn train(&self, pool: &Patterns, k: usize) -> Result<Patterns> {
        Ok(pool.select(self.train_indices(k)?))
    }

    /// The held-out points.
    pub fn heldout(&self, pool: &Patterns) -> Patterns {
        pool.select(self.heldout_indices())
    }
}

/// Where a study's training set of each K and its held-out points come from: the nested split of
/// a pool, or sets the user gives, one per K (trained elsewhere: `memscape dynamics
/// --checkpoints`, Python's `training_sets=`).
#[derive(Debug, Clone)]
pub enum TrainingSets {
    Split {
        pool: Arc<Patterns>,
        split: Split,
    },
    Given {
        train: BTreeMap<usize, Patterns>,
        heldout: Patterns,
    },
}

impl TrainingSets {
    /// Given sets, checked: one set of exactly K rows for every K of `ks`, all of one dimension
    /// (and one image shape), finite, and held-out points (possibly none) of the same dimension.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use memscape::dataset::Patterns;
    /// use memscape::dataset::subset::TrainingSets;
    ///
    /// let set = |k: usize| Patterns::new(ndarray::Array2::from_shape_fn((k, 2), |(i, j)| (i + j) as f64));
    /// let sets = TrainingSets::given(&[2, 4], BTreeMap::from([(2, set(2)), (4, set(4))]), None)?;
    /// assert_eq!(sets.train(4)?.num_patterns(), 4);
    /// let e = TrainingSets::given(&[2, 3], BTreeMap::from([(2, set(2))]), None).unwrap_err();
    /// assert_eq!(e.to_string(), "training_sets must be one set per K of [2, 3], got none for K = 3");
    /// let e = TrainingSets::given(&[2], BTreeMap::from([(2, set(3))]), None).unwrap_err();
    /// assert_eq!(e.to_string(), "training_sets[2] must be 2 rows (K), got 3");
    /// # Ok::<(), memscape::Error>(())
    /// ```
    ///
    /// # Errors
    /// A K without its set, a set of another size, dimension or image shape, a value that is
    /// not finite, held-out points of another dimension.
    pub fn given(
        ks: &[usize],
        mut train: BTreeMap<usize, Patterns>,
        heldout: Option<Patterns>,
    ) -> Result<Self> {
        if let Some(&k) = ks.iter().find(|k| !train.contains_key(k)) {
            return Err(Error::invalid(
                "training_sets",
                format!("one set per K of {ks:?}"),
                format!("none for K = {k}"),
            ));
        }
        train.retain(|k, _| ks.contains(k));
        let first = train.values().next().map(|p| (p.dim(), p.image_shape));
        let heldout = heldout.unwrap_or_else(|| {
            Patterns::new(ndarray::Array2::zeros((0, first.map_or(0, |f| f.0))))
        });
        for (k, set) in &train {
            let what = format!("training_sets[{k}]");
            if set.num_patterns() != *k {
                return Err(Error::invalid(
                    what,
                    format!("{k} rows (K)"),
                    set.num_patterns(),
                ));
            }
            if Some((set.dim(), set.image_shape)) != first {
                return Err(Error::invalid(
                    what,
                    "of the dimension and image shape of the others",
                    format!("dimension {} (image {:?})", set.dim(), set.image_shape),
                ));
            }
            check_finite(&what, set)?;
        }
        if heldout.dim() != first.map_or(0, |f| f.0) {
            return Err(Error::invalid(
                "heldout",
                "of the training sets' dimension",
                heldout.dim(),
            ));
        }
        check_finite("heldout", &heldout)?;
        Ok(TrainingSets::Given { train, heldout })
    }

    /// The training set of size `k`.
    ///
    /// # Errors
    /// A `k` past the pool, or without a given set.
    pub fn train(&self, k: usize) -> Result<Patterns> {
        match self {
            TrainingSets::Split { pool, split } => split.train(pool, k),
            TrainingSets::Given { train, .. } => train.get(&k).cloned().ok_or_else(|| {
                Error::invalid(
                    "k",
                    format!(
                        "one of the given sets' {:?}",
                        train.keys().collect::<Vec<_>>()
                    ),
                    k,
                )
            }),
        }
    }

    /// The held-out points.
    pub fn heldout(&self) -> Patterns {
        match self {
            TrainingSets::Split { pool, split } => split.heldout(pool),
            TrainingSets::Given { heldout, .. } => heldout.clone(),
        }
    }

    /// How many points are held out.
    pub fn holdout(&self) -> usize {
        match self {
            TrainingSets::Split { split, .. } => split.holdout,
            TrainingSets::Given { heldout, .. } => heldout.num_patterns(),
        }
    }

    /// (height, width) when the points are images.
    pub fn image_shape(&self) -> Option<(usize, usize)> {
        match self {
            TrainingSets::Split { pool, .. } => pool.image_shape,
            TrainingSets::Given { train, .. } => train.values().next().and_then(|p| p.image_shape),
        }
    }

    /// The data's RMS norm ([`data_scale`]): the pool's, or the largest given set's.
    pub fn scale(&self) -> f64 {
        match self {
            TrainingSets::Split { pool, .. } => data_scale(pool.points.view()),
            TrainingSets::Given { train, .. } => train
                .values()
                .next_back()
                .map_or(1.0, |p| data_scale(p.points.view())),
        }
    }
}

fn check_finite(what: &str, set: &Patterns) -> Result<()> {
    match set.points.indexed_iter().find(|(_, v)| !v.is_finite()) {
        Some(((row, column), v)) => Err(Error::invalid(
            what,
            "finite everywhere",
            format!("{v} at row {row}, column {column}"),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_and_disjoint() {
        let s = Split::new(1000, 100, 42).unwrap();
        let small = s.train_indices(10).unwrap().to_vec();
        let big = s.train_indices(900).unwrap();
        assert_eq!(&big[..10], &small[..]);
        let held = s.heldout_indices();
        assert_eq!(held.len(), 100);
        assert!(big.iter().all(|i| !held.contains(i)));
        let e = s.train_indices(901).unwrap_err().to_string();
        assert!(e.contains("k must be between 1 and the number of points available for training (900 after holding out 100), got 901"), "{e}");
        assert!(s.train_indices(0).is_err());
        assert!(Split::new(10, 10, 0).is_err());
    }
}

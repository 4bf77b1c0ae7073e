//! Nested training subsets and a held-out split (Pham et al. §2.1, pham.md: "subsets are nested
//! across K"). One seeded permutation of the pool is drawn; the held-out set is its last
//! `holdout` entries and the training set for K is its first K, so the K = 10 set lies inside
//! the K = 100 set and no training set ever meets the held-out set.

use serde::Serialize;

use super::Patterns;
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

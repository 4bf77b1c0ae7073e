//! A folder of networks trained elsewhere, in memscape's checkpoint format, as `memscape
//! dynamics --checkpoints DIR` and `memscape map --checkpoints DIR` read it:
//!
//! ```text
//! DIR/K{K}/train.npy                      the training set of K (K rows)
//! DIR/K{K}/seed{S}/step_{N}.safetensors   checkpoints of seed S (MLP or U-Net; N may be zero-padded)
//! DIR/heldout.npy                         held-out points (optional)
//! ```
//!
//! Every (K, seed) holds the same steps, and the checkpoints of one K share one architecture.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use memscape::dataset::subset::TrainingSets;
use memscape::dataset::{DataSpec, Patterns};
use memscape::denoiser::Denoiser;
use memscape::error::{Error, Result};

use crate::dynamics::GivenUnit;
use crate::model::ScoreModel;

/// One (K, seed) of a folder: its checkpoints in step order.
pub struct FolderUnit {
    pub k: usize,
    pub seed: u64,
    pub checkpoints: Vec<(usize, PathBuf, ScoreModel)>,
}

/// A folder read and checked: the training sets and every unit's networks.
pub struct CheckpointFolder {
    pub dir: PathBuf,
    pub sets: TrainingSets,
    /// In increasing (K, seed) order.
    pub units: Vec<FolderUnit>,
}

/// The number in a name `{prefix}{number}{suffix}`.
fn numbered(name: &str, prefix: &str, suffix: &str) -> Option<u64> {
    let digits = name.strip_prefix(prefix)?.strip_suffix(suffix)?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// The entries of `dir` named `{prefix}{number}{suffix}`, by number.
fn entries(dir: &Path, prefix: &str, suffix: &str) -> Result<BTreeMap<u64, PathBuf>> {
    let read = std::fs::read_dir(dir).map_err(|e| Error::file(dir, format!("cannot read: {e}")))?;
    let mut out = BTreeMap::new();
    for entry in read {
        let entry = entry.map_err(|e| Error::file(dir, format!("cannot read: {e}")))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(n) = numbered(&name, prefix, suffix)
            && let Some(earlier) = out.insert(n, entry.path())
        {
            return Err(Error::file(
                entry.path(),
                format!("names the same number as {}", earlier.display()),
            ));
        }
    }
    Ok(out)
}

/// Fails unless the checkpoint at `path` fits the training set read from `file` (its
/// dimension, and a U-Net's image shape, which a set without one takes from it).
fn fit(model: &ScoreModel, path: &Path, set: &mut Patterns, file: &Path) -> Result<()> {
    if set.image_shape.is_none()
        && let Some(s) = model.network.image_shape()
    {
        set.image_shape = Some((s.height, s.width));
    }
    model.check_data(
        path,
        set.dim(),
        set.image_shape,
        &file.display().to_string(),
    )
}

impl CheckpointFolder {
    /// Reads the folder's training sets and loads every checkpoint.
    ///
    /// # Errors
    /// A folder without `K{K}` folders, a K without `train.npy` or without seeds, a training
    /// set of other than K rows, a seed without checkpoints or without a step another has, a
    /// checkpoint that does not load, of another architecture than its K's first or for data
    /// of another dimension or image shape, and held-out points of another dimension.
    pub fn read(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::file(dir, "not a folder of checkpoints"));
        }
        let ks = entries(dir, "K", "")?;
        if ks.is_empty() {
            return Err(Error::file(
                dir,
                "holds no K{K} folder (the layout is K{K}/train.npy and K{K}/seed{S}/step_{N}.safetensors)",
            ));
        }
        let (mut train, mut units) = (BTreeMap::new(), vec![]);
        for (&k, kdir) in &ks {
            let k = k as usize;
            let file = kdir.join("train.npy");
            if !file.is_file() {
                return Err(Error::file(
                    &file,
                    format!("missing: the training set of K = {k}"),
                ));
            }
            let mut set = DataSpec::File {
                path: file.clone(),
                key: None,
                image: None,
            }
            .load()?;
            if set.num_patterns() != k {
                return Err(Error::file(
                    &file,
                    format!("has {} rows, but K = {k}", set.num_patterns()),
                ));
            }
            let seeds = entries(kdir, "seed", "")?;
            if seeds.is_empty() {
                return Err(Error::file(kdir, "holds no seed{S} folder"));
            }
            let mut first: Option<(PathBuf, &'static str)> = None;
            for (&seed, sdir) in &seeds {
                let steps = entries(sdir, "step_", ".safetensors")?;
                if steps.is_empty() {
                    return Err(Error::file(
                        sdir,
                        "holds no step_{N}.safetensors checkpoint",
                    ));
                }
                let mut checkpoints = vec![];
                for (&step, path) in &steps {
                    let (model, _) = ScoreModel::load(path)?;
                    let architecture = model.network.architecture().name();
                    match &first {
                        None => first = Some((path.clone(), architecture)),
                        Some((other, a)) if *a != architecture => {
                            return Err(Error::file(
                                path,
                                format!(
                                    "is a {architecture} checkpoint, but {} under the same K is a {a}: one K takes one architecture",
                                    other.display()
                                ),
                            ));
                        }
                        Some(_) => {}
                    }
                    fit(&model, path, &mut set, &file)?;
                    checkpoints.push((step as usize, path.clone(), model));
                }
                units.push(FolderUnit {
                    k,
                    seed,
                    checkpoints,
                });
            }
            train.insert(k, set);
        }
        let all: BTreeSet<usize> = units
            .iter()
            .flat_map(|u| u.checkpoints.iter().map(|c| c.0))
            .collect();
        for u in &units {
            if let Some(step) = all
                .iter()
                .find(|s| !u.checkpoints.iter().any(|c| c.0 == **s))
            {
                return Err(Error::file(
                    dir.join(format!("K{}", u.k))
                        .join(format!("seed{}", u.seed)),
                    format!(
                        "has no checkpoint at step {step}, which others have (every K and seed needs the steps {:?})",
                        all
                    ),
                ));
            }
        }
        let heldout = dir.join("heldout.npy");
        let heldout = heldout
            .is_file()
            .then(|| {
                DataSpec::File {
                    path: heldout.clone(),
                    key: None,
                    image: None,
                }
                .load()
            })
            .transpose()?;
        if let (Some(h), Some(set)) = (&heldout, train.values().next())
            && h.dim() != set.dim()
        {
            return Err(Error::file(
                dir.join("heldout.npy"),
                format!(
                    "has dimension {}, but the training sets have {}",
                    h.dim(),
                    set.dim()
                ),
            ));
        }
        let ks: Vec<usize> = train.keys().copied().collect();
        let heldout = heldout.map(|h| Patterns {
            image_shape: train.values().next().and_then(|s: &Patterns| s.image_shape),
            ..h
        });
        Ok(CheckpointFolder {
            dir: dir.to_path_buf(),
            sets: TrainingSets::given(&ks, train, heldout)?,
            units,
        })
    }

    /// The checkpoints of a run directory: a `dynamics` run's `checkpoints/` folder
    /// (`--save-checkpoints`, the layout above), or a `train` run's `train.npy` and
    /// `checkpoints/step_{N}.safetensors` (one unit, K its rows, the seed its manifest's).
    ///
    /// # Errors
    /// A folder that is neither, and the errors of [`Self::read`].
    pub fn of_run(dir: &Path) -> Result<Self> {
        let checkpoints = dir.join("checkpoints");
        if !checkpoints.is_dir() {
            return Err(Error::file(
                dir,
                "holds no checkpoints/ folder (train writes one; dynamics with --save-checkpoints)",
            ));
        }
        if !entries(&checkpoints, "K", "")?.is_empty() {
            return Self::read(&checkpoints);
        }
        let file = dir.join("train.npy");
        if !file.is_file() {
            return Err(Error::file(
                &file,
                "missing: a train run keeps its training set there",
            ));
        }
        let set = DataSpec::File {
            path: file.clone(),
            key: None,
            image: None,
        }
        .load()?;
        let k = set.num_patterns();
        let seed = std::fs::read_to_string(dir.join("manifest.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|m| m["seeds"]["train"].as_u64())
            .unwrap_or(0);
        let steps = entries(&checkpoints, "step_", ".safetensors")?;
        if steps.is_empty() {
            return Err(Error::file(
                &checkpoints,
                "holds no step_{N}.safetensors checkpoint and no K{K} folder",
            ));
        }
        let mut list = vec![];
        let mut set = set;
        for (&step, path) in &steps {
            let (model, _) = ScoreModel::load(path)?;
            fit(&model, path, &mut set, &file)?;
            list.push((step as usize, path.clone(), model));
        }
        Ok(CheckpointFolder {
            dir: checkpoints,
            sets: TrainingSets::given(&[k], BTreeMap::from([(k, set)]), None)?,
            units: vec![FolderUnit {
                k,
                seed,
                checkpoints: list,
            }],
        })
    }

    /// Fails unless the training sets nest, each the first K rows of the largest K's (as a
    /// map needs them), naming the files.
    ///
    /// # Errors
    /// The first set that is not a prefix of the largest.
    pub fn check_nested(&self) -> Result<()> {
        let ks = self.ks();
        let largest = *ks.last().expect("a folder has a K");
        let all = self.sets.train(largest)?;
        for &k in &ks {
            if self.sets.train(k)?.points != all.points.slice(ndarray::s![..k, ..]) {
                return Err(Error::file(
                    self.dir.join(format!("K{k}")).join("train.npy"),
                    format!(
                        "is not the first {k} rows of {} (a map's training sets nest)",
                        self.dir
                            .join(format!("K{largest}"))
                            .join("train.npy")
                            .display()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The K values, increasing.
    pub fn ks(&self) -> Vec<usize> {
        let mut ks: Vec<usize> = self.units.iter().map(|u| u.k).collect();
        ks.dedup();
        ks
    }

    /// The units as [`crate::dynamics::given_dynamics`] takes them.
    pub fn given_units(&self) -> Vec<GivenUnit<'_>> {
        self.units
            .iter()
            .map(|u| GivenUnit {
                k: u.k,
                seed: u.seed,
                checkpoints: u
                    .checkpoints
                    .iter()
                    .map(|(step, _, m)| (*step, m as &dyn Denoiser))
                    .collect(),
            })
            .collect()
    }

    /// The last checkpoint of each K's first seed, with its step and path: the network a map
    /// takes at that K.
    pub fn last_of_first_seed(&self) -> Vec<(usize, usize, &Path, &ScoreModel)> {
        let mut out: Vec<(usize, usize, &Path, &ScoreModel)> = vec![];
        for u in &self.units {
            if out.last().is_none_or(|o| o.0 != u.k) {
                let (step, path, model) = u.checkpoints.last().expect("checked non-empty");
                out.push((u.k, *step, path, model));
            }
        }
        out
    }
}

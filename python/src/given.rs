//! Studies on the user's own models: training sets given as arrays, one per K, and the
//! denoisers given per K (`map(models=…)`) or per (K, seed) and step (`dynamics(checkpoints=…)`):
//! callables, `ScoreNetwork`s, or the exact model.

use std::collections::BTreeMap;

use memscape::dataset::Patterns;
use memscape::dataset::subset::TrainingSets;
use memscape::denoiser::Denoiser;
use memscape::denoiser::gather::{Gathered, QUIET, gathered, in_pool};
use numpy::PyReadonlyArray2;
use pyo3::prelude::*;

use crate::denoisers::{Batched, Model};
use crate::{OrRaise, invalid};

/// One (K, seed) of `dynamics(checkpoints=…)`: K, seed, and its (step, denoiser) pairs.
pub(crate) type GivenUnitArg<'py> = (i64, i64, Vec<(i64, Bound<'py, PyAny>)>);

/// The training sets, one (K, d) array per K of `ks` (keys other than those are ignored), and
/// the held-out points, as the studies take them; `image_shape` (height, width) where the rows
/// are images.
pub(crate) fn training_sets(
    ks: &[usize],
    sets: BTreeMap<i64, PyReadonlyArray2<'_, f64>>,
    heldout: Option<PyReadonlyArray2<'_, f64>>,
    image_shape: Option<(usize, usize)>,
) -> PyResult<TrainingSets> {
    let patterns = |a: ndarray::Array2<f64>| Patterns {
        points: a,
        labels: None,
        image_shape,
    };
    let train = sets
        .into_iter()
        .filter(|(k, _)| *k >= 0 && ks.contains(&(*k as usize)))
        .map(|(k, a)| (k as usize, patterns(a.as_array().to_owned())))
        .collect();
    let heldout = heldout.map(|h| patterns(h.as_array().to_owned()));
    TrainingSets::given(ks, train, heldout).or_raise()
}

/// The K values of a dict keyed by K, each ≥ 2, increasing.
pub(crate) fn ks_of<T>(what: &str, given: &[(i64, T)]) -> PyResult<Vec<usize>> {
    if given.is_empty() {
        return Err(invalid(what, "at least one K", "none"));
    }
    let mut ks = vec![];
    for (k, _) in given {
        if *k < 2 {
            return Err(invalid(
                what,
                "keyed by K ≥ 2 (f_mem needs two training points)",
                k,
            ));
        }
        ks.push(*k as usize);
    }
    ks.sort_unstable();
    ks.dedup();
    Ok(ks)
}

/// The denoisers of a dict `{K: denoiser}`, in K order, each checked against the data's
/// dimension where it knows its own.
pub(crate) fn models(
    given: &[(i64, Bound<'_, PyAny>)],
    dim: usize,
) -> PyResult<Vec<(usize, Model)>> {
    let mut out = vec![];
    for (k, d) in given {
        let model = Model::of(d)?;
        check_dim(&format!("models[{k}]"), &model, dim)?;
        out.push((*k as usize, model));
    }
    out.sort_by_key(|m| m.0);
    Ok(out)
}

/// Refuses a built-in denoiser for points of another dimension.
pub(crate) fn check_dim(what: &str, model: &Model, dim: usize) -> PyResult<()> {
    match model.own_dim() {
        Some(own) if own != dim => Err(invalid(
            what,
            &format!("a denoiser of the training sets' dimension {dim}"),
            format!("one of dimension {own}"),
        )),
        _ => Ok(()),
    }
}

/// The name of a map's given model: the architecture when every model is a `ScoreNetwork` of
/// one, else "given".
pub(crate) fn model_name(models: &[&Model]) -> &'static str {
    let mut names = models.iter().map(|m| m.architecture());
    match names.next().flatten() {
        Some(first) if names.all(|n| n == Some(first)) => first,
        _ => "given",
    }
}

/// Refuses networks of several architectures among one K's checkpoints.
pub(crate) fn check_architectures(what: &str, models: &[(usize, &Model)]) -> PyResult<()> {
    let networks: Vec<(usize, &str)> = models
        .iter()
        .filter_map(|(step, m)| m.architecture().map(|a| (*step, a)))
        .collect();
    if let Some((step, other)) = networks.iter().find(|n| n.1 != networks[0].1) {
        return Err(invalid(
            what,
            "networks of one architecture",
            format!(
                "a {} at step {} and a {other} at step {step}",
                networks[0].1, networks[0].0
            ),
        ));
    }
    Ok(())
}

/// The models as the studies take them, each cut into batches of `rows`.
pub(crate) fn batched<'a>(
    models: impl IntoIterator<Item = &'a Model>,
    batch_size: i64,
) -> PyResult<Vec<Batched<'a>>> {
    models
        .into_iter()
        .map(|m| Batched::of(m, batch_size))
        .collect()
}

/// Denoiser references of `batched`.
pub(crate) fn dyn_refs<'a>(batched: &'a [Batched<'a>]) -> Vec<&'a dyn Denoiser> {
    batched.iter().map(|b| b as &dyn Denoiser).collect()
}

/// The threads a call gathers a Python callable's concurrent calls over: `gather` for a
/// callable (0: each start calls it alone), 0 for the built-in models, which need no gathering.
pub(crate) fn gather_threads(models: &[&Model], gather: i64) -> PyResult<usize> {
    if gather < 0 {
        return Err(invalid(
            "gather",
            "≥ 0 (threads; 0: calls are not gathered)",
            gather,
        ));
    }
    let callable = models.iter().any(|m| matches!(m, Model::Callable(_)));
    Ok(if callable { gather as usize } else { 0 })
}

/// `work` on `den`, its concurrent calls gathered over `threads` threads (none: as it is).
pub(crate) fn with_gathered<T: Send>(
    den: &Batched<'_>,
    threads: usize,
    work: impl FnOnce(&dyn Denoiser) -> T + Send,
) -> memscape::Result<T> {
    if threads == 0 {
        return Ok(work(den));
    }
    gathered(den, threads, |g| work(g)).map(|(out, _)| out)
}

/// `work` on every denoiser of `batched`, each one's concurrent calls gathered over `threads`
/// threads (none: as they are).
pub(crate) fn with_all_gathered<T: Send>(
    batched: &[Batched<'_>],
    threads: usize,
    work: impl FnOnce(&[&dyn Denoiser]) -> T + Send,
) -> memscape::Result<T> {
    if threads == 0 {
        return Ok(work(&dyn_refs(batched)));
    }
    let each: Vec<Gathered<'_, Batched<'_>>> = batched
        .iter()
        .map(|b| Gathered::new(b, threads, QUIET))
        .collect();
    let refs: Vec<&dyn Denoiser> = each.iter().map(|g| g as &dyn Denoiser).collect();
    in_pool(threads, || work(&refs))
}

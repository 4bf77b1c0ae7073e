//! One event: the bifurcation at a special point of a branch, classified by the critical
//! points on both sides of it (the table in the parent module's docs), and the counts by index
//! it changes.

use ndarray::Array1;
use serde::{Deserialize, Serialize};

use crate::analysis::landscape::continuation::Family;
use crate::analysis::landscape::critical::CriticalSet;
use crate::analysis::landscape::local::{
    LocalChange, LocalPoint, local_points, symmetric_points, symmetry_rays,
};
use crate::analysis::linalg::symmetric_eigen;
use crate::error::Result;

/// Critical points by index class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub minima: usize,
    pub saddles: usize,
    pub maxima: usize,
}

impl Counts {
    /// The counts of a critical set.
    ///
    /// ```
    /// use memscape::analysis::landscape::bifurcation::Counts;
    /// use memscape::analysis::landscape::critical::{SearchConfig, critical_points};
    /// use memscape::denoiser::Landscape;
    /// use ndarray::array;
    ///
    /// // ±1 at beta = 2: two minima, and the origin, a maximum in 1-D
    /// let land = Landscape::new(array![[1.0], [-1.0]].view(), 2.0)?;
    /// let set = critical_points(&land, &SearchConfig::for_spacing(2.0), None)?;
    /// assert_eq!(Counts::of(&set), Counts { minima: 2, saddles: 0, maxima: 1 });
    /// # Ok::<(), memscape::Error>(())
    /// ```
    pub fn of(set: &CriticalSet) -> Self {
        Counts {
            minima: set.minima,
            saddles: set.saddles,
            maxima: set.maxima,
        }
    }

    /// Adds (`sign` = 1) or removes (−1) a point of Morse index `index` in dimension `d`.
    pub(crate) fn add(&mut self, index: usize, d: usize, sign: i64) {
        let slot = match index {
            0 => &mut self.minima,
            i if i == d => &mut self.maxima,
            _ => &mut self.saddles,
        };
        *slot = (*slot as i64 + sign).max(0) as usize;
    }
}

/// The type of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    Fold,
    Pitchfork,
    Transcritical,
    Symmetric,
    Degenerate,
    /// A complex pair of J's eigenvalues crosses Re λ = 1: only a map that is not a gradient
    /// (a trained network) has it ([`crate::analysis::landscape::trace`]).
    Hopf,
}

/// One branch meeting at an event point: its index on each side (None where it does not exist
/// on that side) and the unit direction from the point toward it (after the event where it
/// exists there).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventBranch {
    pub index_before: Option<usize>,
    pub index_after: Option<usize>,
    pub direction: Vec<f64>,
}

/// One bifurcation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    /// Parameter value (beta, or w).
    pub at: f64,
    #[serde(rename = "type")]
    pub kind: EventType,
    /// Where it happens.
    pub x: Vec<f64>,
    /// Hessian eigenvalues that vanish at the point.
    pub kernel_dim: usize,
    /// Every branch that meets at the point; the first passes through with the smallest
    /// displacement (the centre of a pitchfork or of a symmetric event).
    pub branches: Vec<EventBranch>,
    /// For a symmetric event: the branches meeting at the point besides the centre.
    pub k: Option<usize>,
    /// |D³E\[v,v,v\]| along the softest direction v (0 for a symmetric pitchfork).
    #[serde(deserialize_with = "crate::numbers::null_as_nan")]
    pub cubic: f64,
    /// For a pitchfork: whether the new pair has the lower index (supercritical).
    pub supercritical: Option<bool>,
    /// All critical points just before and just after (the counts carried across events from
    /// the grid's multi-start sets).
    pub counts_before: Counts,
    pub counts_after: Counts,
}

/// How an event changes the counts: (Morse index, +1 or −1) per point gained or lost.
pub(super) type CountChange = Vec<(usize, i64)>;

/// The event at a special point (θ*, x*), or None when nothing changes there.
pub(super) fn event_at(
    family: &Family,
    theta: f64,
    x: &Array1<f64>,
    radius: f64,
) -> Result<Option<(Event, CountChange)>> {
    let d = x.len();
    let land = family.landscape(theta)?;
    let hessian = land.hessian(x.view());
    let (values, vectors) = symmetric_eigen(&hessian);
    let top = values.iter().fold(1.0f64, |m, l| m.max(l.abs()));
    let kernel_dim = values.iter().filter(|l| l.abs() <= 1e-5 * top).count();
    // The local Euler characteristic Σ(−1)^index over the ball is the same on both sides
    // (Poincaré–Hopf: no critical point crosses its boundary). Where the sides disagree the
    // new points are not resolved at this ε, so ε (and the radius with √ε) grows tenfold, up
    // to 1e-2; past that the event is reported as it stands, and the carried counts show it.
    let chi = |points: &[LocalPoint]| -> i64 {
        points
            .iter()
            .map(|p| if p.index % 2 == 0 { 1 } else { -1 })
            .sum()
    };
    // At a centre of dihedral symmetry (kernel n = 2, mirror lines in the kernel's plane) the
    // points born lie on the mirror lines, where they are found in one dimension: a ring of
    // 2K points differing in energy at order r^K is resolved there, and ε grows until every
    // point's index is (its softest Hessian eigenvalue 1e-8 of the largest or more).
    let symmetry = (kernel_dim == 2)
        .then(|| {
            let mut soft: Vec<usize> = (0..d).collect();
            soft.sort_by(|&a, &b| values[a].abs().total_cmp(&values[b].abs()));
            symmetry_rays(
                &land,
                x.view(),
                vectors.column(soft[0]),
                vectors.column(soft[1]),
            )
        })
        .flatten();
    let mut eps = side_step(theta);
    let mut radius = radius;
    let (before, after) = loop {
        let widest = eps >= 1e-2 * theta.abs().max(1.0);
        if let Some((centre, rays)) = &symmetry {
            let side = |t: f64| -> Result<Vec<(LocalPoint, f64)>> {
                Ok(symmetric_points(
                    &family.landscape(t)?,
                    centre.view(),
                    rays,
                    radius,
                ))
            };
            let (b, a) = (side(theta - eps)?, side(theta + eps)?);
            let resolved = b.iter().chain(&a).all(|(_, soft)| *soft >= 1e-8);
            let (b, a): (Vec<LocalPoint>, Vec<LocalPoint>) = (
                b.into_iter().map(|p| p.0).collect(),
                a.into_iter().map(|p| p.0).collect(),
            );
            if (resolved && chi(&b) == chi(&a)) || widest {
                break (b, a);
            }
        } else {
            let before = local_points(&family.landscape(theta - eps)?, x.view(), &hessian, radius);
            let after = local_points(&family.landscape(theta + eps)?, x.view(), &hessian, radius);
            if chi(&before) == chi(&after) || widest {
                break (before, after);
            }
        }
        eps *= 10.0;
        radius *= 10f64.sqrt();
    };
    let mut change = LocalChange::of(x.view(), &before, &after);
    if !change.changed(&before, &after) {
        return Ok(None);
    }
    // A branch that keeps its index belongs to the event only if it meets the point: closer
    // to x* at θ* ± ε/16 (a branch through the point moves ∝ ε). Other critical points inside
    // the radius are bystanders.
    // (searched only when some paired branch keeps its index)
    let near = if change
        .through
        .iter()
        .any(|&(i, j)| before[i].index == after[j].index)
    {
        local_points(
            &family.landscape(theta - eps / 16.0)?,
            x.view(),
            &hessian,
            radius,
        )
    } else {
        vec![]
    };
    let distance = |p: &Array1<f64>| (p - x).mapv(|v| v * v).sum().sqrt();
    change.through.retain(|&(i, j)| {
        before[i].index != after[j].index
            || near.iter().any(|q| {
                q.index == before[i].index && distance(&q.x) <= 0.5 * distance(&before[i].x)
            })
    });
    let unit = |p: &LocalPoint| {
        let v = &p.x - x;
        let n = v.dot(&v).sqrt();
        if n > 0.0 {
            (v / n).to_vec()
        } else {
            vec![0.0; d]
        }
    };
    let displacement = |&(i, j): &(usize, usize)| {
        let (a, b) = (&before[i].x - x, &after[j].x - x);
        a.dot(&a).sqrt() + b.dot(&b).sqrt()
    };
    let mut through = change.through.clone();
    through.sort_by(|p, q| displacement(p).total_cmp(&displacement(q)));
    let mut branches: Vec<EventBranch> = through
        .iter()
        .map(|&(i, j)| EventBranch {
            index_before: Some(before[i].index),
            index_after: Some(after[j].index),
            direction: unit(&after[j]),
        })
        .collect();
    branches.extend(change.died.iter().map(|&i| EventBranch {
        index_before: Some(before[i].index),
        index_after: None,
        direction: unit(&before[i]),
    }));
    branches.extend(change.born.iter().map(|&j| EventBranch {
        index_before: None,
        index_after: Some(after[j].index),
        direction: unit(&after[j]),
    }));
    let soft = (0..d)
        .min_by(|&a, &b| values[a].abs().total_cmp(&values[b].abs()))
        .unwrap_or(0);
    let (d3, _) = land.directional_derivatives_3_4(x.view(), vectors.column(soft));
    let (n_through, n_born, n_died) = (through.len(), change.born.len(), change.died.len());
    let index_changed = |&(i, j): &(usize, usize)| before[i].index != after[j].index;
    let kind = if kernel_dim >= 2 {
        EventType::Symmetric
    } else if n_through == 0 && n_born + n_died == 2 {
        EventType::Fold
    } else if n_through == 1 && n_born + n_died == 2 && index_changed(&through[0]) {
        EventType::Pitchfork
    } else if n_through == 2 && n_born + n_died == 0 && through.iter().all(index_changed) {
        EventType::Transcritical
    } else {
        EventType::Degenerate
    };
    let supercritical = (kind == EventType::Pitchfork).then(|| {
        let (i, j) = through[0];
        let central = before[i].index.min(after[j].index);
        change
            .born
            .iter()
            .map(|&j| after[j].index)
            .chain(change.died.iter().map(|&i| before[i].index))
            .all(|k| k == central)
    });
    // the change of the counts: (index, ±1)
    let mut delta: Vec<(usize, i64)> = vec![];
    for &(i, j) in &through {
        if before[i].index != after[j].index {
            delta.push((before[i].index, -1));
            delta.push((after[j].index, 1));
        }
    }
    delta.extend(change.died.iter().map(|&i| (before[i].index, -1)));
    delta.extend(change.born.iter().map(|&j| (after[j].index, 1)));
    let zero = Counts {
        minima: 0,
        saddles: 0,
        maxima: 0,
    };
    Ok(Some((
        Event {
            at: family.value(theta),
            kind,
            x: x.to_vec(),
            kernel_dim: kernel_dim.max(1),
            k: (kind == EventType::Symmetric).then(|| branches.len().saturating_sub(1)),
            branches,
            cubic: d3.abs(),
            supercritical,
            counts_before: zero,
            counts_after: zero,
        },
        delta,
    )))
}

/// The step ε in θ to either side of an event at which its critical points are compared and
/// from which branch switching starts.
pub(super) fn side_step(theta: f64) -> f64 {
    1e-5 * theta.abs().max(1.0)
}

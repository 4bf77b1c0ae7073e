//! Starts for the saddle search of a census, beyond the samples' own attractors: where
//! index-1 saddles sit between stable points, and where index-k points sit next to index-(k−1)
//! ones. Newton–Krylov from each start ([`super::fixed`]) then finds the saddle itself.
//!
//! 1. **Midpoints** of each stable point and its nearest stable neighbours (a symmetric pair's
//!    saddle sits there, theory.md §5).
//! 2. **Strings** between the same pairs (the string method, E, Ren & Vanden-Eijnden 2007, J.
//!    Chem. Phys. 126, 164103, in its form for non-gradient fields): images of the segment move
//!    with the flow's component normal to the path, `φ ← φ + h (f − (f·τ)τ)` with
//!    f = D(φ) − φ and τ the path's unit tangent, and are redistributed at equal arc length.
//!    The flow along the path points back to each end near it, so the saddle lies where f·τ
//!    turns from negative (toward the first end) to positive; the two images around each such
//!    turn start Newton.
//! 3. **Softest directions**: from each stable point p along the Ritz vectors v of its
//!    rightmost Jacobian eigenvalues, the starts p ± t v at t = reach/2 and t = reach (reach:
//!    half the distance to the nearest other stable point). A saddle in a soft valley that no
//!    pair of found minima brackets is reached this way (the search of minimum-mode following,
//!    Henkelman & Jónsson 1999, with Newton for the climb).
//! 4. **The index ladder** (on 2-D data): the same from each index-1 saddle along its stable
//!    direction, at t = reach/2 … 8 reach (reach: half the distance to the nearest other point
//!    found), which reaches the index-2 points (maxima) a 2-D box must also hold for the
//!    Poincaré–Hopf count #minima − #saddles + #maxima = 1.

use ndarray::{Array1, Array2, ArrayView1, Axis};

use super::krylov::Cost;
use crate::analysis::samples::distance::squared_distance;
use crate::denoiser::Denoiser;

/// Nearest stable neighbours whose pairs start saddle searches: 2, so that points on a ring
/// (each with two equidistant neighbours) get both.
pub const SADDLE_NEIGHBOURS: usize = 2;

/// Interior images of a string, its relaxation steps, and the step length (stable for flow
/// eigenvalues down to −1/h = −8 of J − I).
const STRING_IMAGES: usize = 14;
const STRING_STEPS: usize = 20;
const STRING_STEP: f64 = 0.125;

/// Where a census point was found from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A group of settled samples.
    Samples,
    /// The midpoint of two stable points.
    Midpoint,
    /// A string between two stable points.
    String,
    /// A stable point's softest directions.
    Softest,
    /// An index-1 saddle's stable direction (2-D).
    Ladder,
}

/// The midpoint of each pair.
pub(crate) fn midpoints(points: &[&[f64]], pairs: &[(usize, usize)]) -> Vec<Array1<f64>> {
    pairs
        .iter()
        .map(|&(a, b)| {
            points[a]
                .iter()
                .zip(points[b])
                .map(|(x, y)| 0.5 * (x + y))
                .collect()
        })
        .collect()
}

/// The string between `a` and `b` relaxed under the flow's normal component, and the images
/// around each turn of f·τ from negative to positive (the saddle's neighbourhood). Steps are
/// at most `max_step` long.
pub(crate) fn string_starts(
    denoiser: &(impl Denoiser + ?Sized),
    sigma: f64,
    a: ArrayView1<f64>,
    b: ArrayView1<f64>,
    max_step: f64,
) -> (Vec<Array1<f64>>, Cost) {
    let m = STRING_IMAGES;
    let d = a.len();
    let mut cost = Cost::default();
    // images 0 and m + 1 are the ends (fixed)
    let mut path = Array2::from_shape_fn((m + 2, d), |(i, j)| {
        let t = i as f64 / (m + 1) as f64;
        (1.0 - t) * a[j] + t * b[j]
    });
    let mut along = vec![0.0; m];
    for step in 0..=STRING_STEPS {
        let inner = path.slice(ndarray::s![1..=m, ..]).to_owned();
        let f = &denoiser.denoise(inner.view(), sigma) - &inner;
        cost.calls += 1;
        cost.rows += m;
        for (i, flow_along) in along.iter_mut().enumerate() {
            let tangent = &path.row(i + 2) - &path.row(i);
            let norm = tangent.dot(&tangent).sqrt().max(f64::MIN_POSITIVE);
            let tau = tangent / norm;
            *flow_along = f.row(i).dot(&tau);
            if step == STRING_STEPS {
                continue;
            }
            let mut normal = (&f.row(i) - &(&tau * *flow_along)) * STRING_STEP;
            let len = normal.dot(&normal).sqrt();
            if len > max_step {
                normal *= max_step / len;
            }
            let mut row = path.row_mut(i + 1);
            row += &normal;
        }
        if step < STRING_STEPS {
            path = redistribute(&path);
        }
    }
    // the saddle lies where the flow along the path turns from the first end to the second
    let mut starts = vec![];
    for i in 0..m.saturating_sub(1) {
        if along[i] < 0.0 && along[i + 1] >= 0.0 {
            starts.push(path.row(i + 1).to_owned());
            starts.push(path.row(i + 2).to_owned());
        }
    }
    (starts, cost)
}

/// The path's images redistributed at equal arc length (piecewise linear), ends kept.
fn redistribute(path: &Array2<f64>) -> Array2<f64> {
    let n = path.nrows();
    let mut arc = vec![0.0; n];
    for i in 1..n {
        arc[i] = arc[i - 1] + squared_distance(path.row(i), path.row(i - 1)).sqrt();
    }
    let total = arc[n - 1];
    if total <= 0.0 {
        return path.clone();
    }
    let mut out = path.clone();
    let mut seg = 0;
    for i in 1..n - 1 {
        let target = total * i as f64 / (n - 1) as f64;
        while seg + 1 < n - 1 && arc[seg + 1] < target {
            seg += 1;
        }
        let span = (arc[seg + 1] - arc[seg]).max(f64::MIN_POSITIVE);
        let t = ((target - arc[seg]) / span).clamp(0.0, 1.0);
        let row = &path.row(seg) * (1.0 - t) + &path.row(seg + 1) * t;
        out.row_mut(i).assign(&row);
    }
    out
}

/// The starts p ± t v along each direction v, at each distance t.
pub(crate) fn directional_starts(
    p: ArrayView1<f64>,
    directions: &[Array1<f64>],
    distances: &[f64],
) -> Vec<Array1<f64>> {
    let mut starts = vec![];
    for v in directions {
        for &t in distances {
            starts.push(&p + &(v * t));
            starts.push(&p - &(v * t));
        }
    }
    starts
}

/// Half the distance from each point to its nearest other point farther than `apart` (points
/// closer are copies of it); `fallback` when there is none.
pub(crate) fn reaches(points: &[&[f64]], apart: f64, fallback: f64) -> Vec<f64> {
    (0..points.len())
        .map(|i| {
            let nearest = (0..points.len())
                .map(|j| squared_distance(points[i], points[j]).sqrt())
                .filter(|&r| r > apart)
                .fold(f64::INFINITY, f64::min);
            if nearest.is_finite() {
                0.5 * nearest
            } else {
                fallback
            }
        })
        .collect()
}

/// Rows of a list of points, as a matrix of width `d`.
pub(crate) fn stack(points: &[Array1<f64>], d: usize) -> Array2<f64> {
    let mut out = Array2::zeros((points.len(), d));
    for (mut row, p) in out.axis_iter_mut(Axis(0)).zip(points) {
        row.assign(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn a_string_between_two_wells_brackets_the_saddle_off_the_segment() {
        // the flow of E = (x² − 1)² / 4 + (y − 0.5 (1 − x²))²: minima at (±1, 0), the saddle at
        // (0, 0.5), above the straight segment between the minima; the relaxed string passes
        // near the saddle and its turn of f·τ brackets it
        let den = |x: ndarray::ArrayView2<f64>, _s: f64| {
            let mut out = x.to_owned();
            for (mut o, r) in out.rows_mut().into_iter().zip(x.rows()) {
                let (px, py) = (r[0], r[1]);
                let q = py - 0.5 * (1.0 - px * px);
                // ∇E, and D = x − ∇E (a gradient flow)
                let gx = px * (px * px - 1.0) + 2.0 * q * px;
                let gy = 2.0 * q;
                o[0] -= gx;
                o[1] -= gy;
            }
            out
        };
        let (starts, cost) = string_starts(
            &den,
            1.0,
            array![-1.0, 0.0].view(),
            array![1.0, 0.0].view(),
            0.5,
        );
        assert_eq!(cost.rows, STRING_IMAGES * (STRING_STEPS + 1));
        assert_eq!(starts.len(), 2);
        for s in &starts {
            assert!(s[0].abs() < 0.2 && (s[1] - 0.5).abs() < 0.1, "{s:?}");
        }
    }

    #[test]
    fn redistribution_keeps_the_ends_and_spaces_the_images_evenly() {
        let path = array![[0.0, 0.0], [0.1, 0.0], [0.2, 0.0], [1.0, 0.0], [3.0, 0.0]];
        let out = redistribute(&path);
        let xs: Vec<f64> = out.column(0).to_vec();
        assert_eq!(xs, vec![0.0, 0.75, 1.5, 2.25, 3.0]);
    }
}

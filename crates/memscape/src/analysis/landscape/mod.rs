//! The geometry of a denoiser's landscape, in flow order: each module imports only those
//! declared before it. The exact model's critical points (Newton, the local picture at a
//! singular point, the multi-start search, basins), their continuation and bifurcations; then
//! any denoiser's attractors (Krylov solvers, settling, certified fixed points, near-neutral
//! sets, saddles, recovery levels, the census), and their continuation through a homotopy of
//! denoisers (training time, or the noise level).

pub(crate) mod newton;
pub mod local;
pub mod critical;
pub mod basin;
pub mod continuation;
pub mod bifurcation;
pub mod krylov;
pub mod settle;
pub mod fixed;
pub mod manifold;
pub mod saddles;
pub mod recovery;
pub mod attractor;
pub mod trace;

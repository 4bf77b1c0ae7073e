//! Stage 5: analysis, in two halves. The modules are declared in flow order, and each imports
//! only modules declared before it (`tests/layering.rs` checks it):
//! - [`linalg`]: the dense symmetric eigensolver both halves use;
//! - [`samples`]: statistics of samples: exact nearest neighbours, the support gate, the
//!   memorized / spurious / generalized classification with f_mem, capacities over K, clusters,
//!   embeddings, and the timescales of training dynamics;
//! - [`landscape`]: the geometry of a denoiser's landscape: critical points and their Morse
//!   indices, continuation and bifurcations, basins, settling, the census of attractors of a
//!   trained network, and recovery levels.

pub mod linalg;
pub mod samples;
pub mod landscape;

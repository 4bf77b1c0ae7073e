//! Stage 5: analysis of samples and landscapes: exact nearest neighbours, the memorized /
//! spurious / generalized classification with f_mem, capacities over K, and attractor settling.

pub mod attractor;
pub mod basin;
pub mod bifurcation;
pub mod capacity;
pub mod classify;
pub mod cluster;
pub mod continuation;
pub mod critical;
pub mod distance;
pub mod dynamics;
pub mod embed;
pub mod fixed;
pub mod krylov;
pub mod local;
pub mod manifold;
pub mod recovery;
pub mod saddles;
pub mod settle;
pub mod support;

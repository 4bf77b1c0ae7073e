//! Statistics of samples, in flow order: each module imports only those declared before it.

pub mod distance;
pub mod support;
pub mod classify;
pub mod chance;
pub mod fidelity;
pub mod capacity;
pub mod cluster;
pub mod embed;
pub mod dynamics;

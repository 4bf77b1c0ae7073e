//! Sweeps: a grid of phase-map cells from a TOML spec ([`spec`]), computed locally or as a
//! Slurm job array ([`slurm`]), each finished cell committed in one transaction to a SQLite
//! store ([`store`]) so that a crash loses at most the cells in flight, and the usual `map` and
//! `dynamics` run directories assembled from the store and written under `collect/`
//! ([`collect`]).

pub mod collect;
pub mod error;
pub mod run;
pub mod slurm;
pub mod spec;
pub mod store;

pub use error::{Result, SweepError};

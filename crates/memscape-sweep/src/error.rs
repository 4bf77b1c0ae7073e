//! Errors of a sweep: each names the file (spec or store) and, for a spec, the TOML key.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SweepError {
    /// The spec broke a rule; `key` is the dotted TOML key (empty when the file as a whole
    /// could not be read or parsed).
    #[error("{}{}{message}", path.display(), if key.is_empty() { ": ".to_string() } else { format!(": {key}: ") })]
    Spec {
        path: PathBuf,
        key: String,
        message: String,
    },

    /// The store could not be opened, read or written, or was written by an incompatible
    /// version.
    #[error("{}: {message}", path.display())]
    Store { path: PathBuf, message: String },

    /// A library error inside a cell or while collecting.
    #[error(transparent)]
    Memscape(#[from] memscape::Error),

    /// A collected run directory that could not be written.
    #[error(transparent)]
    Write(#[from] memscape_report::WriteError),
}

pub type Result<T, E = SweepError> = std::result::Result<T, E>;

impl SweepError {
    /// A store error from SQLite's.
    pub fn store(path: impl Into<PathBuf>, e: impl std::fmt::Display) -> Self {
        SweepError::Store {
            path: path.into(),
            message: memscape::error::one_line(&e.to_string()),
        }
    }
}

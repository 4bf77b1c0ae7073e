//! The library's one error type. Every variant carries what a user needs to fix the input:
//! the thing that was wrong (a flag, a file, a field), the rule, and the value.

use std::path::PathBuf;

/// Errors of the memscape library. The command line prints them as one line and exits 2.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter broke a rule: `what` names it (a flag or a config field).
    #[error("{what} must be {rule}, got {value}")]
    InvalidParameter {
        what: String,
        rule: String,
        value: String,
    },

    /// A dataset spec could not be understood.
    #[error("data: {message} (spec {spec:?})")]
    DataSpec { spec: String, message: String },

    /// A file could not be read, or its content broke the format's rules.
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },

    /// An I/O failure while writing output.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    /// Two arrays whose shapes must agree do not.
    #[error("{what}: expected shape {expected:?}, got {got:?}")]
    ShapeMismatch {
        what: String,
        expected: Vec<usize>,
        got: Vec<usize>,
    },

    /// A non-finite value (NaN or infinity) in input data.
    #[error(
        "{what}: value at row {row}, column {col} is {value} (NaN and infinity are not allowed)"
    )]
    NonFinite {
        what: String,
        row: usize,
        col: usize,
        value: f64,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Shorthand for [`Error::InvalidParameter`].
    pub fn invalid(what: impl Into<String>, rule: impl Into<String>, value: impl ToString) -> Self {
        Error::InvalidParameter {
            what: what.into(),
            rule: rule.into(),
            value: value.to_string(),
        }
    }

    /// Shorthand for [`Error::File`].
    pub fn file(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::File {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Checks that `value` is finite and strictly positive.
pub fn require_positive(what: &str, value: f64) -> Result<f64> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(Error::invalid(what, "> 0 and finite", value))
    }
}

/// Checks that every entry of a 2-D array is finite; names the first offender.
pub fn require_finite(what: &str, x: ndarray::ArrayView2<f64>) -> Result<()> {
    for ((row, col), &value) in x.indexed_iter() {
        if !value.is_finite() {
            return Err(Error::NonFinite {
                what: what.into(),
                row,
                col,
                value,
            });
        }
    }
    Ok(())
}

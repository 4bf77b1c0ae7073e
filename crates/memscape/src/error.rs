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

/// A number as people read it: as Rust prints it (the shortest text that reads back to the
/// same value) inside [1e-4, 1e7), in scientific notation outside (1e-300, not 0.000…0001).
pub fn number(v: f64) -> String {
    if v == 0.0 || !v.is_finite() || (1e-4..1e7).contains(&v.abs()) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

/// A value quoted in an error: a float as [`number`] prints it (one with a decimal point, or
/// longer than any integer), anything else as given.
fn readable(value: String) -> String {
    let float = value.contains('.') || value.len() > 20;
    match value.parse::<f64>() {
        Ok(v) if float && !value.contains(['e', 'E']) => number(v),
        _ => value,
    }
}

impl Error {
    /// Shorthand for [`Error::InvalidParameter`]; a float value is quoted as [`number`] prints it.
    pub fn invalid(what: impl Into<String>, rule: impl Into<String>, value: impl ToString) -> Self {
        Error::InvalidParameter {
            what: what.into(),
            rule: rule.into(),
            value: readable(value.to_string()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_far_from_one_print_in_scientific_notation() {
        assert_eq!(number(1e-300), "1e-300");
        assert_eq!(number(-2.5e-7), "-2.5e-7");
        assert_eq!(number(3e12), "3e12");
        assert_eq!(number(0.05), "0.05");
        assert_eq!(number(10.0), "10");
        assert_eq!(number(0.0), "0");
        assert_eq!(number(f64::NAN), "NaN");
        // error values: numbers reformatted, other text kept
        assert_eq!(readable(format!("{}", 1e-300)), "1e-300");
        assert_eq!(readable("0.5".into()), "0.5");
        assert_eq!(readable("\"exact\"".into()), "\"exact\"");
        assert_eq!(readable("[1, 2]".into()), "[1, 2]");
        assert_eq!(readable(format!("{}", 1e300)), "1e300");
        assert_eq!(readable("123456789012".into()), "123456789012");
        let e = Error::invalid("sigma_min", "> 0", -1e-7);
        assert_eq!(e.to_string(), "sigma_min must be > 0, got -1e-7");
    }
}

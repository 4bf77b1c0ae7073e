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

/// A computed value to `digits` significant digits: fixed notation inside [1e-3, 1e6)
/// (0.02000, 2500), scientific outside (1.000e-6), where fixed notation would print 0.0000.
pub fn significant(v: f64, digits: usize) -> String {
    let digits = digits.max(1);
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    if (1e-3..1e6).contains(&v.abs()) {
        let decimals = (digits as i32 - 1 - v.abs().log10().floor() as i32).max(0) as usize;
        format!("{v:.decimals$}")
    } else {
        format!("{v:.*e}", digits - 1)
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

/// A message from another library as one line: its lines trimmed and joined with spaces,
/// without the lines that only draw (a parser's `|` gutters and `^---` markers), and control
/// characters shown escaped, so every error prints as one readable line.
pub fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.chars().all(|c| matches!(c, '|' | '^' | '-' | ' ')))
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

impl Error {
    /// Shorthand for [`Error::InvalidParameter`]; a float value is quoted as [`number`] prints it.
    pub fn invalid(what: impl Into<String>, rule: impl Into<String>, value: impl ToString) -> Self {
        Error::InvalidParameter {
            what: what.into(),
            rule: rule.into(),
            value: one_line(&readable(value.to_string())),
        }
    }

    /// Shorthand for [`Error::File`]; the message is made [`one_line`].
    pub fn file(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::File {
            path: path.into(),
            message: one_line(&message.into()),
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

    #[test]
    fn computed_values_keep_their_significant_digits() {
        assert_eq!(significant(0.02, 4), "0.02000");
        assert_eq!(significant(2500.0, 5), "2500.0");
        assert_eq!(significant(1e-6, 4), "1.000e-6");
        assert_eq!(significant(-3.14159e9, 3), "-3.14e9");
        assert_eq!(significant(0.001, 2), "0.0010");
        assert_eq!(significant(0.0, 4), "0");
    }

    /// Another library's multi-line message (a parser drawing the error) becomes one line.
    #[test]
    fn messages_become_one_line() {
        let pest =
            "syntax error:  --> 1:7\n  |\n1 | {'a': x}\n  |       ^---\n  |\n  = expected value";
        assert_eq!(
            one_line(pest),
            "syntax error:  --> 1:7 1 | {'a': x} = expected value"
        );
        assert_eq!(one_line("a\u{0}b\n\tc"), "a\\u{0}b c");
        let e = Error::file("f.npy", "two\nlines");
        assert_eq!(e.to_string(), "f.npy: two lines");
    }
}

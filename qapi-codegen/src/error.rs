//! Why generation fails: the front end's error as it is, or what the generator refuses.

use std::fmt;
use std::path::PathBuf;

/// Why generation failed.
#[derive(Debug)]
pub enum Error {
    /// The schema did not load; [`qapi_parser::Error::report`] renders it with its source.
    Schema(qapi_parser::Error),
    /// [`crate::Builder::generate`] was called without [`crate::Builder::schema`].
    NoSchema,
    /// A condition has no cfg mapping and [`crate::UnmappedCfg::Error`] is in force.
    UnmappedCondition { condition: String, used_by: String },
    /// The cfg predicate mapped to a condition does not parse.
    BadPredicate {
        condition: String,
        predicate: String,
        reason: String,
    },
    /// Two schema names map to one Rust name.
    NameClash {
        first: String,
        second: String,
        rust: String,
    },
    /// A type override is malformed or names no struct member.
    TypeOverride { key: String, problem: String },
    /// An alternate branch whose type has no JSON type to branch on.
    AmbiguousBranch { branch: String, of: String },
    /// The checked schema breaks a rule the generator relies on (a bug in either).
    Inconsistent(String),
    /// The runtime's source, pasted for [`crate::Runtime::Inline`], does not parse.
    Runtime { module: String, reason: String },
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Schema(e) => write!(f, "{e}"),
            Error::NoSchema => write!(f, "no schema file given (Builder::schema)"),
            Error::UnmappedCondition { condition, used_by } => write!(
                f,
                "code generation failed: condition '{condition}' (of {used_by}) has no cfg \
                 mapping; map it, e.g. Builder::cfg(\"{condition}\", \"feature = \\\"...\\\"\")"
            ),
            Error::BadPredicate {
                condition,
                predicate,
                reason,
            } => write!(
                f,
                "code generation failed: the cfg mapping of '{condition}' is not a cfg \
                 predicate: '{predicate}' ({reason})"
            ),
            Error::NameClash {
                first,
                second,
                rust,
            } => write!(
                f,
                "code generation failed: {first} and {second} both map to the Rust name '{rust}'"
            ),
            Error::TypeOverride { key, problem } => {
                write!(
                    f,
                    "code generation failed: type override '{key}': {problem}"
                )
            }
            Error::AmbiguousBranch { branch, of } => write!(
                f,
                "code generation failed: branch '{branch}' of {of} has no JSON type"
            ),
            Error::Inconsistent(what) => write!(f, "code generation failed: {what}"),
            Error::Runtime { module, reason } => write!(
                f,
                "code generation failed: runtime module '{module}' does not parse: {reason}"
            ),
            Error::Io { path, error } => write!(f, "{}: {error}", path.display()),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Schema(e) => Some(e),
            Error::Io { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl From<qapi_parser::Error> for Error {
    fn from(e: qapi_parser::Error) -> Self {
        Error::Schema(e)
    }
}

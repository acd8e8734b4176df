//! The one error type that decides an exit code: bad input (exit 2).

/// A usage error: bad input, found before anything runs; exits with code 2.
/// Its message names the flag (or file and field) and the value.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

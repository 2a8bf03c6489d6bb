//! Typed library errors. Each names the scenario path of the offending field.

use thiserror::Error;

/// A scenario field that is missing, malformed or out of range.
#[derive(Debug, Clone, Error, PartialEq)]
#[error("{path}: {message}")]
pub struct FieldError {
    /// Dotted path into the scenario, e.g. `device.depth_mm`.
    pub path: String,
    pub message: String,
}

impl FieldError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), message: message.into() }
    }
}

#[derive(Debug, Clone, Error, PartialEq)]
pub enum ParamError {
    #[error("parameter file: {0}")]
    Parse(String),
    #[error("unknown parameter `{0}`")]
    Unknown(String),
    #[error("parameter `{name}` = {value} lies outside its range [{}, {}]", range[0], range[1])]
    OutOfRange { name: String, value: f64, range: [f64; 2] },
    #[error("parameter `{0}` has no source")]
    NoSource(String),
}

#[derive(Debug, Clone, Error, PartialEq)]
pub enum Error {
    #[error(transparent)]
    Field(#[from] FieldError),
    #[error(transparent)]
    Param(#[from] ParamError),
    #[error("the ODE solver failed: {0}")]
    Solver(String),
    /// A checkpoint that cannot be resumed from.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// The observer asked the run to stop.
    #[error("cancelled")]
    Cancelled,
}

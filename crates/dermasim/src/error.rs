//! Typed library errors. Each names the scenario path of the offending field.

use thiserror::Error;

/// A scenario field that is missing, malformed or out of range.
#[derive(Debug, Clone, Error, PartialEq)]
#[error("{path}: {message}")]
pub struct FieldError {
    /// Dotted path into the scenario, e.g. `device.depth_mm`.
    pub path: String,
    /// What is wrong with the value, for people to read.
    pub message: String,
}

impl FieldError {
    /// An error at `path` (a dotted scenario path, or an option name such as `--days`).
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), message: message.into() }
    }
}

/// A parameter set that cannot be read, or a parameter name or value it does not accept.
#[derive(Debug, Clone, Error, PartialEq)]
pub enum ParamError {
    /// The TOML text of a parameter set does not parse; holds the parser's message.
    #[error("parameter file: {0}")]
    Parse(String),
    /// No parameter of this name in the set.
    #[error("unknown parameter `{0}`")]
    Unknown(String),
    /// A value refused for the named parameter: outside its range, or not finite (what each
    /// caller checks is in its own docs, e.g.
    /// [`ParameterSet::set`](crate::params::ParameterSet::set)).
    #[error("parameter `{name}` = {value} lies outside its range [{}, {}]", range[0], range[1])]
    OutOfRange {
        /// The parameter's name.
        name: String,
        /// The value refused.
        value: f64,
        /// The parameter's plausible range `[low, high]`.
        range: [f64; 2],
    },
    /// A parameter whose `source` is empty.
    #[error("parameter `{0}` has no source")]
    NoSource(String),
}

/// Any error of the core library.
#[derive(Debug, Clone, Error, PartialEq)]
pub enum Error {
    /// A scenario field (or option) that is missing, malformed or out of range.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// A parameter set that cannot be read or a parameter it does not accept.
    #[error(transparent)]
    Param(#[from] ParamError),
    /// The ODE solver could not continue.
    #[error("the ODE solver failed")]
    Solver(#[from] crate::ode::OdeError),
    /// Too few ensemble members solved to form a band.
    #[error("only {succeeded} of {members} ensemble members solved; at least two are needed")]
    Ensemble {
        /// Members that solved.
        succeeded: usize,
        /// Members run.
        members: usize,
    },
    /// A checkpoint that cannot be resumed from.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// The observer asked the run to stop.
    #[error("cancelled")]
    Cancelled,
}

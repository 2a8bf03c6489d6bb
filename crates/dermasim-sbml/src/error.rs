//! Typed errors: every refusal names the SBML element and id it concerns.

/// Everything that can go wrong from reading a file to integrating it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The text is not well-formed XML, or not an SBML document.
    #[error("malformed SBML: {0}")]
    Malformed(String),
    /// A construct this importer does not implement; never silently ignored.
    #[error("unsupported SBML: {element} `{id}`: {what}")]
    Unsupported {
        /// The SBML element kind (`event`, `rule`, `math`, ...).
        element: String,
        /// The element's id (or the nearest enclosing id).
        id: String,
        /// What is missing.
        what: String,
    },
    /// The model is inconsistent (unknown id, missing value, duplicate id ...).
    #[error("invalid SBML: {element} `{id}`: {what}")]
    Invalid {
        /// The SBML element kind.
        element: String,
        /// The element's id.
        id: String,
        /// What is wrong.
        what: String,
    },
    /// Assignments (rules or initial values) that depend on each other in a cycle.
    #[error("algebraic loop among {}", .0.join(" -> "))]
    AlgebraicLoop(Vec<String>),
    /// The integrator failed.
    #[error("solver failed at t = {t}: {what}")]
    Solver {
        /// Time reached.
        t: f64,
        /// Why.
        what: String,
    },
    /// A mapping table or override that does not fit the model.
    #[error("mapping: `{id}`: {what}")]
    Mapping {
        /// The offending id.
        id: String,
        /// What is wrong.
        what: String,
    },
}

impl Error {
    pub(crate) fn unsupported(element: &str, id: &str, what: impl Into<String>) -> Error {
        Error::Unsupported { element: element.into(), id: id.into(), what: what.into() }
    }
    pub(crate) fn invalid(element: &str, id: &str, what: impl Into<String>) -> Error {
        Error::Invalid { element: element.into(), id: id.into(), what: what.into() }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

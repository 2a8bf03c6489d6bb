//! One error type for every use case, with the layer's own errors inside.

/// What can go wrong in a use case. Each variant keeps the typed error of its layer.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Reading a scenario, or writing an output.
    #[error(transparent)]
    Io(#[from] dermasim_io::IoError),
    /// A field of the scenario (the path names it).
    #[error(transparent)]
    Field(#[from] dermasim::FieldError),
    /// The simulation (solver, checkpoint, cancellation).
    #[error(transparent)]
    Core(#[from] dermasim::Error),
    /// Outputs of a run.
    #[error(transparent)]
    Report(#[from] dermasim_report::ReportError),
    /// Plotting.
    #[error(transparent)]
    Plot(#[from] dermasim_report::plots::PlotError),
    /// Screening and planning.
    #[error(transparent)]
    Clinic(#[from] dermasim_clinic::ClinicError),
    /// Calibration.
    #[error(transparent)]
    Calibrate(#[from] dermasim_calibrate::CalibrateError),
    /// A request that is inconsistent or out of range; `field` names the request field (or the
    /// front end's option).
    #[error("{field}: {message}")]
    Request {
        /// The request field.
        field: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// The run produced a value that is not a number (only possible with parameters outside
    /// their ranges).
    #[error("the run produced {what}; no results are written (parameters outside their ranges?)")]
    NotFinite {
        /// What was not finite.
        what: String,
    },
}

impl AppError {
    /// A request error naming `field`.
    pub fn request(field: impl Into<String>, message: impl Into<String>) -> AppError {
        AppError::Request { field: field.into(), message: message.into() }
    }

    /// Whether the run was cancelled by its observer.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, AppError::Core(dermasim::Error::Cancelled))
    }
}

//! The dermasim application layer: every use case as a library call.
//!
//! The command line, the web app and the Python package are thin front ends over this crate:
//! each builds a typed request, passes an [`Observer`] (progress, cancel) and presents the typed
//! result. Nothing here prints, parses command lines or knows flag names beyond what error
//! messages need.
//!
//! | use case | call | result |
//! |---|---|---|
//! | run a scenario (single or ensemble, capture, checkpoints, delivery) | [`run::run`] | [`run::RunReport`] |
//! | fields and ensemble members in memory | [`fields::snapshot`], [`tables::members_record_batch`] | snapshots, Arrow batches |
//! | topical delivery | [`deliver::deliver`] | [`dermasim::delivery::DeliveryReport`] |
//! | screening, treatment plans | [`clinic::screen`], [`clinic::plan`] | [`clinic::PlanOutcome`] |
//! | validation, calibration | [`evidence::validate`], [`evidence::calibrate`] | checks, fitted overlay |
//! | benchmarks (bandwidth, transport, kinetics, whole runs) | [`bench`](mod@bench) | measured rates |
//!
//! Files go through a [`Sink`]: a run folder on disk ([`RunFolder`], written atomically and
//! never over anything dermasim did not create) or memory ([`MemorySink`]).
//!
//! ```
//! use dermasim_app::{run, NoObserver, Scenario};
//!
//! let mut scenario = Scenario::default_scenario();
//! scenario.simulation.fidelity = dermasim::Fidelity::Zero;
//! let report = run::run(&run::RunRequest::new(scenario), &NoObserver).unwrap();
//! assert!(report.summary.last().collagen_total_rel > 1.0);
//! ```

#![deny(missing_docs)]

pub mod bench;
pub mod clinic;
pub mod cohort;
pub mod deliver;
mod error;
pub mod evidence;
pub mod fields;
pub mod inflammation;
mod observe;
pub mod run;
pub mod scenario;
pub mod tables;

pub use dermasim::{ParameterSet, Scenario, Summary};
pub use dermasim_io::{
    FileEntry, Manifest, MemorySink, OutputKind, Outputs, PreparedFile, RunFolder, ScenarioFile,
    Sink,
};
pub use error::AppError;
pub use observe::{CancelFlag, NoObserver, Observer, Progress};

/// The program version recorded in every manifest.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

//! dermasim core: a layered skin model, needle devices, injury, wound-healing kinetics and
//! implicit transport, at three fidelities (`0d`, `1d`, `3d`) that share one kinetics.
//!
//! No file or network I/O and no printing: the `dermasim-io` crate reads scenarios and writes
//! run folders; the `dermasim` binary is a thin CLI over both.
//!
//! ```
//! let scenario = dermasim::Scenario::default_scenario();
//! let summary = dermasim::run(&scenario, &dermasim::ParameterSet::default_set()).unwrap();
//! assert!(summary.last().collagen_total_rel > 1.0);
//! ```

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod delivery;
pub mod device;
pub mod ensemble;
pub mod error;
pub mod grid;
pub mod injury;
pub mod kinetics;
pub mod limits;
pub mod models;
pub mod numerics;
pub mod ode;
pub mod outcome;
pub mod params;
pub mod placement;
pub mod rng;
pub mod scenario;
pub mod sim;
pub mod tissue;
pub mod transport;

pub use error::{Error, FieldError};
pub use outcome::{Observable, Panel, Summary, TimelinePoint, DISCLAIMER, OBSERVABLES};
pub use params::ParameterSet;
pub use scenario::{Fidelity, Scenario};
pub use sim::{run, Options, Profile, Simulation};

//! Topical delivery through the channels of each session.

use dermasim::delivery::DeliveryReport;
use dermasim_io::PreparedFile;

use crate::{AppError, Observer, Progress};

/// The delivery report of a scenario checked already ([`crate::scenario::load`]; it needs a
/// `topical` section).
pub fn deliver(
    scenario: &PreparedFile,
    observer: &dyn Observer,
) -> Result<DeliveryReport, AppError> {
    if scenario.scenario().topical.is_none() {
        return Err(AppError::request(
            "topical",
            "the scenario has no `topical` section; add one (see examples/delivery_*.toml)",
        ));
    }
    observer.progress(Progress::Stage("topical delivery"));
    Ok(dermasim::delivery::deliver(scenario.prepared())?)
}

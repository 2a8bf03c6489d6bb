//! Topical delivery through the channels of each session.

use dermasim::delivery::DeliveryReport;
use dermasim::tissue::SiteTable;
use dermasim::{ParameterSet, Scenario};

use crate::{AppError, Observer, Progress};

/// The delivery report of `scenario` (it needs a `topical` section).
pub fn deliver(scenario: &Scenario, observer: &dyn Observer) -> Result<DeliveryReport, AppError> {
    if scenario.topical.is_none() {
        return Err(AppError::request(
            "topical",
            "the scenario has no `topical` section; add one (see examples/delivery_*.toml)",
        ));
    }
    observer.progress(Progress::Stage("topical delivery"));
    let prepared = scenario.prepare(SiteTable::shared(), &ParameterSet::default_set())?;
    Ok(dermasim::delivery::deliver(&prepared)?)
}

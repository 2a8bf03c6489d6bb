//! A scenario checked once, with what its checks derived: the parameter set, the skin column
//! and each session's channels. Runs take it, so nothing downstream checks or derives again.

use crate::device::{Channels, DeviceParams};
use crate::error::Error;
use crate::params::ParameterSet;
use crate::tissue::{Column, SiteTable};

use super::Scenario;

/// A scenario that passed [`Scenario::prepare`], and what the run needs from it.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub(crate) scenario: Scenario,
    pub(crate) set: ParameterSet,
    pub(crate) column: Column,
    pub(crate) channels: Vec<Channels>,
    pub(crate) snapshot_days: Vec<f64>,
}

impl Prepared {
    pub(super) fn derive(
        scenario: Scenario,
        set: ParameterSet,
        column: Column,
        dp: &DeviceParams,
        snapshot_days: Vec<f64>,
    ) -> Prepared {
        let channels = (0..scenario.protocol.sessions.len())
            .map(|i| scenario.session_device(i).channels_with(&column, dp))
            .collect();
        Prepared { scenario, set, column, channels, snapshot_days }
    }

    /// `scenario` run with `set` in place of its checked parameters, without the checks:
    /// ensemble members draw other values (deeper penetration, say), which the device model
    /// clamps to the skin's thickness. The column and channels are derived again from `set`;
    /// the snapshot days are `snapshot_days` as resolved for the checked scenario.
    pub(crate) fn unchecked(
        scenario: Scenario,
        set: ParameterSet,
        snapshot_days: Vec<f64>,
    ) -> Result<Prepared, Error> {
        let p = &scenario.patient;
        let site = SiteTable::shared().require(&p.site, "patient.site")?;
        let column = Column::build(site, p.age_years, p.sex, &set)?;
        let dp = DeviceParams::from_set(&set)?;
        Ok(Prepared::derive(scenario, set, column, &dp, snapshot_days))
    }

    /// The scenario as checked.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The parameter set it runs with: the base set plus the scenario's overrides.
    pub fn parameters(&self) -> &ParameterSet {
        &self.set
    }

    /// The patient's skin column at the treated site.
    pub fn column(&self) -> &Column {
        &self.column
    }

    /// The channels of each session, in session order.
    pub fn channels(&self) -> &[Channels] {
        &self.channels
    }

    /// The days of the depth profiles and field snapshots, sorted and unique; the stepper lands
    /// on them whatever is written.
    pub fn snapshot_days(&self) -> &[f64] {
        &self.snapshot_days
    }
}

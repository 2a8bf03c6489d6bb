//! The scenario: one typed schema for everything a run needs, read from TOML or JSON.
//! The parts live in `patient`, `protocol` and `simulation`, each with its own `validate`
//! (devices, topical and inflammation in their modules); [`Scenario::prepare`] composes them
//! and returns the [`Prepared`] scenario that runs take. Which files a run writes is not part
//! of it (`dermasim-io`'s `ScenarioFile` adds the `[outputs]` table); only the snapshot days,
//! which decide where the stepper stops, come in as plain numbers ([`SnapshotRequest`]).

mod patient;
mod prepared;
mod protocol;
mod simulation;
mod snapshots;

pub use patient::Patient;
pub use prepared::Prepared;
pub use protocol::{Protocol, Session, MAX_SESSIONS};
pub use simulation::{Fidelity, Simulation, DEFAULT_REST_TOLERANCE, MAX_3D_VOXELS};
pub use snapshots::{SnapshotRequest, MAX_SNAPSHOT_DAYS};

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::device::{Device, DeviceParams};
use crate::error::FieldError;
use crate::params::ParameterSet;
use crate::placement;
use crate::tissue::SiteTable;

/// A simulation scenario. Units are in the field names (`_um`, `_mm`, `_days`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Free text shown in reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Who is treated, and where.
    pub patient: Patient,
    /// The device used at every session unless a session names its own.
    pub device: Device,
    /// When sessions happen and how long the follow-up is.
    pub protocol: Protocol,
    /// Fidelity, grid and steps.
    #[serde(default)]
    pub simulation: Simulation,
    /// Overrides of model parameters by name (see `data/parameters.toml`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, f64>,
    /// A product applied after each session (`dermasim deliver`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topical: Option<crate::delivery::Topical>,
    /// Accept `parameters` overrides outside their ranges in `data/parameters.toml` (recorded
    /// in the summary's notes). Off by default: an override outside its range is refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_outside_range: bool,
    /// An SBML model in place of the built-in inflammation (Cooper 2015); see
    /// `kinetics::module`. Loaded by `dermasim-app`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inflammation: Option<crate::kinetics::module::InflammationSource>,
}

impl Scenario {
    /// The built-in default: cheek, pen 1.5 mm, 3 sessions 4 weeks apart, 180 days.
    pub fn default_scenario() -> Scenario {
        let text = include_str!("../../../../examples/default.toml");
        toml::from_str(text).expect("examples/default.toml is valid")
    }

    /// The device of session `i`.
    pub fn session_device(&self, i: usize) -> &Device {
        self.protocol.sessions[i].device.as_ref().unwrap_or(&self.device)
    }

    /// Puncture centres `[x, y]` (um) of session `i` on a 3d patch of `patch_um`, placed as
    /// `simulation.placement` says and reproducible from the seed; generated one at a time.
    pub fn punctures(&self, i: usize, patch_um: [f64; 2]) -> Box<dyn Iterator<Item = [f64; 2]>> {
        let sim = &self.simulation;
        placement::punctures(
            self.session_device(i),
            sim.placement,
            sim.path_jitter_um,
            patch_um,
            sim.seed,
            i,
        )
    }

    /// The parameter set this scenario runs with: `base` plus the scenario's overrides.
    pub fn parameter_set(&self, base: &ParameterSet) -> Result<ParameterSet, FieldError> {
        let mut set = base.clone();
        for (name, &v) in &self.parameters {
            let path = format!("parameters.{name}");
            set.set(name, v).map_err(|e| FieldError::new(&path, e.to_string()))?;
            let [lo, hi] = set.param[name].range;
            if !self.allow_outside_range && !(lo..=hi).contains(&v) {
                return Err(FieldError::new(
                    path,
                    format!(
                        "{v} is outside the allowed range {lo} to {hi} (data/parameters.toml); \
                         set allow_outside_range = true (--allow-outside-range) to run it anyway"
                    ),
                ));
            }
        }
        Ok(set)
    }

    /// The overrides that lie outside their ranges (accepted only with `allow_outside_range`).
    pub fn overrides_outside_range(&self, base: &ParameterSet) -> Vec<String> {
        self.parameters
            .iter()
            .filter_map(|(name, &v)| {
                let [lo, hi] = base.param.get(name)?.range;
                (!(lo..=hi).contains(&v)).then(|| format!("{name} = {v} (range {lo} to {hi})"))
            })
            .collect()
    }

    /// Everything a file can get wrong beyond its syntax; the error names the field path.
    /// A check only: what runs the scenario takes [`Scenario::prepare`], which checks the same.
    pub fn validate(&self, sites: &SiteTable, base: &ParameterSet) -> Result<(), FieldError> {
        self.prepare(sites, base).map(drop)
    }

    /// [`Scenario::prepare_with_snapshots`] with the default snapshot days.
    pub fn prepare(&self, sites: &SiteTable, base: &ParameterSet) -> Result<Prepared, FieldError> {
        self.prepare_with_snapshots(sites, base, SnapshotRequest::default())
    }

    /// Check the scenario once, part by part in a fixed order (so a file with several faults
    /// is always refused for the same one), and keep what the checks derived for the run: the
    /// parameter set, the skin column, each session's channels and the snapshot days the
    /// stepper lands on. The simulator, the ensemble and delivery take the result instead of
    /// deriving it again.
    pub fn prepare_with_snapshots(
        &self,
        sites: &SiteTable,
        base: &ParameterSet,
        snapshots: SnapshotRequest<'_>,
    ) -> Result<Prepared, FieldError> {
        let set = self.parameter_set(base)?;
        let column = self.patient.validate("patient", sites, &set)?;
        let dp = DeviceParams::from_set(&set).map_err(FieldError::from)?;
        self.device.validate("device", &column, &dp)?;
        self.protocol.validate("protocol", &column, &dp)?;
        snapshots.validate(&self.protocol)?;
        self.simulation.validate("simulation", self.protocol.follow_up_days, &column)?;
        if let Some(t) = &self.topical {
            t.validate("topical", &self.protocol.session_days())?;
        }
        if let Some(i) = &self.inflammation {
            i.validate("inflammation", &self.parameters)?;
        }
        let days = snapshots.resolve(&self.protocol);
        Ok(Prepared::derive(self.clone(), set, column, &dp, days))
    }

    /// The scenario's canonical JSON (fields in declaration order); a scenario file's hash,
    /// recorded in every run folder, is taken over `dermasim-io`'s mirror of it.
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).expect("scenario serialises")
    }
}

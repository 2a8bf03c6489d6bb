//! The scenario: one typed schema for everything a run needs, read from TOML or JSON.
//! The parts live in `patient`, `protocol` and `simulation`; the checks of the whole are
//! [`Scenario::validate`].

mod patient;
mod protocol;
mod simulation;

pub use patient::Patient;
pub use protocol::{Protocol, Session};
pub use simulation::{Fidelity, Simulation, DEFAULT_REST_TOLERANCE};

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::device::{Device, DeviceParams};
use crate::error::FieldError;
use crate::limits::{self, check_range, Limit};
use crate::outputs::Outputs;
use crate::params::ParameterSet;
use crate::placement;
use crate::tissue::{Column, SiteTable};

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
    /// What the run folder holds (`dermasim run --outputs` overrides `write`).
    #[serde(default, skip_serializing_if = "Outputs::is_default")]
    pub outputs: Outputs,
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
    pub fn validate(&self, sites: &SiteTable, base: &ParameterSet) -> Result<(), FieldError> {
        let set = self.parameter_set(base)?;
        let p = &self.patient;
        let site = sites.require(&p.site, "patient.site")?;
        limits::AGE_YEARS.check("patient.age_years", p.age_years)?;
        if !(limits::FITZPATRICK.lo..=limits::FITZPATRICK.hi).contains(&(p.fitzpatrick as f64)) {
            return Err(FieldError::new(
                "patient.fitzpatrick",
                format!("{} is not a Fitzpatrick type; use 1 to 6", p.fitzpatrick),
            ));
        }
        let column = Column::build(site, p.age_years, p.sex, &set)
            .map_err(|e| FieldError::new("patient", e.to_string()))?;

        let dp = DeviceParams::from_set(&set).map_err(FieldError::from)?;
        self.device.validate("device", &column, &dp)?;
        let pr = &self.protocol;
        limits::FOLLOW_UP_DAYS.check("protocol.follow_up_days", pr.follow_up_days)?;
        // No session at all is the untreated control arm: a valid scenario (issue 15).
        if pr.sessions.len() > 100 {
            return Err(FieldError::new(
                "protocol.sessions",
                format!("{} sessions; at most 100", pr.sessions.len()),
            ));
        }
        let mut last = f64::NEG_INFINITY;
        for (i, s) in pr.sessions.iter().enumerate() {
            let path = format!("protocol.sessions.{i}.day");
            if !s.day.is_finite() || s.day < 0.0 {
                return Err(FieldError::new(path, format!("{} must be 0 or later", s.day)));
            }
            if s.day >= pr.follow_up_days {
                return Err(FieldError::new(
                    path,
                    format!(
                        "day {} is not before the end of follow-up (protocol.follow_up_days = {})",
                        s.day, pr.follow_up_days
                    ),
                ));
            }
            if s.day <= last {
                return Err(FieldError::new(
                    path,
                    format!("day {} must come after the previous session (day {last})", s.day),
                ));
            }
            last = s.day;
            if let Some(d) = &s.device {
                d.validate(&format!("protocol.sessions.{i}.device"), &column, &dp)?;
            }
        }

        self.outputs.validate(pr)?;

        let sim = &self.simulation;
        limits::DZ_UM.check("simulation.dz_um", sim.dz_um)?;
        limits::DX_UM.check("simulation.dx_um", sim.dx_um)?;
        for (k, axis) in ["x", "y"].iter().enumerate() {
            let path = format!("simulation.patch_um.{k}");
            check_range(&path, sim.patch_um[k], 3.0 * sim.dx_um, limits::PATCH_UM.hi, "um")
                .map_err(|e| {
                    FieldError::new(
                        e.path,
                        format!(
                            "{} (patch {axis} must hold at least 3 voxels of simulation.dx_um)",
                            e.message
                        ),
                    )
                })?;
        }
        let every = Limit { hi: pr.follow_up_days, ..limits::OUTPUT_EVERY_DAYS };
        every.check("simulation.output_every_days", sim.output_every_days)?;
        limits::DT_MIN_DAYS.check("simulation.dt_min_days", sim.dt_min_days)?;
        let dt_max = Limit { lo: sim.dt_min_days, ..limits::DT_MAX_DAYS };
        dt_max.check("simulation.dt_max_days", sim.dt_max_days)?;
        limits::DT_GROWTH.check("simulation.dt_growth", sim.dt_growth)?;
        limits::PATH_JITTER_UM.check("simulation.path_jitter_um", sim.path_jitter_um)?;
        limits::REST_TOLERANCE.check("simulation.rest_tolerance", sim.rest_tolerance)?;
        if sim.fidelity == Fidelity::Three {
            let cells = (sim.patch_um[0] / sim.dx_um).round()
                * (sim.patch_um[1] / sim.dx_um).round()
                * (column.total_um() / sim.dz_um).ceil();
            if cells > 3.0e7 {
                return Err(FieldError::new("simulation.dx_um", format!("the 3d grid would hold {cells:.0} voxels; at most 3e7 fit in memory, raise dx_um or dz_um or shrink patch_um")));
            }
        }
        if let Some(t) = &self.topical {
            let days: Vec<f64> = pr.sessions.iter().map(|s| s.day).collect();
            t.validate("topical", &days)?;
        }
        if let Some(i) = &self.inflammation {
            i.validate("inflammation", &self.parameters)?;
        }
        Ok(())
    }

    /// Short hash of the scenario's canonical JSON, recorded in every run folder.
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).expect("scenario serialises")
    }
}

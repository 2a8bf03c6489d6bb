//! The scenario: one typed schema for everything a run needs, read from TOML or JSON.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::device::{Device, DeviceParams};
use crate::error::FieldError;
use crate::limits::{self, check_range, Limit};
use crate::outputs::Outputs;
use crate::params::ParameterSet;
use crate::placement::{self, Placement};
use crate::tissue::{Column, Sex, SiteTable};

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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
/// The patient and the treated site.
pub struct Patient {
    /// Anatomical site id from `dermasim sites`.
    pub site: String,
    /// Age in years, 18 to 100.
    #[schemars(range(min = limits::AGE_YEARS.lo, max = limits::AGE_YEARS.hi))]
    pub age_years: f64,
    /// Sex, for the thickness and ageing factors.
    #[serde(default)]
    pub sex: Sex,
    /// Fitzpatrick skin type, 1 to 6.
    #[serde(default = "default_fitzpatrick")]
    #[schemars(range(min = limits::FITZPATRICK.lo, max = limits::FITZPATRICK.hi))]
    pub fitzpatrick: u8,
}

fn default_fitzpatrick() -> u8 {
    3
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
/// The treatment course.
pub struct Protocol {
    /// Treatment sessions in increasing day order.
    pub sessions: Vec<Session>,
    /// Simulated time after day 0, in days.
    #[schemars(range(min = limits::FOLLOW_UP_DAYS.lo, max = limits::FOLLOW_UP_DAYS.hi))]
    pub follow_up_days: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
/// One treatment session.
pub struct Session {
    /// Day of the session, from day 0.
    pub day: f64,
    /// Device settings for this session only; the scenario's device when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<Device>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
/// How finely the skin is resolved.
pub enum Fidelity {
    /// Well-mixed layers: one compartment per skin layer.
    #[serde(rename = "0d")]
    Zero,
    /// Depth-resolved, laterally averaged.
    #[serde(rename = "1d")]
    #[default]
    One,
    /// Full patch with periodic lateral boundaries.
    #[serde(rename = "3d")]
    Three,
}

impl Fidelity {
    /// The fidelity as scenarios name it (`0d`, `1d`, `3d`).
    pub fn as_str(self) -> &'static str {
        match self {
            Fidelity::Zero => "0d",
            Fidelity::One => "1d",
            Fidelity::Three => "3d",
        }
    }
}

impl std::str::FromStr for Fidelity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "0d" => Ok(Fidelity::Zero),
            "1d" => Ok(Fidelity::One),
            "3d" => Ok(Fidelity::Three),
            _ => Err(format!("`{s}` is not a fidelity; use 0d, 1d or 3d")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
/// Numerical settings of a run.
pub struct Simulation {
    /// 0d, 1d or 3d.
    pub fidelity: Fidelity,
    /// Depth grid spacing (1d and 3d), 1 to 200 um.
    #[schemars(range(min = limits::DZ_UM.lo, max = limits::DZ_UM.hi))]
    pub dz_um: f64,
    /// Lateral grid spacing (3d), 2 to 500 um.
    #[schemars(range(min = limits::DX_UM.lo, max = limits::DX_UM.hi))]
    pub dx_um: f64,
    /// Lateral patch size `[x, y]` (3d), at least 3 voxels each way.
    #[schemars(inner(range(min = limits::PATCH_UM.lo, max = limits::PATCH_UM.hi)))]
    pub patch_um: [f64; 2],
    /// Cadence of the timeline, days.
    #[schemars(range(min = limits::OUTPUT_EVERY_DAYS.lo, max = limits::OUTPUT_EVERY_DAYS.hi))]
    pub output_every_days: f64,
    /// Seed of the puncture patterns and of ensemble draws.
    pub seed: u64,
    /// Step right after a session, days.
    #[schemars(range(min = limits::DT_MIN_DAYS.lo, max = limits::DT_MIN_DAYS.hi))]
    pub dt_min_days: f64,
    /// Largest step, days.
    #[schemars(range(min = limits::DT_MAX_DAYS.lo, max = limits::DT_MAX_DAYS.hi))]
    pub dt_max_days: f64,
    /// Step growth per day since the last session (dt = dt_min + growth * elapsed).
    #[schemars(range(min = limits::DT_GROWTH.lo, max = limits::DT_GROWTH.hi))]
    pub dt_growth: f64,
    /// Where the punctures enter a 3d patch: `random` (uniform, the default) or `paths` (the
    /// device's tracks, lines or stamp lattice; see `placement`).
    #[serde(skip_serializing_if = "Placement::is_default")]
    pub placement: Placement,
    /// With `placement = "paths"`: the hand's sideways wobble, up to this far, of each pen
    /// stroke, roller revolution or stamp, um.
    #[serde(skip_serializing_if = "is_zero")]
    #[schemars(range(min = limits::PATH_JITTER_UM.lo, max = limits::PATH_JITTER_UM.hi))]
    pub path_jitter_um: f64,
    /// Kinetics skip a voxel whose state and six neighbours all lie within this share of each
    /// species' wound scale of rest (`kinetics::RestScale`); 0 skips only voxels exactly at
    /// rest. Measured effect on the outputs: docs/performance.md.
    #[schemars(range(min = limits::REST_TOLERANCE.lo, max = limits::REST_TOLERANCE.hi))]
    #[serde(skip_serializing_if = "is_default_rest_tolerance")]
    pub rest_tolerance: f64,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

/// Default of `simulation.rest_tolerance`, chosen by measurement (docs/performance.md).
pub const DEFAULT_REST_TOLERANCE: f64 = 0.0;

// Left out of written scenarios at its default, so files and hashes of runs that do not set
// it stay as they were.
fn is_default_rest_tolerance(v: &f64) -> bool {
    *v == DEFAULT_REST_TOLERANCE
}

impl Default for Simulation {
    fn default() -> Self {
        Simulation {
            fidelity: Fidelity::One,
            dz_um: 20.0,
            dx_um: 25.0,
            patch_um: [1000.0, 1000.0],
            output_every_days: 1.0,
            seed: 42,
            dt_min_days: 0.02,
            dt_max_days: 1.0,
            dt_growth: 0.1,
            placement: Placement::Random,
            path_jitter_um: 0.0,
            rest_tolerance: DEFAULT_REST_TOLERANCE,
        }
    }
}

impl Scenario {
    /// The built-in default: cheek, pen 1.5 mm, 3 sessions 4 weeks apart, 180 days.
    pub fn default_scenario() -> Scenario {
        let text = include_str!("../../../examples/default.toml");
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

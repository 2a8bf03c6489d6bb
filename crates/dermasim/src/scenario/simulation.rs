//! Numerical settings of a run: fidelity, grid, steps, puncture placement.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::limits::{self, check_range, field, Limit};
use crate::placement::Placement;
use crate::tissue::Column;

/// Most voxels a 3d grid may hold (what fits in memory).
pub const MAX_3D_VOXELS: f64 = 3.0e7;

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
            dt_min_days: 0.04,
            dt_max_days: 4.0,
            dt_growth: 0.1,
            placement: Placement::Random,
            path_jitter_um: 0.0,
            rest_tolerance: DEFAULT_REST_TOLERANCE,
        }
    }
}

impl Simulation {
    /// Grid, steps and placement (`path` is where the settings sit in the scenario): ranges that
    /// depend on the follow-up (the timeline cadence) and, at 3d, on the patient's `column`
    /// (the number of voxels).
    pub fn validate(
        &self,
        path: &str,
        follow_up_days: f64,
        column: &Column,
    ) -> Result<(), FieldError> {
        limits::DZ_UM.check(&field(path, "dz_um"), self.dz_um)?;
        limits::DX_UM.check(&field(path, "dx_um"), self.dx_um)?;
        for (k, axis) in ["x", "y"].iter().enumerate() {
            let at = format!("{path}.patch_um.{k}");
            check_range(&at, self.patch_um[k], 3.0 * self.dx_um, limits::PATCH_UM.hi, "um")
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
        let every = Limit { hi: follow_up_days, ..limits::OUTPUT_EVERY_DAYS };
        every.check(&field(path, "output_every_days"), self.output_every_days)?;
        limits::DT_MIN_DAYS.check(&field(path, "dt_min_days"), self.dt_min_days)?;
        let dt_max = Limit { lo: self.dt_min_days, ..limits::DT_MAX_DAYS };
        dt_max.check(&field(path, "dt_max_days"), self.dt_max_days)?;
        limits::DT_GROWTH.check(&field(path, "dt_growth"), self.dt_growth)?;
        limits::PATH_JITTER_UM.check(&field(path, "path_jitter_um"), self.path_jitter_um)?;
        limits::REST_TOLERANCE.check(&field(path, "rest_tolerance"), self.rest_tolerance)?;
        if self.fidelity == Fidelity::Three {
            let cells = (self.patch_um[0] / self.dx_um).round()
                * (self.patch_um[1] / self.dx_um).round()
                * (column.total_um() / self.dz_um).ceil();
            if cells > MAX_3D_VOXELS {
                return Err(FieldError::new(
                    field(path, "dx_um"),
                    format!(
                        "the 3d grid would hold {cells:.0} voxels; at most 3e7 fit in memory, \
                         raise dx_um or dz_um or shrink patch_um"
                    ),
                ));
            }
        }
        Ok(())
    }
}

//! Allowed ranges of scenario fields, in one place: the checks refuse values outside them and
//! the JSON Schema shows them (`minimum` / `maximum` on the same constants), so the two cannot
//! disagree. Ranges that depend on other fields (a patch of at least 3 voxels, a step no
//! larger than `dt_max_days`) are checked in full by `Scenario::validate`; the schema carries
//! their fixed part.

use crate::error::FieldError;

/// A closed range `[lo, hi]` with its unit, for error messages.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    /// Smallest allowed value.
    pub lo: f64,
    /// Largest allowed value.
    pub hi: f64,
    /// Unit (or a short note) printed after the range.
    pub unit: &'static str,
}

impl Limit {
    const fn new(lo: f64, hi: f64, unit: &'static str) -> Limit {
        Limit { lo, hi, unit }
    }

    /// Refuse `v` outside the range (or not finite), naming `path`.
    pub fn check(&self, path: &str, v: f64) -> Result<(), FieldError> {
        check_range(path, v, self.lo, self.hi, self.unit)
    }

    /// Refuse a count outside the range, naming `path`.
    pub fn check_count(&self, path: &str, v: u32) -> Result<(), FieldError> {
        if (v as f64) < self.lo || (v as f64) > self.hi {
            return Err(FieldError::new(
                path,
                format!("{v} is outside the allowed range {} to {}", self.lo, self.hi),
            ));
        }
        Ok(())
    }
}

/// Refuse `v` outside `[lo, hi]` (or not finite), naming `path` and the range.
pub(crate) fn check_range(
    path: &str,
    v: f64,
    lo: f64,
    hi: f64,
    unit: &str,
) -> Result<(), FieldError> {
    if !v.is_finite() || v < lo || v > hi {
        return Err(FieldError::new(
            path,
            format!("{v} is outside the allowed range {lo} to {hi} {unit}"),
        ));
    }
    Ok(())
}

/// The dotted path of `name` inside `path` (`field("device", "passes")` is `device.passes`):
/// how every check names the field it refuses.
pub fn field(path: &str, name: &str) -> String {
    format!("{path}.{name}")
}

/// Longest needle or deepest setting of any device, mm.
pub const MAX_NEEDLE_MM: f64 = 3.0;

/// `patient.age_years`.
pub const AGE_YEARS: Limit = Limit::new(18.0, 100.0, "years");
/// `patient.fitzpatrick`.
pub const FITZPATRICK: Limit = Limit::new(1.0, 6.0, "(Fitzpatrick type)");
/// `protocol.follow_up_days`.
pub const FOLLOW_UP_DAYS: Limit = Limit::new(1.0, 3650.0, "days");
/// `simulation.dz_um`.
pub const DZ_UM: Limit = Limit::new(1.0, 200.0, "um");
/// `simulation.dx_um`.
pub const DX_UM: Limit = Limit::new(2.0, 500.0, "um");
/// `simulation.patch_um` (and at least 3 voxels of `dx_um`).
pub const PATCH_UM: Limit = Limit::new(3.0 * DX_UM.lo, 20_000.0, "um");
/// `simulation.output_every_days` (and at most `protocol.follow_up_days`).
pub const OUTPUT_EVERY_DAYS: Limit = Limit::new(0.01, FOLLOW_UP_DAYS.hi, "days");
/// `simulation.dt_min_days`.
pub const DT_MIN_DAYS: Limit = Limit::new(1e-4, 1.0, "days");
/// `simulation.dt_max_days` (and at least `dt_min_days`).
pub const DT_MAX_DAYS: Limit = Limit::new(DT_MIN_DAYS.lo, 30.0, "days (and at least dt_min_days)");
/// `simulation.dt_growth`.
pub const DT_GROWTH: Limit = Limit::new(0.0, 10.0, "per day");
/// `simulation.rest_tolerance`: 0 skips only voxels exactly at rest; above 0.01 the skipped
/// voxels' frozen departures would reach a per cent of a wound (docs/performance.md).
pub const REST_TOLERANCE: Limit = Limit::new(0.0, 0.01, "(share of each species' wound scale)");

/// Needle length of a roller or stamp.
pub const NEEDLE_LENGTH_MM: Limit = Limit::new(0.1, MAX_NEEDLE_MM, "mm");
/// A pen's maximum depth setting.
pub const PEN_MAX_DEPTH_MM: Limit = Limit::new(0.1, MAX_NEEDLE_MM, "mm");
/// Needle diameter at the base.
pub const NEEDLE_DIAMETER_MM: Limit = Limit::new(0.05, 1.0, "mm");
/// A device's own penetration efficiency.
pub const PENETRATION_EFFICIENCY: Limit = Limit::new(0.05, 1.0, "(fraction of the needle length)");
/// Roller drum diameter.
pub const DRUM_DIAMETER_MM: Limit = Limit::new(5.0, 100.0, "mm");
/// Roller drum width.
pub const DRUM_WIDTH_MM: Limit = Limit::new(2.0, 100.0, "mm");
/// Needles on a roller drum.
pub const ROLLER_NEEDLES: Limit = Limit::new(1.0, 2000.0, "");
/// Roller passes in each direction.
pub const ROLLER_PASSES: Limit = Limit::new(0.0, 50.0, "");
/// Directions a roller is rolled in.
pub const ROLLER_DIRECTIONS: Limit = Limit::new(1.0, 8.0, "");
/// Needles per pen cartridge.
pub const PEN_NEEDLES: Limit = Limit::new(1.0, 100.0, "");
/// Pen passes.
pub const PEN_PASSES: Limit = Limit::new(0.0, 20.0, "");
/// Pen strokes per second.
pub const STROKE_RATE_HZ: Limit = Limit::new(1.0, 1000.0, "Hz");
/// Pen glide speed.
pub const GLIDE_SPEED_MM_S: Limit = Limit::new(0.5, 200.0, "mm/s");
/// Width of a pen's track.
pub const FOOTPRINT_MM: Limit = Limit::new(1.0, 30.0, "mm");
/// Distance between a pen's tracks or a roller's lines.
pub const TRACK_SPACING_MM: Limit = Limit::new(0.5, 100.0, "mm");
/// `simulation.path_jitter_um`.
pub const PATH_JITTER_UM: Limit = Limit::new(0.0, 5000.0, "um");
/// Rows or columns of a stamp's needle grid.
pub const STAMP_GRID: Limit = Limit::new(1.0, 100.0, "");
/// Distance between a stamp's needles.
pub const NEEDLE_SPACING_MM: Limit = Limit::new(0.1, 10.0, "mm");
/// Stamps per square centimetre.
pub const STAMPS_PER_CM2: Limit = Limit::new(0.01, 100.0, "per cm2");

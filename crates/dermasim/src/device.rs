//! Needle devices and the punctures they make.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::limits;
use crate::params::{typed_params, ParameterSet};
use crate::tissue::Column;

/// A microneedling device and how it is used in one session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Device {
    /// A drum of needles rolled over the skin.
    Roller(Roller),
    /// An automated pen stamping vertically at a set depth.
    Pen(Pen),
    /// A flat needle grid pressed vertically.
    Stamp(Stamp),
}

/// A drum roller. Defaults: Dermaroller MF8 (Schwarz & Laaff 2011, Plast Reconstr Surg 127:146e).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Roller {
    /// Needle length, 0.1 to 3.0 mm.
    #[schemars(range(min = limits::NEEDLE_LENGTH_MM.lo, max = limits::NEEDLE_LENGTH_MM.hi))]
    pub needle_length_mm: f64,
    /// Drum diameter (MF8: 20 mm).
    #[serde(default = "d_drum")]
    #[schemars(range(min = limits::DRUM_DIAMETER_MM.lo, max = limits::DRUM_DIAMETER_MM.hi))]
    pub drum_diameter_mm: f64,
    /// Drum width (MF8: 20 mm).
    #[serde(default = "d_drum")]
    #[schemars(range(min = limits::DRUM_WIDTH_MM.lo, max = limits::DRUM_WIDTH_MM.hi))]
    pub drum_width_mm: f64,
    /// Needles on the drum (MF8: 192).
    #[serde(default = "d_roller_needles")]
    #[schemars(range(min = limits::ROLLER_NEEDLES.lo, max = limits::ROLLER_NEEDLES.hi))]
    pub needles: u32,
    /// Needle diameter at the base, mm.
    #[serde(default = "d_needle_diameter")]
    #[schemars(range(min = limits::NEEDLE_DIAMETER_MM.lo, max = limits::NEEDLE_DIAMETER_MM.hi))]
    pub needle_diameter_mm: f64,
    /// Passes in each direction.
    #[serde(default = "d_roller_passes")]
    #[schemars(range(min = limits::ROLLER_PASSES.lo, max = limits::ROLLER_PASSES.hi))]
    pub passes: u32,
    /// Directions rolled (e.g. 4: horizontal, vertical, two diagonals).
    #[serde(default = "d_directions")]
    #[schemars(range(min = limits::ROLLER_DIRECTIONS.lo, max = limits::ROLLER_DIRECTIONS.hi))]
    pub directions: u32,
    /// Distance between neighbouring lines of one pass; the drum width when absent (lines
    /// edge to edge). Wider leaves untreated strips, narrower overlaps them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = limits::TRACK_SPACING_MM.lo, max = limits::TRACK_SPACING_MM.hi))]
    pub line_spacing_mm: Option<f64>,
    /// Real channel depth over needle length; the site default from the parameter set when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = limits::PENETRATION_EFFICIENCY.lo, max = limits::PENETRATION_EFFICIENCY.hi))]
    pub penetration_efficiency: Option<f64>,
}

/// An automated pen stamping vertically. Defaults: SkinPen class (FDA DEN160029 summary, L).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pen {
    /// Depth setting, 0.1 mm up to `max_depth_mm`.
    pub depth_mm: f64,
    /// Device maximum depth setting (SkinPen: 2.5 mm).
    #[serde(default = "d_pen_max")]
    #[schemars(range(min = limits::PEN_MAX_DEPTH_MM.lo, max = limits::PEN_MAX_DEPTH_MM.hi))]
    pub max_depth_mm: f64,
    /// Needles per cartridge (9 to 36 common).
    #[serde(default = "d_pen_needles")]
    #[schemars(range(min = limits::PEN_NEEDLES.lo, max = limits::PEN_NEEDLES.hi))]
    pub needles: u32,
    /// Strokes per second (7,000 rpm = 116.7 Hz).
    #[serde(default = "d_stroke")]
    #[schemars(range(min = limits::STROKE_RATE_HZ.lo, max = limits::STROKE_RATE_HZ.hi))]
    pub stroke_rate_hz: f64,
    /// Speed at which the pen is moved over the skin.
    #[serde(default = "d_glide")]
    #[schemars(range(min = limits::GLIDE_SPEED_MM_S.lo, max = limits::GLIDE_SPEED_MM_S.hi))]
    pub glide_speed_mm_s: f64,
    /// Width of the track the cartridge covers.
    #[serde(default = "d_footprint")]
    #[schemars(range(min = limits::FOOTPRINT_MM.lo, max = limits::FOOTPRINT_MM.hi))]
    pub footprint_mm: f64,
    /// Passes over the treated area.
    #[serde(default = "d_pen_passes")]
    #[schemars(range(min = limits::PEN_PASSES.lo, max = limits::PEN_PASSES.hi))]
    pub passes: u32,
    /// Distance between neighbouring tracks of one pass; the footprint when absent (tracks
    /// edge to edge). Wider leaves untreated strips, narrower overlaps them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = limits::TRACK_SPACING_MM.lo, max = limits::TRACK_SPACING_MM.hi))]
    pub track_spacing_mm: Option<f64>,
    /// Needle diameter at the base, mm.
    #[serde(default = "d_needle_diameter")]
    #[schemars(range(min = limits::NEEDLE_DIAMETER_MM.lo, max = limits::NEEDLE_DIAMETER_MM.hi))]
    pub needle_diameter_mm: f64,
    /// Real channel depth over depth setting; the site default from the parameter set when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = limits::PENETRATION_EFFICIENCY.lo, max = limits::PENETRATION_EFFICIENCY.hi))]
    pub penetration_efficiency: Option<f64>,
}

/// A stamp: a flat needle grid pressed vertically.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stamp {
    /// Needle length, 0.1 to 3.0 mm.
    #[schemars(range(min = limits::NEEDLE_LENGTH_MM.lo, max = limits::NEEDLE_LENGTH_MM.hi))]
    pub needle_length_mm: f64,
    /// Needle grid `[rows, columns]`.
    #[serde(default = "d_grid")]
    #[schemars(inner(range(min = limits::STAMP_GRID.lo, max = limits::STAMP_GRID.hi)))]
    pub needle_grid: [u32; 2],
    /// Distance between neighbouring needles of the grid.
    #[serde(default = "d_spacing")]
    #[schemars(range(min = limits::NEEDLE_SPACING_MM.lo, max = limits::NEEDLE_SPACING_MM.hi))]
    pub needle_spacing_mm: f64,
    /// Stamps per square centimetre (overlapping stamps add up).
    #[serde(default = "d_stamps")]
    #[schemars(range(min = limits::STAMPS_PER_CM2.lo, max = limits::STAMPS_PER_CM2.hi))]
    pub stamps_per_cm2: f64,
    /// Needle diameter at the base, mm.
    #[serde(default = "d_needle_diameter")]
    #[schemars(range(min = limits::NEEDLE_DIAMETER_MM.lo, max = limits::NEEDLE_DIAMETER_MM.hi))]
    pub needle_diameter_mm: f64,
    /// Real channel depth over needle length; the site default from the parameter set when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = limits::PENETRATION_EFFICIENCY.lo, max = limits::PENETRATION_EFFICIENCY.hi))]
    pub penetration_efficiency: Option<f64>,
}

impl Roller {
    /// Distance between neighbouring lines of a pass, mm.
    pub fn line_spacing_mm(&self) -> f64 {
        self.line_spacing_mm.unwrap_or(self.drum_width_mm)
    }
}

impl Pen {
    /// Distance between neighbouring tracks of a pass, mm.
    pub fn track_spacing_mm(&self) -> f64 {
        self.track_spacing_mm.unwrap_or(self.footprint_mm)
    }
}

fn d_drum() -> f64 {
    20.0
}
fn d_roller_needles() -> u32 {
    192
}
fn d_needle_diameter() -> f64 {
    0.25
}
fn d_roller_passes() -> u32 {
    2
}
fn d_directions() -> u32 {
    4
}
fn d_pen_max() -> f64 {
    2.5
}
fn d_pen_needles() -> u32 {
    12
}
fn d_stroke() -> f64 {
    7000.0 / 60.0
}
fn d_glide() -> f64 {
    20.0
}
fn d_footprint() -> f64 {
    8.0
}
fn d_pen_passes() -> u32 {
    3
}
fn d_grid() -> [u32; 2] {
    [6, 6]
}
fn d_spacing() -> f64 {
    1.0
}
fn d_stamps() -> f64 {
    4.0
}

/// Hard limits on roller and stamp needles (home and professional products on the market).
pub use crate::limits::MAX_NEEDLE_MM;

typed_params! {
    /// Channel geometry parameters.
    DeviceParams {
        penetration_efficiency_roller,
        penetration_efficiency_pen,
        penetration_efficiency_stamp,
        channel_width_ratio,
        injury_halo_um,
        insertion_offset_um,
        needle_tip_length_um,
        closure_reach_um,
    }
}

/// Channel depth of a needle of nominal length (or depth setting) `nominal_um`: the skin first
/// deflects by the insertion offset without being pierced, then the needle advances with the
/// penetration efficiency. A needle no longer than the offset makes no channel.
pub fn channel_depth_um(nominal_um: f64, efficiency: f64, p: &DeviceParams) -> f64 {
    efficiency * (nominal_um - p.insertion_offset_um).max(0.0)
}

/// How deep the needles really went and what they hit.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, PartialOrd, Ord,
)]
#[serde(rename_all = "snake_case")]
pub enum Bleeding {
    /// Channels stay above the capillary loops.
    None,
    /// Channels reach the papillary capillary loops.
    Pinpoint,
    /// Channels reach the upper vascular plexus.
    Confluent,
}

/// The channels of one session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Channels {
    /// Punctures per square centimetre over the whole session.
    pub punctures_per_cm2: f64,
    /// Nominal needle depth (setting or length), micrometres.
    pub nominal_depth_um: f64,
    /// Real channel depth over the nominal depth.
    pub penetration_efficiency: f64,
    /// Depth the channels really reach, micrometres.
    pub effective_depth_um: f64,
    /// Open channel radius at the surface.
    pub channel_radius_um: f64,
    /// Radius of injured tissue at the surface: channel plus the crushed halo.
    pub injury_radius_um: f64,
    /// Largest tilt of the channel from the surface normal.
    pub angle_deg: f64,
    /// The deepest vessels the channels reach.
    pub bleeding: Bleeding,
    /// Length of the tapered tip at the bottom of the channel (the shaft above it is a
    /// cylinder), micrometres; never more than the channel depth.
    pub tip_length_um: f64,
    /// Lateral reach of one channel's wound signals beyond its injured radius, used by the
    /// 0d/1d closure ([`Channels::wound_zone_fraction`]); micrometres.
    pub closure_reach_um: f64,
}

impl Channels {
    /// Radius of injured tissue at depth `z`: a cylinder (channel plus crushed halo) down the
    /// shaft, narrowing linearly to nothing over the needle's tip.
    #[inline]
    pub fn injury_radius_at(&self, z_um: f64) -> f64 {
        let d = self.effective_depth_um;
        if z_um >= d || d <= 0.0 {
            return 0.0;
        }
        let tip = self.tip_length_um.min(d);
        let shaft_end = d - tip;
        if z_um <= shaft_end || tip <= 0.0 {
            self.injury_radius_um
        } else {
            self.injury_radius_um * (d - z_um) / tip
        }
    }

    /// Expected injured fraction at depth `z` for randomly placed punctures (Poisson overlap).
    pub fn mean_injured_fraction_at(&self, z_um: f64) -> f64 {
        let r = self.injury_radius_at(z_um);
        let n_per_um2 = self.punctures_per_cm2 * 1e-8;
        1.0 - (-n_per_um2 * std::f64::consts::PI * r * r).exp()
    }

    /// Injured volume of one channel, cubic micrometres (cylinder plus cone).
    pub fn channel_volume_um3(&self) -> f64 {
        let d = self.effective_depth_um.max(0.0);
        let tip = self.tip_length_um.min(d);
        std::f64::consts::PI * self.injury_radius_um.powi(2) * ((d - tip) + tip / 3.0)
    }

    /// Fraction of the surface within reach of at least one channel's wound signals: the
    /// Poisson coverage of discs of radius `injury radius + closure reach`. The 0d/1d closure
    /// integrates the kinetics of this wound zone and mixes it with resting tissue, so the
    /// response grows with the number of channels and saturates as their zones overlap, as
    /// the resolved 3d field does. 0 when the channels make no injury.
    pub fn wound_zone_fraction(&self) -> f64 {
        if self.effective_depth_um <= 0.0 || self.injury_radius_um <= 0.0 {
            return 0.0;
        }
        let r = self.injury_radius_um + self.closure_reach_um;
        let n_per_um2 = self.punctures_per_cm2 * 1e-8;
        1.0 - (-n_per_um2 * std::f64::consts::PI * r * r).exp()
    }
}

impl Device {
    /// The device's kind as the scenario file names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Device::Roller(_) => "roller",
            Device::Pen(_) => "pen",
            Device::Stamp(_) => "stamp",
        }
    }

    /// Needle length (roller, stamp) or depth setting (pen), mm.
    pub fn nominal_depth_mm(&self) -> f64 {
        match self {
            Device::Roller(r) => r.needle_length_mm,
            Device::Pen(p) => p.depth_mm,
            Device::Stamp(s) => s.needle_length_mm,
        }
    }

    fn needle_diameter_mm(&self) -> f64 {
        match self {
            Device::Roller(r) => r.needle_diameter_mm,
            Device::Pen(p) => p.needle_diameter_mm,
            Device::Stamp(s) => s.needle_diameter_mm,
        }
    }

    fn efficiency_override(&self) -> Option<f64> {
        match self {
            Device::Roller(r) => r.penetration_efficiency,
            Device::Pen(p) => p.penetration_efficiency,
            Device::Stamp(s) => s.penetration_efficiency,
        }
    }

    /// Real channel depth over the nominal depth: the device's own value, else the parameter
    /// set's default for its kind.
    pub fn penetration_efficiency(&self, p: &DeviceParams) -> f64 {
        self.efficiency_override().unwrap_or(match self {
            Device::Roller(_) => p.penetration_efficiency_roller,
            Device::Pen(_) => p.penetration_efficiency_pen,
            Device::Stamp(_) => p.penetration_efficiency_stamp,
        })
    }

    /// Punctures per square centimetre over the whole session.
    pub fn punctures_per_cm2(&self) -> f64 {
        match self {
            // Needles spread over the drum's surface per revolution: N / (pi D W), W the
            // spacing of the lines rolled (the drum width unless set).
            Device::Roller(r) => {
                let per_pass = r.needles as f64
                    / (std::f64::consts::PI * r.drum_diameter_mm * r.line_spacing_mm())
                    * 100.0;
                per_pass * (r.passes * r.directions) as f64
            }
            // Needles x strokes per second over the area swept per second (glide speed x
            // track spacing, the footprint unless set).
            Device::Pen(p) => {
                let per_pass = p.needles as f64 * p.stroke_rate_hz
                    / (p.glide_speed_mm_s * p.track_spacing_mm())
                    * 100.0;
                per_pass * p.passes as f64
            }
            Device::Stamp(s) => (s.needle_grid[0] * s.needle_grid[1]) as f64 * s.stamps_per_cm2,
        }
    }

    /// Largest channel tilt. Roller needles sweep an arc while in the skin: the half-angle of
    /// the arc below the surface, acos((R + L - d) / (R + L)).
    fn angle_deg(&self, depth_um: f64) -> f64 {
        match self {
            Device::Roller(r) => {
                let tip = r.drum_diameter_mm / 2.0 + r.needle_length_mm;
                ((tip - depth_um / 1000.0) / tip).clamp(-1.0, 1.0).acos().to_degrees()
            }
            _ => 0.0,
        }
    }

    /// The channels this device makes in a skin column: density, depth, geometry and the
    /// vessels they reach.
    pub fn channels(
        &self,
        column: &Column,
        set: &ParameterSet,
    ) -> Result<Channels, crate::error::ParamError> {
        Ok(self.channels_with(column, &DeviceParams::from_set(set)?))
    }

    /// [`Device::channels`] with the device parameters already read from the set.
    pub fn channels_with(&self, column: &Column, p: &DeviceParams) -> Channels {
        let nominal = self.nominal_depth_mm() * 1000.0;
        let eff = self.penetration_efficiency(p);
        let depth = channel_depth_um(nominal, eff, p).min(column.total_um());
        let radius = 0.5 * self.needle_diameter_mm() * 1000.0 * p.channel_width_ratio;
        let bleeding = if depth >= column.plexus_depth_um {
            Bleeding::Confluent
        } else if depth >= column.pinpoint_bleeding_depth_um {
            Bleeding::Pinpoint
        } else {
            Bleeding::None
        };
        Channels {
            punctures_per_cm2: self.punctures_per_cm2(),
            nominal_depth_um: nominal,
            penetration_efficiency: eff,
            effective_depth_um: depth,
            channel_radius_um: radius,
            injury_radius_um: radius + p.injury_halo_um,
            angle_deg: self.angle_deg(depth),
            bleeding,
            tip_length_um: p.needle_tip_length_um.min(depth),
            closure_reach_um: p.closure_reach_um,
        }
    }

    /// Field checks; `path` is where this device sits in the scenario.
    pub fn validate(
        &self,
        path: &str,
        column: &Column,
        dp: &DeviceParams,
    ) -> Result<(), FieldError> {
        let f = |name: &str| limits::field(path, name);
        match self {
            Device::Roller(r) => {
                limits::NEEDLE_LENGTH_MM.check(&f("needle_length_mm"), r.needle_length_mm)?;
                limits::DRUM_DIAMETER_MM.check(&f("drum_diameter_mm"), r.drum_diameter_mm)?;
                limits::DRUM_WIDTH_MM.check(&f("drum_width_mm"), r.drum_width_mm)?;
                limits::ROLLER_NEEDLES.check_count(&f("needles"), r.needles)?;
                limits::ROLLER_PASSES.check_count(&f("passes"), r.passes)?;
                limits::ROLLER_DIRECTIONS.check_count(&f("directions"), r.directions)?;
                if let Some(w) = r.line_spacing_mm {
                    limits::TRACK_SPACING_MM.check(&f("line_spacing_mm"), w)?;
                }
            }
            Device::Pen(p) => {
                limits::PEN_MAX_DEPTH_MM.check(&f("max_depth_mm"), p.max_depth_mm)?;
                if !(p.depth_mm.is_finite() && p.depth_mm > 0.0) {
                    return Err(FieldError::new(
                        f("depth_mm"),
                        format!("{} must be above 0 mm", p.depth_mm),
                    ));
                }
                if p.depth_mm > p.max_depth_mm {
                    return Err(FieldError::new(
                        f("depth_mm"),
                        format!("{} is above the device maximum {} mm", p.depth_mm, p.max_depth_mm),
                    ));
                }
                limits::PEN_NEEDLES.check_count(&f("needles"), p.needles)?;
                limits::PEN_PASSES.check_count(&f("passes"), p.passes)?;
                limits::STROKE_RATE_HZ.check(&f("stroke_rate_hz"), p.stroke_rate_hz)?;
                limits::GLIDE_SPEED_MM_S.check(&f("glide_speed_mm_s"), p.glide_speed_mm_s)?;
                limits::FOOTPRINT_MM.check(&f("footprint_mm"), p.footprint_mm)?;
                if let Some(w) = p.track_spacing_mm {
                    limits::TRACK_SPACING_MM.check(&f("track_spacing_mm"), w)?;
                }
            }
            Device::Stamp(s) => {
                limits::NEEDLE_LENGTH_MM.check(&f("needle_length_mm"), s.needle_length_mm)?;
                limits::STAMP_GRID.check_count(&f("needle_grid.0"), s.needle_grid[0])?;
                limits::STAMP_GRID.check_count(&f("needle_grid.1"), s.needle_grid[1])?;
                limits::NEEDLE_SPACING_MM.check(&f("needle_spacing_mm"), s.needle_spacing_mm)?;
                limits::STAMPS_PER_CM2.check(&f("stamps_per_cm2"), s.stamps_per_cm2)?;
            }
        }
        limits::NEEDLE_DIAMETER_MM.check(&f("needle_diameter_mm"), self.needle_diameter_mm())?;
        if let Some(e) = self.efficiency_override() {
            limits::PENETRATION_EFFICIENCY.check(&f("penetration_efficiency"), e)?;
        }
        // Skin deforms, so the needle may be longer than the skin is thick; the channel may not.
        let eff = self.penetration_efficiency(dp);
        let depth = channel_depth_um(self.nominal_depth_mm() * 1000.0, eff, dp);
        let field = match self {
            Device::Pen(_) => "depth_mm",
            _ => "needle_length_mm",
        };
        if depth > column.total_um() {
            return Err(FieldError::new(
                f(field),
                format!(
                    "{} mm would cut a channel {:.2} mm deep (penetration efficiency {eff}), deeper than the whole skin at {} ({:.2} mm for this patient)",
                    self.nominal_depth_mm(),
                    depth / 1000.0,
                    column.site,
                    column.total_um() / 1000.0
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roller() -> Device {
        Device::Roller(Roller {
            needle_length_mm: 1.5,
            drum_diameter_mm: 20.0,
            drum_width_mm: 20.0,
            needles: 192,
            needle_diameter_mm: 0.25,
            passes: 1,
            directions: 1,
            line_spacing_mm: None,
            penetration_efficiency: None,
        })
    }

    #[test]
    fn mf8_roller_density_matches_brief_arithmetic() {
        // BRIEF: 192 / (pi x 2 cm x 2 cm) = ~15 per cm2 per pass.
        let d = roller().punctures_per_cm2();
        assert!((d - 15.28).abs() < 0.01, "{d}");
    }
}

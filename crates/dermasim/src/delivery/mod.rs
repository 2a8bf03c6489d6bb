//! Topical delivery through the micro-channels of a session.
//!
//! A product (compound, concentration, volume per area) goes on the skin some hours after the
//! needling and stays for a while. It enters the viable skin by two parallel paths: the intact
//! stratum corneum with the Potts & Guy (1992) permeability, and the open channels, which carry
//! vehicle-strength solution down to the channel depth and lose their openness by first-order
//! closure (slower under occlusion, slower for deeper channels). Inside, the solute diffuses in
//! depth and the dermis clears it. The same application on intact skin gives the enhancement
//! factor. See `docs/delivery.md` for the equations, sources and limits.
//!
//! **Dermis dose** (`dermis_dose_ug_per_cm2`): the cumulative amount that has entered the
//! dermis by the end of the report window, i.e. what is in the dermis then plus what the dermis
//! has cleared, in ug per cm2 of treated skin.

pub mod compounds;
pub mod solver;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use compounds::{Compound, CompoundTable, TransportConstants};
pub use solver::Numerics;

use crate::device::Channels;
use crate::error::{Error, FieldError};
use crate::limits::{self, check_range};
use crate::outcome::DISCLAIMER;
use crate::scenario::Prepared;
use crate::tissue::Column;
use solver::{ChannelPath, Closure, DepthGrid, Problem};

/// What "dermis dose" means, repeated in every report.
pub const DERMIS_DOSE_DEFINITION: &str =
    "cumulative amount that has entered the dermis by the end of the report \
window (amount in the dermis plus amount the dermis has cleared), ug per cm2 of treated skin";

/// Below this an intact-skin dose counts as nothing (1 fg/cm2): the enhancement factor is then
/// unbounded and reported as null.
pub const NEGLIGIBLE_DOSE_UG_PER_CM2: f64 = 1e-9;

/// Skin that heals and perfuses, or skin in a diffusion cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum SkinState {
    /// Channels close over time; the dermis clears the solute to the blood.
    #[default]
    Living,
    /// Excised skin (Franz cell): channels stay open and nothing is cleared.
    Excised,
}

/// The `topical` section of a scenario: one product applied after every session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Topical {
    /// Compound id from `data/compounds.toml` (`dermasim compounds` lists them).
    pub compound: String,
    /// Concentration in the vehicle, mg/mL (1 % w/v = 10 mg/mL), above 0 up to 1000.
    pub concentration_mg_per_ml: f64,
    /// Volume spread per area, uL/cm2 (a serum layer is about 2-5), above 0 up to 1000.
    pub amount_ul_per_cm2: f64,
    /// Hours after each session's needling when the product goes on: 0 (straight after) or later.
    #[serde(default)]
    pub start_h: f64,
    /// Hours the product stays on before it is washed off, above 0 up to 720.
    pub duration_h: f64,
    /// An occlusive dressing covers the product while it is on (channels close more slowly).
    #[serde(default)]
    pub occlusion: bool,
    /// `living` skin (channels close, dermis clears) or `excised` skin in a diffusion cell.
    #[serde(default)]
    pub skin: SkinState,
    /// End of the report window, hours after needling; default 24 h after the product comes off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_h: Option<f64>,
    /// Hours after needling of the depth profiles; default: 1 h after application, at wash-off
    /// and at the end of the report window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_hours: Option<Vec<f64>>,
    /// Share of punctures that act as open, product-filled channels (0.0001 to 1); the value
    /// fitted to Mohammed et al. 2014 (`data/compounds.toml`) when absent. 1 is the ideal model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_patency: Option<f64>,
}

impl Topical {
    /// Hours after needling when the product comes off: `start_h + duration_h`.
    pub fn end_h(&self) -> f64 {
        self.start_h + self.duration_h
    }

    /// End of the report window, hours after needling, with the default filled in.
    pub fn report_h(&self) -> f64 {
        self.report_h.unwrap_or(self.end_h() + 24.0)
    }

    /// Hours after needling of the depth profiles, with the default filled in; sorted, unique.
    pub fn profile_hours(&self) -> Vec<f64> {
        let mut h = self.profile_hours.clone().unwrap_or_else(|| {
            vec![self.start_h + 1.0_f64.min(self.duration_h), self.end_h(), self.report_h()]
        });
        h.sort_by(f64::total_cmp);
        h.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
        h
    }

    /// Vehicle strength, ug/cm3.
    pub fn concentration_ug_per_cm3(&self) -> f64 {
        self.concentration_mg_per_ml * 1000.0
    }

    /// Amount applied per application, ug/cm2: concentration x volume per area.
    pub fn applied_ug_per_cm2(&self) -> f64 {
        self.concentration_mg_per_ml * self.amount_ul_per_cm2
    }

    /// Field checks; `session_days` are the scenario's session days (the window of each
    /// application must end before the next session).
    pub fn validate(&self, path: &str, session_days: &[f64]) -> Result<(), FieldError> {
        let f = |name: &str| limits::field(path, name);
        CompoundTable::embedded().require(&self.compound, &f("compound"))?;
        let positive = |name: &str, v: f64, hi: f64, unit: &str| -> Result<(), FieldError> {
            if !v.is_finite() || v <= 0.0 || v > hi {
                return Err(FieldError::new(
                    f(name),
                    format!("{v} is outside the allowed range: above 0 up to {hi} {unit}"),
                ));
            }
            Ok(())
        };
        positive("concentration_mg_per_ml", self.concentration_mg_per_ml, 1000.0, "mg/mL")?;
        positive("amount_ul_per_cm2", self.amount_ul_per_cm2, 1000.0, "uL/cm2")?;
        if !self.start_h.is_finite() || self.start_h < 0.0 {
            return Err(FieldError::new(
                f("start_h"),
                format!(
                    "{} h is before the session's needling, when the skin has no channels yet; the model starts at the \
                     punctures, so use 0 (straight after needling) or later",
                    self.start_h
                ),
            ));
        }
        positive("duration_h", self.duration_h, 720.0, "h")?;
        let report = self.report_h();
        check_range(
            &f("report_h"),
            report,
            self.end_h(),
            720.0,
            "h after needling (from start_h + duration_h)",
        )?;
        if let Some(hours) = &self.profile_hours {
            if hours.is_empty() || hours.len() > 20 {
                return Err(FieldError::new(
                    f("profile_hours"),
                    format!("{} times given; use 1 to 20", hours.len()),
                ));
            }
            for (i, &t) in hours.iter().enumerate() {
                check_range(
                    &format!("{path}.profile_hours.{i}"),
                    t,
                    0.0,
                    report,
                    "h after needling (inside the report window)",
                )?;
            }
        }
        if let Some(p) = self.channel_patency {
            check_range(&f("channel_patency"), p, 1e-4, 1.0, "(share of punctures)")?;
        }
        for (i, pair) in session_days.windows(2).enumerate() {
            let gap_h = (pair[1] - pair[0]) * 24.0;
            if self.end_h() > gap_h {
                return Err(FieldError::new(
                    f("duration_h"),
                    format!(
                        "the product would still be on at the next session (protocol.sessions.{}.day = {}, {gap_h} h after session {i}); end it earlier",
                        i + 1,
                        pair[1]
                    ),
                ));
            }
            if report > gap_h {
                return Err(FieldError::new(
                    f("report_h"),
                    format!(
                        "the report window of {report} h runs past the next session (protocol.sessions.{}.day = {}, {gap_h} h after session {i}); shorten it",
                        i + 1,
                        pair[1]
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// One point of the dose timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DosePoint {
    /// Hours after needling.
    pub t_h: f64,
    /// Dermis dose so far (see [`DERMIS_DOSE_DEFINITION`]).
    pub dermis_dose_ug_per_cm2: f64,
    /// Dermis dose so far of the same application on intact skin.
    pub intact_skin_dose_ug_per_cm2: f64,
    /// Amount still on the surface, or washed off with the vehicle.
    pub on_surface_ug_per_cm2: f64,
    /// Amount in the viable epidermis.
    pub in_epidermis_ug_per_cm2: f64,
    /// Amount in the dermis.
    pub in_dermis_ug_per_cm2: f64,
    /// Amount the dermis has cleared so far.
    pub cleared_ug_per_cm2: f64,
    /// Fraction of the channels still open.
    pub channels_open_fraction: f64,
}

/// Concentration against depth at one time (cell centres of the viable skin).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Hours after needling.
    pub t_h: f64,
    /// Cell centres, um below the skin surface.
    pub depth_um: Vec<f64>,
    /// Concentration in each cell, ug/mL (= ug/cm3).
    pub concentration_ug_per_ml: Vec<f64>,
}

/// Where the applied amount is at the end of the report window, ug/cm2.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MassBalance {
    /// Amount applied.
    pub applied_ug_per_cm2: f64,
    /// Still on the surface or washed off with the vehicle.
    pub on_surface_ug_per_cm2: f64,
    /// In the viable epidermis and the dermis.
    pub in_skin_ug_per_cm2: f64,
    /// Cleared by the dermis.
    pub cleared_ug_per_cm2: f64,
    /// Largest `|applied - sum| / applied` over every step of both runs.
    pub max_relative_error: f64,
}

/// Delivery after one session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionDelivery {
    /// Index of the session in the protocol, from 0.
    pub session: usize,
    /// Day of the session, from day 0 of the protocol.
    pub day: f64,
    /// Device kind: `roller`, `pen` or `stamp` (`none` from [`simulate`] alone).
    pub device: String,
    /// All punctures of the session, before patency.
    pub punctures_per_cm2: f64,
    /// Depth the channels reach, um below the skin surface.
    pub effective_depth_um: f64,
    /// Open channel radius at the surface.
    pub channel_radius_um: f64,
    /// Skin surface taken by open channels right after needling.
    pub open_area_fraction: f64,
    /// See [`DERMIS_DOSE_DEFINITION`].
    pub dermis_dose_ug_per_cm2: f64,
    /// The same application on intact skin (no punctures).
    pub intact_skin_dose_ug_per_cm2: f64,
    /// Dermis dose over intact-skin dose; null when intact skin delivers nothing measurable.
    pub enhancement_factor: Option<f64>,
    /// Hours after needling until half of the channels have closed; null if they never do.
    pub channel_t50_h: Option<f64>,
    /// Hours after needling until 90 % of the channels have closed; null if they never do.
    pub channel_t90_h: Option<f64>,
    /// Pools over time, at a fixed ladder of hours and the application's events.
    pub dose_timeline: Vec<DosePoint>,
    /// Depth profiles of the treated skin at [`Topical::profile_hours`].
    pub profile: Vec<Profile>,
    /// Where the applied amount is at the end of the report window.
    pub mass_balance: MassBalance,
    /// Where each skin layer of the column starts, for charts of the profiles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layer_tops_um: Vec<LayerTop>,
}

/// The top of one skin layer, um below the surface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerTop {
    /// `stratum_corneum`, `epidermis`, `papillary_dermis`, `reticular_dermis`.
    pub layer: String,
    /// Depth of the layer's top, um below the skin surface.
    pub top_um: f64,
}

/// Delivery results of a scenario (`dermasim deliver`, `summary.delivery`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryReport {
    /// Compound id, as in the scenario.
    pub compound: String,
    /// Compound name, for people to read.
    pub compound_name: String,
    /// Molecular weight, Da.
    pub molecular_weight_da: f64,
    /// Octanol-water partition coefficient, log10.
    pub log_kow: f64,
    /// Potts & Guy permeability of intact stratum corneum.
    pub kp_cm_per_h: f64,
    /// [`Topical::concentration_mg_per_ml`].
    pub concentration_mg_per_ml: f64,
    /// [`Topical::amount_ul_per_cm2`].
    pub amount_ul_per_cm2: f64,
    /// Amount applied after each session, ug/cm2.
    pub applied_ug_per_cm2: f64,
    /// [`Topical::start_h`].
    pub start_h: f64,
    /// [`Topical::duration_h`].
    pub duration_h: f64,
    /// End of the report window, hours after needling (default filled in).
    pub report_h: f64,
    /// [`Topical::occlusion`].
    pub occlusion: bool,
    /// [`Topical::skin`].
    pub skin: SkinState,
    /// Share of punctures taken to act as open, product-filled channels.
    pub channel_patency: f64,
    /// [`DERMIS_DOSE_DEFINITION`], so the report explains itself.
    pub dermis_dose_definition: String,
    /// One entry per session, in protocol order.
    pub sessions: Vec<SessionDelivery>,
    /// Caveats for this compound and set-up (extrapolation, null enhancement factors, excised
    /// skin), for people to read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The [`DISCLAIMER`].
    pub disclaimer: String,
}

/// One application of a compound: what the model needs besides the skin and the channels.
#[derive(Debug, Clone, Copy)]
pub struct Application<'a> {
    /// The compound's properties.
    pub compound: &'a Compound,
    /// The model constants of the compound table.
    pub constants: &'a TransportConstants,
    /// The product and its timing.
    pub topical: &'a Topical,
}

impl Application<'_> {
    /// Share of punctures that form open, product-filled channels.
    pub fn patency(&self) -> f64 {
        self.topical.channel_patency.unwrap_or(self.constants.channel_patency.value)
    }

    /// Closure schedule of channels `depth_um` deep: the occluded rate applies while an occluded
    /// product is on, the open-air rate otherwise; excised skin never closes.
    pub fn closure(&self, depth_um: f64) -> Closure {
        let t = self.topical;
        if t.skin == SkinState::Excised {
            return Closure::never();
        }
        let m = self.constants;
        let scale =
            (depth_um / m.closure_reference_depth_um.value).powf(m.closure_depth_exponent.value);
        let open = 1.0 / (m.closure_time_constant_open_h.value * scale);
        if !t.occlusion {
            return Closure { segments: vec![(0.0, open)] };
        }
        let occluded = 1.0 / (m.closure_time_constant_occluded_h.value * scale);
        Closure { segments: vec![(0.0, open), (t.start_h, occluded), (t.end_h(), open)] }
    }
}

/// Times of the dose timeline: a fixed ladder inside the window plus the application's events.
fn timeline_hours(t: &Topical) -> Vec<f64> {
    const LADDER: [f64; 22] = [
        0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 36.0, 48.0, 72.0, 96.0, 120.0,
        168.0, 240.0, 336.0, 504.0, 600.0, 720.0,
    ];
    let report = t.report_h();
    let mut h: Vec<f64> = LADDER
        .iter()
        .copied()
        .filter(|&x| x <= report)
        .chain([t.start_h, t.end_h(), report])
        .collect();
    h.sort_by(f64::total_cmp);
    h.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
    h
}

/// Simulate one application on `column`; `channels = None` is skin without punctures, whose
/// dermis dose is then the intact-skin dose.
pub fn simulate(
    column: &Column,
    channels: Option<&Channels>,
    app: &Application,
    numerics: &Numerics,
) -> SessionDelivery {
    let [sc, epi, pap, ret] = column.thickness_um;
    let grid = DepthGrid::new(sc, epi, pap + ret, numerics);
    let c = app.compound;
    let d_dermis = c.diffusivity_dermis_cm2_per_s.value * 3600.0;
    let d_epidermis = d_dermis * app.constants.epidermis_to_dermis_diffusivity_ratio.value;
    let clearance = match app.topical.skin {
        SkinState::Living => c.dermal_clearance_per_h.value,
        SkinState::Excised => 0.0,
    };
    let t = app.topical;
    let problem = |channels: Option<ChannelPath>| Problem {
        diffusivity_cm2_h: grid
            .dermis
            .iter()
            .map(|&d| if d { d_dermis } else { d_epidermis })
            .collect(),
        clearance_per_h: grid.dermis.iter().map(|&d| if d { clearance } else { 0.0 }).collect(),
        grid: grid.clone(),
        kp_cm_h: app.constants.potts_guy_kp_cm_per_h(c),
        vehicle_cm: t.amount_ul_per_cm2 * 1e-3,
        concentration_ug_cm3: t.concentration_ug_per_cm3(),
        start_h: t.start_h,
        end_h: t.end_h(),
        report_h: t.report_h(),
        channels,
        timeline_h: timeline_hours(t),
        profile_h: t.profile_hours(),
        numerics: *numerics,
    };
    let path =
        channels.filter(|ch| ch.punctures_per_cm2 > 0.0 && ch.effective_depth_um > sc).map(|ch| {
            ChannelPath {
                punctures_per_cm2: ch.punctures_per_cm2 * app.patency(),
                radius_um: ch.channel_radius_um,
                depth_um: ch.effective_depth_um,
                closure: app.closure(ch.effective_depth_um),
            }
        });
    let treated = solver::solve(&problem(path.clone()));
    let intact = if path.is_some() { solver::solve(&problem(None)) } else { treated.clone() };

    let dose = treated.end.dermis_dose();
    let intact_dose = intact.end.dermis_dose();
    let dose_timeline = treated
        .timeline
        .iter()
        .zip(&intact.timeline)
        .map(|((t_h, pools, open), (_, intact_pools, _))| DosePoint {
            t_h: *t_h,
            dermis_dose_ug_per_cm2: pools.dermis_dose(),
            intact_skin_dose_ug_per_cm2: intact_pools.dermis_dose(),
            on_surface_ug_per_cm2: pools.on_surface,
            in_epidermis_ug_per_cm2: pools.in_epidermis,
            in_dermis_ug_per_cm2: pools.in_dermis,
            cleared_ug_per_cm2: pools.cleared,
            channels_open_fraction: *open,
        })
        .collect();
    let depth_um: Vec<f64> = (0..grid.len()).map(|k| grid.centre_um(k)).collect();
    let profile = treated
        .profiles
        .iter()
        .map(|(t_h, conc)| Profile {
            t_h: *t_h,
            depth_um: depth_um.clone(),
            concentration_ug_per_ml: conc.clone(),
        })
        .collect();
    let closure = path.as_ref().map(|p| &p.closure);
    SessionDelivery {
        session: 0,
        day: 0.0,
        device: "none".into(),
        punctures_per_cm2: channels.map_or(0.0, |ch| ch.punctures_per_cm2),
        effective_depth_um: channels.map_or(0.0, |ch| ch.effective_depth_um),
        channel_radius_um: channels.map_or(0.0, |ch| ch.channel_radius_um),
        open_area_fraction: path.as_ref().map_or(0.0, |p| p.open_area_fraction()),
        dermis_dose_ug_per_cm2: dose,
        intact_skin_dose_ug_per_cm2: intact_dose,
        enhancement_factor: (intact_dose >= NEGLIGIBLE_DOSE_UG_PER_CM2).then(|| dose / intact_dose),
        channel_t50_h: closure.and_then(|c| c.time_until_open(0.5)),
        channel_t90_h: closure.and_then(|c| c.time_until_open(0.1)),
        dose_timeline,
        profile,
        mass_balance: MassBalance {
            applied_ug_per_cm2: treated.applied_ug_cm2,
            on_surface_ug_per_cm2: treated.end.on_surface,
            in_skin_ug_per_cm2: treated.end.in_epidermis + treated.end.in_dermis,
            cleared_ug_per_cm2: treated.end.cleared,
            max_relative_error: treated.max_mass_error.max(intact.max_mass_error),
        },
        layer_tops_um: crate::tissue::Layer::ALL
            .iter()
            .zip(
                column
                    .thickness_um
                    .iter()
                    .scan(0.0, |top, h| Some(std::mem::replace(top, *top + h))),
            )
            .map(|(l, top_um)| LayerTop { layer: l.name().into(), top_um })
            .collect(),
    }
}

/// Delivery after every session of a prepared scenario with a `topical` section, through each
/// session's channels in the patient's column.
pub fn deliver(prepared: &Prepared) -> Result<DeliveryReport, Error> {
    let scenario = prepared.scenario();
    let t = scenario.topical.as_ref().ok_or_else(|| {
        FieldError::new(
            "topical",
            "the scenario has no topical section (compound, concentration, amount, timing)",
        )
    })?;
    let table = CompoundTable::embedded();
    let compound = table.require(&t.compound, "topical.compound")?;
    let column = prepared.column();
    let app = Application { compound, constants: &table.model, topical: t };
    let numerics = Numerics::default();
    let mut sessions = Vec::new();
    let sessions_and_channels = scenario.protocol.sessions.iter().zip(prepared.channels());
    for (i, (s, channels)) in sessions_and_channels.enumerate() {
        let device = scenario.session_device(i);
        let mut out = simulate(column, Some(channels), &app, &numerics);
        out.session = i;
        out.day = s.day;
        out.device = device.kind().into();
        sessions.push(out);
    }
    Ok(DeliveryReport {
        compound: compound.id.clone(),
        compound_name: compound.name.clone(),
        molecular_weight_da: compound.molecular_weight_da.value,
        log_kow: compound.log_kow.value,
        kp_cm_per_h: table.model.potts_guy_kp_cm_per_h(compound),
        concentration_mg_per_ml: t.concentration_mg_per_ml,
        amount_ul_per_cm2: t.amount_ul_per_cm2,
        applied_ug_per_cm2: t.applied_ug_per_cm2(),
        start_h: t.start_h,
        duration_h: t.duration_h,
        report_h: t.report_h(),
        occlusion: t.occlusion,
        skin: t.skin,
        channel_patency: app.patency(),
        dermis_dose_definition: DERMIS_DOSE_DEFINITION.into(),
        notes: notes(compound, t, &sessions),
        sessions,
        disclaimer: DISCLAIMER.into(),
    })
}

fn notes(c: &Compound, t: &Topical, sessions: &[SessionDelivery]) -> Vec<String> {
    let mut notes = Vec::new();
    if c.molecular_weight_da.value > 750.0 {
        notes.push(format!(
            "{} Da lies beyond the 18-750 Da on which Potts & Guy was fitted: the intact-skin path is an extrapolation (practically nothing passes).",
            c.molecular_weight_da.value
        ));
    }
    if sessions.iter().any(|s| s.enhancement_factor.is_none()) {
        notes.push(format!(
            "enhancement_factor is null where intact skin delivers less than {NEGLIGIBLE_DOSE_UG_PER_CM2} ug/cm2 to the dermis: the channels are then the only way in."
        ));
    }
    if c.log_kow.value > 4.0 {
        notes.push("very lipophilic compound: the model has no stratum corneum reservoir and no tissue partitioning, so it overstates how fast the compound leaves the surface and reaches the dermis.".into());
    }
    if t.skin == SkinState::Excised {
        notes.push(
            "excised skin: channels stay open and nothing is cleared (diffusion-cell conditions)."
                .into(),
        );
    }
    notes
}

#[cfg(test)]
mod tests;

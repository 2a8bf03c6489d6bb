//! What a run produces: the summary other tools read (see the output contract in README).

use serde::{Deserialize, Serialize};

use crate::device::Bleeding;

/// Shown wherever users see forecasts.
pub const DISCLAIMER: &str = "dermasim is a research and planning aid, not a medical device. Its numbers are model \
estimates resting on the evidence listed in docs/evidence.md, with wide uncertainty; they are not a promise of any \
individual result.";

/// One point of the timeline. `*_rel` are averages over the dermis (epidermis for
/// `epidermis_thickness_rel`) divided by their pre-treatment value: 1.0 means unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TimelinePoint {
    pub t_day: f64,
    pub collagen_i_rel: f64,
    pub collagen_iii_rel: f64,
    pub collagen_total_rel: f64,
    /// Collagen in the papillary dermis only (where biopsies like Lotfi 2013 measure).
    pub collagen_papillary_rel: f64,
    /// Functional elastin (the fibres that work), as before issue 15; same as
    /// `elastin_functional_rel`.
    pub elastin_rel: f64,
    /// Total elastin, functional plus damaged (elastotic): what total-elastin stains measure.
    #[serde(default)]
    pub elastin_total_rel: f64,
    /// Functional elastin over its resting value.
    #[serde(default)]
    pub elastin_functional_rel: f64,
    /// Newly made elastin (tropoelastin and the fibres formed since day 0) as a share of the
    /// resting functional elastin: 0 before any session (not a ratio to rest, hence no `_rel`).
    #[serde(default)]
    pub elastin_new_fraction: f64,
    pub epidermis_thickness_rel: f64,
    pub fibroblasts_rel: f64,
    /// Dermis averages in the units of Cooper et al. 2015.
    pub neutrophils: f64,
    pub macrophages: f64,
    pub debris: f64,
    /// Active TGF-beta, model units.
    pub tgf_beta: f64,
    /// 5th and 95th percentiles of ensemble runs (`--ensemble N`), keyed `<field>_p05` / `_p95`.
    #[serde(flatten, default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub bands: std::collections::BTreeMap<String, f64>,
}

impl TimelinePoint {
    /// Column names and values in a fixed order (CSV and Parquet writers).
    pub fn columns(&self) -> Vec<(&'static str, f64)> {
        vec![
            ("t_day", self.t_day),
            ("collagen_i_rel", self.collagen_i_rel),
            ("collagen_iii_rel", self.collagen_iii_rel),
            ("collagen_total_rel", self.collagen_total_rel),
            ("collagen_papillary_rel", self.collagen_papillary_rel),
            ("elastin_rel", self.elastin_rel),
            ("elastin_total_rel", self.elastin_total_rel),
            ("elastin_functional_rel", self.elastin_functional_rel),
            ("elastin_new_fraction", self.elastin_new_fraction),
            ("epidermis_thickness_rel", self.epidermis_thickness_rel),
            ("fibroblasts_rel", self.fibroblasts_rel),
            ("neutrophils", self.neutrophils),
            ("macrophages", self.macrophages),
            ("debris", self.debris),
            ("tgf_beta", self.tgf_beta),
        ]
    }

    pub fn get(&self, name: &str) -> Option<f64> {
        self.columns()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
            .or_else(|| self.bands.get(name).copied())
    }
}

/// What one session did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionOutcome {
    pub day: f64,
    pub device: String,
    pub punctures_per_cm2: f64,
    pub nominal_depth_um: f64,
    pub penetration_efficiency: f64,
    pub effective_depth_um: f64,
    pub channel_radius_um: f64,
    pub channel_angle_deg: f64,
    pub bleeding: Bleeding,
    /// Fraction of the dermis volume injured.
    pub dermis_injured_fraction: f64,
}

/// The run summary (`summary.json`, `--json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub program: String,
    pub version: String,
    pub scenario_name: Option<String>,
    pub site: String,
    pub fidelity: String,
    pub seed: u64,
    /// The parameter set and its calibration.
    pub parameter_set: String,
    pub layers_um: LayersUm,
    pub sessions: Vec<SessionOutcome>,
    /// Mean over sessions.
    pub punctures_per_cm2: f64,
    /// Deepest session.
    pub effective_depth_um: f64,
    /// Worst over sessions.
    pub bleeding: Bleeding,
    pub endpoints: Endpoints,
    pub timeline: Vec<TimelinePoint>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub disclaimer: String,
    /// Topical delivery after each session, when the scenario has a `topical` section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<crate::delivery::DeliveryReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayersUm {
    pub stratum_corneum: f64,
    pub epidermis: f64,
    pub papillary_dermis: f64,
    pub reticular_dermis: f64,
}

/// Headline numbers at the end of follow-up, and peak days counted from the first session
/// (within the first treatment cycle).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoints {
    pub t_end_day: f64,
    pub collagen_total_rel_end: f64,
    pub collagen_i_rel_end: f64,
    pub collagen_iii_rel_end: f64,
    pub elastin_rel_end: f64,
    pub epidermis_thickness_rel_end: f64,
    pub neutrophil_peak_day: f64,
    pub macrophage_peak_day: f64,
    pub fibroblast_peak_day: f64,
    pub collagen_iii_peak_day: f64,
}

impl Summary {
    pub fn at(&self, t_day: f64) -> Option<&TimelinePoint> {
        self.timeline
            .iter()
            .min_by(|a, b| (a.t_day - t_day).abs().total_cmp(&(b.t_day - t_day).abs()))
    }

    pub fn last(&self) -> &TimelinePoint {
        self.timeline.last().expect("timeline is never empty")
    }
}

/// Peaks are taken after the first session, before the second (the phase timing of one
/// treatment); end values at the end of follow-up.
pub(crate) fn endpoints(
    timeline: &[TimelinePoint],
    first_session: f64,
    second_session: Option<f64>,
) -> Endpoints {
    let last = timeline.last().expect("timeline");
    let window: Vec<&TimelinePoint> = timeline
        .iter()
        .filter(|p| p.t_day >= first_session && second_session.is_none_or(|s| p.t_day < s))
        .collect();
    let peak_day = |f: fn(&TimelinePoint) -> f64| {
        window
            .iter()
            .max_by(|a, b| f(a).total_cmp(&f(b)))
            .map(|p| p.t_day - first_session)
            .unwrap_or(0.0)
    };
    Endpoints {
        t_end_day: last.t_day,
        collagen_total_rel_end: last.collagen_total_rel,
        collagen_i_rel_end: last.collagen_i_rel,
        collagen_iii_rel_end: last.collagen_iii_rel,
        elastin_rel_end: last.elastin_rel,
        epidermis_thickness_rel_end: last.epidermis_thickness_rel,
        neutrophil_peak_day: peak_day(|p| p.neutrophils),
        macrophage_peak_day: peak_day(|p| p.macrophages),
        fibroblast_peak_day: peak_day(|p| p.fibroblasts_rel),
        collagen_iii_peak_day: peak_day(|p| p.collagen_iii_rel),
    }
}

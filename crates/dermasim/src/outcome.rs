//! What a run produces: the summary other tools read (see the output contract in README).

use serde::{Deserialize, Serialize};

use crate::device::Bleeding;

/// Shown wherever users see forecasts.
pub const DISCLAIMER: &str = "dermasim is a research and planning aid, not a medical device. Its numbers are model \
estimates resting on the evidence listed in docs/evidence.md, with wide uncertainty; they are not a promise of any \
individual result.";

/// Which chart of the report shows an observable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    /// The matrix and epidermis timeline (relative to before treatment).
    Matrix,
    /// The first weeks: inflammatory cells and fibroblasts.
    Cells,
    /// Tables only.
    None,
}

/// One quantity of the timeline: its column name (units or `_rel` in the name), how people
/// see it, and where it is shown. [`OBSERVABLES`] drives the summary, the CSV and Parquet
/// columns, the ensemble bands, the report's charts and the CLI table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observable {
    /// Column and field name, e.g. `collagen_total_rel`.
    pub name: &'static str,
    /// Name in charts and reports, e.g. `total collagen`.
    pub label: &'static str,
    /// Header in the CLI table (8 characters at most); empty when the table leaves it out.
    pub short: &'static str,
    /// What the number is measured in.
    pub unit: &'static str,
    /// The chart that shows it.
    pub panel: Panel,
    /// Decimals in the CLI table.
    pub decimals: usize,
}

/// Defines [`TimelinePoint`] and [`OBSERVABLES`] from one list, so adding a quantity is one
/// entry here (plus computing it in the simulator).
macro_rules! observables {
    ($(
        $(#[$attr:meta])*
        $name:ident: $label:literal, $short:literal, $unit:literal, $panel:ident, $decimals:literal;
    )*) => {
        /// One point of the timeline. `*_rel` are averages over the dermis (epidermis for
        /// `epidermis_thickness_rel`) divided by their pre-treatment value: 1.0 means unchanged.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
        pub struct TimelinePoint {
            /// Time in days from day 0 of the protocol.
            pub t_day: f64,
            $($(#[$attr])* pub $name: f64,)*
            /// 5th, 50th and 95th percentiles of ensemble members (`--ensemble N`), keyed
            /// `<field>_p05` / `_p50` / `_p95`.
            #[serde(flatten, default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
            pub bands: std::collections::BTreeMap<String, f64>,
        }

        /// Every timeline quantity, in column order (after `t_day`).
        pub const OBSERVABLES: &[Observable] = &[$(Observable {
            name: stringify!($name),
            label: $label,
            short: $short,
            unit: $unit,
            panel: Panel::$panel,
            decimals: $decimals,
        },)*];

        impl TimelinePoint {
            /// Column names and values in table order: `t_day`, then [`OBSERVABLES`].
            pub fn columns(&self) -> Vec<(&'static str, f64)> {
                vec![("t_day", self.t_day), $((stringify!($name), self.$name),)*]
            }
        }
    };
}

observables! {
    /// Collagen I in the dermis, relative to its pre-treatment amount.
    collagen_i_rel: "collagen I", "coll I", "relative to before treatment", Matrix, 3;
    /// Collagen III in the dermis, relative to its pre-treatment amount.
    collagen_iii_rel: "collagen III", "coll III", "relative to before treatment", Matrix, 3;
    /// Collagen I + III in the dermis, relative to the pre-treatment total.
    collagen_total_rel: "total collagen", "coll tot", "relative to before treatment", Matrix, 3;
    /// Collagen in the papillary dermis only (where biopsies like Lotfi 2013 measure).
    collagen_papillary_rel: "papillary collagen", "", "relative to before treatment", None, 3;
    /// Functional elastin (the fibres that work) in the dermis, relative to its pre-treatment
    /// amount: the same as `elastin_functional_rel`, kept under its first name.
    elastin_rel: "functional elastin", "elastin", "relative to before treatment", Matrix, 3;
    /// Total elastin, functional plus damaged (elastotic): what total-elastin stains measure.
    #[serde(default)]
    elastin_total_rel: "total elastin", "", "relative to before treatment", None, 3;
    /// Functional elastin over its resting value (the same as `elastin_rel`).
    #[serde(default)]
    elastin_functional_rel: "functional elastin", "", "relative to before treatment", None, 3;
    /// Newly made elastin (tropoelastin and the fibres formed since day 0) as a share of the
    /// resting functional elastin: 0 before any session (not a ratio to rest, hence no `_rel`).
    #[serde(default)]
    elastin_new_fraction: "new elastin", "", "share of resting functional elastin", None, 4;
    /// Epidermal thickness averaged over the patch, relative to the resting thickness.
    epidermis_thickness_rel: "epidermal thickness", "epiderm", "relative to before treatment", Matrix, 3;
    /// Fibroblasts in the dermis, relative to their pre-treatment number.
    fibroblasts_rel: "fibroblasts", "fibrobl", "relative to before treatment", Cells, 3;
    /// Activated neutrophils: dermis average in the units of Cooper et al. 2015.
    neutrophils: "neutrophils", "neutroph", "dermis mean (Cooper 2015 units)", Cells, 4;
    /// Macrophages: dermis average in the units of Cooper et al. 2015.
    macrophages: "macrophages", "macroph", "dermis mean (Cooper 2015 units)", Cells, 4;
    /// Debris (Cooper's `Pt`): dermis average in the units of Cooper et al. 2015.
    debris: "debris", "", "dermis mean (Cooper 2015 units)", None, 4;
    /// Active TGF-beta, model units.
    tgf_beta: "active TGF-beta", "", "model units", None, 4;
}

impl TimelinePoint {
    /// The value of a column (as named by [`columns`](Self::columns)) or of a band key such as
    /// `collagen_total_rel_p95`; `None` for an unknown name.
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
    /// Day of the session, counted from day 0 of the protocol.
    pub day: f64,
    /// Device kind: `roller`, `pen` or `stamp`.
    pub device: String,
    /// Punctures per square centimetre over the whole session.
    pub punctures_per_cm2: f64,
    /// Needle length or depth setting, micrometres.
    pub nominal_depth_um: f64,
    /// Fraction of the nominal depth the needles reach (the device's own setting, or the
    /// parameter set's value for its kind).
    pub penetration_efficiency: f64,
    /// Depth the channels reach: nominal depth x penetration efficiency, at most the full
    /// thickness of the skin column.
    pub effective_depth_um: f64,
    /// Open channel radius at the surface.
    pub channel_radius_um: f64,
    /// Largest tilt of the channels from the surface normal (rollers; 0 for pens and stamps).
    pub channel_angle_deg: f64,
    /// Which vessels the channels reach.
    pub bleeding: Bleeding,
    /// Fraction of the dermis volume injured.
    pub dermis_injured_fraction: f64,
}

/// The run summary (`summary.json`, `--json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Always `dermasim`.
    pub program: String,
    /// Version of the dermasim library that produced the summary.
    pub version: String,
    /// The scenario's `name`, when it has one.
    pub scenario_name: Option<String>,
    /// Id of the body site in the site table.
    pub site: String,
    /// `0d`, `1d` or `3d` (see [`Fidelity`](crate::Fidelity)).
    pub fidelity: String,
    /// The scenario's seed (3d puncture positions, ensemble draws).
    pub seed: u64,
    /// The parameter set and its calibration.
    pub parameter_set: String,
    /// Thickness of each layer of this patient's skin column.
    pub layers_um: LayersUm,
    /// One entry per session, in protocol order.
    pub sessions: Vec<SessionOutcome>,
    /// Mean over sessions.
    pub punctures_per_cm2: f64,
    /// Deepest session.
    pub effective_depth_um: f64,
    /// Worst over sessions.
    pub bleeding: Bleeding,
    /// Headline numbers.
    pub endpoints: Endpoints,
    /// The timeline, in time order.
    pub timeline: Vec<TimelinePoint>,
    /// Remarks on how the numbers were made (ensemble settings, warnings), for people to read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The [`DISCLAIMER`].
    pub disclaimer: String,
    /// Topical delivery after each session, when the scenario has a `topical` section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<crate::delivery::DeliveryReport>,
}

/// Layer thicknesses of the skin column after age and sex effects, micrometres.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayersUm {
    /// Stratum corneum.
    pub stratum_corneum: f64,
    /// Viable epidermis, before treatment.
    pub epidermis: f64,
    /// Papillary dermis.
    pub papillary_dermis: f64,
    /// Reticular dermis.
    pub reticular_dermis: f64,
}

/// Headline numbers at the end of follow-up, and peak days counted from the first session
/// (within the first treatment cycle).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoints {
    /// Day of the last timeline point (end of follow-up), from day 0.
    pub t_end_day: f64,
    /// [`TimelinePoint::collagen_total_rel`] at `t_end_day`.
    pub collagen_total_rel_end: f64,
    /// [`TimelinePoint::collagen_i_rel`] at `t_end_day`.
    pub collagen_i_rel_end: f64,
    /// [`TimelinePoint::collagen_iii_rel`] at `t_end_day`.
    pub collagen_iii_rel_end: f64,
    /// [`TimelinePoint::elastin_rel`] at `t_end_day`.
    pub elastin_rel_end: f64,
    /// [`TimelinePoint::epidermis_thickness_rel`] at `t_end_day`.
    pub epidermis_thickness_rel_end: f64,
    /// Days from the first session to the neutrophil peak.
    pub neutrophil_peak_day: f64,
    /// Days from the first session to the macrophage peak.
    pub macrophage_peak_day: f64,
    /// Days from the first session to the fibroblast peak.
    pub fibroblast_peak_day: f64,
    /// Days from the first session to the collagen III peak.
    pub collagen_iii_peak_day: f64,
}

impl Summary {
    /// The timeline point nearest to `t_day`; `None` only for an empty timeline.
    pub fn at(&self, t_day: f64) -> Option<&TimelinePoint> {
        self.timeline
            .iter()
            .min_by(|a, b| (a.t_day - t_day).abs().total_cmp(&(b.t_day - t_day).abs()))
    }

    /// The last timeline point. Panics on an empty timeline, which a run never produces.
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

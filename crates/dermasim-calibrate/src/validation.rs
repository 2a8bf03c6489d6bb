//! Published targets as runnable checks (`dermasim validate`) and as the data that
//! `dermasim calibrate` fits to. Targets live in `data/targets.toml`.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use dermasim::error::{Error, FieldError};
use dermasim::outcome::Summary;
use dermasim::params::ParameterSet;
use dermasim::scenario::Scenario;
use dermasim::sim::{Options, Simulation};

/// The embedded target table (`data/targets.toml`).
pub const TARGETS_TOML: &str = include_str!("../../../data/targets.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
/// How a target's metric is judged.
pub enum Kind {
    /// Metric at `day` inside `band` (with an optional published `target`).
    Value,
    /// Change from baseline of `scenario` above that of `compare` by `margin`.
    Greater,
    /// Change from baseline of `scenario` below that of `compare` by `margin`.
    Less,
    /// Metric at `day` between the bounds of `band` (a ceiling or a floor).
    Below,
    /// Metric at `day` below its peak and below its value a week earlier.
    Falling,
    /// Metric at `day` above its value at `from_day`.
    Rising,
    /// Metric at `day` as a share of its peak up to that day, inside `band` (how long a
    /// signal lasts, whatever its units).
    ShareOfPeak,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
/// A published result the model is checked (or calibrated) against.
pub struct Target {
    /// Identifier.
    pub id: String,
    /// Publication the result comes from.
    pub source: String,
    /// Evidence grade (A strongest).
    pub grade: String,
    /// What the study did.
    pub protocol: String,
    /// What the study measured.
    pub observed: String,
    /// How the study is mapped onto the model, where that takes assumptions.
    #[serde(default)]
    pub assumptions: Option<String>,
    /// How the metric is judged.
    pub kind: Kind,
    /// Timeline column or endpoint compared.
    pub metric: String,
    /// Day the metric is read.
    #[serde(default)]
    pub day: Option<f64>,
    /// Earlier day, for `Rising`.
    #[serde(default)]
    pub from_day: Option<f64>,
    /// Published value, for `Value`.
    #[serde(default)]
    pub target: Option<f64>,
    /// Accepted range.
    #[serde(default)]
    pub band: Option<[f64; 2]>,
    /// Relative margin of a comparison.
    #[serde(default)]
    pub margin: Option<f64>,
    /// Whether calibration fits this target (otherwise it is only checked).
    #[serde(default)]
    pub calibrate: bool,
    /// Overrides of the default scenario that reproduce the study.
    pub scenario: serde_json::Value,
    /// Second scenario of a comparison.
    #[serde(default)]
    pub compare: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
struct TargetFile {
    target: Vec<Target>,
}

/// The embedded targets.
pub fn targets() -> Vec<Target> {
    toml::from_str::<TargetFile>(TARGETS_TOML).expect("embedded data/targets.toml is valid").target
}

/// One check's result, as printed by `dermasim validate`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// Target id.
    pub id: String,
    /// Publication.
    pub source: String,
    /// What the study did.
    pub protocol: String,
    /// What the study measured.
    pub observed: String,
    /// How the study is mapped onto the model.
    pub assumptions: Option<String>,
    /// The model's number (for comparisons: the first scenario's).
    pub model: f64,
    /// For comparisons: the second scenario's number, or the earlier day's.
    pub model_compare: Option<f64>,
    /// What the check accepts, in words.
    pub accepted: String,
    /// Whether the model passes.
    pub pass: bool,
    /// Whether calibration fitted this target (a fitted target is no independent check).
    pub calibrated_on: bool,
}

fn merge(base: &mut serde_json::Value, overlay: &serde_json::Value) {
    match (base, overlay) {
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    // A device overlay replaces the device whole: kinds have different fields.
                    Some(slot) if k != "device" && k != "sessions" => merge(slot, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// The default scenario with `overlay` merged in, at fidelity 1d.
pub fn overlay_scenario(overlay: &serde_json::Value) -> Result<Scenario, FieldError> {
    let mut tree = serde_json::to_value(Scenario::default_scenario()).expect("scenario serialises");
    merge(&mut tree, overlay);
    tree["simulation"]["fidelity"] = serde_json::json!("1d");
    serde_json::from_value(tree).map_err(|e| FieldError::new("target.scenario", e.to_string()))
}

/// A timeline metric at a day, or an endpoint by name.
pub fn metric(summary: &Summary, name: &str, day: Option<f64>) -> Option<f64> {
    let e = &summary.endpoints;
    match name {
        "neutrophil_peak_day" => Some(e.neutrophil_peak_day),
        "macrophage_peak_day" => Some(e.macrophage_peak_day),
        "fibroblast_peak_day" => Some(e.fibroblast_peak_day),
        "collagen_iii_peak_day" => Some(e.collagen_iii_peak_day),
        _ => summary.at(day.unwrap_or(e.t_end_day))?.get(name),
    }
}

/// Run every scenario the targets need once (in parallel), keyed by canonical JSON.
pub fn run_scenarios(
    targets: &[Target],
    set: &ParameterSet,
) -> Result<BTreeMap<String, Summary>, Error> {
    let mut wanted: BTreeMap<String, Scenario> = BTreeMap::new();
    for t in targets {
        for o in std::iter::once(&t.scenario).chain(t.compare.as_ref()) {
            let s = overlay_scenario(o)
                .map_err(|e| FieldError::new(format!("target {}", t.id), e.message))?;
            wanted.insert(s.canonical_json(), s);
        }
    }
    let runs: Vec<(String, Result<Summary, Error>)> = wanted
        .into_par_iter()
        .map(|(k, s)| {
            let r = Simulation::with_options(&s, set, Options::default())
                .and_then(|mut sim| sim.run(&mut |_| {}));
            (k, r)
        })
        .collect();
    runs.into_iter().map(|(k, r)| r.map(|s| (k, s))).collect()
}

/// Judge one target on the runs of its scenarios (keyed by canonical scenario JSON).
pub fn evaluate(t: &Target, runs: &BTreeMap<String, Summary>) -> Check {
    let get = |o: &serde_json::Value| -> &Summary {
        &runs[&overlay_scenario(o).expect("checked in run_scenarios").canonical_json()]
    };
    let a = get(&t.scenario);
    let m = metric(a, &t.metric, t.day).unwrap_or(f64::NAN);
    let (compare, accepted, pass) = match t.kind {
        Kind::Value => {
            let [lo, hi] = t.band.unwrap_or([f64::NEG_INFINITY, f64::INFINITY]);
            let tgt = t.target.map(|v| format!("target {v}, ")).unwrap_or_default();
            (None, format!("{tgt}band [{lo}, {hi}]"), m >= lo && m <= hi)
        }
        Kind::Below => {
            let [lo, hi] = t.band.unwrap_or([f64::NEG_INFINITY, f64::INFINITY]);
            (None, format!("between {lo} and {hi}"), m >= lo && m <= hi)
        }
        Kind::Greater | Kind::Less => {
            let b = metric(
                get(t.compare.as_ref().expect("comparison needs `compare`")),
                &t.metric,
                t.day,
            )
            .unwrap_or(f64::NAN);
            let margin = t.margin.unwrap_or(0.0);
            // Relative to the change from baseline for `_rel` metrics (1.0 = unchanged).
            let (da, db) = if t.metric.ends_with("_rel") { (m - 1.0, b - 1.0) } else { (m, b) };
            let pass = match t.kind {
                Kind::Greater => da > db + margin * db.abs().max(1e-3),
                _ => da < db - margin * db.abs().max(1e-3),
            };
            let word = if t.kind == Kind::Greater { "above" } else { "below" };
            (Some(b), format!("first {word} second (margin {margin})"), pass)
        }
        Kind::Falling => {
            let day = t.day.unwrap_or(a.endpoints.t_end_day);
            let before = metric(a, &t.metric, Some(day - 7.0)).unwrap_or(f64::NAN);
            let peak = a
                .timeline
                .iter()
                .filter(|p| p.t_day <= day)
                .filter_map(|p| p.get(&t.metric))
                .fold(f64::NEG_INFINITY, f64::max);
            (
                Some(before),
                format!("below its peak ({peak:.4}) and below a week earlier"),
                m < before && m < peak,
            )
        }
        Kind::ShareOfPeak => {
            let day = t.day.unwrap_or(a.endpoints.t_end_day);
            let peak = a
                .timeline
                .iter()
                .filter(|p| p.t_day <= day + 1e-9)
                .filter_map(|p| p.get(&t.metric))
                .fold(f64::NEG_INFINITY, f64::max);
            let [lo, hi] = t.band.unwrap_or([f64::NEG_INFINITY, f64::INFINITY]);
            let share = if peak > 0.0 { m / peak } else { f64::NAN };
            (
                Some(peak),
                format!("share of its peak {share:.4} in [{lo}, {hi}]"),
                share >= lo && share <= hi,
            )
        }
        Kind::Rising => {
            let before = metric(a, &t.metric, t.from_day).unwrap_or(f64::NAN);
            (
                Some(before),
                format!("above its value at day {}", t.from_day.unwrap_or(0.0)),
                m > before,
            )
        }
    };
    Check {
        id: t.id.clone(),
        source: t.source.clone(),
        protocol: t.protocol.clone(),
        observed: t.observed.clone(),
        assumptions: t.assumptions.clone(),
        model: m,
        model_compare: compare,
        accepted,
        pass,
        calibrated_on: t.calibrate,
    }
}

/// Run every target against a parameter set.
pub fn validate(set: &ParameterSet) -> Result<Vec<Check>, Error> {
    let ts = targets();
    let runs = run_scenarios(&ts, set)?;
    Ok(ts.iter().map(|t| evaluate(t, &runs)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_is_well_formed() {
        let ts = targets();
        assert!(ts.len() >= 10);
        let mut ids = std::collections::BTreeSet::new();
        for t in &ts {
            assert!(ids.insert(&t.id), "duplicate id {}", t.id);
            assert!(!t.source.is_empty());
            overlay_scenario(&t.scenario).unwrap();
            match t.kind {
                Kind::Greater | Kind::Less => assert!(t.compare.is_some(), "{}", t.id),
                Kind::Value | Kind::Below | Kind::ShareOfPeak => {
                    assert!(t.band.is_some(), "{}", t.id)
                }
                _ => {}
            }
            if t.calibrate {
                assert!(t.target.is_some(), "{} is fitted, so it needs a target", t.id);
            }
        }
    }
}

#[cfg(test)]
mod published {
    use super::*;

    /// `dermasim validate` must pass from a clean clone: every published check, with the
    /// default (calibrated) parameter set.
    #[test]
    fn every_published_check_passes_with_the_default_set() {
        let checks = validate(&ParameterSet::default_set()).unwrap();
        let failed: Vec<String> = checks
            .iter()
            .filter(|c| !c.pass)
            .map(|c| format!("{} = {} ({})", c.id, c.model, c.accepted))
            .collect();
        assert!(failed.is_empty(), "failing checks: {failed:#?}");
    }
}

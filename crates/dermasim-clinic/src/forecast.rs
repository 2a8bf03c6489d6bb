//! The forecast: the plan simulated as an ensemble at a fast fidelity, read as a course of
//! redness, bleeding, pigment risk and collagen change.

use serde::{Deserialize, Serialize};

use dermasim::device::Bleeding;
use dermasim::ensemble::run_ensemble;
use dermasim::params::Grade;
use dermasim::{ParameterSet, Scenario, Summary, TimelinePoint};

use crate::date::Date;
use crate::protocols::Protocols;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    pub fidelity: String,
    pub ensemble_members: usize,
    /// Parameter set behind the simulation.
    pub parameter_set: String,
    /// Days of redness and swelling after each session (upper end of the range for the depth).
    pub downtime_days: f64,
    pub downtime_range_days: [f64; 2],
    pub downtime_source: String,
    pub downtime_grade: Grade,
    pub bleeding: BleedingForecast,
    pub pih_risk: PihRisk,
    pub visible_change: VisibleChangeForecast,
    pub collagen: CollagenForecast,
    pub sessions: Vec<SessionForecast>,
    /// The simulator's timeline (every `timeline_every_days`), with `*_p05` / `*_p95` bands.
    pub timeline: Vec<TimelinePoint>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BleedingForecast {
    /// The core's bleeding flag for the deepest session.
    pub level: Bleeding,
    pub pinpoint_expected: bool,
    /// Channel depth after skin deformation (central parameters).
    pub effective_depth_um: f64,
    pub pinpoint_bleeding_depth_um: f64,
    pub text: String,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PihRisk {
    pub level: String,
    pub fitzpatrick: u8,
    pub text: String,
    pub source: String,
    pub grade: Grade,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisibleChangeForecast {
    /// Relative dermal collagen taken as the smallest change that could show.
    pub threshold_rel: f64,
    pub threshold_source: String,
    pub threshold_grade: Grade,
    /// First day (from the first session) from which the ensemble's 5th percentile stays at or
    /// above the threshold; none when it never does within follow-up.
    pub lower_band_day: Option<f64>,
    /// The same for the central run.
    pub central_day: Option<f64>,
    pub studies: String,
    pub studies_source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollagenForecast {
    pub t_end_day: f64,
    pub collagen_total_rel_end: f64,
    pub collagen_total_rel_end_p05: Option<f64>,
    pub collagen_total_rel_end_p95: Option<f64>,
    pub collagen_total_rel_peak: f64,
    pub collagen_total_rel_peak_day: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionForecast {
    pub number: usize,
    pub day: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<Date>,
    pub needle_depth_um: f64,
    pub effective_depth_um: f64,
    pub bleeding: Bleeding,
    /// Redness and swelling expected until this day (upper end of the range).
    pub redness_until_day: f64,
}

/// Source of the bleeding reading (the core's model).
const BLEEDING_SOURCE: &str = "dermasim core bleeding model: pinpoint once channels reach the papillary capillary loops, confluent at the upper vascular plexus (BRIEF section 2 [E]; Braverman 1997 [P])";

/// What the forecast needs besides the simulation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Context {
    /// Needle depth setting of the plan.
    pub depth_mm: f64,
    pub fitzpatrick: u8,
    /// Depth of the papillary capillary loops for this patient (`Column::pinpoint_bleeding_depth_um`).
    pub pinpoint_bleeding_depth_um: f64,
    /// Date of the first session, when known.
    pub start: Option<Date>,
    pub members: usize,
}

/// Simulate `scenario` as an ensemble and read the course of treatment from it.
pub fn forecast(
    scenario: &Scenario,
    cx: Context,
    protocols: &Protocols,
    base: &ParameterSet,
) -> Result<Forecast, dermasim::Error> {
    let summary = run_ensemble(scenario, base, cx.members, &|_| {})?;
    Ok(read(&summary, cx, protocols))
}

/// Read a simulated summary (with bands) as a forecast.
pub fn read(s: &Summary, cx: Context, protocols: &Protocols) -> Forecast {
    let (fitzpatrick, start, members) = (cx.fitzpatrick, cx.start, cx.members);
    let down = protocols.downtime(cx.depth_mm);
    let pih = protocols.pih(fitzpatrick);
    let first = s.sessions.first().map(|x| x.day).unwrap_or(0.0);

    let sessions = s
        .sessions
        .iter()
        .enumerate()
        .map(|(i, x)| SessionForecast {
            number: i + 1,
            day: x.day,
            date: start.map(|d| d.add_days(x.day.round() as i64)),
            needle_depth_um: x.nominal_depth_um,
            effective_depth_um: x.effective_depth_um,
            bleeding: x.bleeding,
            redness_until_day: x.day + down.days[1],
        })
        .collect();

    let bleeding = BleedingForecast {
        level: s.bleeding,
        pinpoint_expected: s.bleeding >= Bleeding::Pinpoint,
        effective_depth_um: s.effective_depth_um,
        pinpoint_bleeding_depth_um: cx.pinpoint_bleeding_depth_um,
        text: match s.bleeding {
            Bleeding::None => "No bleeding expected: the channels stay above the capillary loops.".into(),
            Bleeding::Pinpoint => "Pinpoint bleeding expected: the channels reach the capillary loops of the upper dermis; it stops within minutes.".into(),
            Bleeding::Confluent => "More than pinpoint bleeding possible: the channels reach the upper vascular plexus.".into(),
        },
        source: BLEEDING_SOURCE.into(),
    };

    let vc = &protocols.visible_change;
    let threshold = vc.threshold_rel.value;
    let after: Vec<&TimelinePoint> = s.timeline.iter().filter(|p| p.t_day >= first).collect();
    let sustained_from = |f: &dyn Fn(&TimelinePoint) -> Option<f64>| -> Option<f64> {
        // The first point after which every value stays at or above the threshold.
        let mut day = None;
        for p in after.iter().rev() {
            match f(p) {
                Some(v) if v >= threshold => day = Some(p.t_day - first),
                _ => break,
            }
        }
        day
    };
    let visible_change = VisibleChangeForecast {
        threshold_rel: threshold,
        threshold_source: vc.threshold_rel.source.clone(),
        threshold_grade: vc.threshold_rel.grade,
        lower_band_day: sustained_from(&|p| p.bands.get("collagen_total_rel_p05").copied()),
        central_day: sustained_from(&|p| Some(p.collagen_total_rel)),
        studies: vc.studies.text.clone(),
        studies_source: vc.studies.source.clone(),
    };

    let last = s.last();
    let peak = s
        .timeline
        .iter()
        .max_by(|a, b| a.collagen_total_rel.total_cmp(&b.collagen_total_rel))
        .unwrap_or(last);
    let collagen = CollagenForecast {
        t_end_day: last.t_day,
        collagen_total_rel_end: last.collagen_total_rel,
        collagen_total_rel_end_p05: last.bands.get("collagen_total_rel_p05").copied(),
        collagen_total_rel_end_p95: last.bands.get("collagen_total_rel_p95").copied(),
        collagen_total_rel_peak: peak.collagen_total_rel,
        collagen_total_rel_peak_day: peak.t_day - first,
    };

    let every = protocols.forecast.timeline_every_days.value.max(1.0);
    let mut timeline: Vec<TimelinePoint> = Vec::new();
    let mut next = 0.0;
    for p in &s.timeline {
        if p.t_day + 1e-9 >= next {
            timeline.push(p.clone());
            next = p.t_day + every;
        }
    }
    if timeline.last().map(|p| p.t_day) != Some(last.t_day) {
        timeline.push(last.clone());
    }

    let mut notes = s.notes.clone();
    notes.push(format!(
        "forecast at fidelity {} with {members} ensemble members; collagen_total_rel is the mean over the dermis relative to before treatment",
        s.fidelity
    ));
    Forecast {
        fidelity: s.fidelity.clone(),
        ensemble_members: members,
        parameter_set: s.parameter_set.clone(),
        downtime_days: down.days[1],
        downtime_range_days: down.days,
        downtime_source: down.source.clone(),
        downtime_grade: down.grade,
        bleeding,
        pih_risk: PihRisk {
            level: pih.level.clone(),
            fitzpatrick,
            text: pih.text.clone(),
            source: pih.source.clone(),
            grade: pih.grade,
        },
        visible_change,
        collagen,
        sessions,
        timeline,
        notes,
    }
}

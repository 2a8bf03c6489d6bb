//! Plans and forecasts for the example patients, and forecast responses that must make sense.

mod common;

use common::{example, healthy};
use dermasim::device::Bleeding;
use dermasim::tissue::{Column, SiteTable};
use dermasim::ParameterSet;
use dermasim_clinic::forecast::{forecast, Context, Forecast};
use dermasim_clinic::planner::draft;
use dermasim_clinic::profile::{Concern, ConcernKind, Profile};
use dermasim_clinic::{Clinic, ClinicError, PlanOptions, Protocols, Verdict};

const FAST: PlanOptions = PlanOptions { members: Some(4) };

fn run(p: &Profile, concern: &Concern, members: usize) -> (f64, Forecast) {
    let (sites, protocols, params) =
        (SiteTable::embedded(), Protocols::embedded(), ParameterSet::default_set());
    let site = sites.get(&concern.sites[0]).unwrap();
    let d = draft(p, concern, site, &protocols, &params).unwrap();
    let column = Column::build(site, p.age_years, p.sex, &params).unwrap();
    let cx = Context {
        depth_mm: d.depth_mm,
        fitzpatrick: p.fitzpatrick,
        pinpoint_bleeding_depth_um: column.pinpoint_bleeding_depth_um,
        start: None,
        members,
    };
    (d.depth_mm, forecast(&d.scenario(p, &protocols), cx, &protocols, &params).unwrap())
}

fn concern(kind: ConcernKind, site: &str, depth: Option<f64>) -> Concern {
    Concern { kind, scar_type: None, sites: vec![site.into()], requested_depth_mm: depth }
}

#[test]
fn examples_screen_and_plan_as_described() {
    let clinic = Clinic::embedded();
    let expect = [
        ("acne_scars_type_iv", Verdict::GoWithCautions),
        ("fine_lines_laxity_55", Verdict::Go),
        ("isotretinoin_recent", Verdict::Defer),
        ("pregnant", Verdict::Defer),
        ("active_herpes", Verdict::DoNotTreat),
        ("home_roller_1_5mm", Verdict::Go),
    ];
    for (name, verdict) in expect {
        let p = example(name);
        let s = clinic.screen(&p, None).unwrap();
        assert_eq!(s.verdict, verdict, "{name}: {:?}", s.findings);
        match clinic.plan(&p, None, FAST) {
            Err(ClinicError::Refused(s)) => {
                assert_eq!((name, s.verdict), ("active_herpes", Verdict::DoNotTreat))
            }
            Err(e) => panic!("{name}: {e}"),
            Ok(r) => {
                assert_eq!(r.screening.verdict, verdict);
                let sites: usize = p.concerns.iter().map(|c| c.sites.len()).sum();
                assert_eq!(r.plans.len(), sites, "{name}: one plan per concern and site");
                assert!(r.disclaimer.contains("not a medical device") && !r.care_advice.is_empty());
                let text = dermasim_clinic::render::plan_text(&r);
                let md = dermasim_clinic::render::plan_markdown(&r);
                assert!(
                    text.contains("not a medical device") && md.contains("not a medical device"),
                    "{name}"
                );
            }
        }
    }
}

#[test]
fn the_examples_get_what_their_comments_promise() {
    let clinic = Clinic::embedded();
    // Fitzpatrick IV: PIH caution in screening and in the plan, moderate PIH risk.
    let r = clinic.plan(&example("acne_scars_type_iv"), None, FAST).unwrap();
    assert!(r.screening.findings.iter().any(|f| f.rule_id == "pih_risk_darker_skin"));
    assert!(r.plans[0].cautions.iter().any(|f| f.rule_id == "planner.pih_darker_skin"));
    assert_eq!(r.plans[0].forecast.pih_risk.level, "moderate");
    assert!(
        r.care_advice.iter().any(|c| c.min_fitzpatrick == Some(4)),
        "skin-of-colour sun advice"
    );
    // Isotretinoin two months ago: deferred to stop + 180 days, sessions dated from then.
    let r = clinic.plan(&example("isotretinoin_recent"), None, FAST).unwrap();
    assert_eq!(r.screening.defer_until.map(|d| d.to_string()).as_deref(), Some("2025-09-29"));
    assert_eq!(
        r.plans[0].forecast.sessions[0].date.map(|d| d.to_string()).as_deref(),
        Some("2025-09-29")
    );
    // A later --date past the wash-out clears it.
    let s = clinic
        .screen(&example("isotretinoin_recent"), Some("2025-09-29".parse().unwrap()))
        .unwrap();
    assert_eq!(s.verdict, Verdict::Go);
    // Home roller: capped depth, and home advice.
    let r = clinic.plan(&example("home_roller_1_5mm"), None, FAST).unwrap();
    assert_eq!(r.plans[0].depth_mm, 0.5);
    assert!(r.plans[0].cautions.iter().any(|f| f.rule_id == "planner.home_use_cap"));
    assert!(r.care_advice.iter().any(|c| c.topic == "home device"));
}

#[test]
fn deeper_protocols_mean_more_downtime_and_deeper_channels() {
    let mut p = healthy();
    p.skin = dermasim_clinic::profile::SkinThickness::Thick;
    let mut last: Option<(f64, Forecast)> = None;
    for depth in [0.25, 0.5, 1.0, 1.5, 2.0] {
        let (d, f) = run(&p, &concern(ConcernKind::StretchMarks, "thigh", Some(depth)), 2);
        assert_eq!(d, depth, "the thigh allows {depth} mm");
        if let Some((d0, f0)) = &last {
            assert!(
                f.downtime_days >= f0.downtime_days,
                "{depth} mm: {} days < {} days at {d0} mm",
                f.downtime_days,
                f0.downtime_days
            );
            assert!(f.bleeding.effective_depth_um > f0.bleeding.effective_depth_um);
            assert!(f.bleeding.level >= f0.bleeding.level);
        }
        last = Some((d, f));
    }
    let (_, shallow) = run(&p, &concern(ConcernKind::StretchMarks, "thigh", Some(0.25)), 2);
    let (_, deep) = run(&p, &concern(ConcernKind::StretchMarks, "thigh", Some(2.0)), 2);
    assert!(deep.downtime_days > shallow.downtime_days);
}

#[test]
fn older_skin_gains_less_collagen() {
    let c = concern(ConcernKind::Wrinkles, "cheek", None);
    let gain = |age: f64| {
        let mut p = healthy();
        p.age_years = age;
        let (_, f) = run(&p, &c, 2);
        f.collagen.collagen_total_rel_end - 1.0
    };
    let (young, middle, old) = (gain(25.0), gain(50.0), gain(75.0));
    assert!(young > middle && middle > old, "gain by age: 25 {young}, 50 {middle}, 75 {old}");
}

#[test]
fn bleeding_follows_the_cores_flag_and_depth() {
    let mut p = healthy();
    p.skin = dermasim_clinic::profile::SkinThickness::Thick;
    for depth in [0.25, 1.0, 2.0] {
        let (_, f) = run(&p, &concern(ConcernKind::StretchMarks, "thigh", Some(depth)), 2);
        let b = &f.bleeding;
        assert_eq!(b.pinpoint_expected, b.level >= Bleeding::Pinpoint);
        assert_eq!(
            b.pinpoint_expected,
            b.effective_depth_um >= b.pinpoint_bleeding_depth_um,
            "{depth} mm"
        );
        assert_eq!(f.sessions.iter().map(|s| s.bleeding).max(), Some(b.level));
    }
}

#[test]
fn forecast_bands_and_visible_day_are_consistent() {
    let p = healthy();
    let (_, f) = run(&p, &concern(ConcernKind::AcneScars, "cheek", None), 8);
    assert_eq!(f.ensemble_members, 8);
    let t: Vec<f64> = f.timeline.iter().map(|p| p.t_day).collect();
    assert_eq!(t[0], 0.0);
    assert!(t.windows(2).all(|w| w[1] > w[0]), "timeline in time order");
    assert_eq!(*t.last().unwrap(), f.collagen.t_end_day);
    for p in &f.timeline {
        let (lo, hi) = (p.bands["collagen_total_rel_p05"], p.bands["collagen_total_rel_p95"]);
        assert!(lo <= hi, "day {}: p05 {lo} > p95 {hi}", p.t_day);
    }
    let v = &f.visible_change;
    if let Some(day) = v.lower_band_day {
        for p in f.timeline.iter().filter(|p| p.t_day >= day) {
            assert!(p.bands["collagen_total_rel_p05"] >= v.threshold_rel, "day {}", p.t_day);
        }
    }
    if let Some(day) = v.central_day {
        for p in f.timeline.iter().filter(|p| p.t_day >= day) {
            assert!(p.collagen_total_rel >= v.threshold_rel, "day {}", p.t_day);
        }
    }
    // Redness ends after each session by the depth's downtime.
    for s in &f.sessions {
        assert_eq!(s.redness_until_day, s.day + f.downtime_days);
    }
}

#[test]
fn pih_risk_rises_with_skin_type() {
    let protocols = Protocols::embedded();
    let levels: Vec<&str> = (1..=6).map(|t| protocols.pih(t).level.as_str()).collect();
    assert_eq!(levels, ["low", "low", "low", "moderate", "moderate", "moderate"]);
}

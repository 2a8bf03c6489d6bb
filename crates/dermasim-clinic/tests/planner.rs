//! The planner keeps every depth inside its limits and says why.

mod common;

use common::{healthy, random_profile};
use dermasim::tissue::SiteTable;
use dermasim::ParameterSet;
use dermasim_clinic::planner::draft;
use dermasim_clinic::profile::{Concern, ConcernKind, ScarType, Setting, SkinThickness};
use dermasim_clinic::{Protocols, RuleSet};

#[test]
fn protocol_data_is_complete_and_sourced() {
    let p = Protocols::embedded();
    p.check().unwrap();
    let cap = p.limits.home_max_depth_mm.value;
    assert!(
        (0.25..=1.0).contains(&cap),
        "home cap {cap} mm outside the 0.25-1.0 mm of practice guidance"
    );
    // Downtime grows with depth across the bins.
    for w in p.downtime.windows(2) {
        assert!(w[1].days[0] > w[0].days[0] && w[1].days[1] > w[0].days[1]);
    }
}

#[test]
fn depths_never_exceed_site_home_or_skin_limits() {
    let (rules, sites, protocols, params) = (
        RuleSet::embedded(),
        SiteTable::embedded(),
        Protocols::embedded(),
        ParameterSet::default_set(),
    );
    let step = protocols.limits.depth_step_mm.value;
    let mut drafts = 0;
    for seed in 0..300 {
        let p = random_profile(seed, &rules, &sites);
        for c in &p.concerns {
            for s in &c.sites {
                let site = sites.get(s).unwrap();
                let d = draft(&p, c, site, &protocols, &params).unwrap();
                let limit = match p.skin {
                    SkinThickness::Thin => site.practice_depth_thin_mm.value,
                    SkinThickness::Thick => site.practice_depth_thick_mm.value,
                };
                assert!(
                    d.depth_mm <= limit + 1e-12,
                    "seed {seed}: {} mm above the {s} limit {limit}",
                    d.depth_mm
                );
                assert_eq!(d.depth_limits_mm.site_mm, limit);
                if p.setting == Setting::Home {
                    assert!(
                        d.depth_mm <= protocols.limits.home_max_depth_mm.value + 1e-12,
                        "seed {seed}: home depth {}",
                        d.depth_mm
                    );
                }
                // The channel stays inside the skin.
                assert!(
                    d.depth_mm * d.depth_limits_mm.penetration_efficiency
                        <= d.depth_limits_mm.skin_thickness_mm + 1e-12
                );
                assert!(d.depth_mm > 0.0);
                assert!(
                    ((d.depth_mm / step) - (d.depth_mm / step).round()).abs() < 1e-9,
                    "{} mm is not on the {step} mm grid",
                    d.depth_mm
                );
                // Never deeper than asked for, or than the indication when nothing was asked.
                let target =
                    c.requested_depth_mm.unwrap_or(protocols.indication(c.kind).depth_mm.value);
                assert!(d.depth_mm <= target + 1e-12);
                // Every binding limit is reported.
                let capped = |id: &str| d.cautions.iter().any(|f| f.rule_id == id);
                assert_eq!(capped("planner.site_depth_limit"), target > limit, "seed {seed}");
                assert_eq!(
                    capped("planner.home_use_cap"),
                    p.setting == Setting::Home && target > protocols.limits.home_max_depth_mm.value
                );
                // Darker skin types get the PIH caution, lighter ones do not.
                assert_eq!(
                    capped("planner.pih_darker_skin"),
                    p.fitzpatrick >= 4,
                    "seed {seed}, type {}",
                    p.fitzpatrick
                );
                // Every choice rests on a source.
                assert!(
                    d.rationale.len() >= 5
                        && d.rationale.iter().all(|r| !r.source.trim().is_empty())
                );
                drafts += 1;
            }
        }
    }
    assert!(drafts > 500, "{drafts}");
}

#[test]
fn a_home_user_asking_for_1_5_mm_gets_the_cap_and_a_reason() {
    let (sites, protocols, params) =
        (SiteTable::embedded(), Protocols::embedded(), ParameterSet::default_set());
    let mut p = healthy();
    p.setting = Setting::Home;
    let c = Concern {
        kind: ConcernKind::Texture,
        scar_type: None,
        sites: vec!["cheek".into()],
        requested_depth_mm: Some(1.5),
    };
    let d = draft(&p, &c, sites.get("cheek").unwrap(), &protocols, &params).unwrap();
    assert_eq!(d.depth_mm, protocols.limits.home_max_depth_mm.value);
    assert_eq!(d.device.as_str(), "roller");
    let f =
        d.cautions.iter().find(|f| f.rule_id == "planner.home_use_cap").expect("home cap finding");
    assert!(f.reason.contains("1.5 mm") && f.reason.contains("home-use cap"), "{}", f.reason);
    assert!(!f.source.is_empty());
    // The same request in a clinic keeps the site limit instead.
    p.setting = Setting::Professional;
    let d = draft(&p, &c, sites.get("cheek").unwrap(), &protocols, &params).unwrap();
    assert_eq!(d.depth_mm, sites.get("cheek").unwrap().practice_depth_thin_mm.value);
}

#[test]
fn thick_skin_allows_at_least_the_thin_skin_depth() {
    let (sites, protocols, params) =
        (SiteTable::embedded(), Protocols::embedded(), ParameterSet::default_set());
    for site in &sites.site {
        for kind in ConcernKind::ALL {
            let scar_type = (kind == ConcernKind::AcneScars).then_some(ScarType::Rolling);
            let c =
                Concern { kind, scar_type, sites: vec![site.id.clone()], requested_depth_mm: None };
            let mut p = healthy();
            let thin = draft(&p, &c, site, &protocols, &params).unwrap().depth_mm;
            p.skin = SkinThickness::Thick;
            let thick = draft(&p, &c, site, &protocols, &params).unwrap().depth_mm;
            assert!(thick >= thin, "{} {}: thick {thick} < thin {thin}", site.id, kind.as_str());
        }
    }
}

#[test]
fn sessions_and_intervals_come_from_the_indication() {
    let (sites, protocols, params) =
        (SiteTable::embedded(), Protocols::embedded(), ParameterSet::default_set());
    let p = healthy();
    let c = Concern {
        kind: ConcernKind::AcneScars,
        scar_type: Some(ScarType::IcePick),
        sites: vec!["cheek".into()],
        requested_depth_mm: None,
    };
    let d = draft(&p, &c, sites.get("cheek").unwrap(), &protocols, &params).unwrap();
    let ind = protocols.indication(ConcernKind::AcneScars);
    assert_eq!(
        (d.sessions as f64, d.interval_days as f64),
        (ind.sessions.value, ind.interval_days.value)
    );
    assert_eq!(
        d.session_days(),
        (0..d.sessions).map(|i| (i * d.interval_days) as f64).collect::<Vec<_>>()
    );
    assert!(d.cautions.iter().any(|f| f.rule_id == "planner.scar_type_ice_pick"));
    // The scenario the forecast runs is a valid core scenario.
    let s = d.scenario(&p, &protocols);
    s.validate(&sites, &params).unwrap();
    assert_eq!(s.protocol.sessions.len(), d.sessions as usize);
    assert!(s.protocol.follow_up_days > *d.session_days().last().unwrap());
}

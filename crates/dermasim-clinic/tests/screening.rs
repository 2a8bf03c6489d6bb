//! Screening rules: each rule triggers on its condition and on nothing else; wash-out
//! boundaries; verdicts.

mod common;

use common::{assessment, healthy, random_profile};
use dermasim::tissue::SiteTable;
use dermasim_clinic::profile::{ConditionEntry, Medication, Procedure, Status};
use dermasim_clinic::rules::{Condition, Reads, Rule};
use dermasim_clinic::screen::{screen, verdict_of};
use dermasim_clinic::{Date, Profile, RuleSet, Severity, Verdict};

const PROFILES: u64 = 600;

/// The rule language read straight from its documentation, with day counts, independently of
/// `Condition::check`.
fn oracle(c: &Condition, p: &Profile, today: Date) -> bool {
    let treated = |s: &String| p.concerns.iter().any(|c| c.sites.contains(s));
    let in_area =
        |sites: &[String], wanted: bool| !wanted || sites.is_empty() || sites.iter().any(treated);
    match c {
        Condition::Condition { any_of, statuses, in_treatment_area } => {
            p.conditions.iter().any(|e| {
                any_of.contains(&e.name)
                    && statuses.contains(&e.status)
                    && in_area(&e.sites, *in_treatment_area)
            })
        }
        Condition::Medication { any_of, within_days_after_stop } => p.medications.iter().any(|m| {
            any_of.contains(&m.name)
                && match m.stop {
                    None => true,
                    // Days since the last dose must be fewer than the wash-out (negative: still taking).
                    Some(stop) => today.days_since(stop) < *within_days_after_stop as i64,
                }
        }),
        Condition::Procedure { any_of, within_days, in_treatment_area } => {
            p.procedures.iter().any(|x| {
                any_of.contains(&x.name)
                    && in_area(&x.sites, *in_treatment_area)
                    && today.days_since(x.date) < *within_days as i64
            })
        }
        Condition::Pregnancy => p.pregnant,
        Condition::Breastfeeding => p.breastfeeding,
        Condition::FitzpatrickAtLeast { value } => p.fitzpatrick >= *value,
    }
}

/// `keep`'s values for the fields `reads` names, `other`'s for everything else.
fn mix(keep: &Profile, other: &Profile, reads: &[Reads]) -> Profile {
    let has = |r: Reads| reads.contains(&r);
    let mut m = other.clone();
    m.conditions = keep
        .conditions
        .iter()
        .filter(|c| has(Reads::Condition(c.name.clone())))
        .chain(other.conditions.iter().filter(|c| !has(Reads::Condition(c.name.clone()))))
        .cloned()
        .collect();
    m.medications = keep
        .medications
        .iter()
        .filter(|x| has(Reads::Medication(x.name.clone())))
        .chain(other.medications.iter().filter(|x| !has(Reads::Medication(x.name.clone()))))
        .cloned()
        .collect();
    m.procedures = keep
        .procedures
        .iter()
        .filter(|x| has(Reads::Procedure(x.name.clone())))
        .chain(other.procedures.iter().filter(|x| !has(Reads::Procedure(x.name.clone()))))
        .cloned()
        .collect();
    if has(Reads::Pregnancy) {
        m.pregnant = keep.pregnant;
    }
    if has(Reads::Breastfeeding) {
        m.breastfeeding = keep.breastfeeding;
    }
    if has(Reads::Fitzpatrick) {
        m.fitzpatrick = keep.fitzpatrick;
    }
    if has(Reads::TreatmentSites) {
        m.concerns = keep.concerns.clone();
    }
    m
}

#[test]
fn embedded_rules_are_complete_and_sourced() {
    let rules = RuleSet::embedded();
    assert!(rules.rule.len() >= 20, "{} rules", rules.rule.len());
    for r in &rules.rule {
        assert!(!r.source.trim().is_empty() && !r.reason.trim().is_empty(), "{}", r.id);
    }
    for sev in [Severity::Absolute, Severity::Relative, Severity::Caution] {
        assert!(rules.rule.iter().any(|r| r.severity == sev), "no {sev:?} rule");
    }
}

#[test]
fn generated_profiles_are_valid() {
    let (rules, sites) = (RuleSet::embedded(), SiteTable::embedded());
    for seed in 0..PROFILES {
        let p = random_profile(seed, &rules, &sites);
        p.validate(&rules.vocabulary, &sites, assessment())
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    }
}

#[test]
fn every_rule_matches_its_documented_condition() {
    let (rules, sites) = (RuleSet::embedded(), SiteTable::embedded());
    let today = assessment();
    let mut triggered = vec![0usize; rules.rule.len()];
    for seed in 0..PROFILES {
        let p = random_profile(seed, &rules, &sites);
        for (i, r) in rules.rule.iter().enumerate() {
            let fired = r.evaluate(&p, today).is_some();
            assert_eq!(
                fired,
                oracle(&r.when, &p, today),
                "rule {} on generated profile {seed}",
                r.id
            );
            triggered[i] += fired as usize;
        }
    }
    // The generator reaches every rule, so the comparison above tested both answers of each.
    for (r, n) in rules.rule.iter().zip(&triggered) {
        assert!(
            *n > 0 && *n < PROFILES as usize,
            "rule {} fired on {n} of {PROFILES} profiles",
            r.id
        );
    }
}

#[test]
fn rules_ignore_every_field_they_do_not_read() {
    let (rules, sites) = (RuleSet::embedded(), SiteTable::embedded());
    let today = assessment();
    for seed in 0..PROFILES {
        let keep = random_profile(seed, &rules, &sites);
        let other = random_profile(seed + 100_000, &rules, &sites);
        for r in &rules.rule {
            let mixed = mix(&keep, &other, &r.when.reads());
            assert_eq!(
                r.evaluate(&keep, today),
                r.evaluate(&mixed, today),
                "rule {} changed with fields it does not read (seed {seed})",
                r.id
            );
        }
    }
}

#[test]
fn a_healthy_profile_triggers_nothing() {
    let rules = RuleSet::embedded();
    let s = screen(&healthy(), &rules, assessment());
    assert!(s.findings.is_empty(), "{:?}", s.findings);
    assert_eq!(s.verdict, Verdict::Go);
}

/// One change to the healthy profile that satisfies `rule`, and the fields it touched.
fn witness(rule: &Rule) -> (Profile, Vec<Reads>) {
    let mut p = healthy();
    let today = assessment();
    let changed = match &rule.when {
        Condition::Condition { any_of, statuses, in_treatment_area } => {
            let sites = if *in_treatment_area { vec!["forehead".to_string()] } else { vec![] };
            p.conditions.push(ConditionEntry {
                name: any_of[0].clone(),
                status: statuses[0],
                sites,
                note: None,
            });
            vec![Reads::Condition(any_of[0].clone())]
        }
        Condition::Medication { any_of, .. } => {
            p.medications.push(Medication {
                name: any_of[0].clone(),
                start: Some(today.add_days(-30)),
                stop: None,
                note: None,
            });
            vec![Reads::Medication(any_of[0].clone())]
        }
        Condition::Procedure { any_of, .. } => {
            p.procedures.push(Procedure {
                name: any_of[0].clone(),
                date: today,
                sites: vec!["forehead".into()],
                note: None,
            });
            vec![Reads::Procedure(any_of[0].clone())]
        }
        Condition::Pregnancy => {
            p.pregnant = true;
            vec![Reads::Pregnancy]
        }
        Condition::Breastfeeding => {
            p.breastfeeding = true;
            vec![Reads::Breastfeeding]
        }
        Condition::FitzpatrickAtLeast { value } => {
            p.fitzpatrick = *value;
            vec![Reads::Fitzpatrick]
        }
    };
    (p, changed)
}

#[test]
fn each_rule_triggers_on_its_witness_and_only_rules_reading_the_change_join_it() {
    let rules = RuleSet::embedded();
    for r in &rules.rule {
        let (p, changed) = witness(r);
        let s = screen(&p, &rules, assessment());
        assert!(
            s.findings.iter().any(|f| f.rule_id == r.id),
            "rule {} did not trigger on its witness",
            r.id
        );
        for f in &s.findings {
            let other = rules.get(&f.rule_id).unwrap();
            assert!(
                other.when.reads().iter().any(|x| changed.contains(x)),
                "rule {} fired on the witness of {}, a change it does not read",
                f.rule_id,
                r.id
            );
        }
    }
}

#[test]
fn each_vocabulary_entry_triggers_only_rules_that_name_it() {
    let rules = RuleSet::embedded();
    let today = assessment();
    let v = &rules.vocabulary;
    let check = |p: &Profile, reads: Reads| {
        for f in screen(p, &rules, today).findings {
            assert!(
                rules.get(&f.rule_id).unwrap().when.reads().contains(&reads),
                "rule {} fired for {reads:?}",
                f.rule_id
            );
        }
    };
    for name in &v.conditions {
        for status in Status::ALL {
            for sites in [vec![], vec!["forehead".to_string()], vec!["thigh".to_string()]] {
                let mut p = healthy();
                p.conditions.push(ConditionEntry {
                    name: name.clone(),
                    status,
                    sites: sites.clone(),
                    note: None,
                });
                check(&p, Reads::Condition(name.clone()));
                // Outside the treatment area, rules restricted to it stay silent.
                if sites == ["thigh"] {
                    for f in screen(&p, &rules, today).findings {
                        if let Condition::Condition { in_treatment_area, .. } =
                            rules.get(&f.rule_id).unwrap().when
                        {
                            assert!(
                                !in_treatment_area,
                                "{} fired for {name} on the thigh while the forehead is treated",
                                f.rule_id
                            );
                        }
                    }
                }
            }
        }
    }
    for name in &v.medications {
        let mut p = healthy();
        p.medications.push(Medication { name: name.clone(), start: None, stop: None, note: None });
        check(&p, Reads::Medication(name.clone()));
    }
    for name in &v.procedures {
        let mut p = healthy();
        p.procedures.push(Procedure { name: name.clone(), date: today, sites: vec![], note: None });
        check(&p, Reads::Procedure(name.clone()));
    }
}

#[test]
fn every_wash_out_boundary_behaves() {
    // For every dated rule in the data: the day before the wash-out ends it triggers (and says
    // until when), on the day it ends and the day after it does not.
    let rules = RuleSet::embedded();
    let end = assessment();
    let mut checked = 0;
    for r in &rules.rule {
        let (name, n, is_medication) = match &r.when {
            Condition::Medication { any_of, within_days_after_stop } => {
                (any_of[0].clone(), *within_days_after_stop as i64, true)
            }
            Condition::Procedure { any_of, within_days, .. } => {
                (any_of[0].clone(), *within_days as i64, false)
            }
            _ => continue,
        };
        let event = end.add_days(-n); // stop date or procedure date whose wash-out ends on `end`
        let profile = |today: Date| {
            let mut p = healthy();
            p.assessment_date = Some(today);
            if is_medication {
                p.medications.push(Medication {
                    name: name.clone(),
                    start: Some(event.add_days(-100)),
                    stop: Some(event),
                    note: None,
                });
            } else {
                p.procedures.push(Procedure {
                    name: name.clone(),
                    date: event,
                    sites: vec![],
                    note: None,
                });
            }
            p
        };
        let day_before = end.add_days(-1);
        if day_before >= event {
            let f = r
                .evaluate(&profile(day_before), day_before)
                .unwrap_or_else(|| panic!("{}: no finding on the last day of the wash-out", r.id));
            if r.defers {
                assert_eq!(f.until, Some(end), "{}", r.id);
            }
        }
        assert!(
            r.evaluate(&profile(end), end).is_none(),
            "{}: still triggers on the day the wash-out ends",
            r.id
        );
        assert!(
            r.evaluate(&profile(end.add_days(1)), end.add_days(1)).is_none(),
            "{}: triggers the day after",
            r.id
        );
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} dated rules");
}

#[test]
fn isotretinoin_wash_out_dates() {
    let rules = RuleSet::embedded();
    let mut p = healthy();
    p.medications.push(Medication {
        name: "isotretinoin".into(),
        start: Some(Date::parse("2024-10-01").unwrap()),
        stop: Some(Date::parse("2025-04-02").unwrap()),
        note: None,
    });
    let on = |p: &Profile, d: &str| screen(p, &rules, Date::parse(d).unwrap());
    assert_eq!(on(&p, "2025-06-02").verdict, Verdict::Defer);
    assert_eq!(
        on(&p, "2025-06-02").defer_until,
        Some(Date::parse("2025-09-29").unwrap()),
        "stop + 180 days"
    );
    assert_eq!(on(&p, "2025-09-28").verdict, Verdict::Defer);
    assert_eq!(on(&p, "2025-09-29").verdict, Verdict::Go);
    assert_eq!(on(&p, "2025-09-30").verdict, Verdict::Go);
    // Still taking it: defer with no date, until the event the rule names.
    p.medications[0].stop = None;
    let s = on(&p, "2025-06-02");
    assert_eq!((s.verdict, s.defer_until), (Verdict::Defer, None));
    assert_eq!(s.defer_until_events.len(), 1);
}

#[test]
fn verdicts_follow_the_most_severe_finding() {
    let rules = RuleSet::embedded();
    let today = assessment();
    let herpes = ConditionEntry {
        name: "herpes_simplex".into(),
        status: Status::Active,
        sites: vec![],
        note: None,
    };

    let mut p = healthy();
    p.conditions.push(herpes.clone());
    assert_eq!(screen(&p, &rules, today).verdict, Verdict::DoNotTreat, "active infection");
    p.pregnant = true;
    p.fitzpatrick = 5;
    assert_eq!(
        screen(&p, &rules, today).verdict,
        Verdict::DoNotTreat,
        "absolute outranks defer and cautions"
    );

    let mut p = healthy();
    p.pregnant = true;
    let s = screen(&p, &rules, today);
    assert_eq!(
        (s.verdict, s.defer_until),
        (Verdict::Defer, None),
        "pregnancy defers, with no date"
    );
    assert!(!s.defer_until_events.is_empty());
    p.fitzpatrick = 6;
    assert_eq!(screen(&p, &rules, today).verdict, Verdict::Defer, "defer outranks cautions");

    let mut p = healthy();
    p.fitzpatrick = 4;
    assert_eq!(
        screen(&p, &rules, today).verdict,
        Verdict::GoWithCautions,
        "darker skin: PIH caution"
    );
    assert!(screen(&p, &rules, today).findings.iter().any(|f| f.rule_id == "pih_risk_darker_skin"));
    p.fitzpatrick = 3;
    assert_eq!(screen(&p, &rules, today).verdict, Verdict::Go);

    // Two dated deferrals: the later end date wins.
    let mut p = healthy();
    p.procedures.push(Procedure {
        name: "chemical_peel".into(),
        date: today.add_days(-10),
        sites: vec![],
        note: None,
    });
    p.procedures.push(Procedure {
        name: "neuromodulator".into(),
        date: today.add_days(-10),
        sites: vec![],
        note: None,
    });
    let s = screen(&p, &rules, today);
    assert_eq!(s.verdict, Verdict::Defer);
    assert_eq!(s.defer_until, Some(today.add_days(80)));
    // A deferral without a date makes the overall date unknown.
    p.pregnant = true;
    assert_eq!(screen(&p, &rules, today).defer_until, None);
}

#[test]
fn verdict_of_is_monotone_in_severity() {
    let rules = RuleSet::embedded();
    let find = |id: &str| {
        rules.get(id).unwrap().evaluate(&witness(rules.get(id).unwrap()).0, assessment()).unwrap()
    };
    let (a, d, c) =
        (find("active_skin_infection"), find("pregnancy"), find("pih_risk_darker_skin"));
    assert_eq!(verdict_of(&[]), Verdict::Go);
    assert_eq!(verdict_of(std::slice::from_ref(&c)), Verdict::GoWithCautions);
    assert_eq!(verdict_of(&[c.clone(), d.clone()]), Verdict::Defer);
    assert_eq!(verdict_of(&[c, d, a]), Verdict::DoNotTreat);
}

#[test]
fn rule_file_errors_are_caught() {
    let good = RuleSet::embedded();
    let mut dup = good.clone();
    dup.rule.push(dup.rule[0].clone());
    assert!(dup.check().unwrap_err().contains("twice"));
    let mut unknown = good.clone();
    unknown.rule[0].when =
        Condition::Medication { any_of: vec!["isotretinion".into()], within_days_after_stop: 10 };
    assert!(unknown.check().unwrap_err().contains("isotretinion"));
    let mut absolute_defers = good.clone();
    let i = absolute_defers.rule.iter().position(|r| r.severity == Severity::Absolute).unwrap();
    absolute_defers.rule[i].defers = true;
    assert!(absolute_defers.check().is_err());
    let mut unsourced = good;
    unsourced.rule[0].source = " ".into();
    assert!(unsourced.check().is_err());
}

//! Test support: a deterministic generator of valid patient profiles.
#![allow(dead_code)]

use dermasim::rng::Stream;
use dermasim::tissue::{Sex, SiteTable};
use dermasim_clinic::profile::{
    Concern, ConcernKind, ConditionEntry, Medication, Procedure, ScarType, Setting, SkinThickness,
    Status,
};
use dermasim_clinic::rules::Condition;
use dermasim_clinic::{Date, Profile, RuleSet};

pub fn assessment() -> Date {
    Date::parse("2025-06-02").unwrap()
}

/// A healthy adult with one concern and nothing that any rule reads.
pub fn healthy() -> Profile {
    Profile {
        id: Some("healthy".into()),
        assessment_date: Some(assessment()),
        age_years: 40.0,
        sex: Sex::Female,
        fitzpatrick: 2,
        skin: SkinThickness::Thin,
        setting: Setting::Professional,
        device: None,
        pregnant: false,
        breastfeeding: false,
        concerns: vec![Concern {
            kind: ConcernKind::FineLines,
            scar_type: None,
            sites: vec!["forehead".into()],
            requested_depth_mm: None,
        }],
        conditions: vec![],
        medications: vec![],
        procedures: vec![],
    }
}

/// Draws from a counter-based stream: `next()` walks the counter.
pub struct Draw {
    stream: Stream,
    counter: u64,
}

impl Draw {
    pub fn new(seed: u64) -> Draw {
        Draw { stream: Stream::new(seed, 0xc1_1a1c), counter: 0 }
    }
    pub fn unit(&mut self) -> f64 {
        self.counter += 1;
        self.stream.uniform(self.counter)
    }
    pub fn below(&mut self, n: usize) -> usize {
        ((self.unit() * n as f64) as usize).min(n - 1)
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    /// A day offset in `[lo, hi]`.
    pub fn days(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as usize) as i64
    }
}

fn sites_sample(d: &mut Draw, ids: &[&str], max: usize) -> Vec<String> {
    let n = 1 + d.below(max);
    let mut out: Vec<String> = Vec::new();
    for _ in 0..n {
        let s = d.pick(ids).to_string();
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// A random but valid profile. Dates cluster around the wash-out windows of the rules so that
/// both sides of every boundary are drawn often.
pub fn random_profile(seed: u64, rules: &RuleSet, sites: &SiteTable) -> Profile {
    let mut d = Draw::new(seed);
    let ids = sites.ids();
    let today = assessment();
    let sex = *d.pick(&[Sex::Female, Sex::Male, Sex::Unspecified]);
    let concerns = (0..1 + d.below(3))
        .map(|_| {
            let kind = *d.pick(&ConcernKind::ALL);
            Concern {
                kind,
                scar_type: (kind == ConcernKind::AcneScars).then(|| {
                    *d.pick(&[
                        ScarType::Rolling,
                        ScarType::Boxcar,
                        ScarType::IcePick,
                        ScarType::Mixed,
                    ])
                }),
                sites: sites_sample(&mut d, &ids, 3),
                requested_depth_mm: if d.chance(0.3) {
                    Some(0.25 * (1 + d.below(12)) as f64)
                } else {
                    None
                },
            }
        })
        .collect();
    let v = &rules.vocabulary;
    // Wash-out lengths in the rules: dates are often drawn one day either side of their ends.
    let windows: Vec<i64> = rules
        .rule
        .iter()
        .filter_map(|r| match &r.when {
            Condition::Medication { within_days_after_stop, .. } => {
                Some(*within_days_after_stop as i64)
            }
            Condition::Procedure { within_days, .. } => Some(*within_days as i64),
            _ => None,
        })
        .collect();
    let conditions = (0..d.below(4))
        .map(|_| ConditionEntry {
            name: d.pick(&v.conditions).clone(),
            status: *d.pick(&Status::ALL),
            sites: if d.chance(0.5) { vec![] } else { sites_sample(&mut d, &ids, 2) },
            note: None,
        })
        .collect();
    let medications = (0..d.below(4))
        .map(|_| {
            let mut start = today.add_days(d.days(-800, 30));
            let stop = if d.chance(0.25) {
                None
            } else if d.chance(0.4) {
                let stop = today.add_days(-*d.pick(&windows) + d.days(-1, 1));
                start = start.min(stop);
                Some(stop)
            } else {
                Some(start.add_days(d.days(0, 600)))
            };
            Medication {
                name: d.pick(&v.medications).clone(),
                start: if d.chance(0.8) { Some(start) } else { None },
                stop,
                note: None,
            }
        })
        .collect();
    let procedures = (0..d.below(4))
        .map(|_| Procedure {
            name: d.pick(&v.procedures).clone(),
            date: if d.chance(0.4) {
                today.add_days((-*d.pick(&windows) + d.days(-1, 1)).min(0))
            } else {
                today.add_days(-d.days(0, 400))
            },
            sites: if d.chance(0.5) { vec![] } else { sites_sample(&mut d, &ids, 2) },
            note: None,
        })
        .collect();
    let pregnant = sex != Sex::Male && d.chance(0.15);
    Profile {
        id: Some(format!("generated-{seed}")),
        assessment_date: Some(today),
        age_years: 18.0 + d.unit() * 82.0,
        sex,
        fitzpatrick: 1 + d.below(6) as u8,
        skin: *d.pick(&[SkinThickness::Thin, SkinThickness::Thick]),
        setting: *d.pick(&[Setting::Home, Setting::Professional]),
        device: None,
        pregnant,
        breastfeeding: sex != Sex::Male && d.chance(0.15),
        concerns,
        conditions,
        medications,
        procedures,
    }
}

pub fn example(name: &str) -> Profile {
    let path = format!("{}/../../examples/patients/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    dermasim_clinic::parse_profile(&text, false, &path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

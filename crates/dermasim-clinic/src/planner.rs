//! The planner: for each concern and site, a protocol inside every limit, with the reasons.

use serde::{Deserialize, Serialize};

use dermasim::device::{Device, DeviceParams};
use dermasim::params::Grade;
use dermasim::scenario::{self, Protocol, Session};
use dermasim::tissue::{Column, Site, SiteTable};
use dermasim::{ParameterSet, Scenario};

use crate::date::Date;
use crate::forecast::Forecast;
use crate::profile::{Concern, ConcernKind, DeviceKind, Profile, ScarType, Setting, SkinThickness};
use crate::protocols::{Protocols, SourcedText};
use crate::rules::{roman, Finding, Severity};

/// One choice and what it rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub choice: String,
    pub because: String,
    pub source: String,
    pub grade: Grade,
}

/// The protocol for one concern at one site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub concern: ConcernKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scar_type: Option<ScarType>,
    pub site: String,
    pub setting: Setting,
    pub device: DeviceKind,
    /// Needle depth setting (pen) or needle length (roller).
    pub depth_mm: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_depth_mm: Option<f64>,
    /// The limits the depth was held under.
    pub depth_limits_mm: DepthLimits,
    /// Passes as the device is used, in words (pen passes, or roller passes x directions).
    pub passes: String,
    pub punctures_per_cm2: f64,
    pub sessions: u32,
    pub interval_days: u32,
    /// Session days counted from the first session.
    pub session_days: Vec<f64>,
    /// Earliest date of the first session, when screening gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_session_not_before: Option<Date>,
    pub topical: SourcedText,
    /// What the studies behind this protocol saw.
    pub expectation: SourcedText,
    pub rationale: Vec<Reason>,
    /// Planner decisions worth telling, in the same form as screening findings.
    pub cautions: Vec<Finding>,
    pub forecast: Forecast,
    /// The simulated scenario; `dermasim run` accepts it as a file.
    pub scenario: Scenario,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DepthLimits {
    /// Practice limit for the site and skin thickness (data/sites.toml).
    pub site_mm: f64,
    /// Home-use cap, in a home setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_mm: Option<f64>,
    /// Whole skin thickness at the site for this patient (age and sex applied).
    pub skin_thickness_mm: f64,
    /// Channel depth / needle depth of the device (central value of the core's parameters).
    pub penetration_efficiency: f64,
    /// Longest needle whose channel stays inside the skin: skin thickness / penetration efficiency.
    pub skin_mm: f64,
}

/// The plan before it is simulated.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub concern: ConcernKind,
    pub scar_type: Option<ScarType>,
    pub site: String,
    pub setting: Setting,
    pub device: DeviceKind,
    pub depth_mm: f64,
    pub requested_depth_mm: Option<f64>,
    pub depth_limits_mm: DepthLimits,
    pub sessions: u32,
    pub interval_days: u32,
    pub topical: SourcedText,
    pub expectation: SourcedText,
    pub rationale: Vec<Reason>,
    pub cautions: Vec<Finding>,
}

fn caution(
    id: &str,
    reason: String,
    detail: String,
    advice: Option<String>,
    source: &str,
    grade: Grade,
) -> Finding {
    Finding {
        rule_id: format!("planner.{id}"),
        severity: Severity::Caution,
        reason,
        source: source.to_string(),
        grade,
        detail,
        defers: false,
        until: None,
        until_event: None,
        advice,
    }
}

fn mm(v: f64) -> String {
    format!("{} mm", (v * 100.0).round() / 100.0)
}

/// The depth, sessions and device for one concern at one site, and why.
pub fn draft(
    profile: &Profile,
    concern: &Concern,
    site: &Site,
    protocols: &Protocols,
    params: &ParameterSet,
) -> Result<Draft, dermasim::Error> {
    let ind = protocols.indication(concern.kind);
    let mut rationale = Vec::new();
    let mut cautions = Vec::new();

    // Device: the profile's wish, else by setting.
    let by_setting = protocols.device_for(profile.setting);
    let device = profile.device.unwrap_or(by_setting.device);
    rationale.push(match profile.device {
        Some(d) => Reason {
            choice: format!("device: {}", d.as_str()),
            because: "asked for in the profile".into(),
            source: "patient profile".into(),
            grade: Grade::L,
        },
        None => Reason {
            choice: format!("device: {}", device.as_str()),
            because: by_setting.reason.clone(),
            source: by_setting.source.clone(),
            grade: by_setting.grade,
        },
    });

    // Depth: the request or the indication, then every limit, then the device step.
    let (target, target_reason) = match concern.requested_depth_mm {
        Some(r) => (
            r,
            Reason {
                choice: format!("starting depth {}", mm(r)),
                because: "requested in the profile".into(),
                source: "patient profile".into(),
                grade: Grade::L,
            },
        ),
        None => (
            ind.depth_mm.value,
            Reason {
                choice: format!("starting depth {}", mm(ind.depth_mm.value)),
                because: format!(
                    "common depth for {} (range {}-{} mm)",
                    concern.kind.label(),
                    ind.depth_mm.range[0],
                    ind.depth_mm.range[1]
                ),
                source: ind.depth_mm.source.clone(),
                grade: ind.depth_mm.grade,
            },
        ),
    };
    rationale.push(target_reason);
    let asked = if concern.requested_depth_mm.is_some() { "requested" } else { "usual" };
    let column = Column::build(site, profile.age_years, profile.sex, params)?;
    let thickness_mm = column.total_um() / 1000.0;
    // Skin deforms under the needle, so the channel is shorter than the needle (BRIEF section 1);
    // as in the core's scenario check, the channel must stay inside the skin.
    let efficiency =
        device_model(device, 1.0).penetration_efficiency(&DeviceParams::from_set(params)?);
    let skin_mm = thickness_mm / efficiency;
    let (site_limit, skin_word) = match profile.skin {
        SkinThickness::Thin => (&site.practice_depth_thin_mm, "thin"),
        SkinThickness::Thick => (&site.practice_depth_thick_mm, "thick"),
    };
    let home = (profile.setting == Setting::Home).then_some(&protocols.limits.home_max_depth_mm);
    let limits = DepthLimits {
        site_mm: site_limit.value,
        home_mm: home.map(|h| h.value),
        skin_thickness_mm: thickness_mm,
        penetration_efficiency: efficiency,
        skin_mm,
    };

    // Each limit is checked against the starting depth, so every finding names what was asked.
    if let Some(h) = home.filter(|h| target > h.value) {
        cautions.push(caution(
            "home_use_cap",
            format!("The {asked} {} is above the home-use cap of {}: deeper needling at home risks infection, scarring and dark patches without sterile technique.", mm(target), mm(h.value)),
            format!("home setting, {} at {}", concern.kind.label(), site.id),
            Some("The plan uses at most the home cap. Deeper treatment belongs with a trained professional using sterile single-use needles.".into()),
            &h.source,
            h.grade,
        ));
    }
    if target > site_limit.value {
        cautions.push(caution(
            "site_depth_limit",
            format!("The {asked} {} is above the practice limit for the {} on {skin_word} skin ({}).", mm(target), site.name.to_lowercase(), mm(site_limit.value)),
            format!("{} at {}, {skin_word} skin", concern.kind.label(), site.id),
            Some("The plan uses at most the site limit; expect less change than in studies that needled deeper.".into()),
            &site_limit.source,
            site_limit.grade,
        ));
    }
    if target > skin_mm {
        cautions.push(caution(
            "skin_thickness",
            format!(
                "At {} the channel (needle x penetration efficiency {efficiency}) would reach below this patient's skin at the {} ({} thick); the needle may be at most {}.",
                mm(target),
                site.name.to_lowercase(),
                mm(thickness_mm),
                mm(skin_mm)
            ),
            format!("{} at {}", concern.kind.label(), site.id),
            None,
            &site.dermis_um.source,
            site.dermis_um.grade,
        ));
    }
    let mut depth = [Some(target), Some(site_limit.value), home.map(|h| h.value), Some(skin_mm)]
        .into_iter()
        .flatten()
        .fold(f64::INFINITY, f64::min);
    let step = protocols.limits.depth_step_mm.value;
    let stepped = ((depth / step) + 1e-9).floor() * step;
    depth = if stepped >= step { stepped } else { depth };
    let mut why = vec![format!("site limit {} ({skin_word} skin)", mm(limits.site_mm))];
    if let Some(h) = limits.home_mm {
        why.push(format!("home cap {}", mm(h)));
    }
    why.push(format!(
        "channel inside the skin ({} thick, penetration efficiency {efficiency}: needle up to {})",
        mm(thickness_mm),
        mm(skin_mm)
    ));
    rationale.push(Reason {
        choice: format!("depth {}", mm(depth)),
        because: format!(
            "the starting depth held under {}, rounded down to {} steps",
            why.join(", "),
            mm(step)
        ),
        source: format!("{}; {}", site_limit.source, protocols.limits.depth_step_mm.source),
        grade: Grade::L,
    });

    // Sessions and interval from the studies behind the indication.
    let sessions = ind.sessions.value as u32;
    let interval_days = ind.interval_days.value as u32;
    rationale.push(Reason {
        choice: format!("{sessions} sessions"),
        because: format!(
            "as in the studies for {} (range {}-{})",
            concern.kind.label(),
            ind.sessions.range[0],
            ind.sessions.range[1]
        ),
        source: ind.sessions.source.clone(),
        grade: ind.sessions.grade,
    });
    rationale.push(Reason {
        choice: format!("every {interval_days} days"),
        because: format!(
            "interval used in the studies (range {}-{} days)",
            ind.interval_days.range[0], ind.interval_days.range[1]
        ),
        source: ind.interval_days.source.clone(),
        grade: ind.interval_days.grade,
    });
    rationale.push(Reason {
        choice: "topical".into(),
        because: ind.topical.text.clone(),
        source: ind.topical.source.clone(),
        grade: ind.topical.grade,
    });

    // Darker skin: the depth the studies in types IV-V used, with a PIH caution and care.
    if profile.fitzpatrick >= 4 {
        let band = protocols.pih(profile.fitzpatrick);
        cautions.push(caution(
            "pih_darker_skin",
            format!("Fitzpatrick type {}: risk of post-inflammatory hyperpigmentation ({}). {}", roman(profile.fitzpatrick), band.level, band.text),
            format!("Fitzpatrick type {}", roman(profile.fitzpatrick)),
            Some("Sun protection from 2 weeks before to 2 weeks after each session; no extra passes or pressure over bone; review any darkening before the next session and lengthen the interval if it appears.".into()),
            &band.source,
            band.grade,
        ));
        rationale.push(Reason {
            choice: "depth not reduced for skin type; PIH caution and pre/post care instead".into(),
            because: "types IV-V were treated at 1.5 mm monthly with PIH in 5 of 30 (Dogra 2014) and types I-VI without dyspigmentation (Alster & Li 2020); the review of skin of colour advises UV protection and needle length matched to skin thickness rather than a fixed reduction".into(),
            source: band.source.clone(),
            grade: band.grade,
        });
    }
    if let Some(note) = concern.scar_type.and_then(|t| protocols.scar_note(t)) {
        cautions.push(caution(
            &format!("scar_type_{}", note.scar_type.as_str()),
            note.reason.clone(),
            format!("acne scars, {} type", note.scar_type.as_str().replace('_', "-")),
            note.advice.clone(),
            &note.source,
            note.grade,
        ));
    }
    if profile.setting == Setting::Home && concern.kind != ConcernKind::ProductAbsorption {
        rationale.push(Reason {
            choice: "home setting".into(),
            because: format!("the studies behind this indication used professional depths ({}-{} mm); at home depths less change is expected", ind.depth_mm.range[0], ind.depth_mm.range[1]),
            source: ind.depth_mm.source.clone(),
            grade: ind.depth_mm.grade,
        });
    }

    Ok(Draft {
        concern: concern.kind,
        scar_type: concern.scar_type,
        site: site.id.clone(),
        setting: profile.setting,
        device,
        depth_mm: depth,
        requested_depth_mm: concern.requested_depth_mm,
        depth_limits_mm: limits,
        sessions,
        interval_days,
        topical: ind.topical.clone(),
        expectation: ind.expectation.clone(),
        rationale,
        cautions,
    })
}

impl Draft {
    /// The device as the core simulates it.
    pub fn device_model(&self) -> Device {
        device_model(self.device, self.depth_mm)
    }

    pub fn session_days(&self) -> Vec<f64> {
        (0..self.sessions).map(|i| (i * self.interval_days) as f64).collect()
    }

    /// The scenario the forecast simulates.
    pub fn scenario(&self, profile: &Profile, protocols: &Protocols) -> Scenario {
        let days = self.session_days();
        let last = days.last().copied().unwrap_or(0.0);
        let follow = last + protocols.forecast.follow_up_after_last_session_days.value;
        Scenario {
            name: Some(format!(
                "{} at {}: {} {} mm, {} sessions every {} days",
                self.concern.label(),
                self.site,
                self.device.as_str(),
                self.depth_mm,
                self.sessions,
                self.interval_days
            )),
            patient: scenario::Patient {
                site: self.site.clone(),
                age_years: profile.age_years,
                sex: profile.sex,
                fitzpatrick: profile.fitzpatrick,
            },
            device: self.device_model(),
            protocol: Protocol {
                sessions: days.iter().map(|&day| Session { day, device: None }).collect(),
                follow_up_days: follow,
            },
            simulation: scenario::Simulation {
                fidelity: protocols.forecast.fidelity,
                output_every_days: 1.0,
                ..Default::default()
            },
            parameters: Default::default(),
            topical: None,
            allow_outside_range: false,
            inflammation: None,
        }
    }
}

/// A device with the core's defaults for everything but its depth.
pub fn device_model(kind: DeviceKind, depth_mm: f64) -> Device {
    let json = match kind {
        DeviceKind::Pen => serde_json::json!({ "kind": "pen", "depth_mm": depth_mm }),
        DeviceKind::Roller => serde_json::json!({ "kind": "roller", "needle_length_mm": depth_mm }),
    };
    serde_json::from_value(json).expect("a device with only its depth set parses")
}

/// Sites of a concern, looked up (the profile is validated, so they exist).
pub fn concern_sites<'a>(concern: &Concern, sites: &'a SiteTable) -> Vec<&'a Site> {
    concern.sites.iter().filter_map(|s| sites.get(s)).collect()
}

//! Protocol data (`data/protocols.toml`): depth by indication, sessions, limits, downtime,
//! PIH risk, care advice. Every entry carries its source and grade.

use serde::{Deserialize, Serialize};

use dermasim::params::{Grade, Sourced};

use crate::profile::{ConcernKind, DeviceKind, ScarType, Setting};

pub const PROTOCOLS_TOML: &str = include_str!("../../../data/protocols.toml");

/// A sentence with where it comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcedText {
    pub text: String,
    pub source: String,
    pub grade: Grade,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub home_max_depth_mm: Sourced,
    pub depth_step_mm: Sourced,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceChoice {
    pub device: DeviceKind,
    pub reason: String,
    pub source: String,
    pub grade: Grade,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Devices {
    pub professional: DeviceChoice,
    pub home: DeviceChoice,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Indication {
    pub concern: ConcernKind,
    pub depth_mm: Sourced,
    pub sessions: Sourced,
    pub interval_days: Sourced,
    pub topical: SourcedText,
    pub expectation: SourcedText,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScarTypeNote {
    #[serde(rename = "type")]
    pub scar_type: ScarType,
    pub reason: String,
    #[serde(default)]
    pub advice: Option<String>,
    pub source: String,
    pub grade: Grade,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DowntimeBin {
    /// Needle depths up to and including this value.
    pub up_to_depth_mm: f64,
    /// Days of redness and swelling, `[low, high]`.
    pub days: [f64; 2],
    pub source: String,
    pub grade: Grade,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PihBand {
    /// Fitzpatrick types `[from, to]`, inclusive.
    pub fitzpatrick: [u8; 2],
    pub level: String,
    pub text: String,
    pub source: String,
    pub grade: Grade,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisibleChange {
    pub threshold_rel: Sourced,
    pub studies: SourcedText,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForecastSettings {
    pub fidelity: dermasim::Fidelity,
    pub ensemble_members: Sourced,
    pub follow_up_after_last_session_days: Sourced,
    pub timeline_every_days: Sourced,
}

/// One piece of after-care advice; `min_fitzpatrick` and `setting` narrow who gets it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Care {
    pub topic: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_fitzpatrick: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setting: Option<Setting>,
    pub text: String,
    pub source: String,
    pub grade: Grade,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Protocols {
    pub schema_version: u32,
    pub limits: Limits,
    pub devices: Devices,
    pub indication: Vec<Indication>,
    pub scar_type: Vec<ScarTypeNote>,
    pub downtime: Vec<DowntimeBin>,
    pub pih: Vec<PihBand>,
    pub visible_change: VisibleChange,
    pub forecast: ForecastSettings,
    pub care: Vec<Care>,
}

impl Protocols {
    pub fn embedded() -> Protocols {
        Self::from_toml(PROTOCOLS_TOML).expect("embedded data/protocols.toml is valid")
    }

    pub fn from_toml(text: &str) -> Result<Protocols, String> {
        let p: Protocols = toml::from_str(text).map_err(|e| e.to_string())?;
        p.check()?;
        Ok(p)
    }

    /// Every concern covered once, every number inside its range and sourced, downtime bins
    /// increasing, PIH bands covering types I-VI once each.
    pub fn check(&self) -> Result<(), String> {
        let mut numbers: Vec<(String, &Sourced)> = vec![
            ("limits.home_max_depth_mm".into(), &self.limits.home_max_depth_mm),
            ("limits.depth_step_mm".into(), &self.limits.depth_step_mm),
            ("visible_change.threshold_rel".into(), &self.visible_change.threshold_rel),
            ("forecast.ensemble_members".into(), &self.forecast.ensemble_members),
            (
                "forecast.follow_up_after_last_session_days".into(),
                &self.forecast.follow_up_after_last_session_days,
            ),
            ("forecast.timeline_every_days".into(), &self.forecast.timeline_every_days),
        ];
        for c in ConcernKind::ALL {
            let n = self.indication.iter().filter(|i| i.concern == c).count();
            if n != 1 {
                return Err(format!(
                    "concern {} has {n} indications; exactly one is needed",
                    c.as_str()
                ));
            }
        }
        for i in &self.indication {
            let k = i.concern.as_str();
            numbers.push((format!("{k}.depth_mm"), &i.depth_mm));
            numbers.push((format!("{k}.sessions"), &i.sessions));
            numbers.push((format!("{k}.interval_days"), &i.interval_days));
            if i.sessions.value < 1.0
                || i.sessions.value.fract() != 0.0
                || i.interval_days.value < 1.0
            {
                return Err(format!(
                    "{k}: sessions must be a whole number >= 1 and interval_days >= 1"
                ));
            }
        }
        for (name, s) in numbers {
            if !(s.value.is_finite() && s.range[0] <= s.range[1] && s.contains(s.value)) {
                return Err(format!("{name} = {} lies outside its range {:?}", s.value, s.range));
            }
            if s.source.trim().is_empty() {
                return Err(format!("{name} has no source"));
            }
        }
        let mut last = 0.0;
        for b in &self.downtime {
            if b.up_to_depth_mm <= last || b.days[0] > b.days[1] || b.source.trim().is_empty() {
                return Err(format!("downtime bin up to {} mm: bins must increase, days be [low, high], sources present", b.up_to_depth_mm));
            }
            last = b.up_to_depth_mm;
        }
        if last < dermasim::device::MAX_NEEDLE_MM {
            return Err(format!(
                "downtime bins stop at {last} mm; they must reach {} mm",
                dermasim::device::MAX_NEEDLE_MM
            ));
        }
        for t in 1..=6u8 {
            let n = self
                .pih
                .iter()
                .filter(|b| (b.fitzpatrick[0]..=b.fitzpatrick[1]).contains(&t))
                .count();
            if n != 1 {
                return Err(format!(
                    "Fitzpatrick type {t} is in {n} PIH bands; exactly one is needed"
                ));
            }
        }
        Ok(())
    }

    pub fn indication(&self, c: ConcernKind) -> &Indication {
        self.indication
            .iter()
            .find(|i| i.concern == c)
            .expect("check() ensures one indication per concern")
    }

    /// Redness and swelling days for a needle depth.
    pub fn downtime(&self, depth_mm: f64) -> &DowntimeBin {
        self.downtime
            .iter()
            .find(|b| depth_mm <= b.up_to_depth_mm + 1e-9)
            .unwrap_or_else(|| self.downtime.last().expect("bins"))
    }

    pub fn pih(&self, fitzpatrick: u8) -> &PihBand {
        self.pih
            .iter()
            .find(|b| (b.fitzpatrick[0]..=b.fitzpatrick[1]).contains(&fitzpatrick))
            .expect("check() covers types 1 to 6")
    }

    pub fn device_for(&self, setting: Setting) -> &DeviceChoice {
        match setting {
            Setting::Home => &self.devices.home,
            Setting::Professional => &self.devices.professional,
        }
    }

    pub fn scar_note(&self, t: ScarType) -> Option<&ScarTypeNote> {
        self.scar_type.iter().find(|n| n.scar_type == t)
    }
}

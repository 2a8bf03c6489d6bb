//! The patient profile: who is treated, where, for what, and what could make it unsafe.

use serde::{Deserialize, Serialize};

use dermasim::tissue::{Sex, SiteTable};
use dermasim::FieldError;

use crate::date::Date;
use crate::rules::Vocabulary;

/// The shortest needle any device takes (the core refuses shorter ones).
const MIN_DEPTH_MM: f64 = 0.1;

/// A patient as the practitioner records them (TOML or JSON). Dates are `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// A label for the record (no names needed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Date the screening refers to; today (UTC) when absent and no `--date` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assessment_date: Option<Date>,
    /// Age in years, 18 to 100.
    pub age_years: f64,
    #[serde(default)]
    pub sex: Sex,
    /// Fitzpatrick skin type, 1 to 6.
    pub fitzpatrick: u8,
    /// The practitioner's reading of the skin at the sites: thin or thick (sets the practice depth limit).
    #[serde(default)]
    pub skin: SkinThickness,
    /// Where the treatment happens.
    pub setting: Setting,
    /// Device wanted; by setting when absent (home: roller, professional: pen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceKind>,
    #[serde(default)]
    pub pregnant: bool,
    #[serde(default)]
    pub breastfeeding: bool,
    /// What the patient wants treated, and where.
    pub concerns: Vec<Concern>,
    /// Medical history and current conditions.
    #[serde(default)]
    pub conditions: Vec<ConditionEntry>,
    #[serde(default)]
    pub medications: Vec<Medication>,
    /// Recent procedures, with their dates.
    #[serde(default)]
    pub procedures: Vec<Procedure>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SkinThickness {
    /// The conservative default.
    #[default]
    Thin,
    Thick,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Setting {
    Home,
    Professional,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    Roller,
    Pen,
}

impl DeviceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Roller => "roller",
            DeviceKind::Pen => "pen",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Concern {
    pub kind: ConcernKind,
    /// Required for acne scars: rolling, boxcar, ice_pick or mixed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scar_type: Option<ScarType>,
    /// Site ids from `dermasim sites`.
    pub sites: Vec<String>,
    /// Depth the patient or practitioner asks for; the planner keeps it inside every limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_depth_mm: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum ConcernKind {
    AcneScars,
    FineLines,
    Wrinkles,
    Laxity,
    EnlargedPores,
    StretchMarks,
    Hyperpigmentation,
    Melasma,
    Texture,
    ProductAbsorption,
}

impl ConcernKind {
    pub const ALL: [ConcernKind; 10] = [
        ConcernKind::AcneScars,
        ConcernKind::FineLines,
        ConcernKind::Wrinkles,
        ConcernKind::Laxity,
        ConcernKind::EnlargedPores,
        ConcernKind::StretchMarks,
        ConcernKind::Hyperpigmentation,
        ConcernKind::Melasma,
        ConcernKind::Texture,
        ConcernKind::ProductAbsorption,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConcernKind::AcneScars => "acne_scars",
            ConcernKind::FineLines => "fine_lines",
            ConcernKind::Wrinkles => "wrinkles",
            ConcernKind::Laxity => "laxity",
            ConcernKind::EnlargedPores => "enlarged_pores",
            ConcernKind::StretchMarks => "stretch_marks",
            ConcernKind::Hyperpigmentation => "hyperpigmentation",
            ConcernKind::Melasma => "melasma",
            ConcernKind::Texture => "texture",
            ConcernKind::ProductAbsorption => "product_absorption",
        }
    }

    /// Plain words for people.
    pub fn label(self) -> String {
        self.as_str().replace('_', " ")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScarType {
    Rolling,
    Boxcar,
    IcePick,
    Mixed,
}

impl ScarType {
    pub fn as_str(self) -> &'static str {
        match self {
            ScarType::Rolling => "rolling",
            ScarType::Boxcar => "boxcar",
            ScarType::IcePick => "ice_pick",
            ScarType::Mixed => "mixed",
        }
    }
}

/// A condition from the vocabulary in `data/contraindications.toml`, with its state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionEntry {
    pub name: String,
    pub status: Status,
    /// Where it is (site ids); unknown when empty, which screening treats as inside the treatment area.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sites: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `active`: present now and not controlled (an outbreak, a flare, uncontrolled disease);
/// `controlled`: present but managed; `past`: history only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    Controlled,
    Past,
}

impl Status {
    pub const ALL: [Status; 3] = [Status::Active, Status::Controlled, Status::Past];
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Medication {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<Date>,
    /// Last day taken; still taking when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Procedure {
    pub name: String,
    pub date: Date,
    /// Where it was done (site ids); unknown when empty, treated as inside the treatment area.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sites: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Profile {
    /// Every site any concern asks to treat.
    pub fn treatment_sites(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for c in &self.concerns {
            for s in &c.sites {
                if !out.contains(&s.as_str()) {
                    out.push(s);
                }
            }
        }
        out
    }

    /// The date screening refers to: `override_date`, else the profile's, else today (UTC).
    pub fn assessment(&self, override_date: Option<Date>) -> Date {
        override_date.or(self.assessment_date).unwrap_or_else(Date::today_utc)
    }

    /// Everything beyond syntax a profile can get wrong; the error names the field.
    pub fn validate(
        &self,
        vocabulary: &Vocabulary,
        sites: &SiteTable,
        assessment: Date,
    ) -> Result<(), FieldError> {
        if !self.age_years.is_finite() || !(18.0..=100.0).contains(&self.age_years) {
            return Err(FieldError::new(
                "age_years",
                format!(
                    "{} is outside the allowed range 18 to 100 years (dermasim plans for adults)",
                    self.age_years
                ),
            ));
        }
        if !(1..=6).contains(&self.fitzpatrick) {
            return Err(FieldError::new(
                "fitzpatrick",
                format!("{} is not a Fitzpatrick type; use 1 to 6", self.fitzpatrick),
            ));
        }
        if self.pregnant && self.sex == Sex::Male {
            return Err(FieldError::new(
                "pregnant",
                "is true but sex is male; correct one of them",
            ));
        }
        if self.concerns.is_empty() {
            return Err(FieldError::new(
                "concerns",
                "at least one concern is needed (kind and sites)",
            ));
        }
        for (i, c) in self.concerns.iter().enumerate() {
            let path = format!("concerns.{i}");
            if c.sites.is_empty() {
                return Err(FieldError::new(
                    format!("{path}.sites"),
                    "at least one site is needed; `dermasim sites` lists them",
                ));
            }
            for (j, s) in c.sites.iter().enumerate() {
                sites.require(s, &format!("{path}.sites.{j}"))?;
            }
            match (c.kind, c.scar_type) {
                (ConcernKind::AcneScars, None) => {
                    return Err(FieldError::new(
                        format!("{path}.scar_type"),
                        "missing; acne scars need a type: rolling, boxcar, ice_pick or mixed",
                    ));
                }
                (k, Some(_)) if k != ConcernKind::AcneScars => {
                    return Err(FieldError::new(
                        format!("{path}.scar_type"),
                        format!("only acne_scars take a scar type, not {}", k.as_str()),
                    ));
                }
                _ => {}
            }
            if let Some(d) = c.requested_depth_mm {
                if !d.is_finite() || !(MIN_DEPTH_MM..=dermasim::device::MAX_NEEDLE_MM).contains(&d)
                {
                    return Err(FieldError::new(
                        format!("{path}.requested_depth_mm"),
                        format!(
                            "{d} is outside the allowed range {MIN_DEPTH_MM} to {} mm",
                            dermasim::device::MAX_NEEDLE_MM
                        ),
                    ));
                }
            }
        }
        for (i, c) in self.conditions.iter().enumerate() {
            vocabulary.require(
                "condition",
                &vocabulary.conditions,
                &c.name,
                &format!("conditions.{i}.name"),
            )?;
            for (j, s) in c.sites.iter().enumerate() {
                sites.require(s, &format!("conditions.{i}.sites.{j}"))?;
            }
        }
        for (i, m) in self.medications.iter().enumerate() {
            vocabulary.require(
                "medication",
                &vocabulary.medications,
                &m.name,
                &format!("medications.{i}.name"),
            )?;
            if let (Some(start), Some(stop)) = (m.start, m.stop) {
                if stop < start {
                    return Err(FieldError::new(
                        format!("medications.{i}.stop"),
                        format!("{stop} is before the start date {start} (medications.{i}.start)"),
                    ));
                }
            }
        }
        for (i, p) in self.procedures.iter().enumerate() {
            vocabulary.require(
                "procedure",
                &vocabulary.procedures,
                &p.name,
                &format!("procedures.{i}.name"),
            )?;
            if p.date > assessment {
                return Err(FieldError::new(
                    format!("procedures.{i}.date"),
                    format!("{} is after the assessment date {assessment}; list only procedures already done", p.date),
                ));
            }
            for (j, s) in p.sites.iter().enumerate() {
                sites.require(s, &format!("procedures.{i}.sites.{j}"))?;
            }
        }
        Ok(())
    }
}

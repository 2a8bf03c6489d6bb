//! Parameter sets: every number the model uses, with its source, evidence grade and range.
//!
//! The default set is embedded from `data/parameters.toml` at compile time so the library
//! needs no file access; a calibrated set (`data/calibrated.toml`) overrides values by name.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ParamError;

/// Evidence grade of a value (see `docs/evidence.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Grade {
    /// Peer-reviewed paper.
    P,
    /// Low grade: vendor, clinic page, textbook summary.
    L,
    /// Estimate or arithmetic from graded numbers (working in the note).
    E,
    /// Labelled assumption with no source; always carries a range.
    A,
    /// Fitted by `dermasim calibrate` to the published targets.
    C,
}

/// A number with where it comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sourced {
    /// The value, in `unit`.
    pub value: f64,
    /// Plausible range `[low, high]`, used by the ensemble and the calibration.
    pub range: [f64; 2],
    /// Unit of `value` and `range`, when it has one (e.g. `um`, `1/day`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Where the value comes from: a citation, or the reason for an assumption. Never empty.
    pub source: String,
    /// Evidence grade of `value`.
    pub grade: Grade,
    /// Working, caveats or the reasoning behind the range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Sourced {
    /// Whether `v` lies inside `range`, ends included.
    pub fn contains(&self, v: f64) -> bool {
        v >= self.range[0] && v <= self.range[1]
    }
}

/// Where a fitted parameter set came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Calibration {
    /// Date of the fit, `YYYY-MM-DD`.
    pub date: String,
    /// Version of dermasim that ran the fit.
    pub program_version: String,
    /// Optimiser and its settings, in words.
    pub method: String,
    /// Random seed of the fit.
    pub seed: u64,
    /// The targets fitted, each as `id (source)`.
    pub targets: Vec<String>,
    /// Misfit of each target at the fit, by target id: (model - target) over half the width
    /// of the target's band (0.1 when it has none), so +-1 is the edge of the band.
    #[serde(default)]
    pub residuals: BTreeMap<String, f64>,
    /// Sum of the squared `residuals` (without the optimiser's prior penalty).
    #[serde(default)]
    pub objective: f64,
}

/// A named set of sourced parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ParameterSet {
    /// Name of the set, e.g. `literature-2026.11` or `calibrated-2026.11`.
    pub name: String,
    /// The fit behind the set; `None` for literature values alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
    /// Every parameter, by name.
    pub param: BTreeMap<String, Sourced>,
}

/// The file behind the default set.
pub const DEFAULT_PARAMETERS_TOML: &str = include_str!("../../../data/parameters.toml");
/// Values fitted by `dermasim calibrate`, applied on top of the default set.
pub const CALIBRATED_TOML: &str = include_str!("../../../data/calibrated.toml");

/// A fitted overlay: new values for some parameters, with the provenance of the fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CalibratedOverlay {
    /// Name the set takes once the overlay is applied.
    pub name: String,
    /// How the values were fitted.
    pub calibration: Calibration,
    /// Fitted values, by parameter name.
    pub values: BTreeMap<String, f64>,
}

impl ParameterSet {
    /// Parse a set from TOML in the format of `data/parameters.toml`, then
    /// [`check`](Self::check) it.
    pub fn from_toml(text: &str) -> Result<Self, ParamError> {
        let set: ParameterSet =
            toml::from_str(text).map_err(|e| ParamError::Parse(e.to_string()))?;
        set.check()?;
        Ok(set)
    }

    /// The literature defaults alone, before any calibration.
    pub fn literature() -> Self {
        // Parsed once per process; every call hands out a copy.
        static LITERATURE: std::sync::LazyLock<ParameterSet> = std::sync::LazyLock::new(|| {
            ParameterSet::from_toml(DEFAULT_PARAMETERS_TOML)
                .expect("embedded data/parameters.toml is valid")
        });
        LITERATURE.clone()
    }

    /// The default set: literature values with the calibrated overlay applied.
    pub fn default_set() -> Self {
        static DEFAULT: std::sync::LazyLock<ParameterSet> = std::sync::LazyLock::new(|| {
            let mut set = ParameterSet::literature();
            let overlay: CalibratedOverlay =
                toml::from_str(CALIBRATED_TOML).expect("embedded data/calibrated.toml is valid");
            if !overlay.values.is_empty() {
                set.apply_overlay(&overlay).expect("calibrated values lie inside their ranges");
            }
            set
        });
        DEFAULT.clone()
    }

    /// Apply fitted values: each must name a parameter of the set and lie inside its range.
    /// Fitted parameters take grade [`Grade::C`] and a source naming the fit; the set takes the
    /// overlay's name and calibration. On an error, the values before the offending one stay
    /// applied.
    pub fn apply_overlay(&mut self, overlay: &CalibratedOverlay) -> Result<(), ParamError> {
        for (name, &v) in &overlay.values {
            let p = self.param.get_mut(name).ok_or_else(|| ParamError::Unknown(name.clone()))?;
            if !p.contains(v) {
                return Err(ParamError::OutOfRange {
                    name: name.clone(),
                    value: v,
                    range: p.range,
                });
            }
            p.value = v;
            p.grade = Grade::C;
            p.source = format!(
                "fitted by dermasim calibrate ({}); prior: {}",
                overlay.calibration.date, p.source
            );
        }
        self.name = overlay.name.clone();
        self.calibration = Some(overlay.calibration.clone());
        Ok(())
    }

    /// Each value inside its own range, ranges ordered, every source non-empty.
    pub fn check(&self) -> Result<(), ParamError> {
        for (name, p) in &self.param {
            if !(p.value.is_finite() && p.range[0] <= p.range[1] && p.contains(p.value)) {
                return Err(ParamError::OutOfRange {
                    name: name.clone(),
                    value: p.value,
                    range: p.range,
                });
            }
            if p.source.trim().is_empty() {
                return Err(ParamError::NoSource(name.clone()));
            }
        }
        Ok(())
    }

    /// The value of the parameter `name`.
    pub fn get(&self, name: &str) -> Result<f64, ParamError> {
        self.param.get(name).map(|p| p.value).ok_or_else(|| ParamError::Unknown(name.to_string()))
    }

    /// Override one value (scenario `parameters` table, `--set`, ensemble draws). Only refuses a
    /// value that is not finite, or negative for a parameter whose range starts at 0 or above;
    /// the range itself is not checked here.
    pub fn set(&mut self, name: &str, value: f64) -> Result<(), ParamError> {
        let p = self.param.get_mut(name).ok_or_else(|| ParamError::Unknown(name.to_string()))?;
        if !value.is_finite() || value < 0.0 && p.range[0] >= 0.0 {
            return Err(ParamError::OutOfRange { name: name.to_string(), value, range: p.range });
        }
        p.value = value;
        Ok(())
    }

    /// One line that says which set a run rests on.
    pub fn provenance(&self) -> String {
        match &self.calibration {
            Some(c) => format!(
                "{} (calibrated {} by {} against {} targets, program {})",
                self.name,
                c.date,
                c.method,
                c.targets.len(),
                c.program_version
            ),
            None => {
                format!("{} (literature values and labelled assumptions, uncalibrated)", self.name)
            }
        }
    }
}

/// Declares a typed view of a parameter set: one `f64` field per named parameter.
macro_rules! typed_params {
    ($(#[$m:meta])* $name:ident { $($field:ident),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
        pub struct $name {
            $(
                /// The parameter of this name in the set; its meaning, unit, range and source
                /// are in `data/parameters.toml` (and `parameters.json` of a run folder).
                pub $field: f64
            ),*
        }

        impl $name {
            /// Names of the fields, in declaration order, as they appear in the parameter set.
            pub const NAMES: &'static [&'static str] = &[$(stringify!($field)),*];

            /// Read every field from `set` by its name.
            pub fn from_set(set: &$crate::params::ParameterSet) -> Result<Self, $crate::error::ParamError> {
                Ok(Self { $($field: set.get(stringify!($field))?),* })
            }
        }
    };
}
pub(crate) use typed_params;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_set_is_complete_and_sourced() {
        let set = ParameterSet::default_set();
        set.check().unwrap();
        for (name, p) in &set.param {
            assert!(!p.source.is_empty(), "{name} has no source");
            if p.grade == Grade::A {
                assert!(p.range[0] < p.range[1], "assumption {name} needs a real range");
            }
        }
    }
}

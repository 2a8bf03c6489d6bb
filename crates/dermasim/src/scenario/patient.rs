//! Who is treated, and where.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::limits;
use crate::tissue::Sex;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
/// The patient and the treated site.
pub struct Patient {
    /// Anatomical site id from `dermasim sites`.
    pub site: String,
    /// Age in years, 18 to 100.
    #[schemars(range(min = limits::AGE_YEARS.lo, max = limits::AGE_YEARS.hi))]
    pub age_years: f64,
    /// Sex, for the thickness and ageing factors.
    #[serde(default)]
    pub sex: Sex,
    /// Fitzpatrick skin type, 1 to 6.
    #[serde(default = "default_fitzpatrick")]
    #[schemars(range(min = limits::FITZPATRICK.lo, max = limits::FITZPATRICK.hi))]
    pub fitzpatrick: u8,
}

fn default_fitzpatrick() -> u8 {
    3
}

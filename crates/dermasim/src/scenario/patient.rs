//! Who is treated, and where.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::limits::{self, field};
use crate::params::ParameterSet;
use crate::tissue::{Column, Sex, SiteTable};

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

impl Patient {
    /// The patient's checks (`path` is where the patient sits in the scenario); returns the
    /// skin column the patient has under `set`, which later checks measure devices against.
    pub fn validate(
        &self,
        path: &str,
        sites: &SiteTable,
        set: &ParameterSet,
    ) -> Result<Column, FieldError> {
        let site = sites.require(&self.site, &field(path, "site"))?;
        limits::AGE_YEARS.check(&field(path, "age_years"), self.age_years)?;
        let fitzpatrick = f64::from(self.fitzpatrick);
        if !(limits::FITZPATRICK.lo..=limits::FITZPATRICK.hi).contains(&fitzpatrick) {
            return Err(FieldError::new(
                field(path, "fitzpatrick"),
                format!("{} is not a Fitzpatrick type; use 1 to 6", self.fitzpatrick),
            ));
        }
        Column::build(site, self.age_years, self.sex, set)
            .map_err(|e| FieldError::new(path, e.to_string()))
    }
}

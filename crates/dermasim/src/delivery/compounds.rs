//! The compound library (`data/compounds.toml`) and the transport constants that go with it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::params::Sourced;

/// The embedded compound table.
pub const COMPOUNDS_TOML: &str = include_str!("../../../../data/compounds.toml");

/// What a compound is; decides nothing in the model, shown to users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A small organic molecule (e.g. niacinamide, ascorbic acid, retinol).
    SmallMolecule,
    /// A short chain of amino acids.
    Peptide,
    /// A protein (e.g. EGF).
    Protein,
    /// A polysaccharide (e.g. hyaluronic acid).
    Polysaccharide,
}

/// One active ingredient. Diffusivities in cm2/s at 37 C, clearance in 1/h.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Compound {
    /// Identifier used in scenarios (`topical.compound`), e.g. `niacinamide`.
    pub id: String,
    /// Name for people to read.
    pub name: String,
    /// What the compound is.
    pub kind: Kind,
    /// Amino-acid residues (peptides and proteins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residues: Option<u32>,
    /// Molecular weight, Da.
    pub molecular_weight_da: Sourced,
    /// Octanol-water partition coefficient, log10.
    pub log_kow: Sourced,
    /// Free diffusivity in water; shown with the compound, not used by the transport model.
    pub diffusivity_water_cm2_per_s: Sourced,
    /// Diffusivity in the dermis; the viable epidermis takes it times
    /// [`TransportConstants::epidermis_to_dermis_diffusivity_ratio`].
    pub diffusivity_dermis_cm2_per_s: Sourced,
    /// First-order removal from the dermis (blood, lymph, local degradation).
    pub dermal_clearance_per_h: Sourced,
}

/// Constants of the transport model that do not belong to one compound.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransportConstants {
    /// Potts & Guy intercept: `log10 kp` (kp in cm/h) at log Kow = 0 and MW = 0.
    pub potts_guy_intercept: Sourced,
    /// Potts & Guy coefficient of log Kow in `log10 kp`.
    pub potts_guy_log_kow_slope: Sourced,
    /// Potts & Guy coefficient of the molecular weight (Da) in `log10 kp`.
    pub potts_guy_mw_slope: Sourced,
    /// Channel closure time constant, skin open to the air (h).
    pub closure_time_constant_open_h: Sourced,
    /// Channel closure time constant under an occlusive dressing (h).
    pub closure_time_constant_occluded_h: Sourced,
    /// tau ~ (depth / reference depth)^exponent.
    pub closure_depth_exponent: Sourced,
    /// Channel depth at which the closure time constants apply, um.
    pub closure_reference_depth_um: Sourced,
    /// Diffusivity in the viable epidermis over that in the dermis.
    pub epidermis_to_dermis_diffusivity_ratio: Sourced,
    /// Share of the ideal channel exchange that real punctures achieve (fitted).
    pub channel_patency: Sourced,
}

/// The compound library: `data/compounds.toml` parsed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompoundTable {
    /// Version of the file's layout.
    pub schema_version: u32,
    /// The model constants (`[model]`).
    pub model: TransportConstants,
    /// The compounds (`[[compound]]`), in file order.
    pub compound: Vec<Compound>,
}

impl CompoundTable {
    /// The table embedded at compile time (parsed on every call).
    pub fn embedded() -> Self {
        // Parsed once per process; every call hands out a copy.
        static TABLE: std::sync::LazyLock<CompoundTable> = std::sync::LazyLock::new(|| {
            toml::from_str(COMPOUNDS_TOML).expect("embedded data/compounds.toml is valid")
        });
        TABLE.clone()
    }

    /// The compound with this id.
    pub fn get(&self, id: &str) -> Option<&Compound> {
        self.compound.iter().find(|c| c.id == id)
    }

    /// Every compound id, in file order.
    pub fn ids(&self) -> Vec<&str> {
        self.compound.iter().map(|c| c.id.as_str()).collect()
    }

    /// Look a compound up, or say which ids exist.
    pub fn require(&self, id: &str, path: &str) -> Result<&Compound, FieldError> {
        self.get(id).ok_or_else(|| {
            FieldError::new(
                path,
                format!("unknown compound `{id}`; known compounds: {}", self.ids().join(", ")),
            )
        })
    }

    /// Every value with a source, inside its own range, ranges ordered.
    pub fn check(&self) -> Result<(), String> {
        let m = &self.model;
        let mut all: Vec<(String, &Sourced)> = vec![
            ("model.potts_guy_intercept".into(), &m.potts_guy_intercept),
            ("model.potts_guy_log_kow_slope".into(), &m.potts_guy_log_kow_slope),
            ("model.potts_guy_mw_slope".into(), &m.potts_guy_mw_slope),
            ("model.closure_time_constant_open_h".into(), &m.closure_time_constant_open_h),
            ("model.closure_time_constant_occluded_h".into(), &m.closure_time_constant_occluded_h),
            ("model.closure_depth_exponent".into(), &m.closure_depth_exponent),
            ("model.closure_reference_depth_um".into(), &m.closure_reference_depth_um),
            (
                "model.epidermis_to_dermis_diffusivity_ratio".into(),
                &m.epidermis_to_dermis_diffusivity_ratio,
            ),
            ("model.channel_patency".into(), &m.channel_patency),
        ];
        for c in &self.compound {
            for (field, v) in [
                ("molecular_weight_da", &c.molecular_weight_da),
                ("log_kow", &c.log_kow),
                ("diffusivity_water_cm2_per_s", &c.diffusivity_water_cm2_per_s),
                ("diffusivity_dermis_cm2_per_s", &c.diffusivity_dermis_cm2_per_s),
                ("dermal_clearance_per_h", &c.dermal_clearance_per_h),
            ] {
                all.push((format!("{}.{field}", c.id), v));
            }
        }
        for (name, v) in all {
            if !(v.value.is_finite() && v.range[0] <= v.range[1] && v.contains(v.value)) {
                return Err(format!("{name}: {} is outside its range {:?}", v.value, v.range));
            }
            if v.source.trim().is_empty() {
                return Err(format!("{name} has no source"));
            }
        }
        Ok(())
    }
}

impl TransportConstants {
    /// Potts & Guy (1992) permeability of intact stratum corneum from an aqueous vehicle, cm/h.
    pub fn potts_guy_kp_cm_per_h(&self, c: &Compound) -> f64 {
        let log_kp = self.potts_guy_intercept.value
            + self.potts_guy_log_kow_slope.value * c.log_kow.value
            + self.potts_guy_mw_slope.value * c.molecular_weight_da.value;
        10f64.powf(log_kp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Grade;

    #[test]
    fn table_is_complete_sourced_and_covers_the_issue() {
        let t = CompoundTable::embedded();
        t.check().unwrap();
        for id in [
            "ascorbic_acid",
            "niacinamide",
            "tranexamic_acid",
            "hyaluronic_acid_5kda",
            "hyaluronic_acid_50kda",
            "hyaluronic_acid_1mda",
            "palmitoyl_pentapeptide_4",
            "egf",
            "retinol",
        ] {
            assert!(t.get(id).is_some(), "{id} missing");
        }
        assert!(t
            .compound
            .iter()
            .any(|c| c.kind == Kind::Peptide && c.residues.is_some_and(|n| (3..=5).contains(&n))));
        for c in &t.compound {
            for v in [
                &c.log_kow,
                &c.diffusivity_water_cm2_per_s,
                &c.diffusivity_dermis_cm2_per_s,
                &c.dermal_clearance_per_h,
            ] {
                if v.grade == Grade::A {
                    assert!(v.range[0] < v.range[1], "{}: an assumption needs a real range", c.id);
                }
            }
            // Tissue slows diffusion; it never speeds it up.
            assert!(
                c.diffusivity_dermis_cm2_per_s.value <= c.diffusivity_water_cm2_per_s.value,
                "{}",
                c.id
            );
        }
    }

    #[test]
    fn potts_guy_matches_the_published_equation() {
        let t = CompoundTable::embedded();
        // log kp = -2.72 + 0.71 log Kow - 0.0061 MW, worked by hand for niacinamide:
        // -2.72 + 0.71 x -0.37 - 0.0061 x 122.12 = -3.7276 -> 1.873e-4 cm/h.
        let kp = t.model.potts_guy_kp_cm_per_h(t.get("niacinamide").unwrap());
        assert!((kp / 1.873e-4 - 1.0).abs() < 1e-3, "{kp}");
        // Larger molecules pass less; 1 MDa hyaluronan not at all.
        let kp_ha = |id| t.model.potts_guy_kp_cm_per_h(t.get(id).unwrap());
        assert!(kp_ha("hyaluronic_acid_5kda") > kp_ha("hyaluronic_acid_50kda"));
        assert_eq!(kp_ha("hyaluronic_acid_1mda"), 0.0);
    }

    #[test]
    fn unknown_compound_names_the_field_and_the_choices() {
        let e = CompoundTable::embedded().require("snake_oil", "topical.compound").unwrap_err();
        assert_eq!(e.path, "topical.compound");
        assert!(e.message.contains("niacinamide"), "{}", e.message);
    }
}

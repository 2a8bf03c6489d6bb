//! The layered skin column of a patient at one anatomical site.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, FieldError, ParamError};
use crate::kinetics::Baseline;
use crate::params::{typed_params, ParameterSet, Sourced};

/// The embedded site table (`data/sites.toml`).
pub const SITES_TOML: &str = include_str!("../../../data/sites.toml");

/// An anatomical site: layer thicknesses of a reference adult and the needle depths practice
/// uses there, each with its source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Site {
    /// Identifier used in scenarios (`patient.site`).
    pub id: String,
    /// Name shown to users.
    pub name: String,
    /// Body region (face, body).
    pub region: String,
    /// Stratum corneum thickness, micrometres.
    pub stratum_corneum_um: Sourced,
    /// Viable epidermis thickness, micrometres.
    pub epidermis_um: Sourced,
    /// Dermis thickness, micrometres.
    pub dermis_um: Sourced,
    /// Needle depth practice uses where the skin is thin here, mm.
    pub practice_depth_thin_mm: Sourced,
    /// Needle depth practice uses where the skin is thick here, mm.
    pub practice_depth_thick_mm: Sourced,
}

/// The site table of `data/sites.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SiteTable {
    /// Version of the table's layout.
    pub schema_version: u32,
    /// The sites.
    pub site: Vec<Site>,
}

impl SiteTable {
    /// The embedded table (an owned copy of [`SiteTable::shared`]).
    pub fn embedded() -> Self {
        Self::shared().clone()
    }

    /// The embedded table, parsed once per process. Why: `data/sites.toml` is 55 KB of TOML,
    /// and parsing it for every simulation cost a large share of a 0d run.
    pub fn shared() -> &'static SiteTable {
        static TABLE: std::sync::LazyLock<SiteTable> = std::sync::LazyLock::new(|| {
            toml::from_str(SITES_TOML).expect("embedded data/sites.toml is valid")
        });
        &TABLE
    }

    /// The site with this id.
    pub fn get(&self, id: &str) -> Option<&Site> {
        self.site.iter().find(|s| s.id == id)
    }

    /// Every site id, in table order.
    pub fn ids(&self) -> Vec<&str> {
        self.site.iter().map(|s| s.id.as_str()).collect()
    }

    /// Look a site up, or say which ids exist.
    pub fn require(&self, id: &str, path: &str) -> Result<&Site, FieldError> {
        self.get(id).ok_or_else(|| {
            FieldError::new(
                path,
                format!("unknown site `{id}`; known sites: {}", self.ids().join(", ")),
            )
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
/// The patient's sex, for the thickness and ageing factors that differ by sex.
pub enum Sex {
    /// Female.
    Female,
    /// Male.
    Male,
    /// Not given: the site table's thicknesses (the sex factors are centred on them).
    #[default]
    Unspecified,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
/// A layer of the skin column, from the surface down.
pub enum Layer {
    /// Dead cornified cells, the barrier.
    StratumCorneum,
    /// Viable epidermis.
    Epidermis,
    /// Papillary dermis: loose, fine collagen, the capillary loops.
    PapillaryDermis,
    /// Reticular dermis: dense collagen down to the subcutis.
    ReticularDermis,
}

impl Layer {
    /// Every layer, from the surface down.
    pub const ALL: [Layer; 4] =
        [Layer::StratumCorneum, Layer::Epidermis, Layer::PapillaryDermis, Layer::ReticularDermis];

    /// Papillary or reticular dermis.
    pub fn is_dermis(self) -> bool {
        matches!(self, Layer::PapillaryDermis | Layer::ReticularDermis)
    }

    /// Dead cornified cells: no kinetics.
    pub fn is_viable(self) -> bool {
        self != Layer::StratumCorneum
    }

    /// The layer's name in outputs.
    pub fn name(self) -> &'static str {
        match self {
            Layer::StratumCorneum => "stratum_corneum",
            Layer::Epidermis => "epidermis",
            Layer::PapillaryDermis => "papillary_dermis",
            Layer::ReticularDermis => "reticular_dermis",
        }
    }
}

typed_params! {
    /// Layer structure and age effects.
    TissueParams {
        papillary_fraction_of_dermis,
        site_reference_age_years,
        dermis_thinning_per_decade,
        epidermis_thinning_per_decade_female,
        epidermis_thinning_per_decade_male,
        male_thickness_factor,
        male_epidermis_factor,
        collagen_loss_per_year,
        fibroblast_response_loss_per_year,
        elastin_damage_per_year,
        papillary_collagen_rel,
        papillary_collagen_iii_share,
        reticular_collagen_iii_share,
        reticular_fibroblasts_rel,
        capillary_loop_depth_below_dej_um,
        upper_plexus_below_papillary_um,
    }
}

/// A patient's skin at one site: layer thicknesses after age and sex effects, and the resting
/// state of each layer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Column {
    /// Site id.
    pub site: String,
    /// Patient age, years.
    pub age_years: f64,
    /// Thickness of each layer in `Layer::ALL` order, micrometres.
    pub thickness_um: [f64; 4],
    /// Resting state of each layer.
    #[serde(skip)]
    pub baseline: [Baseline; 4],
    /// Depth below the surface where pinpoint bleeding starts (papillary capillary loops).
    pub pinpoint_bleeding_depth_um: f64,
    /// Depth of the upper vascular plexus: confluent bleeding.
    pub plexus_depth_um: f64,
}

impl Column {
    /// The column of a patient of this age and sex at `site`: layer thicknesses after the age
    /// and sex effects, resting states and bleeding depths, from the parameter set.
    pub fn build(
        site: &Site,
        age_years: f64,
        sex: Sex,
        set: &ParameterSet,
    ) -> Result<Column, Error> {
        let p = TissueParams::from_set(set)?;
        let decades = (age_years - p.site_reference_age_years) / 10.0;
        // Men's over women's thickness, centred so that `Unspecified` is the table value; the
        // dermis and the epidermis have their own factors (Meng 2022).
        let sex_factor_of = |f: f64| {
            let mid = 1.0 + (f - 1.0) / 2.0;
            match sex {
                Sex::Male => f / mid,
                Sex::Female => 1.0 / mid,
                Sex::Unspecified => 1.0,
            }
        };
        let sex_factor = sex_factor_of(p.male_thickness_factor);
        let epi_sex_factor = sex_factor_of(p.male_epidermis_factor);
        let epi_rate = match sex {
            Sex::Male => p.epidermis_thinning_per_decade_male,
            Sex::Female => p.epidermis_thinning_per_decade_female,
            Sex::Unspecified => {
                0.5 * (p.epidermis_thinning_per_decade_male
                    + p.epidermis_thinning_per_decade_female)
            }
        };
        let age_scale = |rate: f64| (1.0 - rate * decades).clamp(0.5, 1.5);
        let sc = site.stratum_corneum_um.value;
        let epi = site.epidermis_um.value * age_scale(epi_rate) * epi_sex_factor;
        let dermis = site.dermis_um.value * age_scale(p.dermis_thinning_per_decade) * sex_factor;
        let pap = dermis * p.papillary_fraction_of_dermis;
        let ret = dermis - pap;

        let collagen = (1.0 - p.collagen_loss_per_year * (age_years - 30.0).max(0.0)).max(0.3);
        let response =
            (1.0 - p.fibroblast_response_loss_per_year * (age_years - 25.0).max(0.0)).max(0.2);
        let damaged = (p.elastin_damage_per_year * (age_years - 20.0).max(0.0)).min(0.8);
        let dermal = |fibroblasts: f64, total: f64, share_iii: f64| Baseline {
            fibroblasts,
            collagen_i: total * (1.0 - share_iii),
            collagen_iii: total * share_iii,
            elastin: 1.0 - damaged,
            damaged_elastin: damaged,
            response,
        };
        let baseline = [
            Baseline::NONE,
            Baseline { response, ..Baseline::NONE },
            dermal(1.0, collagen * p.papillary_collagen_rel, p.papillary_collagen_iii_share),
            dermal(p.reticular_fibroblasts_rel, collagen, p.reticular_collagen_iii_share),
        ];
        Ok(Column {
            site: site.id.clone(),
            age_years,
            thickness_um: [sc, epi, pap, ret],
            baseline,
            pinpoint_bleeding_depth_um: sc + epi + p.capillary_loop_depth_below_dej_um,
            // The upper horizontal plexus at the papillary-reticular junction (Yen & Braverman).
            plexus_depth_um: (sc + epi + pap + p.upper_plexus_below_papillary_um)
                .clamp(sc + epi, sc + epi + dermis),
        })
    }

    /// Depth of the whole column, micrometres.
    pub fn total_um(&self) -> f64 {
        self.thickness_um.iter().sum()
    }

    /// Depth of the dermal-epidermal junction.
    pub fn dej_um(&self) -> f64 {
        self.thickness_um[0] + self.thickness_um[1]
    }

    /// `[top, bottom)` of a layer, micrometres below the surface.
    pub fn bounds_um(&self, layer: Layer) -> (f64, f64) {
        let i = Layer::ALL.iter().position(|&l| l == layer).unwrap();
        let top: f64 = self.thickness_um[..i].iter().sum();
        (top, top + self.thickness_um[i])
    }
}

impl From<ParamError> for FieldError {
    fn from(e: ParamError) -> Self {
        FieldError::new("parameters", e.to_string())
    }
}

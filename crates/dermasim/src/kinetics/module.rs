//! Exchangeable inflammation: the one place where the tissue model's inflammatory block
//! `[P, Pt, N, M]` can come from something other than the built-in Cooper 2015 equations
//! (an SBML model, loaded by `dermasim-app` through `dermasim-sbml`; the core reads no files).
//!
//! The rest of the voxel system (macrophage phenotype, TGF-beta, fibroblasts, matrix) is the
//! built-in [`Voxel`]: [`ModuleVoxel`] evaluates it and replaces the four inflammatory rates
//! and their Jacobian block with the module's. The module sees only `[P, Pt, N, M]` and the
//! systemic inputs, so the block-triangular structure the solver relies on still holds.
//! Without a module the simulator never touches this file (the built-in path is unchanged,
//! bit for bit).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::species::COUNT;
use super::{CooperParams, Voxel};
use crate::error::FieldError;
use crate::ode::OdeSystem;

/// Tissue quantities an inflammation module plays, in the order of its state `[P, Pt, N, M]`
/// (the first four fields of the voxel). The injury adds pathogen, debris (the wound signal)
/// and neutrophils; the remodelling reads macrophages.
pub const ROLES: [&str; 4] = ["pathogen", "wound_signal", "neutrophils", "macrophages"];

/// Tissue quantities that drive an inflammation module: the systemic mediators of the
/// parameter set (`estrogen`, `cortisol`), constant over a run.
pub const INPUTS: [&str; 2] = ["estrogen", "cortisol"];

/// Values of [`INPUTS`] for one run, in that order.
pub type Inputs = [f64; INPUTS.len()];

/// A source of inflammatory kinetics that can stand in for Cooper 2015. Shared by the
/// worker threads; each makes its own [`InflammationRates`] (an SBML model needs a scratch
/// value store per thread).
pub trait InflammationModule: Send + Sync + fmt::Debug {
    /// What it is, for notes and messages (e.g. `SBML model cooper2015 (sha256 ...)`).
    fn describe(&self) -> String;

    /// An evaluator for one worker, with the run's inputs.
    fn evaluator(&self, inputs: &Inputs) -> Box<dyn InflammationRates + '_>;
}

/// Rates of `[P, Pt, N, M]` in tissue units.
pub trait InflammationRates {
    /// `d/dt [P, Pt, N, M]`.
    fn rates(&mut self, y: &[f64; 4]) -> [f64; 4];
    /// `J[i][j] = d rate_i / d y_j`.
    fn jacobian(&mut self, y: &[f64; 4]) -> [[f64; 4]; 4];
}

/// The built-in Cooper 2015 module behind the trait (the equations the voxel uses anyway),
/// so tests can check that the dispatch itself changes nothing.
#[derive(Debug, Clone, Copy)]
pub struct Builtin(pub CooperParams);

impl InflammationModule for Builtin {
    fn describe(&self) -> String {
        "built-in Cooper et al. 2015".into()
    }

    fn evaluator(&self, inputs: &Inputs) -> Box<dyn InflammationRates + '_> {
        let mut c = self.0;
        c.estrogen = inputs[0];
        c.cortisol = inputs[1];
        Box::new(BuiltinRates(c))
    }
}

struct BuiltinRates(CooperParams);

impl InflammationRates for BuiltinRates {
    fn rates(&mut self, y: &[f64; 4]) -> [f64; 4] {
        self.0.rates(y[0], y[1], y[2], y[3])
    }
    fn jacobian(&mut self, y: &[f64; 4]) -> [[f64; 4]; 4] {
        self.0.jacobian(y[0], y[1], y[2], y[3])
    }
}

/// The voxel system with its inflammatory block taken from a module.
pub struct ModuleVoxel<'a, 'm> {
    /// The built-in system, whose inflammatory rows the module replaces.
    pub voxel: Voxel<'a>,
    /// `RefCell` because `OdeSystem` evaluates through `&self`; one per worker, never shared.
    pub rates: &'a RefCell<Box<dyn InflammationRates + 'm>>,
}

impl ModuleVoxel<'_, '_> {
    fn block(y: &[f64; COUNT]) -> [f64; 4] {
        [y[0], y[1], y[2], y[3]]
    }
}

impl OdeSystem<COUNT> for ModuleVoxel<'_, '_> {
    #[inline]
    fn rhs(&self, y: &[f64; COUNT], dy: &mut [f64; COUNT]) {
        // The built-in rates of the whole voxel, then the module's for the block it replaces
        // (the Cooper evaluation wasted here is ~1 % of an SBML one).
        self.voxel.rhs(y, dy);
        let r = self.rates.borrow_mut().rates(&Self::block(y));
        dy[..4].copy_from_slice(&r);
    }

    #[inline]
    fn jacobian(&self, y: &[f64; COUNT], _f0: &[f64; COUNT], jac: &mut [[f64; COUNT]; COUNT]) {
        self.voxel.analytic_jacobian(y, jac);
        let j = self.rates.borrow_mut().jacobian(&Self::block(y));
        for (row, jr) in jac.iter_mut().zip(j) {
            row[..4].copy_from_slice(&jr);
        }
    }

    #[inline]
    fn factor(
        &self,
        jac: &[[f64; COUNT]; COUNT],
        ghinv: f64,
        g: &mut [[f64; COUNT]; COUNT],
        piv: &mut [usize; COUNT],
    ) -> bool {
        self.voxel.factor(jac, ghinv, g, piv)
    }

    #[inline]
    fn solve(&self, g: &[[f64; COUNT]; COUNT], piv: &[usize; COUNT], b: &mut [f64; COUNT]) {
        self.voxel.solve(g, piv, b)
    }
}

/// The scenario's `[inflammation]` table: an SBML model in place of the built-in module.
///
/// ```toml
/// [inflammation]
/// sbml = "models/BIOMD0000000855.xml"   # relative to the scenario file
/// [inflammation.map]                     # dermasim quantity -> SBML id
/// pathogen = "P"
/// wound_signal = "Pt"
/// neutrophils = "N"
/// macrophages = "M"
/// estrogen = "E"
/// cortisol = "C"
/// [inflammation.scale]                   # optional: tissue value = scale * SBML value
/// neutrophils = 1.0
/// [inflammation.set]                     # optional: SBML parameter values
/// kpn = 1.8
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InflammationSource {
    /// SBML file (Level 2 or 3); a relative path is read from the scenario file's folder.
    pub sbml: String,
    /// Which SBML id each dermasim quantity is: every role (`pathogen`, `wound_signal`,
    /// `neutrophils`, `macrophages`: species) and every input (`estrogen`, `cortisol`:
    /// parameters) must be mapped.
    #[serde(default)]
    pub map: BTreeMap<String, String>,
    /// Scale factors by dermasim quantity, default 1: a role's tissue value is `scale` times
    /// the SBML concentration; an input's SBML value is `scale` times the tissue value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scale: BTreeMap<String, f64>,
    /// Values for SBML parameters (as `dermasim sbml run --set ID=VALUE`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub set: BTreeMap<String, f64>,
}

impl InflammationSource {
    /// What the core can check without the file: known quantity names, scales, and no
    /// parameter overrides that the SBML model would silently ignore.
    pub fn validate(
        &self,
        path: &str,
        parameters: &BTreeMap<String, f64>,
    ) -> Result<(), FieldError> {
        let known = |q: &str| ROLES.contains(&q) || INPUTS.contains(&q);
        let allowed = || format!("use {} or {}", ROLES.join(", "), INPUTS.join(", "));
        if self.sbml.trim().is_empty() {
            return Err(FieldError::new(format!("{path}.sbml"), "empty; name an SBML file"));
        }
        for (q, id) in &self.map {
            if !known(q) {
                return Err(FieldError::new(
                    format!("{path}.map.{q}"),
                    format!("`{q}` is not a dermasim quantity of the inflammation; {}", allowed()),
                ));
            }
            if id.trim().is_empty() {
                return Err(FieldError::new(format!("{path}.map.{q}"), "empty SBML id"));
            }
        }
        for q in ROLES.iter().chain(&INPUTS) {
            if !self.map.contains_key(*q) {
                return Err(FieldError::new(
                    format!("{path}.map.{q}"),
                    format!("missing: every role and input must name its SBML id ({})", allowed()),
                ));
            }
        }
        for (q, &s) in &self.scale {
            let field = format!("{path}.scale.{q}");
            if !known(q) {
                return Err(FieldError::new(
                    field,
                    format!("`{q}` is not a dermasim quantity; {}", allowed()),
                ));
            }
            if !(s.is_finite() && s > 0.0) {
                return Err(FieldError::new(field, format!("{s} must be positive and finite")));
            }
        }
        for (id, v) in &self.set {
            if !v.is_finite() {
                return Err(FieldError::new(format!("{path}.set.{id}"), "must be finite"));
            }
        }
        // Cooper parameters other than the inputs do not reach an SBML module.
        for name in parameters.keys() {
            if CooperParams::NAMES.contains(&name.as_str()) && !INPUTS.contains(&name.as_str()) {
                return Err(FieldError::new(
                    format!("parameters.{name}"),
                    format!(
                        "a parameter of the built-in inflammation, which {path}.sbml replaces; \
                         set the SBML model's value in {path}.set instead"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Scale of a quantity (1 when not given).
    pub fn scale_of(&self, quantity: &str) -> f64 {
        self.scale.get(quantity).copied().unwrap_or(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinetics::{Baseline, RemodelParams};
    use crate::ode::{integrate_with, Rodas3, Tolerance};
    use crate::params::ParameterSet;

    #[test]
    fn the_builtin_module_through_the_trait_is_bit_identical_to_the_voxel() {
        let set = ParameterSet::default_set();
        let (cooper, remodel) =
            (CooperParams::from_set(&set).unwrap(), RemodelParams::from_set(&set).unwrap());
        let base = Baseline {
            fibroblasts: 0.8,
            collagen_i: 0.7,
            collagen_iii: 0.15,
            elastin: 0.05,
            damaged_elastin: 0.01,
            response: 0.9,
        };
        let voxel = || Voxel {
            cooper: &cooper,
            remodel: &remodel,
            base,
            refill_to: base.matrix(),
            tgf_excess: 0.0,
        };
        let module = Builtin(cooper);
        let rates = RefCell::new(module.evaluator(&[cooper.estrogen, cooper.cortisol]));
        let wrapped = ModuleVoxel { voxel: voxel(), rates: &rates };
        let mut y0 = base.state();
        y0[1] = 1.5;
        y0[2] = 0.08;
        let (mut a, mut b) = (y0, y0);
        let (mut ha, mut hb) = (0.02, 0.02);
        for day in 0..30 {
            let t = day as f64;
            let tol = Tolerance::SIMULATION;
            integrate_with::<Rodas3, COUNT, _>(&voxel(), t, t + 1.0, &mut a, &mut ha, tol).unwrap();
            integrate_with::<Rodas3, COUNT, _>(&wrapped, t, t + 1.0, &mut b, &mut hb, tol).unwrap();
            assert_eq!(a, b, "day {day}");
        }
        assert!(a[3] > 1e-3, "the wound drew macrophages: {a:?}");
    }

    fn source() -> InflammationSource {
        let map = [
            ("pathogen", "P"),
            ("wound_signal", "Pt"),
            ("neutrophils", "N"),
            ("macrophages", "M"),
            ("estrogen", "E"),
            ("cortisol", "C"),
        ];
        InflammationSource {
            sbml: "m.xml".into(),
            map: map.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            scale: BTreeMap::new(),
            set: BTreeMap::new(),
        }
    }

    #[test]
    fn the_table_is_checked_field_by_field() {
        let none = BTreeMap::new();
        source().validate("inflammation", &none).unwrap();
        let mut s = source();
        s.map.insert("oxygen".into(), "O2".into());
        let e = s.validate("inflammation", &none).unwrap_err();
        assert_eq!(e.path, "inflammation.map.oxygen");
        let mut s = source();
        s.map.remove("cortisol");
        let e = s.validate("inflammation", &none).unwrap_err();
        assert_eq!(e.path, "inflammation.map.cortisol");
        assert!(e.message.contains("missing"), "{}", e.message);
        let mut s = source();
        s.scale.insert("neutrophils".into(), 0.0);
        assert_eq!(
            s.validate("inflammation", &none).unwrap_err().path,
            "inflammation.scale.neutrophils"
        );
        let params: BTreeMap<String, f64> = [("kpn".to_string(), 1.0)].into();
        assert_eq!(source().validate("inflammation", &params).unwrap_err().path, "parameters.kpn");
        let params: BTreeMap<String, f64> = [("cortisol".to_string(), 1.0)].into();
        source().validate("inflammation", &params).unwrap();
    }
}

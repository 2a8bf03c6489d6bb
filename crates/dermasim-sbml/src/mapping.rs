//! Mapping tables: how an SBML model stands in for a built-in kinetic module.
//!
//! A module (say inflammation) exchanges named quantities with the tissue: *roles* are state
//! variables the tissue also transports and reads (wound signal, neutrophils, macrophages),
//! *inputs* are tissue quantities that drive the module (systemic mediators, injury). A
//! [`Mapping`] says which SBML species plays each role and which SBML parameter each input
//! drives, with scale factors (`dermasim value = scale * SBML value`). [`Mapping::validate`]
//! checks it against the model and the module's [`ModuleSpec`], refusing unknown ids, ids of
//! the wrong kind, unmapped roles and inputs, and duplicates, each error naming the id; the
//! result, a [`MappedModel`], converts states both ways and plugs into
//! [`dermasim::ode::integrate`] through [`OdeAdapter`].

use std::cell::RefCell;

use dermasim::kinetics::module;
use dermasim::ode::OdeSystem;

use crate::error::{Error, Result};
use crate::model::{Model, SlotKind};
use crate::sim::System;

/// What a kinetic module needs from a mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct ModuleSpec {
    /// Module name, for messages.
    pub name: String,
    /// Roles that must each be played by one SBML species.
    pub roles: Vec<String>,
    /// Tissue quantities the module must receive (each mapped to one SBML input).
    pub inputs: Vec<String>,
}

impl ModuleSpec {
    /// The inflammation module of the core (Cooper 2015's four states and two systemic
    /// mediators).
    pub fn inflammation() -> ModuleSpec {
        ModuleSpec {
            name: "inflammation".into(),
            roles: module::ROLES.map(String::from).into(),
            inputs: module::INPUTS.map(String::from).into(),
        }
    }
}

/// One role: an SBML species standing for a tissue quantity.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleMap {
    /// The module's role name.
    pub role: String,
    /// SBML species id.
    pub species: String,
    /// `tissue value = scale * SBML concentration`.
    pub scale: f64,
}

/// One input: a tissue quantity written into an SBML parameter (or constant species).
#[derive(Debug, Clone, PartialEq)]
pub struct InputMap {
    /// The tissue quantity.
    pub quantity: String,
    /// SBML id it drives.
    pub target: String,
    /// `SBML value = scale * tissue value`.
    pub scale: f64,
}

/// A mapping table.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Mapping {
    /// Roles.
    pub roles: Vec<RoleMap>,
    /// Inputs.
    pub inputs: Vec<InputMap>,
}

impl Mapping {
    /// The table that makes BIOMD0000000855 (Cooper 2015) the inflammation module, scale 1.
    pub fn cooper2015() -> Mapping {
        let r = |role: &str, species: &str| RoleMap {
            role: role.into(),
            species: species.into(),
            scale: 1.0,
        };
        let i = |q: &str, t: &str| InputMap { quantity: q.into(), target: t.into(), scale: 1.0 };
        Mapping {
            roles: vec![
                r("pathogen", "P"),
                r("wound_signal", "Pt"),
                r("neutrophils", "N"),
                r("macrophages", "M"),
            ],
            inputs: vec![i("estrogen", "E"), i("cortisol", "C")],
        }
    }

    /// Check the table against a model and a module; see the module docs.
    pub fn validate(&self, model: Model, spec: &ModuleSpec) -> Result<MappedModel> {
        let err = |id: &str, what: String| Error::Mapping { id: id.into(), what };
        let mut used: Vec<&str> = Vec::new();
        let mut roles = Vec::new();
        for want in &spec.roles {
            let found: Vec<&RoleMap> = self.roles.iter().filter(|r| &r.role == want).collect();
            match found.len() {
                0 => {
                    return Err(err(want, format!("role of module `{}` is not mapped", spec.name)))
                }
                1 => {}
                _ => return Err(err(want, "role mapped more than once".into())),
            }
            let r = found[0];
            if !(r.scale.is_finite() && r.scale > 0.0) {
                return Err(err(&r.species, format!("scale {} must be positive", r.scale)));
            }
            let sp = model.species().iter().find(|s| s.id == r.species).ok_or_else(|| {
                err(&r.species, format!("role `{want}`: not a species of the model"))
            })?;
            if used.contains(&r.species.as_str()) {
                return Err(err(&r.species, "used twice in the mapping".into()));
            }
            used.push(&r.species);
            // The state that holds it: the symbol itself, or its amount.
            let amount_name = format!("amount({})", r.species);
            let (index, per_conc) = match model.states.iter().position(|&s| s == sp.symbol) {
                Some(k) => (k, if sp.symbol_is_amount { f64::NAN } else { 1.0 }),
                None => match model.states.iter().position(|&s| model.names[s] == amount_name) {
                    Some(k) => (k, f64::NAN),
                    None => {
                        return Err(err(
                            &r.species,
                            format!("role `{want}`: species is not integrated (constant or ruled)"),
                        ))
                    }
                },
            };
            let comp =
                &model.doc.compartments.iter().find(|c| model.slot(&c.id) == Some(sp.compartment));
            if comp.map(|c| !c.constant).unwrap_or(true) {
                return Err(err(&r.species, "role species in a compartment that varies".into()));
            }
            roles.push((r.clone(), index, per_conc.is_nan(), sp.compartment));
        }
        for r in &self.roles {
            if !spec.roles.contains(&r.role) {
                return Err(err(&r.role, format!("not a role of module `{}`", spec.name)));
            }
        }
        let mut inputs = Vec::new();
        for want in &spec.inputs {
            let found: Vec<&InputMap> =
                self.inputs.iter().filter(|i| &i.quantity == want).collect();
            match found.len() {
                0 => {
                    return Err(err(want, format!("input of module `{}` is not mapped", spec.name)))
                }
                1 => {}
                _ => return Err(err(want, "input mapped more than once".into())),
            }
            let i = found[0];
            if !i.scale.is_finite() {
                return Err(err(&i.target, format!("scale {} is not finite", i.scale)));
            }
            let slot = model.slot(&i.target).ok_or_else(|| {
                err(&i.target, format!("input `{want}`: no such id in the model"))
            })?;
            if model.kinds[slot] != SlotKind::Parameter {
                return Err(err(
                    &i.target,
                    format!("input `{want}`: only parameters can be driven"),
                ));
            }
            if model.assigned.iter().any(|(s, _)| *s == slot) || model.states.contains(&slot) {
                return Err(err(&i.target, format!("input `{want}`: set by a rule in the model")));
            }
            if used.contains(&i.target.as_str()) {
                return Err(err(&i.target, "used twice in the mapping".into()));
            }
            used.push(&i.target);
            inputs.push((i.clone(), slot));
        }
        for i in &self.inputs {
            if !spec.inputs.contains(&i.quantity) {
                return Err(err(&i.quantity, format!("not an input of module `{}`", spec.name)));
            }
        }
        Ok(MappedModel { model, roles, inputs })
    }
}

/// A model with a validated mapping. Roles and inputs are in the [`ModuleSpec`]'s order.
#[derive(Debug, Clone)]
pub struct MappedModel {
    model: Model,
    /// (map, state index, state is an amount, compartment slot).
    roles: Vec<(RoleMap, usize, bool, usize)>,
    inputs: Vec<(InputMap, usize)>,
}

impl MappedModel {
    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// A fresh system at its initial values (time 0).
    pub fn system(&self) -> System<'_> {
        System::new(&self.model, 0.0)
    }

    /// Write the inputs (tissue values, in the spec's input order) into a system.
    pub fn set_inputs(&self, sys: &mut System, values: &[f64]) {
        for ((m, slot), v) in self.inputs.iter().zip(values) {
            sys.write_slot(*slot, m.scale * v);
        }
    }

    /// The state vector for tissue values of the roles (in spec order); states that play no
    /// role keep their values from `y`.
    pub fn to_state(&self, sys: &System, tissue: &[f64], y: &mut [f64]) {
        for ((m, k, amount, comp), v) in self.roles.iter().zip(tissue) {
            let c = v / m.scale;
            y[*k] = if *amount { c * sys.slot_value(*comp) } else { c };
        }
    }

    /// Tissue values of the roles from a state vector.
    pub fn from_state(&self, sys: &System, y: &[f64], tissue: &mut [f64]) {
        for ((m, k, amount, comp), out) in self.roles.iter().zip(tissue.iter_mut()) {
            let c = if *amount { y[*k] / sys.slot_value(*comp) } else { y[*k] };
            *out = m.scale * c;
        }
    }

    /// State index of each role, in spec order.
    pub fn role_states(&self) -> Vec<usize> {
        self.roles.iter().map(|r| r.1).collect()
    }

    /// Per role (spec order): its state index and the factor `f` with `tissue = f * state`
    /// (the scale, divided by the compartment size when the state is an amount).
    pub fn role_factors(&self, sys: &System) -> Vec<(usize, f64)> {
        self.roles
            .iter()
            .map(|(m, k, amount, comp)| {
                (*k, if *amount { m.scale / sys.slot_value(*comp) } else { m.scale })
            })
            .collect()
    }
}

/// A fixed-size view of a [`System`] as a [`dermasim::ode::OdeSystem`], so the core's own
/// `integrate` (Rodas4) or Rodas3 drives it with the analytic Jacobian. Time is held
/// constant at [`OdeAdapter::set_time`] (the core's kinetics are autonomous).
pub struct OdeAdapter<'m, const N: usize> {
    sys: RefCell<System<'m>>,
    t: std::cell::Cell<f64>,
}

impl<'m, const N: usize> OdeAdapter<'m, N> {
    /// Wrap a system with exactly `N` states.
    pub fn new(sys: System<'m>) -> Result<Self> {
        if sys.n() != N {
            return Err(Error::Mapping {
                id: sys.model().document().id.clone(),
                what: format!("model has {} states, adapter {N}", sys.n()),
            });
        }
        Ok(OdeAdapter { sys: RefCell::new(sys), t: std::cell::Cell::new(0.0) })
    }

    /// The time the right-hand side is evaluated at.
    pub fn set_time(&self, t: f64) {
        self.t.set(t);
    }

    /// The wrapped system (to set inputs between calls).
    pub fn system(&self) -> std::cell::RefMut<'_, System<'m>> {
        self.sys.borrow_mut()
    }
}

impl<const N: usize> OdeSystem<N> for OdeAdapter<'_, N> {
    fn rhs(&self, y: &[f64; N], dy: &mut [f64; N]) {
        self.sys.borrow_mut().rhs(self.t.get(), y, dy);
    }

    fn jacobian(&self, y: &[f64; N], _f0: &[f64; N], jac: &mut [[f64; N]; N]) {
        let mut flat = vec![0.0; N * N];
        let mut dt = vec![0.0; N];
        self.sys.borrow_mut().jacobian(self.t.get(), y, &mut flat, &mut dt);
        for i in 0..N {
            jac[i].copy_from_slice(&flat[i * N..(i + 1) * N]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOPER: &str = include_str!("../tests/data/BIOMD0000000855.xml");

    fn model() -> Model {
        crate::load(COOPER, &[]).unwrap()
    }

    #[test]
    fn the_cooper_table_validates() {
        let m = Mapping::cooper2015().validate(model(), &ModuleSpec::inflammation()).unwrap();
        assert_eq!(m.role_states().len(), 4);
    }

    #[test]
    fn unknown_species_is_refused_with_its_id() {
        let mut t = Mapping::cooper2015();
        t.roles[2].species = "Neutro".into();
        let e = t.validate(model(), &ModuleSpec::inflammation()).unwrap_err();
        assert!(e.to_string().contains("Neutro"), "{e}");
    }

    #[test]
    fn missing_input_is_refused_with_its_name() {
        let mut t = Mapping::cooper2015();
        t.inputs.retain(|i| i.quantity != "cortisol");
        let e = t.validate(model(), &ModuleSpec::inflammation()).unwrap_err();
        assert!(e.to_string().contains("cortisol") && e.to_string().contains("not mapped"), "{e}");
    }

    #[test]
    fn wrong_kinds_duplicates_and_bad_scales_are_refused() {
        let spec = ModuleSpec::inflammation();
        let mut t = Mapping::cooper2015();
        t.roles[0].species = "kpn".into(); // a parameter, not a species
        assert!(t.validate(model(), &spec).unwrap_err().to_string().contains("kpn"));
        let mut t = Mapping::cooper2015();
        t.inputs[0].target = "P".into(); // a species cannot be driven
        assert!(t.validate(model(), &spec).unwrap_err().to_string().contains("`P`"));
        let mut t = Mapping::cooper2015();
        t.inputs[0].target = "fi2".into(); // set by an assignment rule
        assert!(t.validate(model(), &spec).unwrap_err().to_string().contains("fi2"));
        let mut t = Mapping::cooper2015();
        t.roles[1].species = "P".into();
        assert!(t.validate(model(), &spec).unwrap_err().to_string().contains("twice"));
        let mut t = Mapping::cooper2015();
        t.roles[3].scale = 0.0;
        assert!(t.validate(model(), &spec).is_err());
        let mut t = Mapping::cooper2015();
        t.inputs.push(InputMap { quantity: "oxygen".into(), target: "kpn".into(), scale: 1.0 });
        assert!(t.validate(model(), &spec).unwrap_err().to_string().contains("oxygen"));
    }

    #[test]
    fn roles_convert_both_ways_with_scales() {
        let mut t = Mapping::cooper2015();
        t.roles[2].scale = 1e3;
        let m = t.validate(model(), &ModuleSpec::inflammation()).unwrap();
        let sys = m.system();
        let mut y = sys.state();
        m.to_state(&sys, &[0.5, 1.5, 200.0, 0.25], &mut y);
        let mut back = [0.0; 4];
        m.from_state(&sys, &y, &mut back);
        assert_eq!(back, [0.5, 1.5, 200.0, 0.25]);
        assert_eq!(y[m.role_states()[2]], 0.2);
    }
}

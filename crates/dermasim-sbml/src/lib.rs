//! SBML import for dermasim: read SBML Level 2 and 3 core models, compile their math once
//! to bytecode (with a symbolic Jacobian), and integrate them with the project's Rodas4
//! coefficients, events located inside the step.
//!
//! ```
//! let xml = r#"<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">
//!   <model id="decay">
//!     <listOfParameters><parameter id="x" value="1" constant="false"/>
//!       <parameter id="k" value="0.5" constant="true"/></listOfParameters>
//!     <listOfRules><rateRule variable="x"><math xmlns="http://www.w3.org/1998/Math/MathML">
//!       <apply><times/><cn>-1</cn><ci>k</ci><ci>x</ci></apply></math></rateRule></listOfRules>
//!   </model></sbml>"#;
//! let model = dermasim_sbml::load(xml, &[]).unwrap();
//! let course = dermasim_sbml::run(&model, 0.0, &[2.0], &[dermasim_sbml::Column::Value("x".into())],
//!     dermasim_sbml::Options::default()).unwrap();
//! assert!((course.rows[0][1] - (-1.0f64).exp()).abs() < 1e-7);
//! ```
#![deny(missing_docs)]

pub mod conformance;
pub mod doc;
pub mod error;
pub mod mapping;
pub mod math;
pub mod model;
pub mod sim;
pub mod skin;

pub use doc::Document;
pub use error::{Error, Result};
pub use mapping::{MappedModel, Mapping};
pub use model::{Model, SlotKind};
pub use sim::{run, Column, Options, Simulation, Stats, System, TimeCourse};

/// Parse and compile SBML text, applying `overrides` (id, value) first: a parameter's value,
/// a compartment's size or a species' initial value (in its declared units). An override
/// replaces any initial assignment of that id; an id set by an assignment rule is refused.
pub fn load(text: &str, overrides: &[(String, f64)]) -> Result<Model> {
    let mut d = doc::parse(text)?;
    apply_overrides(&mut d, overrides)?;
    Model::compile(&d)
}

/// Apply `--set` style overrides to a document.
pub fn apply_overrides(d: &mut Document, overrides: &[(String, f64)]) -> Result<()> {
    for (id, v) in overrides {
        if d.rules.iter().any(|r| r.kind == doc::RuleKind::Assignment && &r.variable == id) {
            return Err(Error::Mapping {
                id: id.clone(),
                what: "set by an assignment rule".into(),
            });
        }
        let mut found = false;
        if let Some(p) = d.parameters.iter_mut().find(|p| &p.id == id) {
            p.value = Some(*v);
            found = true;
        } else if let Some(c) = d.compartments.iter_mut().find(|c| &c.id == id) {
            c.size = Some(*v);
            found = true;
        } else if let Some(s) = d.species.iter_mut().find(|s| &s.id == id) {
            if s.only_substance {
                s.initial_amount = Some(*v);
                s.initial_concentration = None;
            } else {
                s.initial_concentration = Some(*v);
                s.initial_amount = None;
            }
            found = true;
        }
        if !found {
            let known: Vec<&str> = d
                .parameters
                .iter()
                .map(|p| p.id.as_str())
                .chain(d.compartments.iter().map(|c| c.id.as_str()))
                .chain(d.species.iter().map(|s| s.id.as_str()))
                .collect();
            return Err(Error::Mapping {
                id: id.clone(),
                what: format!(
                    "not a parameter, compartment or species; known: {}",
                    known.join(", ")
                ),
            });
        }
        d.initial_assignments.retain(|(s, _)| s != id);
    }
    Ok(())
}

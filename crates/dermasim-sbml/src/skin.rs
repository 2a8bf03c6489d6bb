//! An SBML model as the tissue's inflammation module
//! ([`dermasim::kinetics::module::InflammationModule`]): a validated [`Mapping`] turns the
//! model's four role species into the voxel's `[P, Pt, N, M]`, in tissue units.
//!
//! What the tissue can hold decides what is accepted: exactly the four role species as
//! states (the voxel has no room for more), no events or delays (each voxel is integrated
//! step by step from its own state, with no history), no explicit `time` (the kinetics are
//! autonomous, every step starts at 0) and no algebraic rules. Each refusal names the id.

use dermasim::kinetics::module::{InflammationModule, InflammationRates, Inputs, INPUTS};

use crate::error::{Error, Result};
use crate::mapping::{MappedModel, Mapping, ModuleSpec};
use crate::model::Model;
use crate::sim::System;

/// A compiled SBML model with its mapping, shareable across worker threads.
#[derive(Debug)]
pub struct SbmlInflammation {
    mapped: MappedModel,
    label: String,
}

impl SbmlInflammation {
    /// Validate `mapping` against `model` for the inflammation module and check that the
    /// tissue can run the model; `label` names it in notes (file name, digest).
    pub fn new(model: Model, mapping: &Mapping, label: String) -> Result<SbmlInflammation> {
        let refuse = |id: &str, what: &str| Error::Mapping { id: id.into(), what: what.into() };
        let model_id = model.document().id.clone();
        if model.n_events() > 0 {
            return Err(refuse(&model_id, "has events; an inflammation module in the tissue cannot run events (each voxel is stepped on its own)"));
        }
        if !model.delays.is_empty() {
            return Err(refuse(&model_id, "uses delay(); a voxel keeps no history"));
        }
        if model.mass.iter().any(|&m| m != 1.0) {
            return Err(refuse(&model_id, "has algebraic rules; the tissue integrates ODEs only"));
        }
        let n = model.n_states();
        if model.jac.iter().any(|(_, j, _)| *j == n) {
            return Err(refuse(
                &model_id,
                "reads `time`; the tissue's kinetics are autonomous (each step starts at 0)",
            ));
        }
        let names: Vec<String> = model.state_names().iter().map(|s| s.to_string()).collect();
        let mapped = mapping.validate(model, &ModuleSpec::inflammation())?;
        let roles = mapped.role_states();
        if let Some(k) = (0..n).find(|k| !roles.contains(k)) {
            return Err(refuse(
                &names[k],
                "is integrated but plays no role; a voxel holds only pathogen, wound_signal, \
                 neutrophils and macrophages",
            ));
        }
        Ok(SbmlInflammation { mapped, label })
    }

    /// The model with its mapping.
    pub fn mapped(&self) -> &MappedModel {
        &self.mapped
    }
}

impl InflammationModule for SbmlInflammation {
    fn describe(&self) -> String {
        self.label.clone()
    }

    fn evaluator(&self, inputs: &Inputs) -> Box<dyn InflammationRates + '_> {
        let mut sys = self.mapped.system();
        debug_assert_eq!(inputs.len(), INPUTS.len());
        self.mapped.set_inputs(&mut sys, inputs);
        let factors = self.mapped.role_factors(&sys);
        let n = sys.n();
        Box::new(Evaluator {
            sys,
            state: factors.iter().map(|f| f.0).collect::<Vec<_>>().try_into().expect("4 roles"),
            factor: factors.iter().map(|f| f.1).collect::<Vec<_>>().try_into().expect("4 roles"),
            y: vec![0.0; n],
            dy: vec![0.0; n],
            jac: vec![0.0; n * n],
            dt: vec![0.0; n],
        })
    }
}

/// One worker's value store and scratch.
struct Evaluator<'m> {
    sys: System<'m>,
    /// State index of each role.
    state: [usize; 4],
    /// `tissue = factor * state` per role.
    factor: [f64; 4],
    y: Vec<f64>,
    dy: Vec<f64>,
    jac: Vec<f64>,
    dt: Vec<f64>,
}

impl Evaluator<'_> {
    fn load(&mut self, tissue: &[f64; 4]) {
        for ((&k, &f), &v) in self.state.iter().zip(&self.factor).zip(tissue) {
            self.y[k] = v / f;
        }
    }
}

impl InflammationRates for Evaluator<'_> {
    fn rates(&mut self, tissue: &[f64; 4]) -> [f64; 4] {
        self.load(tissue);
        self.sys.rhs(0.0, &self.y, &mut self.dy);
        std::array::from_fn(|i| self.factor[i] * self.dy[self.state[i]])
    }

    fn jacobian(&mut self, tissue: &[f64; 4]) -> [[f64; 4]; 4] {
        self.load(tissue);
        self.sys.jacobian(0.0, &self.y, &mut self.jac, &mut self.dt);
        let n = self.y.len();
        std::array::from_fn(|i| {
            std::array::from_fn(|j| {
                self.factor[i] * self.jac[self.state[i] * n + self.state[j]] / self.factor[j]
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dermasim::kinetics::cooper::CooperParams;
    use dermasim::ParameterSet;

    const COOPER: &str = include_str!("../tests/data/BIOMD0000000855.xml");

    fn module(mapping: &Mapping) -> Result<SbmlInflammation> {
        SbmlInflammation::new(crate::load(COOPER, &[]).unwrap(), mapping, "test".into())
    }

    #[test]
    fn rates_and_jacobian_match_the_builtin_block_with_scales() {
        let mut set = ParameterSet::literature();
        set.set("estrogen", 2.0).unwrap();
        set.set("cortisol", 30.0).unwrap();
        let c = CooperParams::from_set(&set).unwrap();
        // Scales change the units, not the dynamics: in tissue units the rates are Cooper's
        // once the inputs are scaled back (SBML value = scale * tissue value).
        let mut mapping = Mapping::cooper2015();
        mapping.roles[2].scale = 1e3;
        mapping.roles[1].scale = 0.5;
        mapping.inputs[1].scale = 2.0;
        let m = module(&mapping).unwrap();
        let mut ev = m.evaluator(&[2.0, 15.0]);
        for y in [[0.02, 1.8, 0.09, 0.01], [0.3, 0.9, 0.25, 0.6], [1e-4, 0.05, 0.01, 0.2]] {
            let s = [1.0, 0.5, 1e3, 1.0];
            let tissue: [f64; 4] = std::array::from_fn(|i| s[i] * y[i]);
            let want = c.rates(y[0], y[1], y[2], y[3]);
            let got = ev.rates(&tissue);
            let wj = c.jacobian(y[0], y[1], y[2], y[3]);
            let gj = ev.jacobian(&tissue);
            for i in 0..4 {
                let w = s[i] * want[i];
                assert!(
                    (got[i] - w).abs() <= 1e-12 * w.abs().max(1e-12),
                    "rate {i}: {} vs {w}",
                    got[i]
                );
                for j in 0..4 {
                    let w = s[i] * wj[i][j] / s[j];
                    assert!(
                        (gj[i][j] - w).abs() <= 1e-12 * w.abs().max(1e-9),
                        "J[{i}][{j}]: {} vs {w}",
                        gj[i][j]
                    );
                }
            }
        }
    }

    /// The Cooper file with one more parameter `Extra` under a rate rule with this MathML.
    fn with_rate_rule(math: &str) -> String {
        let m = r#"<math xmlns="http://www.w3.org/1998/Math/MathML">"#;
        let out = COOPER
            .replacen(
                "<listOfParameters>",
                r#"<listOfParameters><parameter id="Extra" value="1" constant="false"/>"#,
                1,
            )
            .replacen(
                "<listOfRules>",
                &format!(r#"<listOfRules><rateRule variable="Extra">{m}{math}</math></rateRule>"#),
                1,
            );
        assert_eq!(out.matches("\"Extra\"").count(), 2, "both edits applied");
        out
    }

    #[test]
    fn models_the_tissue_cannot_hold_are_refused_with_the_id() {
        // A fifth state that plays no role.
        let model = crate::load(&with_rate_rule("<cn>0</cn>"), &[]).unwrap();
        let e = SbmlInflammation::new(model, &Mapping::cooper2015(), "x".into()).unwrap_err();
        assert!(e.to_string().contains("`Extra`") && e.to_string().contains("no role"), "{e}");
        // Explicit time.
        let time = r#"<csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/time">t</csymbol>"#;
        let model = crate::load(&with_rate_rule(time), &[]).unwrap();
        let e = SbmlInflammation::new(model, &Mapping::cooper2015(), "x".into()).unwrap_err();
        assert!(e.to_string().contains("time"), "{e}");
        // An unknown species in the table.
        let mut bad = Mapping::cooper2015();
        bad.roles[0].species = "Pathogen".into();
        assert!(module(&bad).unwrap_err().to_string().contains("Pathogen"));
    }
}

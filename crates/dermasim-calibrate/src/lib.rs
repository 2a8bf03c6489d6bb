//! `dermasim calibrate`: fit the parameters that have no published value to the calibration
//! targets of `data/targets.toml` (those with `calibrate = true`), by Nelder-Mead (argmin).
//!
//! Each free parameter is searched inside its own range through a logistic map (log scale for
//! wide ranges), so fitted values never leave their ranges. The objective is the sum of squared
//! misfits, each scaled by its target's half band, plus a weak pull towards the prior values
//! (so parameters the targets cannot see stay where the literature put them).

pub mod validation;

use std::collections::BTreeMap;

use argmin::core::{CostFunction, Executor, State};
use argmin::solver::neldermead::NelderMead;
use dermasim::params::{CalibratedOverlay, Calibration, ParameterSet};
use dermasim::rng::Stream;

use validation::Target;

/// The parameters with no published value that the targets constrain.
/// The roller's penetration efficiency is no longer fitted (issue 15): it comes from Kalluri
/// 2011's measured channel depth through the insertion offset.
pub const FREE: [&str; 5] = [
    "collagen_synthesis_per_day",
    "collagen_maturation_per_day",
    "fibroblast_capacity_rel",
    "epidermis_growth_per_day",
    "epidermis_dermal_coupling",
];

/// Weight of the pull towards the prior value, per parameter (in units of the search scale).
const PRIOR_WEIGHT: f64 = 0.05;

#[derive(Debug, thiserror::Error)]
pub enum CalibrateError {
    #[error(transparent)]
    Model(#[from] dermasim::Error),
    #[error("optimiser: {0}")]
    Optimiser(String),
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub max_evaluations: u64,
    pub seed: u64,
    pub date: String,
}

/// One parameter's search coordinate.
#[derive(Debug, Clone)]
struct Axis {
    name: String,
    lo: f64,
    hi: f64,
    log: bool,
}

impl Axis {
    fn value(&self, x: f64) -> f64 {
        let s = 1.0 / (1.0 + (-x).exp());
        if self.log {
            (self.lo.ln() + s * (self.hi.ln() - self.lo.ln())).exp()
        } else {
            self.lo + s * (self.hi - self.lo)
        }
        .clamp(self.lo, self.hi)
    }

    fn coordinate(&self, v: f64) -> f64 {
        let s = if self.log {
            (v.ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        let s = s.clamp(1e-6, 1.0 - 1e-6);
        (s / (1.0 - s)).ln()
    }
}

struct Problem {
    base: ParameterSet,
    axes: Vec<Axis>,
    prior: Vec<f64>,
    targets: Vec<Target>,
}

impl Problem {
    fn set_for(&self, x: &[f64]) -> ParameterSet {
        let mut set = self.base.clone();
        for (a, &xi) in self.axes.iter().zip(x) {
            set.param.get_mut(&a.name).expect("free parameter exists").value = a.value(xi);
        }
        set
    }

    /// Scaled misfit of each calibration target.
    fn residuals(&self, set: &ParameterSet) -> Result<BTreeMap<String, f64>, dermasim::Error> {
        let runs = validation::run_scenarios(&self.targets, set)?;
        Ok(self
            .targets
            .iter()
            .map(|t| {
                let check = validation::evaluate(t, &runs);
                let target = t.target.expect("calibration targets carry a value");
                let half = t.band.map(|b| (b[1] - b[0]) / 2.0).unwrap_or(0.1).max(1e-6);
                (t.id.clone(), (check.model - target) / half)
            })
            .collect())
    }
}

impl CostFunction for Problem {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, x: &Self::Param) -> Result<f64, argmin::core::Error> {
        let set = self.set_for(x);
        let misfit: f64 = match self.residuals(&set) {
            Ok(r) => r.values().map(|v| v * v).sum(),
            Err(_) => return Ok(1e12),
        };
        let prior: f64 =
            x.iter().zip(&self.prior).map(|(a, b)| PRIOR_WEIGHT * (a - b).powi(2)).sum();
        Ok(misfit + prior)
    }
}

/// The fitted overlay (ready for `data/calibrated.toml`) and the set it makes.
pub struct Fit {
    pub overlay: CalibratedOverlay,
    pub set: ParameterSet,
    pub evaluations: u64,
}

/// Fit the free parameters starting from the literature set.
pub fn calibrate(settings: &Settings) -> Result<Fit, CalibrateError> {
    let base = ParameterSet::literature();
    let axes: Vec<Axis> = FREE
        .iter()
        .map(|n| {
            let p = &base.param[*n];
            Axis {
                name: n.to_string(),
                lo: p.range[0],
                hi: p.range[1],
                log: p.range[0] > 0.0 && p.range[1] / p.range[0] > 10.0,
            }
        })
        .collect();
    let prior: Vec<f64> = axes.iter().map(|a| a.coordinate(base.param[&a.name].value)).collect();
    let targets: Vec<Target> = validation::targets().into_iter().filter(|t| t.calibrate).collect();
    let problem = Problem {
        base: base.clone(),
        axes: axes.clone(),
        prior: prior.clone(),
        targets: targets.clone(),
    };

    // Initial simplex: the prior plus one seeded step per axis.
    let stream = Stream::new(settings.seed, 0xca1b);
    let mut simplex = vec![prior.clone()];
    for i in 0..axes.len() {
        let mut v = prior.clone();
        v[i] += 0.5 + stream.uniform(i as u64);
        simplex.push(v);
    }
    let solver = NelderMead::new(simplex)
        .with_sd_tolerance(1e-4)
        .map_err(|e| CalibrateError::Optimiser(e.to_string()))?;
    let result = Executor::new(problem, solver)
        .configure(|state| state.max_iters(settings.max_evaluations))
        .run()
        .map_err(|e| CalibrateError::Optimiser(e.to_string()))?;
    let state = result.state();
    let best = state.get_best_param().cloned().unwrap_or(prior);
    let evaluations = state.get_iter();
    let problem = Problem { base, axes: axes.clone(), prior: vec![], targets: targets.clone() };
    let set = problem.set_for(&best);
    let residuals = problem.residuals(&set)?;
    let values: BTreeMap<String, f64> =
        axes.iter().zip(&best).map(|(a, &x)| (a.name.clone(), a.value(x))).collect();
    let overlay = CalibratedOverlay {
        name: "calibrated-2026.11".into(),
        calibration: Calibration {
            date: settings.date.clone(),
            program_version: env!("CARGO_PKG_VERSION").into(),
            method: format!("Nelder-Mead (argmin), {evaluations} iterations, logistic-bounded search, prior weight {PRIOR_WEIGHT}"),
            seed: settings.seed,
            targets: targets.iter().map(|t| format!("{} ({})", t.id, t.source)).collect(),
            objective: residuals.values().map(|v| v * v).sum(),
            residuals,
        },
        values,
    };
    let mut fitted = ParameterSet::literature();
    fitted.apply_overlay(&overlay).map_err(dermasim::Error::from)?;
    Ok(Fit { overlay, set: fitted, evaluations })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_map_into_their_ranges_and_back() {
        for (lo, hi, log) in [(0.1, 0.5, false), (0.0006, 0.03, true)] {
            let a = Axis { name: "x".into(), lo, hi, log };
            for x in [-50.0, -1.0, 0.0, 2.0, 50.0] {
                let v = a.value(x);
                assert!(v >= lo && v <= hi);
            }
            let v = (lo + hi) / 3.0;
            assert!((a.value(a.coordinate(v)) - v).abs() < 1e-9 * v);
        }
    }

    #[test]
    fn short_calibration_is_reproducible_and_stays_in_range() {
        let s = Settings { max_evaluations: 3, seed: 5, date: "test".into() };
        let a = calibrate(&s).unwrap();
        let b = calibrate(&s).unwrap();
        assert_eq!(a.overlay.values, b.overlay.values);
        let lit = ParameterSet::literature();
        for (name, v) in &a.overlay.values {
            assert!(lit.param[name].contains(*v), "{name} = {v} left its range");
        }
        a.set.check().unwrap();
    }
}

/// Approximate Bayesian computation with a Gaussian kernel: Latin-hypercube draws over every
/// parameter's range, each weighted by `exp(-chi2 / 2)` where chi2 sums the squared misfits of
/// the calibration targets in units of their half bands. Draws with negligible weight are
/// dropped. The ensemble resamples the rest by weight, so its bands are the prior ranges
/// conditioned on the data.
pub fn posterior(
    draws: usize,
    seed: u64,
    date: &str,
) -> Result<dermasim::ensemble::Posterior, CalibrateError> {
    use rayon::prelude::*;
    let base = ParameterSet::default_set();
    let targets: Vec<Target> = validation::targets().into_iter().filter(|t| t.calibrate).collect();
    // Sets whose sterile healed state does not heal are rejected before scoring.
    let (sets, rejected) = dermasim::ensemble::latin_hypercube(&base, draws, seed)
        .into_iter()
        .fold((Vec::new(), 0), |(mut ok, bad), s| {
            if dermasim::ensemble::heals(&s).is_ok() {
                ok.push(s);
                (ok, bad)
            } else {
                (ok, bad + 1)
            }
        });
    let problem =
        Problem { base: base.clone(), axes: vec![], prior: vec![], targets: targets.clone() };
    let names = dermasim::ensemble::varied_names(&base);
    let scored: Vec<Option<(f64, Vec<f64>)>> = sets
        .par_iter()
        .map(|set| {
            let chi2: f64 = problem.residuals(set).ok()?.values().map(|v| v * v).sum();
            Some(((-0.5 * chi2).exp(), names.iter().map(|n| set.param[*n].value).collect()))
        })
        .collect();
    let kept: Vec<(f64, Vec<f64>)> =
        scored.into_iter().flatten().filter(|(w, _)| *w > 1e-2).collect();
    Ok(dermasim::ensemble::Posterior {
        names: names.iter().map(|s| s.to_string()).collect(),
        prior_draws: draws,
        seed,
        date: date.to_string(),
        targets: targets.iter().map(|t| t.id.clone()).collect(),
        weights: kept.iter().map(|k| k.0).collect(),
        draws: kept.into_iter().map(|k| k.1).collect(),
        rejected_non_healing: rejected,
    })
}

#[cfg(test)]
mod posterior_tests {
    #[test]
    fn posterior_is_reproducible_and_every_kept_draw_fits() {
        let a = super::posterior(12, 3, "t").unwrap();
        assert_eq!(a, super::posterior(12, 3, "t").unwrap());
        assert_eq!(a.prior_draws, 12);
        assert!(a.draws.iter().all(|d| d.len() == a.names.len()));
        assert_eq!(a.weights.len(), a.draws.len());
        assert!(a.weights.iter().all(|&w| w > 0.0 && w <= 1.0));
    }
}

//! Uncertainty: a seeded Latin-hypercube ensemble over the parameter ranges gives 5-95 %
//! bands for every timeline quantity.
//!
//! Every parameter varies over its own range (narrow for published values, wide for labelled
//! assumptions), so bands are wide exactly where the evidence is thin. Ranges spanning more
//! than a factor of 10 are sampled on a log scale.

use std::ops::ControlFlow;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::outcome::Summary;
use crate::params::ParameterSet;
use crate::rng::Stream;
use crate::scenario::{Fidelity, Prepared, Scenario};
use crate::sim::{Options, Simulation};
use crate::tissue::SiteTable;

/// Parameters left fixed by the ensemble: model-only reference sets and structural inputs.
fn varied(name: &str) -> bool {
    !name.starts_with("ws_")
        && !matches!(
            name,
            "estrogen" | "cortisol" | "pathogen_per_injury" | "site_reference_age_years"
        )
}

/// The names an ensemble varies, in a fixed order.
pub fn varied_names(set: &ParameterSet) -> Vec<&str> {
    set.param.keys().map(|k| k.as_str()).filter(|k| varied(k)).collect()
}

/// Parameter draws that reproduce the calibration targets (written by `dermasim calibrate`,
/// embedded from `data/posterior.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Posterior {
    /// Names of the varied parameters, in the order of each draw's values.
    pub names: Vec<String>,
    /// Draws taken from the prior before weighting.
    pub prior_draws: usize,
    /// Seed of the prior sampling.
    pub seed: u64,
    /// Date the posterior was computed (UTC, ISO 8601).
    pub date: String,
    /// Ids of the calibration targets that weighted the draws.
    pub targets: Vec<String>,
    /// Kernel weight of each draw, `exp(-chi2 / 2)`.
    pub weights: Vec<f64>,
    /// Parameter values of each draw, in the order of `names`.
    pub draws: Vec<Vec<f64>>,
    /// Prior draws rejected before scoring because their sterile healed state does not heal
    /// ([`heals`]); 0 in posteriors written before the check existed.
    #[serde(default)]
    pub rejected_non_healing: usize,
}

/// `Ok` when the set's inflammation resolves after a sterile wound: the healed state of the
/// Cooper subsystem is stable with margin (see `CooperParams::healing`). Sets that fail are
/// left out of priors, posteriors and ensembles (Cooper et al. screened their family the same
/// way).
pub fn heals(set: &ParameterSet) -> Result<(), String> {
    crate::kinetics::CooperParams::from_set(set).map_err(|e| e.to_string())?.healing()
}

/// Draws of `names` (values in that order) that heal, and how many did not.
fn healing_draws(names: &[String], draws: &[Vec<f64>], base: &ParameterSet) -> Vec<bool> {
    draws
        .iter()
        .map(|d| {
            let mut set = base.clone();
            for (name, &v) in names.iter().zip(d) {
                if let Some(p) = set.param.get_mut(name) {
                    p.value = v;
                }
            }
            heals(&set).is_ok()
        })
        .collect()
}

/// The embedded posterior file (`data/posterior.json`).
pub const POSTERIOR_JSON: &str = include_str!("../../../data/posterior.json");

impl Posterior {
    /// The embedded posterior, when it has enough weight spread to be worth using. Parsed
    /// once per process: the file is 145 KB of JSON and every ensemble draws from it.
    pub fn embedded() -> Option<&'static Posterior> {
        static POSTERIOR: std::sync::LazyLock<Option<Posterior>> = std::sync::LazyLock::new(|| {
            serde_json::from_str::<Posterior>(POSTERIOR_JSON)
                .ok()
                .filter(|p| p.effective_size() >= 8.0)
        });
        POSTERIOR.as_ref()
    }

    /// Draws (and their share of the weight) whose healed state does not heal under `base`.
    pub fn non_healing(&self, base: &ParameterSet) -> (usize, f64) {
        let ok = healing_draws(&self.names, &self.draws, base);
        let total: f64 = self.weights.iter().sum();
        let bad: f64 = self.weights.iter().zip(&ok).filter(|(_, &h)| !h).map(|(w, _)| w).sum();
        (ok.iter().filter(|&&h| !h).count(), if total > 0.0 { bad / total } else { 0.0 })
    }

    /// Kish's effective sample size of the weights.
    pub fn effective_size(&self) -> f64 {
        let (s, s2) = self.weights.iter().fold((0.0, 0.0), |(a, b), w| (a + w, b + w * w));
        if s2 > 0.0 {
            s * s / s2
        } else {
            0.0
        }
    }

    /// `n` parameter sets: `base` with the values of draws picked by systematic resampling in
    /// proportion to their weights, the offset seeded.
    /// Draws whose sterile healed state does not heal get no weight.
    pub fn sets(&self, base: &ParameterSet, n: usize, seed: u64) -> Vec<ParameterSet> {
        let ok = healing_draws(&self.names, &self.draws, base);
        let weights: Vec<f64> =
            self.weights.iter().zip(&ok).map(|(&w, &h)| if h { w } else { 0.0 }).collect();
        let total: f64 = weights.iter().sum();
        if total <= 0.0 {
            return healing_hypercube(base, n, seed).0;
        }
        let offset = Stream::new(seed, 0x9057).uniform(0);
        let mut picks = Vec::with_capacity(n);
        let (mut i, mut acc) = (0, weights[0] / total);
        for m in 0..n {
            let u = (m as f64 + offset) / n as f64;
            while (u > acc || weights[i] == 0.0) && i + 1 < weights.len() {
                i += 1;
                acc += weights[i] / total;
            }
            picks.push(i);
        }
        picks
            .into_iter()
            .map(|d| {
                let mut set = base.clone();
                for (name, &v) in self.names.iter().zip(&self.draws[d]) {
                    if let Some(p) = set.param.get_mut(name) {
                        p.value = v;
                    }
                }
                set
            })
            .collect()
    }
}

/// `n` parameter sets drawn by Latin-hypercube sampling from `base`'s ranges.
pub fn latin_hypercube(base: &ParameterSet, n: usize, seed: u64) -> Vec<ParameterSet> {
    let names: Vec<&String> = base.param.keys().filter(|k| varied(k)).collect();
    let mut sets = vec![base.clone(); n];
    for (pi, name) in names.iter().enumerate() {
        let p = &base.param[*name];
        let [lo, hi] = p.range;
        if hi <= lo {
            continue;
        }
        let stream = Stream::new(seed, 0x1a7e_0000 + pi as u64);
        // A random permutation of strata (Fisher-Yates on counter draws).
        let mut strata: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = (stream.uniform(i as u64) * (i + 1) as f64) as usize;
            strata.swap(i, j.min(i));
        }
        let log = lo > 0.0 && hi / lo > 10.0;
        for (m, set) in sets.iter_mut().enumerate() {
            let u = (strata[m] as f64 + stream.uniform(1_000_000 + m as u64)) / n as f64;
            let v =
                if log { (lo.ln() + u * (hi.ln() - lo.ln())).exp() } else { lo + u * (hi - lo) };
            set.param.get_mut(*name).expect("name from keys").value = v.clamp(lo, hi);
        }
    }
    sets
}

/// `n` healing parameter sets: Latin-hypercube draws (over a doubled hypercube, then more if
/// needed) with those that do not heal ([`heals`]) rejected; returns the sets and how many
/// draws were rejected on the way.
pub fn healing_hypercube(base: &ParameterSet, n: usize, seed: u64) -> (Vec<ParameterSet>, usize) {
    let (mut out, mut rejected, mut round) = (Vec::with_capacity(n), 0, 0u64);
    while out.len() < n && round < 16 {
        for set in latin_hypercube(base, 2 * n.max(1), seed.wrapping_add(round)) {
            if out.len() == n {
                break;
            }
            if heals(&set).is_ok() {
                out.push(set);
            } else {
                rejected += 1;
            }
        }
        round += 1;
    }
    (out, rejected)
}

/// Linear-interpolated percentile of sorted values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let x = q * (sorted.len() - 1) as f64;
    let (i, f) = (x.floor() as usize, x - x.floor());
    if i + 1 < sorted.len() {
        sorted[i] * (1.0 - f) + sorted[i + 1] * f
    } else {
        sorted[i]
    }
}

/// The central run with `*_p05` / `*_p95` bands from `members` draws. 3d scenarios run their
/// ensemble at 1d (the fast level), as stated in the summary notes.
pub fn run_ensemble(
    scenario: &Scenario,
    base: &ParameterSet,
    members: usize,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Summary, Error> {
    run_ensemble_with(scenario, base, members, progress, &|| false)
}

/// [`run_ensemble`] that stops with `Error::Cancelled` within one step of any member once
/// `cancelled` returns true.
pub fn run_ensemble_with(
    scenario: &Scenario,
    base: &ParameterSet,
    members: usize,
    progress: &(dyn Fn(usize) + Sync),
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Result<Summary, Error> {
    let prepared = scenario.prepare(SiteTable::shared(), base)?;
    let mut summary =
        Simulation::from_prepared(&prepared, Options::default())?.run_until(&mut |_| {
            if cancelled() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })?;
    add_bands(&mut summary, &prepared, base, members, progress, cancelled)?;
    Ok(summary)
}

/// Add `*_p05` / `*_p50` / `*_p95` bands from `members` draws to `summary`, the central run of
/// `prepared` (however it was run: watched, checkpointed, resumed), so every front end has one
/// central run. `base` is the set the draws vary (the scenario's overrides win over them).
/// Returns the members' own runs in draw order (`None` for a member that failed to solve), so
/// front ends can show them in long form.
pub fn add_bands(
    summary: &mut Summary,
    prepared: &Prepared,
    base: &ParameterSet,
    members: usize,
    progress: &(dyn Fn(usize) + Sync),
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Result<Vec<Option<Summary>>, Error> {
    let watch = |_: &Simulation| {
        if cancelled() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let scenario = prepared.scenario();
    let mut fast = scenario.clone();
    if fast.simulation.fidelity == Fidelity::Three {
        fast.simulation.fidelity = Fidelity::One;
        summary.notes.push("ensemble bands computed at fidelity 1d".into());
    }
    let members = members.max(2);
    // Draws come from the calibrated posterior when one is embedded, else from the prior
    // ranges; the scenario's own parameter overrides always win.
    let draws = match Posterior::embedded() {
        Some(post) => {
            summary.notes.push(format!(
                "bands: 5-95 % of {members} members resampled from the posterior: {} Latin-hypercube draws over every parameter's range, weighted by how well they reproduce the calibration targets ({}); effective sample size {:.0}",
                post.prior_draws,
                post.targets.join(", "),
                post.effective_size()
            ));
            let (bad, share) = post.non_healing(base);
            if bad > 0 {
                summary.notes.push(format!(
                    "{bad} posterior draws ({:.1} % of the weight) left out: their sterile healed state does not heal",
                    100.0 * share
                ));
            }
            post.sets(base, members, scenario.simulation.seed)
        }
        None => {
            let (sets, rejected) = healing_hypercube(base, members, scenario.simulation.seed);
            summary.notes.push(format!("bands: 5-95 % of {members} Latin-hypercube draws over every parameter's range (prior, no posterior embedded); {rejected} draws rejected because their sterile healed state does not heal"));
            sets
        }
    };
    let sets: Vec<ParameterSet> =
        draws.iter().map(|d| fast.parameter_set(d)).collect::<Result<_, _>>()?;
    let done = std::sync::atomic::AtomicUsize::new(0);
    let runs: Vec<Result<Summary, Error>> = sets
        .into_par_iter()
        .map(|set| {
            // Scenario overrides are already inside `set`; members that fail are counted.
            let mut s = fast.clone();
            s.parameters.clear();
            let r = Prepared::unchecked(s, set, prepared.snapshot_days.clone())
                .and_then(|p| Simulation::from_prepared(&p, Options::default()))
                .and_then(|mut sim| sim.run_until(&mut { watch }));
            if !matches!(r, Err(Error::Cancelled)) {
                progress(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1);
            }
            r
        })
        .collect();
    if cancelled() || runs.iter().any(|r| matches!(r, Err(Error::Cancelled))) {
        return Err(Error::Cancelled);
    }
    let runs: Vec<Option<Summary>> = runs.into_iter().map(Result::ok).collect();
    let ok: Vec<&Summary> = runs.iter().flatten().collect();
    let failed = runs.len() - ok.len();
    if failed > 0 {
        summary.notes.push(format!(
            "{failed} of {} ensemble members failed to solve and were left out",
            runs.len()
        ));
    }
    if ok.len() < 2 {
        return Err(Error::Ensemble { succeeded: ok.len(), members: runs.len() });
    }
    for (i, point) in summary.timeline.iter_mut().enumerate() {
        for (name, _) in point.columns().into_iter().skip(1) {
            let mut v: Vec<f64> = ok
                .iter()
                .filter_map(|r| r.timeline.get(i))
                .map(|p| p.get(name).unwrap_or(f64::NAN))
                .filter(|x| x.is_finite())
                .collect();
            if v.len() < 2 {
                continue;
            }
            v.sort_by(f64::total_cmp);
            point.bands.insert(format!("{name}_p05"), percentile(&v, 0.05));
            point.bands.insert(format!("{name}_p50"), percentile(&v, 0.50));
            point.bands.insert(format!("{name}_p95"), percentile(&v, 0.95));
        }
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypercube_covers_each_range_once_per_stratum() {
        let base = ParameterSet::literature();
        let n = 16;
        let sets = latin_hypercube(&base, n, 9);
        let p = &base.param["fibroblast_growth_per_day"];
        let mut strata: Vec<usize> = sets
            .iter()
            .map(|s| {
                let v = s.param["fibroblast_growth_per_day"].value;
                assert!(p.contains(v));
                ((v - p.range[0]) / (p.range[1] - p.range[0]) * n as f64).floor() as usize
            })
            .collect();
        strata.sort();
        assert_eq!(strata, (0..n).collect::<Vec<_>>());
        assert_eq!(sets, latin_hypercube(&base, n, 9), "same seed, same draws");
    }

    #[test]
    fn healing_hypercube_rejects_sets_that_never_heal() {
        let base = ParameterSet::literature();
        let plain = latin_hypercube(&base, 200, 4);
        let bad = plain.iter().filter(|s| heals(s).is_err()).count();
        // The +/-25 % box around the curated set crosses the stability boundary often.
        assert!(bad > 10, "only {bad} of 200 prior draws fail to heal");
        let (sets, rejected) = healing_hypercube(&base, 50, 4);
        assert_eq!(sets.len(), 50);
        assert!(rejected > 0);
        assert!(sets.iter().all(|s| heals(s).is_ok()));
    }
}

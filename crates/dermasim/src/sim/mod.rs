//! The simulator: fields on a grid, stepped by Strang splitting (half transport, kinetics,
//! half transport); sessions re-inject injury at their day.
//!
//! `build` sets a run up, `session` applies a session's injury, `step` advances the fields,
//! `record` turns them into the timeline and summary, `checkpoint` saves and restores a run.

mod build;
mod checkpoint;
mod record;
mod session;
mod step;

use record::Sums;

use rayon::prelude::*;
use std::ops::ControlFlow;

use crate::device::Channels;
use crate::error::Error;
use crate::grid::Grid;
use crate::injury::injured_fraction;
use crate::kinetics::lanes::{integrate_voxels, Job, Voxels};
use crate::kinetics::module::ModuleVoxel;
use crate::kinetics::{
    at_rest, near_rest, species::*, within_rest, Baseline, CooperParams, Reference, RemodelParams,
    RestScale, Voxel, REST_EPS,
};
use crate::ode::{self, Rodas3, Stats, Tolerance};
use crate::outcome::{endpoints, LayersUm, SessionOutcome, Summary, TimelinePoint, DISCLAIMER};
use crate::params::{typed_params, ParameterSet};
use crate::scenario::{Fidelity, Prepared, Scenario};
use crate::tissue::{Column, Layer, SiteTable};
use crate::transport::{diffuse_fields, diffuse_screened};

typed_params! {
    /// What a fully injured voxel releases (scaled by its injured fraction).
    InjuryParams {
        debris_per_injury,
        latent_tgf_per_injury,
        neutrophils_per_injury,
        pathogen_per_injury,
        matrix_loss_per_injury,
    }
}

typed_params! {
    /// Diffusion and migration coefficients in the dermis (um^2/day) and layer factors.
    TransportParams {
        d_pathogen,
        d_debris,
        d_neutrophils,
        d_macrophages,
        d_tgf_beta,
        d_fibroblasts,
        epidermis_diffusion_factor,
        stratum_corneum_diffusion_factor,
    }
}

typed_params! {
    /// Epidermal thickness response.
    EpidermisParams {
        epidermis_growth_per_day,
        epidermis_max_rel,
        epidermis_relax_per_day,
        epidermis_injury_signal_weight,
        epidermis_dermal_coupling,
    }
}

/// Knobs that are not part of the scenario (tests, benchmarks, ensemble).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Puncture centres to use at every session instead of the scenario's placement (3d).
    pub positions: Option<Vec<[f64; 2]>>,
    /// Kinetics tolerance; `Tolerance::SIMULATION` when absent.
    pub tolerance: Option<Tolerance>,
    /// Extra times the stepper must land on (field snapshots).
    pub stops: Vec<f64>,
    /// Integrate the kinetics as first written (Rodas4, finite-difference Jacobian, dense LU,
    /// `Tolerance::REFERENCE_SIMULATION` unless `tolerance` is set): the yardstick that the
    /// optimised kinetics is tested against.
    pub reference_kinetics: bool,
    /// Integrate the built-in kinetics one voxel at a time instead of four in SIMD lanes
    /// (`kinetics::lanes`); the results are bit-identical, this is the yardstick that shows it
    /// and the benchmark's "before".
    pub scalar_kinetics: bool,
    /// Inflammation module in place of the built-in Cooper 2015 block (an SBML model loaded by
    /// `dermasim-app`); required when the scenario has `[inflammation]`.
    pub inflammation: Option<std::sync::Arc<dyn crate::kinetics::module::InflammationModule>>,
}

/// Where a run spent its time (wall clock, seconds) and how much kinetics it did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Profile {
    /// Time steps taken.
    pub steps: u64,
    /// Wall time in transport.
    pub transport_s: f64,
    /// Wall time in kinetics.
    pub kinetics_s: f64,
    /// Voxels integrated by the kinetics, summed over steps.
    pub voxel_steps: u64,
    /// Viable voxels skipped because they were at rest (within `simulation.rest_tolerance`),
    /// summed over steps.
    pub voxels_resting: u64,
}

/// A run in progress: the grid, the fields and the clock, stepped by [`Simulation::run_until`].
pub struct Simulation {
    /// The scenario and what its checks derived (parameters, column, channels).
    prepared: Prepared,
    grid: Grid,
    options: Options,
    cooper: CooperParams,
    remodel: RemodelParams,
    injury: InjuryParams,
    epi: EpidermisParams,
    /// Resting state per depth cell.
    base: Vec<Baseline>,
    /// What "near rest" means per species, per depth cell (`simulation.rest_tolerance`).
    rest_scale: Vec<RestScale>,
    /// Diffusion coefficient per species per depth cell (0 for TGF-beta, which moves apart).
    diffusion: Vec<Vec<f64>>,
    /// TGF-beta's diffusion coefficient per depth cell.
    tgf_diffusion: Vec<f64>,
    /// TGF-beta's decay per depth cell in transport (the kinetics' rate where it runs, else 0).
    tgf_decay: Vec<f64>,
    /// Per voxel, the part of `fields[T]` that diffusion brought (negative: took away) and
    /// that has not decayed yet; the rest is the voxel's own, which the kinetics integrates.
    tgf_excess: Vec<f64>,
    /// Species-major fields: `fields[s * len + voxel]`.
    fields: Vec<f64>,
    /// Last kinetics step per voxel, carried between calls.
    step: Vec<f64>,
    /// Relative epidermal thickness per lateral column.
    epidermis: Vec<f64>,
    /// 0d/1d closure: share of each lateral column inside some channel's wound zone. The fields
    /// of a 0d/1d column hold the state of that zone; the rest of the column is at rest, so
    /// column means are `rest + zone * (field - rest)`. Always 1 at 3d, where every channel is
    /// resolved.
    zone: Vec<f64>,
    /// Wound-filling targets `[collagen III, collagen I, elastin]` per voxel (species-major, 3 x
    /// len): the matrix each voxel held before its last injury, never below rest.
    refill: Vec<f64>,
    t: f64,
    reference: Sums,
    sessions_done: usize,
    session_outcomes: Vec<SessionOutcome>,
    timeline: Vec<TimelinePoint>,
    /// The sums at the start of the last step, for the curve that timeline points inside the
    /// next step are read from (`record::Recordable`); `None` at the start and after a session.
    step_start: Option<record::Recordable>,
    stats: Stats,
    profile: Profile,
}

impl Simulation {
    /// Set up a run of `scenario` with base parameters `base` and default options.
    pub fn new(scenario: &Scenario, base: &ParameterSet) -> Result<Simulation, Error> {
        Self::with_options(scenario, base, Options::default())
    }

    /// Prepare (check) the scenario against `base`, then build.
    pub fn with_options(
        scenario: &Scenario,
        base: &ParameterSet,
        options: Options,
    ) -> Result<Simulation, Error> {
        Self::from_prepared(&scenario.prepare(SiteTable::shared(), base)?, options)
    }

    /// The grid.
    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    /// The skin column.
    pub fn column(&self) -> &Column {
        &self.prepared.column
    }

    /// The parameter set the run uses (base plus the scenario's overrides).
    pub fn parameters(&self) -> &ParameterSet {
        &self.prepared.set
    }

    /// Simulated time, days.
    pub fn time(&self) -> f64 {
        self.t
    }

    /// One species field, `grid.len()` values in z, y, x order.
    pub fn field(&self, s: usize) -> &[f64] {
        let len = self.grid.len();
        &self.fields[s * len..(s + 1) * len]
    }

    /// Per voxel, the part of the TGF-beta field (`field(T)`) that diffusion brought and that
    /// has not decayed yet (negative where diffusion took TGF-beta away); the kinetics
    /// integrates the rest.
    pub fn tgf_excess(&self) -> &[f64] {
        &self.tgf_excess
    }

    /// Resting state of each depth cell.
    pub fn baselines(&self) -> &[Baseline] {
        &self.base
    }

    /// Relative epidermal thickness per lateral column (at 0d/1d: of the wound zone).
    pub fn epidermis(&self) -> &[f64] {
        &self.epidermis
    }

    /// Share of each lateral column inside a channel's wound zone: 1 at 3d; at 0d/1d the fields
    /// hold the zone's state and the column mean is `rest + zone * (field - rest)`.
    pub fn wound_zone(&self) -> &[f64] {
        &self.zone
    }

    /// Lateral mean of every species in depth cell `k`, the 0d/1d wound zone mixed with
    /// resting tissue exactly as the timeline does (what depth profiles show).
    pub fn lateral_mean(&self, k: usize) -> [f64; crate::kinetics::species::COUNT] {
        let (len, plane) = (self.grid.len(), self.grid.plane());
        let rest = self.base[k].state();
        std::array::from_fn(|sp| {
            self.fields[sp * len + k * plane..sp * len + (k + 1) * plane]
                .iter()
                .zip(&self.zone)
                .map(|(&x, &w)| record::zone_mixed(x, w, rest[sp]))
                .sum::<f64>()
                / plane as f64
        })
    }

    /// Kinetics integrator steps so far.
    pub fn solver_stats(&self) -> Stats {
        self.stats
    }

    /// Time spent per part of the step, and kinetics work done, so far.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The channels of session `i`.
    pub fn channels(&self, i: usize) -> &Channels {
        &self.prepared.channels[i]
    }

    /// The step from `t` towards the stop `target`: its length and where it ends (on `target`
    /// when within round-off of it, so no sliver of a step is left before a stop).
    fn step_from(&self, t: f64, target: f64) -> (f64, f64) {
        let sim = &self.prepared.scenario.simulation;
        let size = match self.sessions_done {
            0 => sim.dt_max_days,
            n => {
                let since = t - self.prepared.scenario.protocol.sessions[n - 1].day;
                (sim.dt_min_days + sim.dt_growth * since).min(sim.dt_max_days)
            }
        };
        let dt = size.min(target - t);
        let dt = if target - (t + dt) < 1e-9 { target - t } else { dt };
        let t_new = if (target - t - dt).abs() < 1e-9 { target } else { t + dt };
        (dt, t_new)
    }

    /// Run to the end of follow-up. `observer` sees the simulation after every step.
    pub fn run(&mut self, observer: &mut dyn FnMut(&Simulation)) -> Result<Summary, Error> {
        self.run_until(&mut |sim| {
            observer(sim);
            ControlFlow::Continue(())
        })
    }

    /// Run to the end of follow-up, or until `observer` (called after every step) breaks:
    /// then `Err(Error::Cancelled)`, and the simulation stands where it stopped (a checkpoint
    /// of it resumes).
    ///
    /// The step-stop policy lives here and only here. Steps follow the schedule
    /// (`dt_min_days`, `dt_growth`, `dt_max_days`) and land on every session, the end, the
    /// scenario's snapshot days and `Options::stops`; timeline points that fall inside a step
    /// are interpolated linearly in time between its two ends (docs/numerics.md). So the
    /// numbers never depend on the timeline's cadence, on what is written or on how the run
    /// is observed.
    pub fn run_until(
        &mut self,
        observer: &mut dyn FnMut(&Simulation) -> ControlFlow<()>,
    ) -> Result<Summary, Error> {
        let end = self.prepared.scenario.protocol.follow_up_days;
        let every = self.prepared.scenario.simulation.output_every_days;
        let snapshots = &self.prepared.snapshot_days;
        let mut stops: Vec<f64> = self
            .prepared
            .scenario
            .protocol
            .sessions
            .iter()
            .map(|s| s.day)
            .chain(
                snapshots
                    .iter()
                    .chain(&self.options.stops)
                    .copied()
                    .filter(|&t| t > 0.0 && t < end),
            )
            .chain([end])
            .collect();
        stops.sort_by(f64::total_cmp);
        stops.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
        // The timeline's times: every `every` days from 0, and the end.
        let output = |i: usize| {
            let t = i as f64 * every;
            if t < end - 1e-9 {
                t
            } else {
                end
            }
        };

        // The next stop and the next timeline point not yet reached (a resumed run starts past
        // some of them).
        let (mut next, mut next_out) = (0, 0);
        loop {
            while next < stops.len() && stops[next] <= self.t + 1e-9 {
                next += 1;
            }
            while output(next_out) < self.t - 1e-9 {
                next_out += 1;
            }
            if (output(next_out) - self.t).abs() < 1e-9 {
                let t = output(next_out);
                if self.timeline.last().is_none_or(|p| p.t_day < t - 1e-9) {
                    self.record(t);
                }
                next_out += 1;
            }
            while self.sessions_done < self.prepared.scenario.protocol.sessions.len()
                && (self.prepared.scenario.protocol.sessions[self.sessions_done].day - self.t).abs()
                    < 1e-9
            {
                self.apply_session(self.sessions_done)?;
            }
            if self.t >= end - 1e-9 {
                break;
            }
            let (dt, t_new) = self.step_from(self.t, stops[next]);
            // Timeline points strictly inside the step; one at its end is recorded exactly.
            let mut inside = Vec::new();
            while output(next_out) < t_new - 1e-9 {
                inside.push(output(next_out));
                next_out += 1;
            }
            // Points inside the next step are read from a curve through this step's start
            // too. (A session at its start drops that, and the next step is then planned
            // wrongly here, harmlessly.)
            let upcoming = stops
                .iter()
                .find(|&&s| s > t_new + 1e-9)
                .is_some_and(|&target| output(next_out) < self.step_from(t_new, target).1 - 1e-9);
            let before = (!inside.is_empty() || upcoming).then(|| self.recordable());
            self.advance(dt)?;
            self.t = t_new;
            if let Some(before) = before.as_ref().filter(|_| !inside.is_empty()) {
                let earlier = self.step_start;
                self.record_between(earlier.as_ref(), before, &inside);
            }
            self.step_start = before;
            if observer(self).is_break() {
                return Err(Error::Cancelled);
            }
        }
        Ok(self.summary())
    }
}

/// Run a scenario with the given base parameters and no observer.
pub fn run(scenario: &Scenario, base: &ParameterSet) -> Result<Summary, Error> {
    Simulation::new(scenario, base)?.run(&mut |_| {})
}

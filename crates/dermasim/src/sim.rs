//! The simulator: fields on a grid, stepped by Strang splitting (half transport, kinetics,
//! half transport); sessions re-inject injury at their day.

use rayon::prelude::*;
use std::ops::ControlFlow;

use crate::device::Channels;
use crate::error::Error;
use crate::grid::Grid;
use crate::injury::injured_fraction;
use crate::kinetics::lanes::{integrate_jobs, Job};
use crate::kinetics::module::ModuleVoxel;
use crate::kinetics::{
    at_rest, near_rest, species::*, Baseline, CooperParams, Reference, RemodelParams, RestScale,
    Voxel,
};
use crate::ode::{self, Rodas3, Stats, Tolerance};
use crate::outcome::{endpoints, LayersUm, SessionOutcome, Summary, TimelinePoint, DISCLAIMER};
use crate::params::{typed_params, ParameterSet};
use crate::scenario::{Fidelity, Scenario};
use crate::tissue::{Column, Layer, SiteTable};
use crate::transport::diffuse_fields;

typed_params! {
    /// What a fully injured voxel releases (scaled by its injured fraction).
    InjuryParams {
        debris_per_injury,
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

/// Dermis sums used for the timeline.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    volume: f64,
    papillary_volume: f64,
    c1: f64,
    c3: f64,
    papillary_collagen: f64,
    elastin: f64,
    damaged_elastin: f64,
    new_elastin: f64,
    fibroblasts: f64,
    neutrophils: f64,
    macrophages: f64,
    debris: f64,
    tgf: f64,
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
    scenario: Scenario,
    set: ParameterSet,
    column: Column,
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
    /// Diffusion coefficient per species per depth cell.
    diffusion: Vec<Vec<f64>>,
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
    stats: Stats,
    profile: Profile,
}

impl Simulation {
    /// Set up a run of `scenario` with base parameters `base` and default options.
    pub fn new(scenario: &Scenario, base: &ParameterSet) -> Result<Simulation, Error> {
        Self::with_options(scenario, base, Options::default())
    }

    /// Validate the scenario against `base`, then build.
    pub fn with_options(
        scenario: &Scenario,
        base: &ParameterSet,
        options: Options,
    ) -> Result<Simulation, Error> {
        scenario.validate(SiteTable::shared(), base)?;
        Self::build(scenario, base, options)
    }

    /// Build without validation, for scenarios already validated against the central
    /// parameters (ensemble members draw other values, e.g. deeper penetration, which the
    /// device model clamps to the skin's thickness).
    pub(crate) fn build(
        scenario: &Scenario,
        base: &ParameterSet,
        options: Options,
    ) -> Result<Simulation, Error> {
        if scenario.inflammation.is_some() && options.inflammation.is_none() {
            return Err(crate::FieldError::new(
                "inflammation.sbml",
                "no module was loaded for it: the core reads no files; dermasim-app loads SBML \
                 for single runs (ensembles, validation and cohorts use the built-in module)",
            )
            .into());
        }
        let sites = SiteTable::shared();
        let set = scenario.parameter_set(base)?;
        let p = &scenario.patient;
        let site = sites.require(&p.site, "patient.site")?;
        let column = Column::build(site, p.age_years, p.sex, &set)?;
        let sim = &scenario.simulation;
        let grid = match sim.fidelity {
            Fidelity::Zero => {
                // One cell per layer, split where each session's channels end (Grid::split_layers).
                let mut ends = Vec::new();
                for i in 0..scenario.protocol.sessions.len() {
                    let ch = scenario.session_device(i).channels(&column, &set)?;
                    ends.push(ch.effective_depth_um);
                }
                Grid::split_layers(&column.thickness_um, &ends)
            }
            Fidelity::One => Grid::layered(&column.thickness_um, Some(sim.dz_um), 1, 1, 1.0),
            Fidelity::Three => {
                let nx = (sim.patch_um[0] / sim.dx_um).round() as usize;
                let ny = (sim.patch_um[1] / sim.dx_um).round() as usize;
                Grid::layered(&column.thickness_um, Some(sim.dz_um), nx, ny, sim.dx_um)
            }
        };
        let layer_index = |l: Layer| Layer::ALL.iter().position(|&x| x == l).unwrap();
        let base: Vec<Baseline> =
            grid.layer.iter().map(|&l| column.baseline[layer_index(l)]).collect();
        let tp = TransportParams::from_set(&set)?;
        let mut diffusion = vec![vec![0.0; grid.nz]; COUNT];
        for (s, d) in [
            (P, tp.d_pathogen),
            (PT, tp.d_debris),
            (N, tp.d_neutrophils),
            (M, tp.d_macrophages),
            (MR, tp.d_macrophages),
            (T, tp.d_tgf_beta),
            (F, tp.d_fibroblasts),
        ] {
            for (k, l) in grid.layer.iter().enumerate() {
                let factor = match l {
                    Layer::StratumCorneum => tp.stratum_corneum_diffusion_factor,
                    Layer::Epidermis => tp.epidermis_diffusion_factor,
                    _ => 1.0,
                };
                // Fibroblasts live in the dermis only.
                diffusion[s][k] = if s == F && !l.is_dermis() { 0.0 } else { d * factor };
            }
        }
        let len = grid.len();
        let mut fields = vec![0.0; COUNT * len];
        for (k, b) in base.iter().enumerate() {
            let y = b.state();
            for s in 0..COUNT {
                fields[s * len + k * grid.plane()..s * len + (k + 1) * grid.plane()].fill(y[s]);
            }
        }
        let mut refill = vec![0.0; 3 * len];
        for (k, b) in base.iter().enumerate() {
            for (m, level) in b.matrix().iter().enumerate() {
                refill[m * len + k * grid.plane()..m * len + (k + 1) * grid.plane()].fill(*level);
            }
        }
        let (remodel, injury) = (RemodelParams::from_set(&set)?, InjuryParams::from_set(&set)?);
        let doses =
            [injury.pathogen_per_injury, injury.debris_per_injury, injury.neutrophils_per_injury];
        let rest_scale = base.iter().map(|b| RestScale::new(b, doses, &remodel)).collect();
        let mut me = Simulation {
            refill,
            rest_scale,
            cooper: CooperParams::from_set(&set)?,
            remodel,
            injury,
            epi: EpidermisParams::from_set(&set)?,
            scenario: scenario.clone(),
            epidermis: vec![1.0; grid.plane()],
            zone: vec![if sim.fidelity == Fidelity::Three { 1.0 } else { 0.0 }; grid.plane()],
            step: vec![0.0; len],
            column,
            grid,
            options,
            set,
            base,
            diffusion,
            fields,
            t: 0.0,
            reference: Sums::default(),
            sessions_done: 0,
            session_outcomes: Vec::new(),
            timeline: Vec::new(),
            stats: Stats::default(),
            profile: Profile::default(),
        };
        me.reference = me.sums();
        Ok(me)
    }

    /// The grid.
    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    /// The skin column.
    pub fn column(&self) -> &Column {
        &self.column
    }

    /// The parameter set the run uses (base plus the scenario's overrides).
    pub fn parameters(&self) -> &ParameterSet {
        &self.set
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
                .map(|(&x, &w)| if w == 1.0 { x } else { rest[sp] + w * (x - rest[sp]) })
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
    pub fn channels(&self, i: usize) -> Result<Channels, Error> {
        Ok(self.scenario.session_device(i).channels(&self.column, &self.set)?)
    }

    fn step_size(&self) -> f64 {
        let sim = &self.scenario.simulation;
        match self.sessions_done {
            0 => sim.dt_max_days,
            n => {
                let since = self.t - self.scenario.protocol.sessions[n - 1].day;
                (sim.dt_min_days + sim.dt_growth * since).min(sim.dt_max_days)
            }
        }
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
    /// The step-stop policy lives here and only here: the stepper lands on every output time,
    /// session, the scenario's snapshot days and `Options::stops`, whatever is written, so the
    /// numbers never depend on the output selection or on how the run is observed.
    pub fn run_until(
        &mut self,
        observer: &mut dyn FnMut(&Simulation) -> ControlFlow<()>,
    ) -> Result<Summary, Error> {
        let end = self.scenario.protocol.follow_up_days;
        let every = self.scenario.simulation.output_every_days;
        let snapshots = self.scenario.outputs.days(&self.scenario.protocol);
        let mut stops: Vec<f64> = (0..)
            .map(|i| i as f64 * every)
            .take_while(|&t| t < end - 1e-9)
            .chain(self.scenario.protocol.sessions.iter().map(|s| s.day))
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
        let outputs_due =
            |t: f64| ((t / every).round() * every - t).abs() < 1e-9 || (t - end).abs() < 1e-9;

        let mut next = 0;
        loop {
            while next < stops.len() && stops[next] <= self.t + 1e-9 {
                next += 1;
            }
            if outputs_due(self.t) && self.timeline.last().is_none_or(|p| p.t_day < self.t - 1e-9) {
                self.record();
            }
            while self.sessions_done < self.scenario.protocol.sessions.len()
                && (self.scenario.protocol.sessions[self.sessions_done].day - self.t).abs() < 1e-9
            {
                self.apply_session(self.sessions_done)?;
            }
            if self.t >= end - 1e-9 {
                break;
            }
            let target = stops[next];
            let dt = self.step_size().min(target - self.t);
            let dt = if target - (self.t + dt) < 1e-9 { target - self.t } else { dt };
            self.advance(dt)?;
            self.t = if (target - self.t - dt).abs() < 1e-9 { target } else { self.t + dt };
            if observer(self).is_break() {
                return Err(Error::Cancelled);
            }
        }
        Ok(self.summary())
    }

    fn apply_session(&mut self, i: usize) -> Result<(), Error> {
        let ch = self.channels(i)?;
        let frac = match self.scenario.simulation.fidelity {
            Fidelity::Three => {
                let patch =
                    [self.grid.nx as f64 * self.grid.dx, self.grid.ny as f64 * self.grid.dx];
                let mut points = match &self.options.positions {
                    Some(p) => Box::new(p.clone().into_iter()),
                    None => self.scenario.punctures(i, patch),
                };
                injured_fraction(&self.grid, &ch, Some(&mut points))
            }
            _ => injured_fraction(&self.grid, &ch, None),
        };
        let len = self.grid.len();
        let plane = self.grid.plane();
        let inj = self.injury;
        // 0d/1d closure: the new channels' wound zones join the existing zone; the union's state
        // is the volume-weighted mix of the old zone and newly reached resting tissue, and the
        // injury is concentrated in the zone (its injured share is phi / zone).
        let concentration: Vec<f64> = if self.scenario.simulation.fidelity == Fidelity::Three {
            vec![1.0; plane]
        } else {
            let added = ch.wound_zone_fraction();
            (0..plane)
                .map(|c| {
                    let old = self.zone[c];
                    let new = 1.0 - (1.0 - old) * (1.0 - added);
                    if new <= 0.0 {
                        return 0.0;
                    }
                    let keep = old / new;
                    if keep < 1.0 {
                        for k in 0..self.grid.nz {
                            let v = k * plane + c;
                            let rest = self.base[k].state();
                            for (sp, r) in rest.iter().enumerate() {
                                let x = &mut self.fields[sp * len + v];
                                *x = r + keep * (*x - r);
                            }
                            for (m, r) in self.base[k].matrix().iter().enumerate() {
                                let x = &mut self.refill[m * len + v];
                                *x = r + keep * (*x - r);
                            }
                        }
                        self.epidermis[c] = 1.0 + keep * (self.epidermis[c] - 1.0);
                    }
                    self.zone[c] = new;
                    1.0 / new
                })
                .collect()
        };
        let (mut injured_volume, mut dermis_volume) = (0.0, 0.0);
        for (v, &phi) in frac.iter().enumerate() {
            let k = v / plane;
            let layer = self.grid.layer[k];
            if layer.is_dermis() {
                injured_volume += phi * self.grid.hz[k];
                dermis_volume += self.grid.hz[k];
            }
            if phi <= 0.0 || !layer.is_viable() {
                continue;
            }
            let phi = (phi * concentration[v % plane]).min(1.0);
            let f = &mut self.fields;
            f[PT * len + v] += inj.debris_per_injury * phi;
            f[N * len + v] += inj.neutrophils_per_injury * phi;
            f[P * len + v] += inj.pathogen_per_injury * phi;
            // Wound filling later restores what the voxel held before this injury (at least
            // its rest, and what an earlier injury left still to be filled).
            for (m, (s, r)) in [C3, C1, EF].into_iter().zip(self.base[k].matrix()).enumerate() {
                let t = &mut self.refill[m * len + v];
                *t = f[s * len + v].max(r).max(*t);
            }
            let keep = 1.0 - inj.matrix_loss_per_injury * phi;
            for s in [C1, C3, EF, ED, EN] {
                f[s * len + v] *= keep;
            }
        }
        let device = self.scenario.session_device(i);
        self.session_outcomes.push(SessionOutcome {
            day: self.scenario.protocol.sessions[i].day,
            device: device.kind().to_string(),
            punctures_per_cm2: ch.punctures_per_cm2,
            nominal_depth_um: ch.nominal_depth_um,
            penetration_efficiency: ch.penetration_efficiency,
            effective_depth_um: ch.effective_depth_um,
            channel_radius_um: ch.channel_radius_um,
            channel_angle_deg: ch.angle_deg,
            bleeding: ch.bleeding,
            dermis_injured_fraction: if dermis_volume > 0.0 {
                injured_volume / dermis_volume
            } else {
                0.0
            },
        });
        self.sessions_done += 1;
        Ok(())
    }

    /// Diffuse every species' departure from its resting profile. Only fibroblasts have a
    /// resting density that changes with depth (papillary vs reticular); moving the departure
    /// `f - f_rest` instead of `f` keeps the resting profile an exact fixed point (an absolute
    /// density would be pushed across the layer step for ever, issue 15 point 1), and what moves
    /// is the wound-driven excess. The other diffusing species rest at zero.
    fn transport(&mut self, dt: f64) {
        let (len, plane) = (self.grid.len(), self.grid.plane());
        let shift = |fields: &mut [f64], base: &[Baseline], sign: f64| {
            let row = &mut fields[F * len..(F + 1) * len];
            for (k, b) in base.iter().enumerate() {
                if b.fibroblasts != 0.0 {
                    for v in &mut row[k * plane..(k + 1) * plane] {
                        *v += sign * b.fibroblasts;
                    }
                }
            }
        };
        shift(&mut self.fields, &self.base, -1.0);
        let d: Vec<&[f64]> = self.diffusion.iter().map(Vec::as_slice).collect();
        diffuse_fields(&self.grid, &mut self.fields, &d, 0.0, dt);
        shift(&mut self.fields, &self.base, 1.0);
    }

    fn advance(&mut self, dt: f64) -> Result<(), Error> {
        let clock = std::time::Instant::now();
        self.transport(dt / 2.0);
        let transported = clock.elapsed().as_secs_f64();
        let clock = std::time::Instant::now();
        self.kinetics(dt)?;
        self.update_epidermis(dt);
        self.profile.kinetics_s += clock.elapsed().as_secs_f64();
        let clock = std::time::Instant::now();
        self.transport(dt / 2.0);
        self.profile.transport_s += transported + clock.elapsed().as_secs_f64();
        self.profile.steps += 1;
        Ok(())
    }

    fn kinetics(&mut self, dt: f64) -> Result<(), Error> {
        let len = self.grid.len();
        let plane = self.grid.plane();
        let reference = self.options.reference_kinetics;
        let tol = self.options.tolerance.unwrap_or(if reference {
            Tolerance::REFERENCE_SIMULATION
        } else {
            Tolerance::SIMULATION
        });
        let (cooper, remodel, base, layers, refill) =
            (&self.cooper, &self.remodel, &self.base, &self.grid.layer, &self.refill);
        let module = self.options.inflammation.as_deref();
        let lanes = module.is_none() && !reference && !self.options.scalar_kinetics;
        let quiet = self.quiet_voxels();
        let quiet = quiet.as_deref();
        let (nx, ny, nz) = (self.grid.nx, self.grid.ny, self.grid.nz);
        // A voxel is skipped when it and its six neighbours (periodic in x and y) are quiet:
        // no neighbour is about to push it away from rest either.
        let skip = |v: usize| {
            let Some(q) = quiet else { return false };
            let (i, j, k) = (v % nx, (v / nx) % ny, v / plane);
            let row = v - i;
            let left = if i == 0 { row + nx - 1 } else { v - 1 };
            let right = if i + 1 == nx { row } else { v + 1 };
            let front = if j == 0 { v + plane - nx } else { v - nx };
            let back = if j + 1 == ny { v + nx - plane } else { v + nx };
            q[v] && q[left]
                && q[right]
                && q[front]
                && q[back]
                && (k == 0 || q[v - plane])
                && (k + 1 == nz || q[v + plane])
        };
        const CHUNK: usize = 256;
        // Each chunk of voxels gets its own slice of every species row: disjoint borrows.
        let mut rows = crate::numerics::column_blocks(&mut self.fields, len, CHUNK);
        let results: Vec<Result<(Stats, u64, u64), ode::OdeError>> = self
            .step
            .par_chunks_mut(CHUNK)
            .zip(rows.par_iter_mut())
            .enumerate()
            .map(|(c, (steps, rows))| {
                let (mut stats, mut integrated, mut resting) = (Stats::default(), 0, 0);
                // One evaluator per chunk: an SBML module needs its own value store.
                let rates = module.map(|m| {
                    std::cell::RefCell::new(m.evaluator(&[cooper.estrogen, cooper.cortisol]))
                });
                // The built-in kinetics go four voxels at a time through SIMD lanes.
                let (mut jobs, mut at) = (Vec::new(), Vec::new());
                for (o, h) in steps.iter_mut().enumerate() {
                    let v = c * CHUNK + o;
                    let k = v / plane;
                    if !layers[k].is_viable() {
                        continue;
                    }
                    let mut y: [f64; COUNT] = std::array::from_fn(|s| rows[s][o]);
                    let resting_now = if quiet.is_some() { skip(v) } else { at_rest(&y, &base[k]) };
                    if resting_now {
                        resting += 1;
                        continue;
                    }
                    integrated += 1;
                    let refill_to = [refill[v], refill[len + v], refill[2 * len + v]];
                    if *h <= 0.0 {
                        *h = dt;
                    }
                    if lanes {
                        jobs.push(Job { y, h: *h, base: base[k], refill_to });
                        at.push(o);
                        continue;
                    }
                    let sys = Voxel { cooper, remodel, base: base[k], refill_to };
                    stats += if let Some(rates) = &rates {
                        let sys = ModuleVoxel { voxel: sys, rates };
                        ode::integrate_with::<Rodas3, COUNT, _>(&sys, 0.0, dt, &mut y, h, tol)?
                    } else if reference {
                        ode::integrate(&Reference(sys), 0.0, dt, &mut y, h, tol)?
                    } else {
                        ode::integrate_with::<Rodas3, COUNT, _>(&sys, 0.0, dt, &mut y, h, tol)?
                    };
                    for (row, ys) in rows.iter_mut().zip(&y) {
                        // Round-off can leave values a hair below zero near rest.
                        row[o] = ys.max(0.0);
                    }
                }
                if !jobs.is_empty() {
                    stats += integrate_jobs(cooper, remodel, &mut jobs, dt, tol)?;
                    for (job, &o) in jobs.iter().zip(&at) {
                        steps[o] = job.h;
                        for (row, ys) in rows.iter_mut().zip(&job.y) {
                            row[o] = ys.max(0.0);
                        }
                    }
                }
                Ok((stats, integrated, resting))
            })
            .collect();
        for r in results {
            let (stats, integrated, resting) = r.map_err(Error::Solver)?;
            self.stats += stats;
            self.profile.voxel_steps += integrated;
            self.profile.voxels_resting += resting;
        }
        Ok(())
    }

    /// With a non-zero `simulation.rest_tolerance`, which voxels lie within it of rest (every
    /// voxel, viable or not, so the neighbour test can read any of them); `None` at 0, where
    /// only voxels exactly at rest are skipped.
    fn quiet_voxels(&self) -> Option<Vec<bool>> {
        let tol = self.scenario.simulation.rest_tolerance;
        if tol <= 0.0 {
            return None;
        }
        let (len, plane) = (self.grid.len(), self.grid.plane());
        let rest: Vec<[f64; COUNT]> = self.base.iter().map(Baseline::state).collect();
        let fields = &self.fields;
        Some(
            (0..len)
                .into_par_iter()
                .with_min_len(4096)
                .map(|v| {
                    let k = v / plane;
                    let y: [f64; COUNT] = std::array::from_fn(|s| fields[s * len + v]);
                    near_rest(&y, &rest[k], &self.rest_scale[k], tol)
                })
                .collect(),
        )
    }

    /// Epidermal thickness per column: driven by activated papillary fibroblasts (paracrine
    /// keratinocyte growth factors) and by debris in the epidermis (wound signal), relaxing
    /// back slowly. Linear in H with the drive frozen over the step, so solved exactly.
    fn update_epidermis(&mut self, dt: f64) {
        let (len, plane) = (self.grid.len(), self.grid.plane());
        let e = self.epi;
        for c in 0..plane {
            let (mut pap, mut pap_w, mut epi, mut epi_w) = (0.0, 0.0, 0.0, 0.0);
            let (mut coll, mut coll_rest) = (0.0, 0.0);
            for k in 0..self.grid.nz {
                let v = k * plane + c;
                let h = self.grid.hz[k];
                match self.grid.layer[k] {
                    Layer::PapillaryDermis => {
                        let b = &self.base[k];
                        pap += (self.fields[F * len + v] - b.fibroblasts).max(0.0) * b.response * h;
                        pap_w += h;
                        coll += (self.fields[C1 * len + v] + self.fields[C3 * len + v]) * h;
                        coll_rest += (b.collagen_i + b.collagen_iii) * h;
                    }
                    Layer::Epidermis => {
                        epi += self.fields[PT * len + v] * h;
                        epi_w += h;
                    }
                    _ => {}
                }
            }
            // Lasting thickening only while the papillary dermis itself stays changed.
            let dermal = if coll_rest > 0.0 { (coll / coll_rest - 1.0).max(0.0) } else { 0.0 };
            let drive = pap / pap_w.max(1e-30)
                + e.epidermis_injury_signal_weight * epi / epi_w.max(1e-30)
                + e.epidermis_dermal_coupling * dermal;
            let a = e.epidermis_growth_per_day * drive * e.epidermis_max_rel
                + e.epidermis_relax_per_day;
            let b = e.epidermis_growth_per_day * drive + e.epidermis_relax_per_day;
            let eq = a / b;
            self.epidermis[c] = eq + (self.epidermis[c] - eq) * (-b * dt).exp();
        }
    }

    fn sums(&self) -> Sums {
        let (len, plane) = (self.grid.len(), self.grid.plane());
        let mut s = Sums::default();
        for k in 0..self.grid.nz {
            let layer = self.grid.layer[k];
            if !layer.is_dermis() {
                continue;
            }
            let h = self.grid.hz[k];
            let rest = self.base[k].state();
            // Column means: the wound zone's state mixed with resting tissue (3d: zone = 1).
            let row = |sp: usize| {
                self.fields[sp * len + k * plane..sp * len + (k + 1) * plane]
                    .iter()
                    .zip(&self.zone)
                    .map(|(&x, &w)| if w == 1.0 { x } else { rest[sp] + w * (x - rest[sp]) })
                    .sum::<f64>()
                    * h
            };
            let (c1, c3) = (row(C1), row(C3));
            s.volume += h * plane as f64;
            s.c1 += c1;
            s.c3 += c3;
            if layer == Layer::PapillaryDermis {
                s.papillary_volume += h * plane as f64;
                s.papillary_collagen += c1 + c3;
            }
            s.elastin += row(EF);
            s.damaged_elastin += row(ED);
            s.new_elastin += row(EN);
            s.fibroblasts += row(F);
            s.neutrophils += row(N);
            s.macrophages += row(M);
            s.debris += row(PT);
            s.tgf += row(T);
        }
        s
    }

    fn record(&mut self) {
        let s = self.sums();
        let r = &self.reference;
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 1.0 };
        self.timeline.push(TimelinePoint {
            t_day: self.t,
            collagen_i_rel: ratio(s.c1, r.c1),
            collagen_iii_rel: ratio(s.c3, r.c3),
            collagen_total_rel: ratio(s.c1 + s.c3, r.c1 + r.c3),
            collagen_papillary_rel: ratio(s.papillary_collagen, r.papillary_collagen),
            elastin_rel: ratio(s.elastin, r.elastin),
            elastin_total_rel: ratio(s.elastin + s.damaged_elastin, r.elastin + r.damaged_elastin),
            elastin_functional_rel: ratio(s.elastin, r.elastin),
            elastin_new_fraction: if r.elastin > 0.0 { s.new_elastin / r.elastin } else { 0.0 },
            epidermis_thickness_rel: self
                .epidermis
                .iter()
                .zip(&self.zone)
                .map(|(&x, &w)| if w == 1.0 { x } else { 1.0 + w * (x - 1.0) })
                .sum::<f64>()
                / self.epidermis.len() as f64,
            fibroblasts_rel: ratio(s.fibroblasts, r.fibroblasts),
            neutrophils: s.neutrophils / s.volume,
            macrophages: s.macrophages / s.volume,
            debris: s.debris / s.volume,
            tgf_beta: s.tgf / s.volume,
            bands: Default::default(),
        });
    }

    fn summary(&self) -> Summary {
        let n = self.session_outcomes.len().max(1) as f64;
        let t = self.column.thickness_um;
        Summary {
            program: "dermasim".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            scenario_name: self.scenario.name.clone(),
            site: self.column.site.clone(),
            fidelity: self.scenario.simulation.fidelity.as_str().into(),
            seed: self.scenario.simulation.seed,
            parameter_set: self.set.provenance(),
            layers_um: LayersUm {
                stratum_corneum: t[0],
                epidermis: t[1],
                papillary_dermis: t[2],
                reticular_dermis: t[3],
            },
            punctures_per_cm2: self
                .session_outcomes
                .iter()
                .map(|s| s.punctures_per_cm2)
                .sum::<f64>()
                / n,
            effective_depth_um: self
                .session_outcomes
                .iter()
                .map(|s| s.effective_depth_um)
                .fold(0.0, f64::max),
            bleeding: self
                .session_outcomes
                .iter()
                .map(|s| s.bleeding)
                .max()
                .unwrap_or(crate::device::Bleeding::None),
            sessions: self.session_outcomes.clone(),
            endpoints: endpoints(
                &self.timeline,
                self.scenario.protocol.sessions.first().map_or(0.0, |s| s.day),
                self.scenario.protocol.sessions.get(1).map(|s| s.day),
            ),
            timeline: self.timeline.clone(),
            notes: Vec::new(),
            disclaimer: DISCLAIMER.into(),
            delivery: None,
        }
    }
}

/// Run a scenario with the given base parameters and no observer.
pub fn run(scenario: &Scenario, base: &ParameterSet) -> Result<Summary, Error> {
    Simulation::new(scenario, base)?.run(&mut |_| {})
}

/// Everything a run needs to continue where it stopped, except what the scenario rebuilds.
#[derive(serde::Serialize, serde::Deserialize)]
struct CheckpointHeader {
    format: String,
    scenario: String,
    parameters: String,
    t: f64,
    sessions_done: usize,
    session_outcomes: Vec<SessionOutcome>,
    timeline: Vec<TimelinePoint>,
    accepted: u64,
    rejected: u64,
    lengths: [usize; 3],
    #[serde(default)]
    zone: Vec<f64>,
    /// Length of the wound-filling targets appended after the epidermis.
    #[serde(default)]
    refill_len: usize,
}

const CHECKPOINT_FORMAT: &str = "dermasim-checkpoint-2";

/// FNV-1a over the checkpoint bytes: catches damage and hand edits (not an attacker).
fn checksum(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x1000_0000_01b3))
}

fn push_f64s(out: &mut Vec<u8>, v: &[f64]) {
    out.reserve(v.len() * 8);
    for x in v {
        out.extend_from_slice(&x.to_le_bytes());
    }
}

fn read_f64s(bytes: &[u8], n: usize, at: &mut usize) -> Option<Vec<f64>> {
    let end = at.checked_add(n.checked_mul(8)?)?;
    let chunk = bytes.get(*at..end)?;
    *at = end;
    Some(
        chunk.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))).collect(),
    )
}

impl Simulation {
    /// The run's state as bytes: a JSON header, then the fields as little-endian f64.
    pub fn checkpoint(&self) -> Vec<u8> {
        let header = CheckpointHeader {
            format: CHECKPOINT_FORMAT.into(),
            scenario: self.scenario.canonical_json(),
            parameters: serde_json::to_string(&self.set).expect("parameters serialise"),
            t: self.t,
            sessions_done: self.sessions_done,
            session_outcomes: self.session_outcomes.clone(),
            timeline: self.timeline.clone(),
            accepted: self.stats.accepted,
            rejected: self.stats.rejected,
            lengths: [self.fields.len(), self.step.len(), self.epidermis.len()],
            zone: self.zone.clone(),
            refill_len: self.refill.len(),
        };
        let json = serde_json::to_vec(&header).expect("header serialises");
        let mut out = Vec::with_capacity(
            16 + json.len() + 8 * (self.fields.len() + self.step.len() + self.epidermis.len()),
        );
        out.extend_from_slice(&(json.len() as u64).to_le_bytes());
        out.extend_from_slice(&json);
        push_f64s(&mut out, &self.fields);
        push_f64s(&mut out, &self.step);
        push_f64s(&mut out, &self.epidermis);
        push_f64s(&mut out, &self.refill);
        let sum = checksum(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    /// Continue from a checkpoint of the same scenario and parameters; the finished run is
    /// bit-identical to one that was never interrupted.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let bad = |m: &str| Error::Checkpoint(m.to_string());
        let (bytes, sum) = match bytes.len().checked_sub(8) {
            Some(k) => (&bytes[..k], &bytes[k..]),
            None => return Err(bad("file is truncated")),
        };
        if checksum(bytes).to_le_bytes() != sum {
            return Err(bad("checksum mismatch: the file is damaged or was edited"));
        }
        let n = u64::from_le_bytes(
            bytes.get(..8).ok_or_else(|| bad("file is truncated"))?.try_into().expect("8 bytes"),
        ) as usize;
        let json =
            bytes.get(8..8usize.saturating_add(n)).ok_or_else(|| bad("file is truncated"))?;
        let h: CheckpointHeader =
            serde_json::from_slice(json).map_err(|e| bad(&format!("unreadable header: {e}")))?;
        if h.format != CHECKPOINT_FORMAT {
            return Err(bad(&format!("format `{}` is not {CHECKPOINT_FORMAT}", h.format)));
        }
        if h.scenario != self.scenario.canonical_json()
            || h.parameters != serde_json::to_string(&self.set).expect("parameters serialise")
        {
            return Err(bad("it belongs to a different scenario or parameter set"));
        }
        if h.lengths != [self.fields.len(), self.step.len(), self.epidermis.len()] {
            return Err(bad("its grid does not match the scenario's"));
        }
        let mut at = 8 + n;
        let fields =
            read_f64s(bytes, h.lengths[0], &mut at).ok_or_else(|| bad("file is truncated"))?;
        let step =
            read_f64s(bytes, h.lengths[1], &mut at).ok_or_else(|| bad("file is truncated"))?;
        let epidermis =
            read_f64s(bytes, h.lengths[2], &mut at).ok_or_else(|| bad("file is truncated"))?;
        let refill = if h.refill_len == self.refill.len() {
            read_f64s(bytes, h.refill_len, &mut at).ok_or_else(|| bad("file is truncated"))?
        } else {
            return Err(bad("its wound-filling state does not match the scenario's grid"));
        };
        if at != bytes.len() {
            return Err(bad("trailing bytes after the fields"));
        }
        let sessions = &self.scenario.protocol.sessions;
        let end = self.scenario.protocol.follow_up_days;
        if !(h.t.is_finite() && (0.0..=end).contains(&h.t)) {
            return Err(bad(&format!("time {} lies outside the run (0 to {end} days)", h.t)));
        }
        let due = sessions.iter().filter(|s| s.day < h.t - 1e-9).count();
        let on = sessions.iter().filter(|s| (s.day - h.t).abs() <= 1e-9).count();
        if h.sessions_done < due || h.sessions_done > due + on {
            return Err(bad(&format!(
                "{} sessions done does not fit day {} of the protocol",
                h.sessions_done, h.t
            )));
        }
        if h.session_outcomes.len() != h.sessions_done {
            return Err(bad("session outcomes do not match the sessions done"));
        }
        if fields.iter().chain(&step).chain(&epidermis).chain(&refill).any(|v| !v.is_finite()) {
            return Err(bad("a field holds a value that is not a finite number"));
        }
        self.fields = fields;
        self.step = step;
        self.epidermis = epidermis;
        self.refill = refill;
        if h.zone.len() == self.zone.len() {
            self.zone = h.zone;
        }
        self.t = h.t;
        self.sessions_done = h.sessions_done;
        self.session_outcomes = h.session_outcomes;
        self.timeline = h.timeline;
        self.stats = Stats { accepted: h.accepted, rejected: h.rejected };
        Ok(())
    }
}

#[cfg(test)]
mod checkpoint_tests {
    use super::*;

    #[test]
    fn resumed_run_is_identical_to_an_uninterrupted_one() {
        let s = Scenario::default_scenario();
        let base = ParameterSet::default_set();
        let whole = Simulation::new(&s, &base).unwrap().run(&mut |_| {}).unwrap();

        // Stop after day 40 by saving a checkpoint, then resume in a fresh simulation.
        let mut saved = None;
        let mut first = Simulation::new(&s, &base).unwrap();
        first
            .run(&mut |sim| {
                if saved.is_none() && sim.time() >= 40.0 {
                    saved = Some(sim.checkpoint());
                }
            })
            .unwrap();
        let mut second = Simulation::new(&s, &base).unwrap();
        second.restore(saved.as_ref().unwrap()).unwrap();
        assert!(second.time() >= 40.0);
        let resumed = second.run(&mut |_| {}).unwrap();
        assert_eq!(whole.timeline.len(), resumed.timeline.len());
        for (a, b) in whole.timeline.iter().zip(&resumed.timeline) {
            assert!(
                a == b,
                "first difference at day {}: {} vs {}",
                a.t_day,
                a.collagen_total_rel,
                b.collagen_total_rel
            );
        }
        assert!(whole == resumed, "summaries differ outside the timeline");

        // A checkpoint of another scenario, or a damaged one, is refused.
        let mut other = s.clone();
        other.patient.age_years = 60.0;
        let mut sim = Simulation::new(&other, &base).unwrap();
        assert!(sim.restore(saved.as_ref().unwrap()).is_err());
        let mut sim = Simulation::new(&s, &base).unwrap();
        assert!(sim.restore(&saved.unwrap()[..100]).is_err());
    }
}

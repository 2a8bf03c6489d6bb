//! Benchmark kernels behind `dermasim bench`: the memory bandwidth
//! (STREAM triad), LOD transport on cubes, and the voxel kinetics, all measured in the
//! calling process so the bandwidth and the kernels see the same machine state. Timing only:
//! no I/O here; the CLI adds peak memory, child processes and reporting.

use std::time::Instant;

use rayon::prelude::*;

use dermasim::error::Error;
use dermasim::grid::Grid;
use dermasim::kinetics::lanes::{integrate_jobs, Job};
use dermasim::kinetics::{
    species::{COUNT, T},
    Baseline, CooperParams, Reference, RemodelParams, Voxel,
};
use dermasim::ode::{self, Rodas3, Stats, Tolerance};
use dermasim::params::ParameterSet;
use dermasim::scenario::{Fidelity, Scenario};
use dermasim::sim::Simulation;
use dermasim::tissue::Layer;
use dermasim::transport::{diffuse_fields, Real};

/// Minimum memory traffic of one LOD step per voxel and species: three implicit sweeps, each
/// reading and writing the field once (f64; half of it in f32).
pub const LOD_BYTES_PER_UPDATE_F64: f64 = 48.0;

/// Median of a sample (sorts it).
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Sustained memory bandwidth, GB/s.
#[derive(Debug, Clone, Copy)]
pub struct Bandwidth {
    /// Median over the repeats.
    pub median_gbs: f64,
    /// Fastest repeat.
    pub best_gbs: f64,
    /// Bytes per array (three arrays).
    pub array_bytes: usize,
}

/// STREAM triad `a = b + s c` over arrays of `len` f64 on the current rayon pool, counting
/// 24 bytes per element as STREAM does. Arrays far larger than the caches measure memory.
pub fn triad(len: usize, repeats: usize) -> Bandwidth {
    let chunk = 1 << 16;
    let mut a = vec![0.0f64; len];
    let mut b = vec![0.0f64; len];
    let mut c = vec![0.0f64; len];
    // First touch in parallel, as the timed loop will touch them.
    b.par_chunks_mut(chunk).zip(c.par_chunks_mut(chunk)).for_each(|(b, c)| {
        b.fill(1.0);
        c.fill(2.0);
    });
    a.par_chunks_mut(chunk).for_each(|a| a.fill(0.0));
    let s = 3.0;
    let mut rates = Vec::with_capacity(repeats);
    for _ in 0..repeats.max(1) {
        let clock = Instant::now();
        a.par_chunks_mut(chunk).zip(b.par_chunks(chunk)).zip(c.par_chunks(chunk)).for_each(
            |((a, b), c)| {
                for ((x, y), z) in a.iter_mut().zip(b).zip(c) {
                    *x = y + s * z;
                }
            },
        );
        rates.push(24.0 * len as f64 / clock.elapsed().as_secs_f64() / 1e9);
    }
    std::hint::black_box(&a);
    let best = rates.iter().copied().fold(0.0, f64::max);
    Bandwidth { median_gbs: median(&mut rates), best_gbs: best, array_bytes: len * 8 }
}

/// Peak rate of separate f64 multiplies and adds (what the kinetics executes), GFLOP/s.
#[derive(Debug, Clone, Copy)]
pub struct PeakFlops {
    /// One thread.
    pub one_thread_gflops: f64,
    /// Every thread of the current rayon pool at once.
    pub all_threads_gflops: f64,
}

/// Measure [`PeakFlops`]: the best of `repeats` timings of independent multiply-add chains
/// (vectorised with AVX2 where the CPU has it), on one thread and on every pool thread.
pub fn peak_flops(repeats: usize) -> PeakFlops {
    const ITERS: u64 = 20_000_000;
    let time = |threads: usize| -> f64 {
        (0..repeats.max(1))
            .map(|_| {
                let clock = Instant::now();
                let flops: f64 = (0..threads)
                    .into_par_iter()
                    .map(|_| dermasim::numerics::peak::mul_add_chains(ITERS))
                    .sum();
                flops / clock.elapsed().as_secs_f64() / 1e9
            })
            .fold(0.0, f64::max)
    };
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().map(|p| p.install(|| time(1)));
    PeakFlops {
        one_thread_gflops: one.unwrap_or(f64::NAN),
        all_threads_gflops: time(rayon::current_num_threads()),
    }
}

/// A uniform cube of `n^3` voxels at spacing `dx`: periodic laterally, no-flux in depth.
pub fn cube(n: usize, dx: f64) -> Grid {
    Grid {
        nx: n,
        ny: n,
        nz: n,
        dx,
        hz: vec![dx; n],
        zc: (0..n).map(|k| (k as f64 + 0.5) * dx).collect(),
        layer: vec![Layer::ReticularDermis; n],
    }
}

/// One LOD transport case.
#[derive(Debug, Clone, Copy)]
pub struct LodCase {
    /// Voxels along each edge of the cube.
    pub n: usize,
    /// Species diffused per step, all with the same coefficient.
    pub species: usize,
    /// Steps timed.
    pub steps: usize,
    /// Voxel size, um.
    pub dx: f64,
    /// Diffusion coefficient, um^2 per unit of time of `dt`.
    pub d: f64,
    /// First-order decay rate, per unit of time of `dt`.
    pub decay: f64,
    /// Step length (days in [`LodCase::tissue`], minutes in [`LodCase::biofvm`]).
    pub dt: f64,
}

impl LodCase {
    /// `n^3` voxels at 10 um with a dermal TGF-beta-like coefficient and a 0.1-day step.
    pub fn tissue(n: usize, species: usize, steps: usize) -> LodCase {
        LodCase { n, species, steps, dx: 10.0, d: 2e4, decay: 0.0, dt: 0.1 }
    }

    /// BioFVM's benchmark shape: D = 1e5 um^2/min, decay 0.1/min, dt = 0.01 min, 10 um voxels.
    pub fn biofvm(species: usize, steps: usize) -> LodCase {
        LodCase { n: 100, species, steps, dx: 10.0, d: 1e5, decay: 0.1, dt: 0.01 }
    }
}

/// What [`lod`] measured.
#[derive(Debug, Clone, Copy)]
pub struct LodResult {
    /// Voxels in the cube.
    pub voxels: usize,
    /// Species per step.
    pub species: usize,
    /// Bytes per value: 8 (f64) or 4 (f32).
    pub value_bytes: usize,
    /// Median wall time of one step of all species, ms.
    pub ms_per_step: f64,
    /// Fastest step, ms (the least disturbed by other load on the machine).
    pub best_ms_per_step: f64,
    /// Voxel-species updates per second at the median step.
    pub updates_per_s: f64,
    /// Memory the step works in (fields, per-thread plane scratch and matrices) per
    /// voxel-species, bytes.
    pub bytes_per_voxel_species: f64,
}

impl LodResult {
    /// Minimum traffic per update: 48 bytes in f64, 24 in f32.
    pub fn bytes_per_update(&self) -> f64 {
        LOD_BYTES_PER_UPDATE_F64 * self.value_bytes as f64 / 8.0
    }

    /// Updates per second as a fraction of what `bandwidth_gbs` allows at the minimum traffic.
    pub fn fraction_of_bound(&self, bandwidth_gbs: f64) -> f64 {
        self.updates_per_s * self.bytes_per_update() / (bandwidth_gbs * 1e9)
    }
}

/// Time `case.steps` LOD steps (after one warm-up step) on the current rayon pool.
pub fn lod<R: Real>(case: LodCase) -> LodResult {
    let g = cube(case.n, case.dx);
    let len = g.len();
    let mut fields: Vec<R> = vec![R::ZERO; len * case.species];
    fields.par_chunks_mut(len).enumerate().for_each(|(s, f)| {
        for (v, x) in f.iter_mut().enumerate() {
            *x = R::from_f64(1.0 + ((v * 7 + s * 13) % 97) as f64 / 97.0);
        }
    });
    let d = vec![case.d; g.nz];
    let coefficients: Vec<&[f64]> = vec![&d; case.species];
    diffuse_fields(&g, &mut fields, &coefficients, case.decay, case.dt);
    let mut times = Vec::with_capacity(case.steps);
    for _ in 0..case.steps.max(1) {
        let clock = Instant::now();
        diffuse_fields(&g, &mut fields, &coefficients, case.decay, case.dt);
        times.push(clock.elapsed().as_secs_f64());
    }
    std::hint::black_box(&fields);
    let best = times.iter().copied().fold(f64::INFINITY, f64::min);
    let step = median(&mut times);
    let value = std::mem::size_of::<R>();
    let threads = rayon::current_num_threads();
    // Fields, one plane of scratch per thread, and the per-(species, depth) matrices.
    let scratch = threads * (g.plane() + g.nx.max(g.ny)) * value;
    let matrices =
        case.species * g.nz * 2 * 4 * g.nx.max(g.ny) * value + case.species * 3 * g.nz * value;
    let held = len * case.species * value + scratch + matrices;
    LodResult {
        voxels: len,
        species: case.species,
        value_bytes: value,
        ms_per_step: step * 1e3,
        best_ms_per_step: best * 1e3,
        updates_per_s: (len * case.species) as f64 / step,
        bytes_per_voxel_species: held as f64 / (len * case.species) as f64,
    }
}

/// One voxel's kinetics call as the simulator made it.
#[derive(Debug, Clone, Copy)]
struct Call {
    voxel: usize,
    base: Baseline,
    y: [f64; COUNT],
    tgf_excess: f64,
    dt: f64,
}

/// The kinetics calls of a whole run, recorded for replay.
pub struct KineticsWorkload {
    cooper: CooperParams,
    remodel: RemodelParams,
    calls: Vec<Call>,
    voxels: usize,
}

impl KineticsWorkload {
    /// Record every viable voxel's state after each step of `scenario`, with the next step's
    /// length: the calls its kinetics makes (states taken after the whole step, not after the
    /// half transport, which changes the work little).
    pub fn record(scenario: &Scenario, set: &ParameterSet) -> Result<KineticsWorkload, Error> {
        let mut sim = Simulation::new(scenario, set)?;
        let grid = sim.grid().clone();
        let base = sim.baselines().to_vec();
        let len = grid.len();
        let mut snapshots: Vec<(f64, Vec<f64>)> = Vec::new();
        sim.run(&mut |s| {
            let mut all = Vec::with_capacity(COUNT * len);
            for sp in 0..COUNT {
                all.extend_from_slice(s.field(sp));
            }
            all.extend_from_slice(s.tgf_excess());
            snapshots.push((s.time(), all));
        })?;
        let mut calls = Vec::new();
        for w in snapshots.windows(2) {
            let (t0, fields) = (&w[0].0, &w[0].1);
            let dt = w[1].0 - t0;
            for v in 0..len {
                let k = v / grid.plane();
                if !grid.layer[k].is_viable() {
                    continue;
                }
                // The kinetics holds TGF-beta without what diffusion brought (`tgf_excess`).
                let tgf_excess = fields[COUNT * len + v];
                let mut y: [f64; COUNT] = std::array::from_fn(|s| fields[s * len + v]);
                y[T] -= tgf_excess;
                calls.push(Call { voxel: v, base: base[k], y, tgf_excess, dt });
            }
        }
        Ok(KineticsWorkload {
            cooper: CooperParams::from_set(sim.parameters())?,
            remodel: RemodelParams::from_set(sim.parameters())?,
            calls,
            voxels: len,
        })
    }

    /// Recorded kinetics calls (voxel-steps).
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// Whether no call was recorded.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }
}

/// What [`kinetics`] measured.
#[derive(Debug, Clone, Copy)]
pub struct KineticsResult {
    /// Kinetics calls replayed.
    pub voxel_steps: usize,
    /// Wall time of the replay, seconds.
    pub wall_s: f64,
    /// `voxel_steps / wall_s`.
    pub voxel_steps_per_s: f64,
    /// Accepted and rejected internal steps per voxel-step.
    pub substeps_per_voxel_step: f64,
}

/// Which integrator a kinetics replay uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Integrator {
    /// The first implementation: Rodas4, finite differences, dense LU, rtol 1e-6.
    Reference,
    /// The simulator's Rodas3 (analytic Jacobian, structured solve, default tolerance), one
    /// voxel at a time.
    Scalar,
    /// The same Rodas3, four voxels at a time in SIMD lanes (`kinetics::lanes`), as the
    /// simulator runs it; bit-identical to `Scalar`.
    Lanes,
}

/// Voxels per batch of the lane replay, as the simulator's kinetics chunks.
const LANE_BATCH: usize = 256;

/// Replay a workload on one thread, carrying each voxel's step size as the simulator does.
pub fn kinetics(work: &KineticsWorkload, integrator: Integrator) -> Result<KineticsResult, Error> {
    let mut h = vec![0.0; work.voxels];
    let mut stats = Stats::default();
    let clock = Instant::now();
    if integrator == Integrator::Lanes {
        let mut jobs = Vec::with_capacity(LANE_BATCH);
        let mut start = 0;
        while start < work.calls.len() {
            // A batch: consecutive calls of one step (same dt), at most LANE_BATCH.
            let dt = work.calls[start].dt;
            let end = (start..work.calls.len().min(start + LANE_BATCH))
                .find(|&i| work.calls[i].dt != dt)
                .unwrap_or(work.calls.len().min(start + LANE_BATCH));
            jobs.clear();
            for c in &work.calls[start..end] {
                let hv = h[c.voxel];
                jobs.push(Job {
                    y: c.y,
                    h: if hv <= 0.0 { c.dt } else { hv },
                    base: c.base,
                    refill_to: c.base.matrix(),
                    tgf_excess: c.tgf_excess,
                });
            }
            stats +=
                integrate_jobs(&work.cooper, &work.remodel, &mut jobs, dt, Tolerance::SIMULATION)
                    .map_err(Error::Solver)?;
            for (c, j) in work.calls[start..end].iter().zip(&jobs) {
                h[c.voxel] = j.h;
            }
            std::hint::black_box(&jobs);
            start = end;
        }
    }
    for c in work.calls.iter().filter(|_| integrator != Integrator::Lanes) {
        let sys = Voxel {
            cooper: &work.cooper,
            remodel: &work.remodel,
            base: c.base,
            refill_to: c.base.matrix(),
            tgf_excess: c.tgf_excess,
        };
        let mut y = c.y;
        let hv = &mut h[c.voxel];
        if *hv <= 0.0 {
            *hv = c.dt;
        }
        stats += if integrator == Integrator::Reference {
            ode::integrate(&Reference(sys), 0.0, c.dt, &mut y, hv, Tolerance::REFERENCE_SIMULATION)
        } else {
            ode::integrate_with::<Rodas3, COUNT, _>(
                &sys,
                0.0,
                c.dt,
                &mut y,
                hv,
                Tolerance::SIMULATION,
            )
        }
        .map_err(Error::Solver)?;
        std::hint::black_box(&y);
    }
    let wall = clock.elapsed().as_secs_f64();
    let n = work.calls.len();
    Ok(KineticsResult {
        voxel_steps: n,
        wall_s: wall,
        voxel_steps_per_s: n as f64 / wall,
        substeps_per_voxel_step: (stats.accepted + stats.rejected) as f64 / n as f64,
    })
}

/// The end-to-end case: the default scenario with 4 sessions 4 weeks apart over 180
/// days, at a fidelity; `patch_um` and `dx_um` set the 3d patch.
pub fn default_case(fidelity: Fidelity, patch_um: f64, dx_um: f64) -> Scenario {
    let mut s = Scenario::default_scenario();
    s.protocol.sessions = [0.0, 28.0, 56.0, 84.0]
        .iter()
        .map(|&day| dermasim::scenario::Session { day, device: None })
        .collect();
    s.simulation.fidelity = fidelity;
    s.simulation.patch_um = [patch_um, patch_um];
    s.simulation.dx_um = dx_um;
    s
}

/// Wall time and work of one end-to-end run on the current rayon pool.
#[derive(Debug, Clone, Copy)]
pub struct RunResult {
    /// Voxels in the run's grid.
    pub voxels: usize,
    /// Wall time of the whole run (set-up included), seconds.
    pub wall_s: f64,
    /// The run's own account of where its time went.
    pub profile: dermasim::sim::Profile,
}

/// Run `scenario` to the end with no observer and time it.
pub fn end_to_end(scenario: &Scenario, set: &ParameterSet) -> Result<RunResult, Error> {
    let clock = Instant::now();
    let mut sim = Simulation::new(scenario, set)?;
    sim.run(&mut |_| {})?;
    Ok(RunResult {
        voxels: sim.grid().len(),
        wall_s: clock.elapsed().as_secs_f64(),
        profile: sim.profile(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_samples() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn small_cases_run_and_report_consistent_rates() {
        let p = peak_flops(1);
        assert!(p.one_thread_gflops > 0.0 && p.all_threads_gflops > 0.0);
        let b = triad(1 << 12, 3);
        assert!(b.median_gbs > 0.0 && b.best_gbs >= b.median_gbs);
        let r = lod::<f64>(LodCase::tissue(8, 2, 3));
        assert_eq!((r.voxels, r.value_bytes), (512, 8));
        let expect = (r.voxels * r.species) as f64 / (r.ms_per_step / 1e3);
        assert!((r.updates_per_s - expect).abs() <= 1e-9 * expect);
        assert!(r.bytes_per_voxel_species >= 8.0);
        assert_eq!(lod::<f32>(LodCase::biofvm(1, 1)).bytes_per_update(), 24.0);
    }

    #[test]
    fn replayed_kinetics_do_the_simulators_work() {
        let mut s = Scenario::default_scenario();
        s.simulation.fidelity = Fidelity::Zero;
        s.protocol.follow_up_days = 10.0;
        s.protocol.sessions.truncate(1);
        let work = KineticsWorkload::record(&s, &ParameterSet::default_set()).unwrap();
        assert!(!work.is_empty());
        let fast = kinetics(&work, Integrator::Scalar).unwrap();
        let reference = kinetics(&work, Integrator::Reference).unwrap();
        let lanes = kinetics(&work, Integrator::Lanes).unwrap();
        assert_eq!(fast.voxel_steps, work.len());
        // The lanes do the scalar integrator's work exactly: the same substeps.
        assert_eq!(lanes.substeps_per_voxel_step, fast.substeps_per_voxel_step);
        // Same calls, fewer internal steps for the optimised integrator (looser tolerance).
        assert!(fast.substeps_per_voxel_step >= 1.0);
        assert!(fast.substeps_per_voxel_step < reference.substeps_per_voxel_step);
    }
}

//! The voxel kinetics four voxels at a time (issue 14 point 1): Rodas3 with the analytic
//! Jacobian and the block-triangular solve, exactly as [`crate::ode::integrate_with`] runs it
//! on one [`Voxel`](super::Voxel), but each arithmetic operation done for [`LANES`] voxels
//! side by side in a [`Pack`].
//!
//! Every lane keeps its own time, step size, error estimate and accept/reject decisions, and
//! its own pivots in the 4x4 block's LU, so a lane performs the same IEEE operations in the
//! same order as the scalar integrator does for its voxel: the results are bit-identical to
//! the scalar path (tested), whatever the grouping and the thread count. A lane whose voxel is
//! done takes the next voxel of the batch at once, so lanes that need more substeps cost only
//! their own substeps; lanes left without work at the end of a batch compute on a finished
//! voxel's copy and their results are dropped.

use super::lane::{Lane, Pack};
use super::species::{C1, C3, COUNT, ED, EF, EN, F, LT, M, MR, T};
use super::{
    jacobian_lanes, rhs_lanes, tail_rows, BaseLanes, Baseline, CooperParams, RemodelParams,
};
use crate::ode::{inv_cbrt_guess, inv_root, Method, OdeError, Rodas3, Stats, Tolerance};

/// One voxel's kinetics over a step: its state and carried step size, updated in place.
#[derive(Debug, Clone, Copy)]
pub struct Job {
    /// The voxel's state.
    pub y: [f64; COUNT],
    /// First trial step; on return the step the controller proposes next (as
    /// [`crate::ode::integrate_with`]'s `h`).
    pub h: f64,
    /// The voxel's resting state.
    pub base: Baseline,
    /// Wound-filling targets, as [`super::Voxel::refill_to`].
    pub refill_to: [f64; 3],
    /// Diffused TGF-beta, as [`super::Voxel::tgf_excess`].
    pub tgf_excess: f64,
}

/// The voxels the lanes integrate, read where they are and written back as each is done: a
/// slice of [`Job`]s, or the simulator's fields with no copy in between.
pub trait Voxels {
    /// How many voxels there are.
    fn count(&self) -> usize;
    /// Voxel `n`'s job (its `h` the first trial step, as [`Job::h`]).
    fn job(&self, n: usize) -> Job;
    /// Voxel `n` is done: its new state, and the step it carries to its next call.
    fn finish(&mut self, n: usize, y: &[f64; COUNT], h: f64);
    /// Voxels `n..n + N` read straight into lanes, where the store keeps them side by side;
    /// `None` (the default) has the lanes put them together from [`Voxels::job`].
    #[inline(always)]
    fn packed<const N: usize>(&self, _n: usize) -> Option<Packed<N>> {
        None
    }
    /// Voxels `n..n + N` are done together: their new states in lanes and their carried
    /// steps, written straight back where the store keeps them side by side. False (the
    /// default) has each written through [`Voxels::finish`]; either way the same values.
    #[inline(always)]
    fn finish_packed<const N: usize>(&mut self, _n: usize, _y: &Vec12<N>, _h: [f64; N]) -> bool {
        false
    }
}

/// [`Voxels::packed`]: `N` jobs' values lane by lane, as [`Job`] holds them for one.
pub struct Packed<const N: usize> {
    /// [`Job::y`].
    pub y: Vec12<N>,
    /// [`Job::h`].
    pub h: [f64; N],
    /// [`Job::base`].
    pub base: BaseLanes<Pack<N>>,
    /// [`Job::refill_to`].
    pub refill: [Pack<N>; 3],
    /// [`Job::tgf_excess`].
    pub excess: Pack<N>,
}

impl Voxels for [Job] {
    #[inline(always)]
    fn count(&self) -> usize {
        self.len()
    }
    #[inline(always)]
    fn job(&self, n: usize) -> Job {
        self[n]
    }
    #[inline(always)]
    fn finish(&mut self, n: usize, y: &[f64; COUNT], h: f64) {
        self[n].y = *y;
        self[n].h = h;
    }
}

/// Size of the Cooper block, the dense part of the Jacobian.
const BLOCK: usize = 4;

/// Voxels integrated side by side: one AVX2 register per value. Eight (two registers of
/// independent work) measured no faster (docs/performance.md), so four it is.
pub const LANES: usize = 4;

/// A voxel's state, one voxel per lane.
pub type Vec12<const N: usize> = [Pack<N>; COUNT];
type Mat12<const N: usize> = [[Pack<N>; COUNT]; COUNT];

/// Per-lane control state of the scalar integrator.
#[derive(Clone, Copy)]
struct Control {
    job: Option<usize>,
    t: f64,
    hh: f64,
    untruncated: f64,
    last: bool,
    reject_streak: u32,
    /// The controller's proposal after the first accepted step: the step carried out
    /// (`ode::integrate_with` says why); 0 until then.
    h_out: f64,
}

const IDLE: Control = Control {
    job: None,
    t: 0.0,
    hh: 1.0,
    untruncated: 1.0,
    last: false,
    reject_streak: 0,
    h_out: 0.0,
};

impl Control {
    /// A lane taking voxel `job`, whose carried step `h` (0 for none) is its first trial,
    /// at most the whole `span`.
    #[inline(always)]
    fn start(job: usize, h: f64, span: f64) -> Control {
        Control { job: Some(job), hh: if h > 0.0 { h.min(span) } else { span }, ..IDLE }
    }
}

/// Integrate every job from 0 to `dt` with Rodas3 (the simulator's integrator), four at a
/// time, in the AVX2 build where the CPU has it; bit-identical to integrating each alone with
/// `ode::integrate_with::<Rodas3, ..>` on a [`super::Voxel`]. Stops at the first voxel whose
/// integration fails.
pub fn integrate_jobs(
    cooper: &CooperParams,
    remodel: &RemodelParams,
    jobs: &mut [Job],
    dt: f64,
    tol: Tolerance,
) -> Result<Stats, OdeError> {
    integrate_voxels(cooper, remodel, jobs, dt, tol)
}

/// [`integrate_jobs`] over any [`Voxels`]; the same integration, bit for bit, whatever the
/// voxels' store. Their methods must be `#[inline(always)]` to be built for AVX2 with the rest.
pub fn integrate_voxels<V: Voxels + ?Sized>(
    cooper: &CooperParams,
    remodel: &RemodelParams,
    voxels: &mut V,
    dt: f64,
    tol: Tolerance,
) -> Result<Stats, OdeError> {
    crate::numerics::with_avx2(Batch::<LANES, V> { cooper, remodel, jobs: voxels, dt, tol })
}

/// [`integrate_jobs`] with `N` lanes (for measuring the lane count).
#[doc(hidden)]
pub fn integrate_jobs_in<const N: usize>(
    cooper: &CooperParams,
    remodel: &RemodelParams,
    jobs: &mut [Job],
    dt: f64,
    tol: Tolerance,
) -> Result<Stats, OdeError> {
    crate::numerics::with_avx2(Batch::<N, [Job]> { cooper, remodel, jobs, dt, tol })
}

/// [`integrate_jobs_in`] built for AVX-512 where the CPU has it (for measuring).
#[doc(hidden)]
pub fn integrate_jobs_512<const N: usize>(
    cooper: &CooperParams,
    remodel: &RemodelParams,
    jobs: &mut [Job],
    dt: f64,
    tol: Tolerance,
) -> Result<Stats, OdeError> {
    crate::numerics::with_avx512(Batch::<N, [Job]> { cooper, remodel, jobs, dt, tol })
}

/// The arguments of [`integrate_jobs`], as work for [`crate::numerics::with_avx2`].
struct Batch<'a, const N: usize, V: Voxels + ?Sized> {
    cooper: &'a CooperParams,
    remodel: &'a RemodelParams,
    jobs: &'a mut V,
    dt: f64,
    tol: Tolerance,
}

impl<const N: usize, V: Voxels + ?Sized> crate::numerics::Wide for Batch<'_, N, V> {
    type Output = Result<Stats, OdeError>;
    #[inline(always)]
    fn run(self) -> Self::Output {
        integrate_batch::<N, V>(self.cooper, self.remodel, self.jobs, self.dt, self.tol)
    }
}

#[inline(always)]
#[allow(clippy::needless_range_loop)] // index loops read as the algebra does
fn integrate_batch<const N: usize, V: Voxels + ?Sized>(
    cooper: &CooperParams,
    remodel: &RemodelParams,
    jobs: &mut V,
    dt: f64,
    tol: Tolerance,
) -> Result<Stats, OdeError> {
    type R = Rodas3;
    let mut stats = Stats::default();
    let count = jobs.count();
    if dt <= 0.0 || count == 0 {
        return Ok(stats);
    }
    let (t1, span) = (dt, dt);
    let hmin = span * 1e-14;
    let near_end = 1e-12 * span.max(1.0);
    let zero = Pack::<N>::splat(0.0);
    let mut y: Vec12<N> = [zero; COUNT];
    let mut base = BaseLanes {
        fibroblasts: zero,
        collagen_i: zero,
        collagen_iii: zero,
        elastin: zero,
        damaged_elastin: zero,
        response: zero,
    };
    let mut refill = [zero; 3];
    let mut excess = zero;
    let mut lanes = [IDLE; N];
    let mut next = 0;
    let mut f0: Vec12<N> = [zero; COUNT];
    let mut jac: Mat12<N> = [[zero; COUNT]; COUNT];
    let mut g: Mat12<N> = [[zero; COUNT]; COUNT];
    let mut piv = Pivots { rows: [zero; BLOCK], swapped: false };
    let mut k: [Vec12<N>; 6] = [[zero; COUNT]; 6];
    loop {
        // Give every free lane the next voxel: all lanes at once when all are free (most
        // voxel-steps take one substep, so the lanes finish together), each value's lanes then
        // put together in registers; lane by lane otherwise.
        if next + N <= count && lanes.iter().all(|c| c.job.is_none()) {
            if let Some(p) = jobs.packed::<N>(next) {
                (y, base, refill, excess) = (p.y, p.base, p.refill, p.excess);
                for (l, c) in lanes.iter_mut().enumerate() {
                    *c = Control::start(next + l, p.h[l], span);
                }
                next += N;
            }
        }
        if next + N <= count && lanes.iter().all(|c| c.job.is_none()) {
            let js: [Job; N] = std::array::from_fn(|l| jobs.job(next + l));
            for i in 0..COUNT {
                y[i] = Pack(std::array::from_fn(|l| js[l].y[i]));
            }
            let lane = |f: fn(&Job) -> f64| Pack(std::array::from_fn(|l| f(&js[l])));
            base.fibroblasts = lane(|j| j.base.fibroblasts);
            base.collagen_i = lane(|j| j.base.collagen_i);
            base.collagen_iii = lane(|j| j.base.collagen_iii);
            base.elastin = lane(|j| j.base.elastin);
            base.damaged_elastin = lane(|j| j.base.damaged_elastin);
            base.response = lane(|j| j.base.response);
            for m in 0..3 {
                refill[m] = Pack(std::array::from_fn(|l| js[l].refill_to[m]));
            }
            excess = lane(|j| j.tgf_excess);
            for (l, c) in lanes.iter_mut().enumerate() {
                *c = Control::start(next + l, js[l].h, span);
            }
            next += N;
        }
        for (l, c) in lanes.iter_mut().enumerate() {
            if c.job.is_some() || next >= count {
                continue;
            }
            let j = jobs.job(next);
            for i in 0..COUNT {
                y[i].0[l] = j.y[i];
            }
            let b = &j.base;
            base.fibroblasts.0[l] = b.fibroblasts;
            base.collagen_i.0[l] = b.collagen_i;
            base.collagen_iii.0[l] = b.collagen_iii;
            base.elastin.0[l] = b.elastin;
            base.damaged_elastin.0[l] = b.damaged_elastin;
            base.response.0[l] = b.response;
            for m in 0..3 {
                refill[m].0[l] = j.refill_to[m];
            }
            excess.0[l] = j.tgf_excess;
            *c = Control::start(next, j.h, span);
            next += 1;
        }
        if lanes.iter().all(|c| c.job.is_none()) {
            break;
        }
        let mut hh = [1.0; N];
        for (l, c) in lanes.iter_mut().enumerate() {
            if c.job.is_some() {
                c.last = c.t + c.hh >= t1 - near_end;
                c.untruncated = c.hh;
                if c.last {
                    c.hh = t1 - c.t;
                }
            }
            hh[l] = c.hh;
        }
        // The scalar integrator forms f0 and J only after an accepted step; at an unchanged
        // state forming them again gives the same values, so every lane forms them each try.
        rhs_lanes(cooper, remodel, &base, &refill, excess, &y, &mut f0);
        jacobian_lanes(cooper, remodel, &base, &refill, excess, &y, &mut jac);
        let hh4 = Pack(hh);
        let ghinv = Pack::<N>::splat(1.0) / (hh4 * Pack::<N>::splat(R::GAMMA));
        let factored = block_factor(&jac, ghinv, &mut g, &mut piv);
        let inv_h = Pack::<N>::splat(1.0) / hh4;
        // The stage's right-hand side: f0 until a stage forms a new one in `f_new`. Vectors
        // are formed value by value in registers throughout: copying one first and adding in
        // place compiled to calls to memcpy.
        let mut f_new: Vec12<N> = [zero; COUNT];
        let mut fresh = false;
        for s in 0..R::STAGES {
            if s == 0 {
                fresh = false;
            } else if R::NEW_F[s] {
                let mut ys: Vec12<N> = [zero; COUNT];
                for i in 0..COUNT {
                    let mut v = y[i];
                    for (j, kj) in k.iter().enumerate().take(s) {
                        let a = R::A[s][j];
                        if a != 0.0 {
                            v = v + Pack::<N>::splat(a) * kj[i];
                        }
                    }
                    ys[i] = v;
                }
                rhs_lanes(cooper, remodel, &base, &refill, excess, &ys, &mut f_new);
                fresh = true;
            }
            let fs = if fresh { &f_new } else { &f0 };
            let (done, rest) = k.split_at_mut(s);
            let ks = &mut rest[0];
            let c: [Pack<N>; 6] = std::array::from_fn(|j| {
                if j < s {
                    Pack::<N>::splat(R::C[s][j]) * inv_h
                } else {
                    zero
                }
            });
            for i in 0..COUNT {
                let mut v = fs[i];
                for (j, kj) in done.iter().enumerate() {
                    if R::C[s][j] != 0.0 {
                        v = v + c[j] * kj[i];
                    }
                }
                ks[i] = v;
            }
            block_solve(&g, &piv, ks);
        }
        // Loops, not `array::from_fn`: LLVM left those closures out of line, built without
        // AVX2 and called once per species (a tenth of the time of the lanes over a slice of
        // jobs).
        let mut ynew: Vec12<N> = [zero; COUNT];
        for i in 0..COUNT {
            let mut v = y[i];
            for (s, ks) in k.iter().enumerate().take(R::STAGES) {
                if R::M[s] != 0.0 {
                    v = v + Pack::<N>::splat(R::M[s]) * ks[i];
                }
            }
            ynew[i] = v;
        }
        let mut err = zero;
        for i in 0..COUNT {
            let sc = Pack::<N>::splat(tol.atol)
                + Pack::<N>::splat(tol.rtol) * y[i].abs().max_num(ynew[i].abs());
            let e = k[R::STAGES - 1][i] / sc;
            err = err + e * e;
        }
        let (es, facs) = step_factors::<N>(err.0);
        // The scalar integrator's decisions, lane by lane; the accepted lanes take their new
        // state together afterwards, in vector registers.
        let mut accepted = [false; N];
        let mut finished = [false; N];
        for (l, c) in lanes.iter_mut().enumerate() {
            if c.job.is_none() {
                continue;
            }
            if !factored[l] {
                c.hh *= 0.5;
                stats.rejected += 1;
                if c.hh < hmin {
                    return Err(OdeError::Singular { t: c.t });
                }
                continue;
            }
            let e = es[l];
            if !e.is_finite() {
                c.hh *= 0.25;
                stats.rejected += 1;
                if c.hh < hmin {
                    return Err(OdeError::NonFinite { t: c.t });
                }
                continue;
            }
            let fac = facs[l];
            if e <= 1.0 {
                c.t = if c.last { t1 } else { c.t + c.hh };
                accepted[l] = true;
                stats.accepted += 1;
                let grow = if c.reject_streak > 0 { fac.min(1.0) } else { fac };
                c.hh *= grow;
                if c.h_out == 0.0 {
                    c.h_out = if c.last && grow >= 1.0 { c.hh.max(c.untruncated) } else { c.hh };
                }
                c.reject_streak = 0;
                finished[l] = c.t >= t1;
            } else {
                stats.rejected += 1;
                c.reject_streak += 1;
                c.hh *= fac.min(0.5);
                if c.hh < hmin {
                    return Err(OdeError::StepUnderflow { t: c.t });
                }
            }
        }
        for i in 0..COUNT {
            y[i] = Pack::<N>::select(accepted, ynew[i], y[i]);
        }
        // All lanes done together with voxels side by side: written back in one go.
        if let Some(first) = lanes[0].job {
            if finished.iter().all(|&f| f)
                && lanes.iter().enumerate().all(|(l, c)| c.job == Some(first + l))
                && jobs.finish_packed(first, &y, std::array::from_fn(|l| lanes[l].h_out))
            {
                for c in &mut lanes {
                    c.job = None;
                }
            }
        }
        for (l, c) in lanes.iter_mut().enumerate() {
            if let (true, Some(job)) = (finished[l], c.job) {
                let mut done = [0.0; COUNT];
                for i in 0..COUNT {
                    done[i] = y[i].0[l];
                }
                jobs.finish(job, &done, c.h_out);
                c.job = None;
            }
        }
    }
    Ok(stats)
}

/// Per lane the scalar integrator's error norm `e = sqrt(err / COUNT)` and step factor
/// `(0.9 * inv_root(max(e, 1e-10), ELO)).clamp(0.2, 6.0)`: the same operations lane by lane,
/// in vectors (the cube root's Newton steps, one lane after another, were 6 % of the
/// simulator's kinetics samples).
#[inline(always)]
fn step_factors<const N: usize>(err: [f64; N]) -> ([f64; N], [f64; N]) {
    type R = Rodas3;
    let mut e = [0.0; N];
    for l in 0..N {
        e[l] = (err[l] / COUNT as f64).sqrt();
    }
    let x = Pack(e).max_num(Pack::splat(1e-10));
    let mut root = Pack::<N>::splat(0.0);
    if R::ELO == 3.0 {
        for l in 0..N {
            root.0[l] = inv_cbrt_guess(x.0[l]);
        }
        let (four, third) = (Pack::<N>::splat(4.0), Pack::<N>::splat(1.0 / 3.0));
        for _ in 0..4 {
            root = root * ((four - x * root * root * root) * third);
        }
    } else {
        for l in 0..N {
            root.0[l] = inv_root(x.0[l], R::ELO);
        }
    }
    let mut fac = Pack::<N>::splat(0.9) * root;
    for f in &mut fac.0 {
        *f = f.clamp(0.2, 6.0);
    }
    (e, fac.0)
}

/// Per lane the row each column of the Cooper block's LU took its pivot from (as `f64`, so
/// lanes compare it in vector registers), and whether any lane swapped any rows at all (most
/// steps none do, and the solve then skips the permutation).
#[derive(Clone, Copy)]
struct Pivots<const N: usize> {
    rows: [Pack<N>; BLOCK],
    swapped: bool,
}

/// [`crate::ode::block_factor`] for the voxel's structure (a 4x4 Cooper block, then
/// [`super::TAIL`]) in lanes, each lane with its own pivots; per lane whether it is
/// non-singular. The same operations as the scalar factorisation, lane by lane; its test for a
/// usable pivot (it and its inverse finite) is made here with arithmetic, `(d + 1/d) * 0` being
/// 0 exactly then and NaN otherwise, gathered over all pivots without a branch.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // index loops read as the algebra does
fn block_factor<const N: usize>(
    jac: &Mat12<N>,
    ghinv: Pack<N>,
    g: &mut Mat12<N>,
    piv: &mut Pivots<N>,
) -> [bool; N] {
    let zero = Pack::<N>::splat(0.0);
    let mut unusable = zero;
    for i in 0..BLOCK {
        for j in 0..BLOCK {
            g[i][j] = -jac[i][j];
        }
        g[i][i] = g[i][i] + ghinv;
    }
    piv.swapped = false;
    // LU with partial pivoting, each lane choosing its own pivot rows.
    for c in 0..BLOCK {
        let mut best = g[c][c].abs();
        let mut p = Pack::<N>::splat(c as f64);
        for i in c + 1..BLOCK {
            let a = g[i][c].abs();
            let bigger = a.gt(best);
            best = Pack::<N>::select(bigger, a, best);
            p = Pack::<N>::select(bigger, Pack::splat(i as f64), p);
        }
        piv.rows[c] = p;
        for i in c + 1..BLOCK {
            let swap = p.equals(Pack::splat(i as f64));
            if swap.iter().any(|&s| s) {
                piv.swapped = true;
                for j in 0..BLOCK {
                    let (top, other) = (g[c][j], g[i][j]);
                    g[c][j] = Pack::<N>::select(swap, other, top);
                    g[i][j] = Pack::<N>::select(swap, top, other);
                }
            }
        }
        let inv = Pack::<N>::splat(1.0) / g[c][c];
        unusable = unusable + (best + inv) * zero;
        for i in c + 1..BLOCK {
            let l = g[i][c] * inv;
            g[i][c] = l;
            for j in c + 1..BLOCK {
                g[i][j] = g[i][j] - l * g[c][j];
            }
        }
        g[c][c] = inv;
    }
    macro_rules! factor_tail {
        ($(($i:ident : $($j:ident),*))*) => {$(
            $(g[$i][$j] = -jac[$i][$j];)*
            let d = ghinv - jac[$i][$i];
            let inv = Pack::<N>::splat(1.0) / d;
            unusable = unusable + (d + inv) * zero;
            g[$i][$i] = inv;
        )*};
    }
    tail_rows!(factor_tail);
    std::array::from_fn(|l| unusable.0[l] == 0.0)
}

/// [`crate::ode::block_solve`] in lanes with the factors of [`block_factor`].
#[inline(always)]
#[allow(clippy::needless_range_loop)] // index loops read as the algebra does
fn block_solve<const N: usize>(g: &Mat12<N>, piv: &Pivots<N>, x: &mut Vec12<N>) {
    if piv.swapped {
        for c in 0..BLOCK {
            for i in c + 1..BLOCK {
                let swap = piv.rows[c].equals(Pack::splat(i as f64));
                let (top, other) = (x[c], x[i]);
                x[c] = Pack::<N>::select(swap, other, top);
                x[i] = Pack::<N>::select(swap, top, other);
            }
        }
    }
    for i in 1..BLOCK {
        let mut s = x[i];
        for j in 0..i {
            s = s - g[i][j] * x[j];
        }
        x[i] = s;
    }
    for i in (0..BLOCK).rev() {
        let mut s = x[i];
        for j in i + 1..BLOCK {
            s = s - g[i][j] * x[j];
        }
        x[i] = s * g[i][i];
    }
    macro_rules! solve_tail {
        ($(($i:ident : $($j:ident),*))*) => {$(
            #[allow(unused_mut)] // rows that read no other species
            let mut s = x[$i];
            $(s = s - g[$i][$j] * x[$j];)*
            x[$i] = s * g[$i][$i];
        )*};
    }
    tail_rows!(solve_tail);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinetics::species::*;
    use crate::kinetics::Voxel;
    use crate::ode::integrate_with;
    use crate::params::ParameterSet;

    fn params() -> (CooperParams, RemodelParams) {
        let set = ParameterSet::default_set();
        (CooperParams::from_set(&set).unwrap(), RemodelParams::from_set(&set).unwrap())
    }

    /// Voxels from fresh wounds to nearly healed, in two layers, with carried steps from
    /// none to far too long: lanes finish after different numbers of substeps.
    fn jobs() -> Vec<Job> {
        let bases = [
            Baseline {
                fibroblasts: 0.8,
                collagen_i: 0.7,
                collagen_iii: 0.15,
                elastin: 0.05,
                damaged_elastin: 0.01,
                response: 0.9,
            },
            Baseline {
                fibroblasts: 0.3,
                collagen_i: 0.9,
                collagen_iii: 0.1,
                elastin: 0.08,
                damaged_elastin: 0.02,
                response: 0.7,
            },
        ];
        (0..23)
            .map(|v| {
                let base = bases[v % 2];
                let mut y = base.state();
                let w = (v as f64 * 0.37).sin().abs();
                y[PT] = 2.0 * w.powi(v as i32 % 5);
                y[N] = 0.1 * w;
                y[M] = 0.6 * w * w;
                y[MR] = 0.3 * w * w;
                y[T] = 0.2 * w;
                y[F] *= 1.0 + w;
                y[C3] *= 1.0 - 0.2 * w;
                y[C1] *= 1.0 - 0.1 * w;
                y[EN] = 1e-3 * w;
                let refill_to = [base.collagen_iii * 1.05, base.collagen_i, base.elastin * 1.01];
                // Diffused TGF-beta of either sign, down to a total below zero.
                let tgf_excess = [0.0, 0.05 * w, -0.1 * w, -0.3 * w][v % 4];
                Job { y, h: [0.0, 1e-4, 0.3, 5.0][v % 4], base, refill_to, tgf_excess }
            })
            .collect()
    }

    #[test]
    fn lanes_are_bit_identical_to_the_scalar_integrator() {
        let (cooper, remodel) = params();
        for (dt, tol) in [
            (0.02, Tolerance::SIMULATION),
            (1.0, Tolerance::SIMULATION),
            (0.5, Tolerance { rtol: 1e-8, atol: 1e-12 }),
        ] {
            let mut lanes = jobs();
            let stats = integrate_jobs(&cooper, &remodel, &mut lanes, dt, tol).unwrap();
            let mut four = jobs();
            let stats4 = integrate_jobs_in::<4>(&cooper, &remodel, &mut four, dt, tol).unwrap();
            assert_eq!(stats, stats4);
            for (a, b) in lanes.iter().zip(&four) {
                assert_eq!(a.y.map(f64::to_bits), b.y.map(f64::to_bits), "4 and 8 lanes differ");
            }
            let mut scalar_stats = Stats::default();
            for (j, got) in jobs().iter().zip(&lanes) {
                let sys = Voxel {
                    cooper: &cooper,
                    remodel: &remodel,
                    base: j.base,
                    refill_to: j.refill_to,
                    tgf_excess: j.tgf_excess,
                };
                let (mut y, mut h) = (j.y, j.h);
                if h <= 0.0 {
                    h = dt;
                }
                scalar_stats +=
                    integrate_with::<Rodas3, COUNT, _>(&sys, 0.0, dt, &mut y, &mut h, tol).unwrap();
                for (s, (a, b)) in y.iter().zip(&got.y).enumerate() {
                    assert_eq!(a.to_bits(), b.to_bits(), "dt {dt} species {s}");
                }
                assert_eq!(h.to_bits(), got.h.to_bits(), "dt {dt}: carried step");
            }
            assert_eq!(stats, scalar_stats, "dt {dt}: substeps");
            assert!(stats.accepted > 23, "dt {dt}: some voxels took several substeps");
        }
    }

    #[test]
    #[ignore = "measurement; run with --release --ignored --nocapture"]
    fn measure_lane_widths() {
        let (cooper, remodel) = params();
        let many: Vec<Job> = (0..400).flat_map(|_| jobs()).collect();
        let time = |f: &dyn Fn(&mut Vec<Job>)| {
            let mut best = f64::INFINITY;
            for _ in 0..5 {
                let mut w = many.clone();
                let clock = std::time::Instant::now();
                f(&mut w);
                best = best.min(clock.elapsed().as_secs_f64());
            }
            best / many.len() as f64 * 1e9
        };
        // As most voxel-steps at 3d are: one substep each, the carried step longer than dt
        // (the wounds of `jobs` twenty days on).
        let mut settled = many.clone();
        for _day in 0..20 {
            integrate_jobs(&cooper, &remodel, &mut settled, 1.0, Tolerance::SIMULATION).unwrap();
        }
        let tol = Tolerance::SIMULATION;
        let mut w = settled.clone();
        let stats = integrate_jobs(&cooper, &remodel, &mut w, 1.0, tol).unwrap();
        let mut best = f64::INFINITY;
        for _ in 0..5 {
            let mut w = settled.clone();
            let clock = std::time::Instant::now();
            integrate_jobs(&cooper, &remodel, &mut w, 1.0, tol).unwrap();
            best = best.min(clock.elapsed().as_secs_f64());
        }
        println!(
            "settled, dt 1: {:.2} substeps per voxel, {:.0} ns per voxel call (4 lanes)",
            (stats.accepted + stats.rejected) as f64 / settled.len() as f64,
            best / settled.len() as f64 * 1e9
        );
        for dt in [0.05, 1.0] {
            let scalar = time(&|w| {
                for j in w.iter_mut() {
                    let sys = Voxel {
                        cooper: &cooper,
                        remodel: &remodel,
                        base: j.base,
                        refill_to: j.refill_to,
                        tgf_excess: j.tgf_excess,
                    };
                    if j.h <= 0.0 {
                        j.h = dt;
                    }
                    integrate_with::<Rodas3, COUNT, _>(&sys, 0.0, dt, &mut j.y, &mut j.h, tol)
                        .unwrap();
                }
            });
            let four = time(&|w| {
                integrate_jobs_in::<4>(&cooper, &remodel, w, dt, tol).unwrap();
            });
            let eight = time(&|w| {
                integrate_jobs_in::<8>(&cooper, &remodel, w, dt, tol).unwrap();
            });
            let four512 = time(&|w| {
                integrate_jobs_512::<4>(&cooper, &remodel, w, dt, tol).unwrap();
            });
            let eight512 = time(&|w| {
                integrate_jobs_512::<8>(&cooper, &remodel, w, dt, tol).unwrap();
            });
            println!("dt {dt}: ns per voxel call: scalar {scalar:.0}, 4 lanes {four:.0}, 8 lanes {eight:.0}; AVX-512: 4 lanes {four512:.0}, 8 lanes {eight512:.0}");
        }
    }
}

/// The cost of each part of a Rodas3 step in lanes, timed alone (for docs/performance.md).
#[cfg(test)]
mod parts {
    use super::*;
    use crate::params::ParameterSet;

    /// Which part to time, repeated on fixed inputs.
    struct Parts<'a> {
        c: &'a CooperParams,
        r: &'a RemodelParams,
        which: u32,
    }
    impl crate::numerics::Wide for Parts<'_> {
        type Output = f64;
        #[inline(always)]
        fn run(self) -> f64 {
            let (c, r) = (self.c, self.r);
            let z = Pack::<4>::splat(0.0);
            let base = BaseLanes {
                fibroblasts: Pack::splat(0.8),
                collagen_i: Pack::splat(0.7),
                collagen_iii: Pack::splat(0.15),
                elastin: Pack::splat(0.05),
                damaged_elastin: Pack::splat(0.01),
                response: Pack::splat(0.9),
            };
            let refill = [Pack::splat(0.16), Pack::splat(0.72), Pack::splat(0.051)];
            let mut y: Vec12<4> =
                std::array::from_fn(|i| Pack([0.1 + i as f64 * 0.01, 0.2, 0.3, 0.4]));
            let mut f: Vec12<4> = [z; COUNT];
            let mut jac: Mat12<4> = [[z; COUNT]; COUNT];
            let mut g: Mat12<4> = [[z; COUNT]; COUNT];
            let mut piv = Pivots { rows: [z; BLOCK], swapped: false };
            // The solve times on real factors.
            jacobian_lanes(c, r, &base, &refill, z, &y, &mut jac);
            block_factor(&jac, Pack::splat(3.0), &mut g, &mut piv);
            let mut acc = 0.0;
            let n = 2_000_000;
            let clock = std::time::Instant::now();
            for it in 0..n {
                y[0].0[0] = 0.1 + (it & 7) as f64 * 1e-3;
                match self.which {
                    0 => {
                        rhs_lanes(c, r, &base, &refill, z, &y, &mut f);
                        acc += f[5].0[1];
                    }
                    1 => {
                        jacobian_lanes(c, r, &base, &refill, z, &y, &mut jac);
                        acc += jac[6][6].0[2];
                    }
                    2 => {
                        jacobian_lanes(c, r, &base, &refill, z, &y, &mut jac);
                        let ok = block_factor(&jac, Pack::splat(3.0), &mut g, &mut piv);
                        acc += g[8][8].0[3] + ok[0] as u8 as f64;
                    }
                    _ => {
                        let mut x = std::hint::black_box(y);
                        block_solve(&g, &piv, &mut x);
                        acc += std::hint::black_box(x)[12].0[1];
                    }
                }
                std::hint::black_box(&mut y);
                std::hint::black_box(&mut f);
                std::hint::black_box(&mut jac);
                std::hint::black_box(&mut g);
                std::hint::black_box(&mut piv);
            }
            let ns = clock.elapsed().as_secs_f64() / n as f64 * 1e9;
            std::hint::black_box(acc);
            ns
        }
    }

    #[test]
    #[ignore = "measurement; run with --release --ignored --nocapture"]
    fn measure_parts() {
        let set = ParameterSet::default_set();
        let (c, r) =
            (CooperParams::from_set(&set).unwrap(), RemodelParams::from_set(&set).unwrap());
        for (w, name) in [(0, "rhs"), (1, "jacobian"), (2, "jacobian+factor"), (3, "solve")] {
            let ns = crate::numerics::with_avx2(Parts { c: &c, r: &r, which: w });
            println!("{name}: {ns:.1} ns per 4-lane call");
        }
    }
}

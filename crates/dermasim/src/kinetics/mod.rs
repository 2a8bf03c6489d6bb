//! Wound-healing kinetics of one voxel: inflammation (Cooper 2015, exactly), macrophage
//! phenotype and TGF-beta, fibroblast activation, collagen III then I, elastin.
//!
//! The same `CooperParams::rates` drives both the standalone reference model and this coupled
//! system, so the spatial simulator cannot drift from the published equations.

pub mod cooper;
pub mod lane;
pub mod lanes;
pub mod module;
pub mod waugh;

use crate::ode::{self, OdeSystem};
use crate::params::typed_params;
pub use cooper::CooperParams;
use lane::Lane;

/// Species of the coupled model, in field order.
pub mod species {
    /// Pathogen (Cooper 2015), normalised.
    pub const P: usize = 0;
    /// Debris of injured tissue: the wound signal (Cooper 2015).
    pub const PT: usize = 1;
    /// Neutrophils, normalised.
    pub const N: usize = 2;
    /// Inflammatory macrophages, normalised.
    pub const M: usize = 3;
    /// Repair macrophages, normalised.
    pub const MR: usize = 4;
    /// Active TGF-beta, normalised.
    pub const T: usize = 5;
    /// Fibroblasts, relative to the papillary dermis of a young adult.
    pub const F: usize = 6;
    /// Collagen I, relative to the resting papillary dermis.
    pub const C1: usize = 7;
    /// Collagen III, relative to the resting papillary dermis.
    pub const C3: usize = 8;
    /// Functional elastin.
    pub const EF: usize = 9;
    /// Damaged elastin.
    pub const ED: usize = 10;
    /// Elastin made since the start of the run (tropoelastin and the fibres it forms): a
    /// share of `EF`, tracked so outputs can separate new from old elastin.
    pub const EN: usize = 11;
    /// Latent TGF-beta set free by the injury (platelets, matrix stores), activated over days.
    pub const LT: usize = 12;
    /// Species in a voxel state.
    pub const COUNT: usize = 13;
    /// Field names of the species, in field order.
    pub const NAMES: [&str; COUNT] = [
        "pathogen",
        "debris",
        "neutrophils",
        "macrophages",
        "repair_macrophages",
        "tgf_beta",
        "fibroblasts",
        "collagen_i",
        "collagen_iii",
        "elastin",
        "damaged_elastin",
        "new_elastin",
        "latent_tgf_beta",
    ];
}
use species::*;

typed_params! {
    /// Coupling, fibroblast and matrix parameters (sources in `data/parameters.toml`).
    RemodelParams {
        macrophage_switch_per_day,
        tgf_per_repair_macrophage,
        tgf_inflammatory_weight,
        latent_tgf_activation_per_day,
        tgf_decay_per_day,
        tgf_half_activation,
        fibroblast_growth_per_day,
        fibroblast_apoptosis_per_day,
        fibroblast_capacity_rel,
        collagen_synthesis_per_day,
        collagen_iii_share_new,
        collagen_maturation_per_day,
        collagen_maturation_yield,
        collagen_mmp_per_macrophage,
        collagen_turnover_per_day,
        elastin_synthesis_per_day,
        elastin_mmp_per_macrophage,
        damaged_elastin_clearance_per_macrophage,
        elastin_turnover_per_day,
        matrix_refill_per_day,
        matrix_refill_resting_share,
    }
}

/// What a voxel looks like at rest: the layer and age it belongs to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    /// Resting fibroblast density relative to the papillary dermis of a young adult.
    pub fibroblasts: f64,
    /// Resting collagen I.
    pub collagen_i: f64,
    /// Resting collagen III.
    pub collagen_iii: f64,
    /// Resting functional elastin.
    pub elastin: f64,
    /// Resting damaged elastin (photo- and chronological ageing).
    pub damaged_elastin: f64,
    /// Age factor on fibroblast proliferation and synthesis (1 = young adult).
    pub response: f64,
}

impl Baseline {
    /// No tissue: every resting level 0 (the stratum corneum).
    pub const NONE: Baseline = Baseline {
        fibroblasts: 0.0,
        collagen_i: 0.0,
        collagen_iii: 0.0,
        elastin: 0.0,
        damaged_elastin: 0.0,
        response: 0.0,
    };

    /// Resting `[collagen III, collagen I, elastin]`, the order of [`Voxel::refill_to`].
    pub fn matrix(&self) -> [f64; 3] {
        [self.collagen_iii, self.collagen_i, self.elastin]
    }

    /// The resting state vector of a voxel with this baseline.
    pub fn state(&self) -> [f64; COUNT] {
        let mut y = [0.0; COUNT];
        y[F] = self.fibroblasts;
        y[C1] = self.collagen_i;
        y[C3] = self.collagen_iii;
        y[EF] = self.elastin;
        y[ED] = self.damaged_elastin;
        y
    }
}

/// One voxel's ODE system: parameters plus its baseline.
pub struct Voxel<'a> {
    /// Inflammation parameters (Cooper 2015).
    pub cooper: &'a CooperParams,
    /// Fibroblast, collagen and elastin parameters.
    pub remodel: &'a RemodelParams,
    /// The voxel's resting state.
    pub base: Baseline,
    /// Levels `[collagen III, collagen I, elastin]` that wound filling restores: the matrix the
    /// voxel held before its last injury (never below rest); `base.matrix()` when uninjured.
    pub refill_to: [f64; 3],
    /// Active TGF-beta that diffusion has brought in (or, if negative, taken out) and that has
    /// not decayed yet: transport holds it (`sim::step`), the fibroblasts see it on top of the
    /// voxel's own `y[T]`. 0 where nothing diffuses.
    pub tgf_excess: f64,
}

impl OdeSystem<COUNT> for Voxel<'_> {
    #[inline]
    fn rhs(&self, y: &[f64; COUNT], dy: &mut [f64; COUNT]) {
        let base = BaseLanes::from(self.base);
        rhs_lanes(self.cooper, self.remodel, &base, &self.refill_to, self.tgf_excess, y, dy);
    }

    #[inline]
    fn jacobian(&self, y: &[f64; COUNT], _f0: &[f64; COUNT], jac: &mut [[f64; COUNT]; COUNT]) {
        self.analytic_jacobian(y, jac);
    }

    #[inline]
    fn factor(
        &self,
        jac: &[[f64; COUNT]; COUNT],
        ghinv: f64,
        g: &mut [[f64; COUNT]; COUNT],
        piv: &mut [usize; COUNT],
    ) -> bool {
        ode::block_factor(jac, ghinv, g, piv, 4, &TAIL)
    }

    #[inline]
    fn solve(&self, g: &[[f64; COUNT]; COUNT], piv: &[usize; COUNT], b: &mut [f64; COUNT]) {
        ode::block_solve(g, piv, 4, &TAIL, b)
    }
}

/// The Jacobian is block lower triangular: the Cooper block `[P, Pt, N, M]` depends on
/// nothing else, and each other species depends only on itself, the block and species before
/// it in this list (collagen III comes before collagen I, which it matures into). Each entry
/// names the other species its rate reads; a test checks this against the right-hand side.
pub const TAIL: [(usize, &[usize]); COUNT - 4] = tail_rows!(tail_array);

/// The rows of [`TAIL`], written once: `tail_rows!(m)` calls `m!` with every row as
/// `(row: reads, ..)`, so code over the tail unrolls at compile time (the lanes' factor and
/// solve, where loops over the slices of [`TAIL`] stayed loops with bounds checks).
macro_rules! tail_rows {
    ($m:ident) => {
        $m! { (MR: M) (LT:) (T: M, MR, LT) (F: T) (C3: F, M) (C1: F, M, C3) (EF: F, M) (ED: M)
        (EN: F, M, EF) }
    };
}
use tail_rows;

macro_rules! tail_array {
    ($(($i:ident : $($j:ident),*))*) => { [$(($i, &[$($j),*])),*] };
}
use tail_array;

impl Voxel<'_> {
    /// Analytic Jacobian of [`OdeSystem::rhs`]; at the kinks of `max(., 0)` it takes the
    /// right-hand derivative, as forward differences do.
    #[inline]
    pub fn analytic_jacobian(&self, y: &[f64; COUNT], jac: &mut [[f64; COUNT]; COUNT]) {
        *jac = [[0.0; COUNT]; COUNT];
        let base = BaseLanes::from(self.base);
        jacobian_lanes(self.cooper, self.remodel, &base, &self.refill_to, self.tgf_excess, y, jac);
    }
}

/// The resting levels of [`Baseline`] for one voxel (`f64`) or one voxel per SIMD lane.
#[derive(Debug, Clone, Copy)]
pub struct BaseLanes<T> {
    /// [`Baseline::fibroblasts`].
    pub fibroblasts: T,
    /// [`Baseline::collagen_i`].
    pub collagen_i: T,
    /// [`Baseline::collagen_iii`].
    pub collagen_iii: T,
    /// [`Baseline::elastin`].
    pub elastin: T,
    /// [`Baseline::damaged_elastin`].
    pub damaged_elastin: T,
    /// [`Baseline::response`].
    pub response: T,
}

impl From<Baseline> for BaseLanes<f64> {
    #[inline(always)]
    fn from(b: Baseline) -> Self {
        BaseLanes {
            fibroblasts: b.fibroblasts,
            collagen_i: b.collagen_i,
            collagen_iii: b.collagen_iii,
            elastin: b.elastin,
            damaged_elastin: b.damaged_elastin,
            response: b.response,
        }
    }
}

/// The voxel's right-hand side, written once for one voxel or several in SIMD lanes (each
/// lane bit for bit the one-voxel result). `refill_to` and `tgf_excess` as in
/// [`Voxel::refill_to`] and [`Voxel::tgf_excess`].
#[inline(always)]
pub fn rhs_lanes<T: Lane>(
    c: &CooperParams,
    r: &RemodelParams,
    b: &BaseLanes<T>,
    refill_to: &[T; 3],
    tgf_excess: T,
    y: &[T; COUNT],
    dy: &mut [T; COUNT],
) {
    let s = T::splat;
    let z = s(0.0);
    let [dp, dpt, dn, dm] = c.rates_lanes(y[P], y[PT], y[N], y[M]);
    dy[P] = dp;
    dy[PT] = dpt;
    dy[N] = dn;
    dy[M] = dm;
    // Repair-phenotype share of the Cooper macrophages: switching from the inflammatory
    // pool, same death rate, so 0 <= Mr <= M holds.
    dy[MR] = s(r.macrophage_switch_per_day) * (y[M] - y[MR]) - s(c.mum) * y[MR];
    // TGF-beta made by macrophages, mostly the repair phenotype (linear production and decay
    // as in Waugh & Sherratt 2006), plus the injury's own latent TGF-beta (platelets, matrix
    // stores; the session adds it in proportion to the injured tissue) activated over days.
    // Cooper's macrophage recruitment saturates at debris ~0.01, so the macrophage signal is
    // the same in every injured voxel; the latent dose follows injured volume.
    let producers = y[MR] + s(r.tgf_inflammatory_weight) * (y[M] - y[MR]);
    let activation = s(r.latent_tgf_activation_per_day) * y[LT];
    dy[LT] = -activation;
    dy[T] = s(r.tgf_per_repair_macrophage) * producers + activation - s(r.tgf_decay_per_day) * y[T];
    // Fibroblasts: logistic growth under TGF-beta (the voxel's own and what diffusion brought),
    // apoptosis back to the resting density.
    let f = y[F];
    let tgf = (y[T] + tgf_excess).max(z);
    let signal = tgf / (s(r.tgf_half_activation) + tgf);
    let cap = s(r.fibroblast_capacity_rel) * b.fibroblasts;
    let growth = T::select(
        cap.gt(z),
        s(r.fibroblast_growth_per_day) * b.response * signal * f * (s(1.0) - f / cap),
        z,
    );
    dy[F] = growth - s(r.fibroblast_apoptosis_per_day) * (f - b.fibroblasts);
    // Activated fibroblasts lay down new matrix, collagen III first.
    let active = (f - b.fibroblasts).max(z) * b.response;
    let synth = s(r.collagen_synthesis_per_day) * active;
    let excess_iii = (y[C3] - b.collagen_iii).max(z);
    let maturation = s(r.collagen_maturation_per_day) * excess_iii;
    let mmp = y[M].max(z);
    // Wound filling: fibroblasts replace matrix lost in the injury, fast while activated and
    // slowly at rest (so a lightly injured voxel that hardly activates still heals).
    let refill = s(r.matrix_refill_per_day)
        * (active + s(r.matrix_refill_resting_share) * b.fibroblasts * b.response);
    let cm = s(r.collagen_mmp_per_macrophage);
    let turnover = s(r.collagen_turnover_per_day);
    dy[C3] = synth * s(r.collagen_iii_share_new) - maturation - cm * mmp * y[C3]
        + turnover * (b.collagen_iii - y[C3])
        + refill * (refill_to[0] - y[C3]).max(z);
    dy[C1] = synth * s(1.0 - r.collagen_iii_share_new)
        + s(r.collagen_maturation_yield) * maturation
        - cm * mmp * y[C1]
        + turnover * (b.collagen_i - y[C1])
        + refill * (refill_to[1] - y[C1]).max(z);
    let (esyn, emmp) = (s(r.elastin_synthesis_per_day), s(r.elastin_mmp_per_macrophage));
    let eturn = s(r.elastin_turnover_per_day);
    dy[EF] = esyn * active - emmp * mmp * y[EF]
        + eturn * (b.elastin - y[EF])
        + refill * (refill_to[2] - y[EF]).max(z);
    // New elastin: everything synthesised or refilled, lost like the functional pool.
    dy[EN] =
        esyn * active + refill * (refill_to[2] - y[EF]).max(z) - emmp * mmp * y[EN] - eturn * y[EN];
    dy[ED] = -s(r.damaged_elastin_clearance_per_macrophage) * mmp * y[ED]
        + eturn * (b.damaged_elastin - y[ED]);
}

/// Analytic Jacobian of [`rhs_lanes`], for one voxel or several in SIMD lanes: writes the
/// Cooper block and the [`TAIL`] entries (the ones the structured solve reads) and leaves
/// the others as they are. At the kinks of `max(., 0)` it takes the right-hand derivative.
#[inline(always)]
pub fn jacobian_lanes<T: Lane>(
    c: &CooperParams,
    r: &RemodelParams,
    b: &BaseLanes<T>,
    refill_to: &[T; 3],
    tgf_excess: T,
    y: &[T; COUNT],
    jac: &mut [[T; COUNT]; COUNT],
) {
    let s = T::splat;
    let z = s(0.0);
    let cj = c.jacobian_lanes(y[P], y[PT], y[N], y[M]);
    for (i, row) in cj.iter().enumerate() {
        jac[i][..4].copy_from_slice(row);
    }
    jac[MR][M] = s(r.macrophage_switch_per_day);
    jac[MR][MR] = s(-r.macrophage_switch_per_day - c.mum);
    jac[T][M] = s(r.tgf_per_repair_macrophage * r.tgf_inflammatory_weight);
    jac[T][MR] = s(r.tgf_per_repair_macrophage * (1.0 - r.tgf_inflammatory_weight));
    jac[T][T] = s(-r.tgf_decay_per_day);
    jac[LT][LT] = s(-r.latent_tgf_activation_per_day);
    jac[T][LT] = s(r.latent_tgf_activation_per_day);

    let f = y[F];
    let total = y[T] + tgf_excess;
    let tp = total.max(z);
    let k = s(r.tgf_half_activation);
    let signal = tp / (k + tp);
    let signal_t = T::select(total.ge(z), k / ((k + tp) * (k + tp)), z);
    let cap = s(r.fibroblast_capacity_rel) * b.fibroblasts;
    let g = s(r.fibroblast_growth_per_day) * b.response;
    let has_cap = cap.gt(z);
    jac[F][T] = T::select(has_cap, g * signal_t * f * (s(1.0) - f / cap), z);
    jac[F][F] = T::select(has_cap, g * signal * (s(1.0) - s(2.0) * f / cap), z)
        - s(r.fibroblast_apoptosis_per_day);

    let active_f = T::select(f.ge(b.fibroblasts), b.response, z);
    let synth_f = s(r.collagen_synthesis_per_day) * active_f;
    let maturation_c3 = T::select(y[C3].ge(b.collagen_iii), s(r.collagen_maturation_per_day), z);
    let mmp = y[M].max(z);
    let mmp_m = T::select(y[M].ge(z), s(1.0), z);
    let cm = s(r.collagen_mmp_per_macrophage);
    let turnover = s(r.collagen_turnover_per_day);
    let active = (f - b.fibroblasts).max(z) * b.response;
    let refill = s(r.matrix_refill_per_day)
        * (active + s(r.matrix_refill_resting_share) * b.fibroblasts * b.response);
    let refill_f = s(r.matrix_refill_per_day) * active_f;
    // Deficit below rest and its right-hand derivative (0 at the kink).
    let deficit = |y: T, rest: T| ((rest - y).max(z), T::select(y.lt(rest), s(-1.0), z));
    let (d3, d3_y) = deficit(y[C3], refill_to[0]);
    let (d1, d1_y) = deficit(y[C1], refill_to[1]);
    let (de, de_y) = deficit(y[EF], refill_to[2]);
    jac[C3][F] = synth_f * s(r.collagen_iii_share_new) + refill_f * d3;
    jac[C3][M] = -cm * y[C3] * mmp_m;
    jac[C3][C3] = -maturation_c3 - cm * mmp - turnover + refill * d3_y;
    jac[C1][F] = synth_f * s(1.0 - r.collagen_iii_share_new) + refill_f * d1;
    jac[C1][M] = -cm * y[C1] * mmp_m;
    jac[C1][C3] = s(r.collagen_maturation_yield) * maturation_c3;
    jac[C1][C1] = -cm * mmp - turnover + refill * d1_y;
    let (esyn, emmp) = (s(r.elastin_synthesis_per_day), s(r.elastin_mmp_per_macrophage));
    let eturn = s(r.elastin_turnover_per_day);
    jac[EF][F] = esyn * active_f + refill_f * de;
    jac[EF][M] = -emmp * y[EF] * mmp_m;
    jac[EF][EF] = -emmp * mmp - eturn + refill * de_y;
    jac[EN][F] = esyn * active_f + refill_f * de;
    jac[EN][M] = -emmp * y[EN] * mmp_m;
    jac[EN][EF] = refill * de_y;
    jac[EN][EN] = -emmp * mmp - eturn;
    let dclear = s(r.damaged_elastin_clearance_per_macrophage);
    jac[ED][M] = -dclear * y[ED] * mmp_m;
    jac[ED][ED] = -dclear * mmp - eturn;
}

/// The voxel system as first written, for reference runs and benchmarks: finite-difference
/// Jacobian and dense LU (the same right-hand side).
pub struct Reference<'a>(pub Voxel<'a>);

impl OdeSystem<COUNT> for Reference<'_> {
    fn rhs(&self, y: &[f64; COUNT], dy: &mut [f64; COUNT]) {
        self.0.rhs(y, dy)
    }
}

/// How close to rest a value counts as exactly at rest: round-off of a resting state.
pub const REST_EPS: f64 = 1e-13;

/// True when nothing in the voxel can change: inflammation absent and matrix at baseline.
#[inline]
pub fn at_rest(y: &[f64; COUNT], b: &Baseline) -> bool {
    const EPS: f64 = REST_EPS;
    y[P] < EPS
        && y[PT] < EPS
        && y[N] < EPS
        && y[M] < EPS
        && y[T] < EPS
        && (y[F] - b.fibroblasts).abs() < EPS
        && (y[C3] - b.collagen_iii).abs() < EPS
        && (y[C1] - b.collagen_i).abs() < EPS
        && (y[EF] - b.elastin).abs() < EPS
        && (y[ED] - b.damaged_elastin).abs() < EPS
        && y[EN] < EPS
        && y[LT] < EPS
}

/// How far from rest each species may be, per unit of `simulation.rest_tolerance`, for a
/// voxel to count as quiet: the size of a wound in that species. Pathogen, debris and
/// neutrophils: what a fully injured voxel receives (`*_per_injury`); macrophages (both
/// phenotypes): 1, Cooper 2015's normalised pool; TGF-beta: the level of half-maximal
/// fibroblast activation; fibroblasts and matrix: the voxel's resting level (new elastin: the
/// resting elastin). Labelled assumption: the scales only set what "near rest" means, and
/// the error this causes is measured, not assumed (docs/performance.md).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RestScale(pub [f64; COUNT]);

impl RestScale {
    /// Scales for a voxel with resting state `b`, wound doses `[pathogen, debris,
    /// neutrophils, latent TGF-beta]` per injured fraction, and the remodelling parameters `r`.
    pub fn new(b: &Baseline, doses: [f64; 4], r: &RemodelParams) -> RestScale {
        let mut s = [0.0; COUNT];
        s[P] = doses[0];
        s[PT] = doses[1];
        s[N] = doses[2];
        s[LT] = doses[3];
        s[M] = 1.0;
        s[MR] = 1.0;
        s[T] = r.tgf_half_activation;
        s[F] = b.fibroblasts;
        s[C1] = b.collagen_i;
        s[C3] = b.collagen_iii;
        s[EF] = b.elastin;
        s[ED] = b.damaged_elastin;
        s[EN] = b.elastin;
        RestScale(s)
    }
}

/// True when every species of `y` lies within `tol` times its [`RestScale`] of rest, or
/// within the exact rule's 1e-13 of it (species with a zero scale must be exactly at rest).
/// `tol = 0` is the exact rule of [`at_rest`].
#[inline]
pub fn near_rest(y: &[f64; COUNT], rest: &[f64; COUNT], scale: &RestScale, tol: f64) -> bool {
    (0..COUNT).all(|s| within_rest((y[s] - rest[s]).abs(), scale.0[s], tol))
}

/// The rule of [`near_rest`] for one departure `d >= 0` from rest with wound scale `scale`.
#[inline]
pub fn within_rest(d: f64, scale: f64, tol: f64) -> bool {
    d < REST_EPS || d <= tol * scale
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ode::{integrate, integrate_with, Rodas3, Tolerance};
    use crate::params::ParameterSet;

    fn params() -> (CooperParams, RemodelParams) {
        let set = ParameterSet::default_set();
        (CooperParams::from_set(&set).unwrap(), RemodelParams::from_set(&set).unwrap())
    }

    const BASE: Baseline = Baseline {
        fibroblasts: 0.8,
        collagen_i: 0.7,
        collagen_iii: 0.15,
        elastin: 0.05,
        damaged_elastin: 0.01,
        response: 0.9,
    };

    /// Pre-injury matrix above rest, so wound filling is exercised away from the baseline.
    const REFILL: [f64; 3] = [0.16, 0.72, 0.051];

    /// The test voxel: baseline [`BASE`], wound filling towards [`REFILL`], nothing diffused in.
    fn voxel<'a>(cooper: &'a CooperParams, remodel: &'a RemodelParams) -> Voxel<'a> {
        Voxel { cooper, remodel, base: BASE, refill_to: REFILL, tgf_excess: 0.0 }
    }

    /// States away from the kinks of `max(., 0)`: early inflammation, peak, resolution.
    fn states() -> Vec<[f64; COUNT]> {
        vec![
            [0.02, 1.8, 0.09, 0.01, 0.001, 0.002, 0.81, 0.55, 0.12, 0.04, 0.008, 0.001, 3.0],
            [0.3, 0.9, 0.25, 0.6, 0.3, 0.4, 2.1, 0.68, 0.22, 0.05, 0.006, 0.004, 1.2],
            [1e-4, 0.05, 0.01, 0.2, 0.18, 0.05, 1.4, 0.74, 0.19, 0.052, 0.004, 0.01, 0.05],
        ]
    }

    #[test]
    fn analytic_jacobian_matches_central_differences() {
        let (cooper, remodel) = params();
        // Diffused TGF-beta of either sign, the states' totals staying above the kink at 0.
        for tgf_excess in [0.0, 0.03, -0.001] {
            let sys = Voxel { tgf_excess, ..voxel(&cooper, &remodel) };
            jacobian_matches_central_differences(&sys);
        }
    }

    fn jacobian_matches_central_differences(sys: &Voxel) {
        for y in states() {
            let mut jac = [[0.0; COUNT]; COUNT];
            sys.analytic_jacobian(&y, &mut jac);
            for j in 0..COUNT {
                let h = 1e-6 * y[j].abs().max(1e-3);
                let (mut yp, mut ym) = (y, y);
                yp[j] += h;
                ym[j] -= h;
                let (mut fp, mut fm) = ([0.0; COUNT], [0.0; COUNT]);
                sys.rhs(&yp, &mut fp);
                sys.rhs(&ym, &mut fm);
                for i in 0..COUNT {
                    let fd = (fp[i] - fm[i]) / (2.0 * h);
                    let scale = jac[i].iter().fold(1e-3f64, |a, v| a.max(v.abs()));
                    assert!(
                        (jac[i][j] - fd).abs() <= 1e-6 * scale,
                        "excess {}: J[{i}][{j}] = {} but differences give {fd}",
                        sys.tgf_excess,
                        jac[i][j]
                    );
                }
            }
        }
    }

    #[test]
    #[allow(clippy::needless_range_loop)]
    fn jacobian_has_the_block_triangular_structure_the_solver_assumes() {
        // Every entry the structured solve treats as zero must be zero in the right-hand side
        // itself (forward differences are exactly zero where f_i does not read y_j).
        let (cooper, remodel) = params();
        let sys = voxel(&cooper, &remodel);
        for y in states() {
            let mut f0 = [0.0; COUNT];
            sys.rhs(&y, &mut f0);
            let mut fd = [[0.0; COUNT]; COUNT];
            Reference(voxel(&cooper, &remodel)).jacobian(&y, &f0, &mut fd);
            for i in 0..COUNT {
                for j in 0..COUNT {
                    let allowed = match TAIL.iter().find(|t| t.0 == i) {
                        None => j < 4,
                        Some((_, deps)) => j == i || deps.contains(&j),
                    };
                    if !allowed {
                        assert_eq!(fd[i][j], 0.0, "f_{i} depends on y_{j}: TAIL is out of date");
                    }
                }
            }
        }
    }

    #[test]
    #[allow(clippy::needless_range_loop)]
    fn structured_solve_matches_dense_lu() {
        let (cooper, remodel) = params();
        let sys = voxel(&cooper, &remodel);
        let dense = Reference(voxel(&cooper, &remodel));
        for y in states() {
            for h in [1e-3, 0.1, 1.0, 5.0] {
                let mut jac = [[0.0; COUNT]; COUNT];
                sys.analytic_jacobian(&y, &mut jac);
                let mut g = [[0.0; COUNT]; COUNT];
                for i in 0..COUNT {
                    for j in 0..COUNT {
                        g[i][j] = -jac[i][j] + if i == j { 1.0 / (0.25 * h) } else { 0.0 };
                    }
                }
                let (mut gs, mut gd) = ([[f64::NAN; COUNT]; COUNT], [[0.0; COUNT]; COUNT]);
                let (mut ps, mut pd) = ([0; COUNT], [0; COUNT]);
                let ghinv = 1.0 / (0.25 * h);
                // NaN scratch: the structured factorisation must not read entries it did not form.
                assert!(
                    sys.factor(&jac, ghinv, &mut gs, &mut ps)
                        && dense.factor(&jac, ghinv, &mut gd, &mut pd)
                );
                let b: [f64; COUNT] = std::array::from_fn(|i| (i as f64 * 0.7).sin() + 0.1);
                let (mut xs, mut xd) = (b, b);
                sys.solve(&gs, &ps, &mut xs);
                dense.solve(&gd, &pd, &mut xd);
                // Residual of the structured solution against the unfactored matrix.
                for i in 0..COUNT {
                    let r: f64 = (0..COUNT).map(|j| g[i][j] * xs[j]).sum::<f64>() - b[i];
                    assert!(r.abs() < 1e-10 * (1.0 + b[i].abs()), "h {h} row {i}: residual {r}");
                    assert!(
                        (xs[i] - xd[i]).abs() <= 1e-10 * (1.0 + xd[i].abs()),
                        "h {h}: {xs:?} vs {xd:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn optimised_kinetics_match_the_dense_finite_difference_solver() {
        // A fresh wound followed for 60 days at a tight tolerance: the analytic Jacobian and the
        // structured solve change how the answer is reached, not the answer.
        let (cooper, remodel) = params();
        let mut y0 = BASE.state();
        y0[PT] = 1.5;
        y0[N] = 0.08;
        for s in [C1, C3, EF, ED] {
            y0[s] *= 0.8;
        }
        let tol = Tolerance { rtol: 1e-10, atol: 1e-13 };
        let (mut a, mut b, mut c, mut d) = (y0, y0, y0, y0);
        let (mut ha, mut hb, mut hc, mut hd) = (1e-3, 1e-3, 1e-3, 1e-3);
        let fast = voxel(&cooper, &remodel);
        let dense = Reference(voxel(&cooper, &remodel));
        for day in 0..60 {
            let t = day as f64;
            integrate(&fast, t, t + 1.0, &mut a, &mut ha, tol).unwrap();
            integrate(&dense, t, t + 1.0, &mut b, &mut hb, tol).unwrap();
            // The simulator's integrator: Rodas3 at a tight and at its default tolerance.
            integrate_with::<Rodas3, COUNT, _>(
                &fast,
                t,
                t + 1.0,
                &mut c,
                &mut hc,
                Tolerance { rtol: 1e-9, atol: 1e-13 },
            )
            .unwrap();
            integrate_with::<Rodas3, COUNT, _>(
                &fast,
                t,
                t + 1.0,
                &mut d,
                &mut hd,
                Tolerance::SIMULATION,
            )
            .unwrap();
            for s in 0..COUNT {
                let scale = b[s].abs();
                assert!(
                    (a[s] - b[s]).abs() <= 1e-7 * scale + 1e-11,
                    "day {day} species {s}: {} vs {}",
                    a[s],
                    b[s]
                );
                assert!(
                    (c[s] - b[s]).abs() <= 1e-6 * scale + 1e-10,
                    "Rodas3 day {day} species {s}: {} vs {}",
                    c[s],
                    b[s]
                );
                // Default tolerance: the local error is controlled to rtol, atol; what
                // accumulates over two months stays within a few times that.
                let bound =
                    5.0 * Tolerance::SIMULATION.rtol * scale + 100.0 * Tolerance::SIMULATION.atol;
                assert!(
                    (d[s] - b[s]).abs() <= bound,
                    "default day {day} species {s}: {} vs {}",
                    d[s],
                    b[s]
                );
            }
        }
    }
}

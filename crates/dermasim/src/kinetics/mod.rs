//! Wound-healing kinetics of one voxel: inflammation (Cooper 2015, exactly), macrophage
//! phenotype and TGF-beta, fibroblast activation, collagen III then I, elastin.
//!
//! The same `CooperParams::rates` drives both the standalone reference model and this coupled
//! system, so the spatial simulator cannot drift from the published equations.

pub mod cooper;
pub mod waugh;

use crate::ode::OdeSystem;
use crate::params::typed_params;
pub use cooper::CooperParams;

/// Species of the coupled model, in field order.
pub mod species {
    pub const P: usize = 0;
    pub const PT: usize = 1;
    pub const N: usize = 2;
    pub const M: usize = 3;
    pub const MR: usize = 4;
    pub const T: usize = 5;
    pub const F: usize = 6;
    pub const C1: usize = 7;
    pub const C3: usize = 8;
    pub const EF: usize = 9;
    pub const ED: usize = 10;
    pub const COUNT: usize = 11;
    pub const NAMES: [&str; COUNT] = [
        "pathogen", "debris", "neutrophils", "macrophages", "repair_macrophages", "tgf_beta",
        "fibroblasts", "collagen_i", "collagen_iii", "elastin", "damaged_elastin",
    ];
}
use species::*;

typed_params! {
    /// Coupling, fibroblast and matrix parameters (sources in `data/parameters.toml`).
    RemodelParams {
        macrophage_switch_per_day,
        tgf_per_repair_macrophage,
        tgf_inflammatory_weight,
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
    }
}

/// What a voxel looks like at rest: the layer and age it belongs to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    /// Resting fibroblast density relative to the papillary dermis of a young adult.
    pub fibroblasts: f64,
    pub collagen_i: f64,
    pub collagen_iii: f64,
    pub elastin: f64,
    pub damaged_elastin: f64,
    /// Age factor on fibroblast proliferation and synthesis (1 = young adult).
    pub response: f64,
}

impl Baseline {
    pub const NONE: Baseline = Baseline {
        fibroblasts: 0.0,
        collagen_i: 0.0,
        collagen_iii: 0.0,
        elastin: 0.0,
        damaged_elastin: 0.0,
        response: 0.0,
    };

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
    pub cooper: &'a CooperParams,
    pub remodel: &'a RemodelParams,
    pub base: Baseline,
}

impl OdeSystem<COUNT> for Voxel<'_> {
    fn rhs(&self, y: &[f64; COUNT], dy: &mut [f64; COUNT]) {
        let (c, r, b) = (self.cooper, self.remodel, &self.base);
        let [dp, dpt, dn, dm] = c.rates(y[P], y[PT], y[N], y[M]);
        dy[P] = dp;
        dy[PT] = dpt;
        dy[N] = dn;
        dy[M] = dm;
        // Repair-phenotype share of the Cooper macrophages: switching from the inflammatory
        // pool, same death rate, so 0 <= Mr <= M holds.
        dy[MR] = r.macrophage_switch_per_day * (y[M] - y[MR]) - c.mum * y[MR];
        // TGF-beta made mostly by repair macrophages (linear production and decay as in
        // Waugh & Sherratt 2006).
        let producers = y[MR] + r.tgf_inflammatory_weight * (y[M] - y[MR]);
        dy[T] = r.tgf_per_repair_macrophage * producers - r.tgf_decay_per_day * y[T];
        // Fibroblasts: logistic growth under TGF-beta, apoptosis back to the resting density.
        let f = y[F];
        let signal = y[T].max(0.0) / (r.tgf_half_activation + y[T].max(0.0));
        let cap = r.fibroblast_capacity_rel * b.fibroblasts;
        let growth = if cap > 0.0 { r.fibroblast_growth_per_day * b.response * signal * f * (1.0 - f / cap) } else { 0.0 };
        dy[F] = growth - r.fibroblast_apoptosis_per_day * (f - b.fibroblasts);
        // Activated fibroblasts lay down new matrix, collagen III first.
        let active = (f - b.fibroblasts).max(0.0) * b.response;
        let synth = r.collagen_synthesis_per_day * active;
        let excess_iii = (y[C3] - b.collagen_iii).max(0.0);
        let maturation = r.collagen_maturation_per_day * excess_iii;
        let mmp = y[M].max(0.0);
        dy[C3] = synth * r.collagen_iii_share_new - maturation - r.collagen_mmp_per_macrophage * mmp * y[C3]
            + r.collagen_turnover_per_day * (b.collagen_iii - y[C3]);
        dy[C1] = synth * (1.0 - r.collagen_iii_share_new) + r.collagen_maturation_yield * maturation
            - r.collagen_mmp_per_macrophage * mmp * y[C1]
            + r.collagen_turnover_per_day * (b.collagen_i - y[C1]);
        dy[EF] = r.elastin_synthesis_per_day * active - r.elastin_mmp_per_macrophage * mmp * y[EF]
            + r.elastin_turnover_per_day * (b.elastin - y[EF]);
        dy[ED] = -r.damaged_elastin_clearance_per_macrophage * mmp * y[ED]
            + r.elastin_turnover_per_day * (b.damaged_elastin - y[ED]);
    }
}

/// True when nothing in the voxel can change: inflammation absent and matrix at baseline.
#[inline]
pub fn at_rest(y: &[f64; COUNT], b: &Baseline) -> bool {
    const EPS: f64 = 1e-13;
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
}

//! Macrophage phenotype and TGF-beta: Waugh & Sherratt 2006, Bull Math Biol 68:197,
//! as curated in BioModels BIOMD0000000680 (time in days).
//!
//! State `[phiI, phiR, T]`: inflammatory and repair macrophages, active TGF-beta.
//! `K_T` is an assignment: the TGF-beta-driven macrophage influx.

use crate::ode::OdeSystem;
use crate::params::typed_params;

typed_params! {
    /// The published parameter set (BRIEF 3.2); names carry the `ws_` prefix in data files.
    WaughParams { ws_tau1, ws_tau2, ws_tau3, ws_tau4, ws_alpha, ws_k1, ws_k2, ws_k3, ws_k4, ws_d1, ws_d2 }
}

/// Species names in state order: inflammatory macrophages, repair macrophages, TGF-beta.
pub const NAMES: [&str; 3] = ["phiI", "phiR", "T"];
/// Initial values as curated, in state order.
pub const INITIAL: [f64; 3] = [200.0, 200.0, 6.0];

impl WaughParams {
    /// Macrophage influx driven by TGF-beta (cubic fit of the original paper).
    pub fn influx(&self, t: f64) -> f64 {
        self.ws_tau1 * t.powi(3) + self.ws_tau2 * t.powi(2) + self.ws_tau3 * t + self.ws_tau4
    }
}

/// The standalone three-species model, as an [`OdeSystem`].
pub struct WaughSherratt2006(pub WaughParams);

impl OdeSystem<3> for WaughSherratt2006 {
    fn rhs(&self, y: &[f64; 3], dy: &mut [f64; 3]) {
        let p = &self.0;
        let (pi, pr, t) = (y[0], y[1], y[2]);
        let kt = p.influx(t);
        let crowd = 1.0 - p.ws_k3 * (pi + pr);
        dy[0] = p.ws_alpha * kt + p.ws_k1 * p.ws_k2 * pi * crowd - p.ws_d1 * pi;
        dy[1] = (1.0 - p.ws_alpha) * kt + p.ws_k1 * p.ws_k2 * pr * crowd - p.ws_d1 * pr;
        dy[2] = p.ws_k4 * pi - p.ws_d2 * t;
    }
}

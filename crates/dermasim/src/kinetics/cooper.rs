//! Inflammatory phase: Cooper, Segal, Diegelmann & Reynolds 2015, J Theor Biol 367:86,
//! exactly as curated in BioModels BIOMD0000000855 (time in days).
//!
//! State `[P, Pt, N, M]`: pathogen, debris, activated neutrophils, macrophages.
//! Estrogen `E` and cortisol `C` are constant systemic inputs (0 in the curated model).

use crate::ode::OdeSystem;
use crate::params::typed_params;

typed_params! {
    /// The published parameter set (BRIEF 3.1), names as in the paper.
    CooperParams {
        kpn, kpm, ninf, kptn, kptm, mupt, knp, knpt, snr, munr, mun, knm, kmp, kmm, kmn,
        kmpt, smr, mumr, mum, eninf, ken, eminf, kem, cn, cm1, cm2, kpg, pinf, kbp, sb, mub,
        kpb, estrogen, cortisol,
    }
}

/// State index of the pathogen `P`.
pub const P: usize = 0;
/// State index of the debris `Pt`.
pub const PT: usize = 1;
/// State index of the activated neutrophils `N`.
pub const N: usize = 2;
/// State index of the macrophages `M`.
pub const M: usize = 3;
/// Species names in state order, as in the paper.
pub const NAMES: [&str; 4] = ["P", "Pt", "N", "M"];
/// Curated initial values.
pub const INITIAL: [f64; 4] = [0.1, 2.0, 0.1, 0.0];

impl CooperParams {
    /// Right-hand side for `[P, Pt, N, M]`; shared by the standalone model and the coupled one.
    #[inline]
    pub fn rates(&self, p: f64, pt: f64, n: f64, m: f64) -> [f64; 4] {
        let (e, c) = (self.estrogen, self.cortisol);
        let fi2 = m / (1.0 + (n / self.ninf).powi(2) + input_sq(c, self.cm1));
        let fem = over(self.kmm, 1.0 + input_sq(e, self.eminf));
        let r1 = over(
            self.kmpt * pt + self.kmp * p + fem * m + self.kmn * n,
            1.0 + input_sq(c, self.cm2),
        );
        let r2 = over(self.knpt * pt + self.knp * p, 1.0 + input_sq(c, self.cn));
        let fen = over(self.snr * r2 / (self.munr + r2), 1.0 + input_sq(e, self.eninf));
        let dp = self.kpg * p * (1.0 - p / self.pinf)
            - self.kpb * self.sb * p / (self.mub + self.kbp * p)
            - self.kpn * p * n * (1.0 + self.ken * e)
            - self.kpm * p * fi2 * (1.0 + self.kem * e);
        // `(1 + ken*N)` in the neutrophil debris term is as curated.
        let dpt = -self.kptn * pt * n * (1.0 + self.ken * n)
            - self.kptm * pt * fi2 * (1.0 + self.kem * e)
            + self.mun * n
            - self.mupt * pt;
        let dm = self.smr * r1 / (self.mumr + r1) - self.mum * m;
        let dn = fen - self.mun * n - self.knm * n * fi2;
        [dp, dpt, dn, dm]
    }

    /// Analytic Jacobian of [`CooperParams::rates`]: `J[i][j] = d rate_i / d y_j` for
    /// `y = [P, Pt, N, M]` (checked against finite differences in the tests).
    #[inline]
    pub fn jacobian(&self, p: f64, pt: f64, n: f64, m: f64) -> [[f64; 4]; 4] {
        let (e, c) = (self.estrogen, self.cortisol);
        let a1 = 1.0 + (n / self.ninf).powi(2) + input_sq(c, self.cm1);
        let fi2 = m / a1;
        let fi2_m = 1.0 / a1;
        let fi2_n = -m * 2.0 * n / (self.ninf * self.ninf) / (a1 * a1);
        let fem = over(self.kmm, 1.0 + input_sq(e, self.eminf));
        let d2 = 1.0 + input_sq(c, self.cm2);
        let r1 = over(self.kmpt * pt + self.kmp * p + fem * m + self.kmn * n, d2);
        let dn_ = 1.0 + input_sq(c, self.cn);
        let r2 = over(self.knpt * pt + self.knp * p, dn_);
        let de = 1.0 + input_sq(e, self.eninf);
        let fen_r2 = over(self.snr * self.munr / ((self.munr + r2) * (self.munr + r2)), de);
        let (en, em) = (1.0 + self.ken * e, 1.0 + self.kem * e);
        let bp = self.mub + self.kbp * p;
        let dp = [
            self.kpg * (1.0 - 2.0 * p / self.pinf)
                - self.kpb * self.sb * self.mub / (bp * bp)
                - self.kpn * n * en
                - self.kpm * fi2 * em,
            0.0,
            -self.kpn * p * en - self.kpm * p * em * fi2_n,
            -self.kpm * p * em * fi2_m,
        ];
        let dpt = [
            0.0,
            -self.kptn * n * (1.0 + self.ken * n) - self.kptm * fi2 * em - self.mupt,
            -self.kptn * pt * (1.0 + 2.0 * self.ken * n) - self.kptm * pt * em * fi2_n + self.mun,
            -self.kptm * pt * em * fi2_m,
        ];
        let dn = [
            over(fen_r2 * self.knp, dn_),
            over(fen_r2 * self.knpt, dn_),
            -self.mun - self.knm * fi2 - self.knm * n * fi2_n,
            -self.knm * n * fi2_m,
        ];
        let s1 = over(self.smr * self.mumr / ((self.mumr + r1) * (self.mumr + r1)), d2);
        let dm = [s1 * self.kmp, s1 * self.kmpt, s1 * self.kmn, s1 * fem - self.mum];
        [dp, dpt, dn, dm]
    }
}

/// `(x / s)^2` of a systemic input, exactly 0 without the division when the input is absent
/// (the curated model has estrogen = cortisol = 0, and the right-hand side runs billions of times).
#[inline(always)]
fn input_sq(x: f64, s: f64) -> f64 {
    if x == 0.0 {
        0.0
    } else {
        (x / s).powi(2)
    }
}

/// `x / d`, skipping the division when `d` is exactly 1 (same result, bit for bit).
#[inline(always)]
fn over(x: f64, d: f64) -> f64 {
    if d == 1.0 {
        x
    } else {
        x / d
    }
}

/// The standalone four-species model, as an [`OdeSystem`].
pub struct Cooper2015(pub CooperParams);

impl OdeSystem<4> for Cooper2015 {
    fn rhs(&self, y: &[f64; 4], dy: &mut [f64; 4]) {
        *dy = self.0.rates(y[P], y[PT], y[N], y[M]);
    }
}

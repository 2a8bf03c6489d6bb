//! Inflammatory phase: Cooper, Segal, Diegelmann & Reynolds 2015, J Theor Biol 367:86,
//! exactly as curated in BioModels BIOMD0000000855 (time in days).
//!
//! State `[P, Pt, N, M]`: pathogen, debris, activated neutrophils, macrophages.
//! Estrogen `E` and cortisol `C` are constant systemic inputs (0 in the curated model).

use super::lane::Lane;
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
        self.rates_lanes(p, pt, n, m)
    }

    /// [`CooperParams::rates`] on one voxel or on several in SIMD lanes (the same operations).
    #[inline(always)]
    pub fn rates_lanes<T: Lane>(&self, p: T, pt: T, n: T, m: T) -> [T; 4] {
        let s = T::splat;
        let (e, c) = (self.estrogen, self.cortisol);
        let fi2 = m / (s(1.0) + (n / s(self.ninf)).powi2() + s(input_sq(c, self.cm1)));
        let fem = over(self.kmm, 1.0 + input_sq(e, self.eminf));
        let r1 = over_lanes(
            s(self.kmpt) * pt + s(self.kmp) * p + s(fem) * m + s(self.kmn) * n,
            1.0 + input_sq(c, self.cm2),
        );
        let r2 = over_lanes(s(self.knpt) * pt + s(self.knp) * p, 1.0 + input_sq(c, self.cn));
        let fen = over_lanes(s(self.snr) * r2 / (s(self.munr) + r2), 1.0 + input_sq(e, self.eninf));
        let dp = s(self.kpg) * p * (s(1.0) - p / s(self.pinf))
            - s(self.kpb) * s(self.sb) * p / (s(self.mub) + s(self.kbp) * p)
            - s(self.kpn) * p * n * s(1.0 + self.ken * e)
            - s(self.kpm) * p * fi2 * s(1.0 + self.kem * e);
        // `(1 + ken*N)` in the neutrophil debris term is as curated.
        let dpt = -s(self.kptn) * pt * n * (s(1.0) + s(self.ken) * n)
            - s(self.kptm) * pt * fi2 * s(1.0 + self.kem * e)
            + s(self.mun) * n
            - s(self.mupt) * pt;
        let dm = s(self.smr) * r1 / (s(self.mumr) + r1) - s(self.mum) * m;
        let dn = fen - s(self.mun) * n - s(self.knm) * n * fi2;
        [dp, dpt, dn, dm]
    }

    /// Analytic Jacobian of [`CooperParams::rates`]: `J[i][j] = d rate_i / d y_j` for
    /// `y = [P, Pt, N, M]` (checked against finite differences in the tests).
    #[inline]
    pub fn jacobian(&self, p: f64, pt: f64, n: f64, m: f64) -> [[f64; 4]; 4] {
        self.jacobian_lanes(p, pt, n, m)
    }

    /// [`CooperParams::jacobian`] on one voxel or on several in SIMD lanes.
    #[inline(always)]
    pub fn jacobian_lanes<T: Lane>(&self, p: T, pt: T, n: T, m: T) -> [[T; 4]; 4] {
        let s = T::splat;
        let (e, c) = (self.estrogen, self.cortisol);
        let a1 = s(1.0) + (n / s(self.ninf)).powi2() + s(input_sq(c, self.cm1));
        let fi2 = m / a1;
        let fi2_m = s(1.0) / a1;
        let fi2_n = -m * s(2.0) * n / s(self.ninf * self.ninf) / (a1 * a1);
        let fem = over(self.kmm, 1.0 + input_sq(e, self.eminf));
        let d2 = 1.0 + input_sq(c, self.cm2);
        let r1 = over_lanes(s(self.kmpt) * pt + s(self.kmp) * p + s(fem) * m + s(self.kmn) * n, d2);
        let dn_ = 1.0 + input_sq(c, self.cn);
        let r2 = over_lanes(s(self.knpt) * pt + s(self.knp) * p, dn_);
        let de = 1.0 + input_sq(e, self.eninf);
        let fen_r2 = over_lanes(
            s(self.snr) * s(self.munr) / ((s(self.munr) + r2) * (s(self.munr) + r2)),
            de,
        );
        let (en, em) = (s(1.0 + self.ken * e), s(1.0 + self.kem * e));
        let bp = s(self.mub) + s(self.kbp) * p;
        let dp = [
            s(self.kpg) * (s(1.0) - s(2.0) * p / s(self.pinf))
                - s(self.kpb) * s(self.sb) * s(self.mub) / (bp * bp)
                - s(self.kpn) * n * en
                - s(self.kpm) * fi2 * em,
            s(0.0),
            -s(self.kpn) * p * en - s(self.kpm) * p * em * fi2_n,
            -s(self.kpm) * p * em * fi2_m,
        ];
        let dpt = [
            s(0.0),
            -s(self.kptn) * n * (s(1.0) + s(self.ken) * n) - s(self.kptm) * fi2 * em - s(self.mupt),
            -s(self.kptn) * pt * (s(1.0) + s(2.0) * s(self.ken) * n)
                - s(self.kptm) * pt * em * fi2_n
                + s(self.mun),
            -s(self.kptm) * pt * em * fi2_m,
        ];
        let dn = [
            over_lanes(fen_r2 * s(self.knp), dn_),
            over_lanes(fen_r2 * s(self.knpt), dn_),
            -s(self.mun) - s(self.knm) * fi2 - s(self.knm) * n * fi2_n,
            -s(self.knm) * n * fi2_m,
        ];
        let s1 = over_lanes(
            s(self.smr) * s(self.mumr) / ((s(self.mumr) + r1) * (s(self.mumr) + r1)),
            d2,
        );
        let dm = [s1 * s(self.kmp), s1 * s(self.kmpt), s1 * s(self.kmn), s1 * s(fem) - s(self.mum)];
        [dp, dpt, dn, dm]
    }
}

/// Slowest decay rate (1/day) below which a parameter set's sterile healed state counts as
/// non-healing. Labelled assumption: inflammation after a sterile puncture resolves within
/// months, so every mode of the linearised healed state must decay with an e-folding time of at
/// most 100 days (the curated Cooper 2015 set decays at 0.021 /day, e-folding 48 days).
pub const MIN_HEALING_RATE_PER_DAY: f64 = 0.01;

impl CooperParams {
    /// Jacobian at the sterile healed state `P = Pt = N = M = 0`.
    pub fn healed_jacobian(&self) -> [[f64; 4]; 4] {
        self.jacobian(0.0, 0.0, 0.0, 0.0)
    }

    /// Slowest decay rate of the healed state: `-max Re(lambda)` over the eigenvalues of
    /// [`CooperParams::healed_jacobian`], found by bisection on the shift `s` for which
    /// `J + s I` stays Routh-Hurwitz stable. Negative when the healed state is unstable.
    pub fn healed_decay_rate(&self) -> f64 {
        let j = self.healed_jacobian();
        let stable_with_shift = |s: f64| {
            let mut a = j;
            for (i, row) in a.iter_mut().enumerate() {
                row[i] += s;
            }
            hurwitz_stable(&char_poly(&a))
        };
        // Eigenvalues are bounded by the largest absolute row sum.
        let bound = j.iter().map(|r| r.iter().map(|v| v.abs()).sum::<f64>()).fold(0.0, f64::max);
        let (mut lo, mut hi) = (-bound - 1.0, bound + 1.0);
        if !stable_with_shift(lo) {
            return lo;
        }
        // Invariant: stable at shift `lo`, not at `hi`.
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if stable_with_shift(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
            if hi - lo < 1e-12 * (1.0 + lo.abs()) {
                break;
            }
        }
        lo
    }

    /// `Ok` when the sterile healed state is stable with at least
    /// [`MIN_HEALING_RATE_PER_DAY`] of margin; otherwise the reason, for the record.
    ///
    /// For `E = C = 0` the linearisation is block triangular: the pathogen decouples
    /// (`kpg - kpb sb / mub`), macrophages follow (`smr kmm / mumr - mum`), and debris and
    /// neutrophils form the block `[[-mupt, mun], [snr knpt / munr, -mun]]`, stable exactly when
    /// `mupt munr > snr knpt`. The general check does not rely on that structure.
    pub fn healing(&self) -> Result<(), String> {
        let rate = self.healed_decay_rate();
        if rate >= MIN_HEALING_RATE_PER_DAY {
            Ok(())
        } else if rate <= 0.0 {
            Err(format!(
                "sterile healed state unstable (slowest mode grows at {:.4} /day; mupt*munr = {:.4} vs snr*knpt = {:.4})",
                -rate,
                self.mupt * self.munr,
                self.snr * self.knpt
            ))
        } else {
            Err(format!(
                "inflammation resolves too slowly (slowest mode decays at {rate:.4} /day, below {MIN_HEALING_RATE_PER_DAY} /day)"
            ))
        }
    }
}

/// Coefficients `[1, a1, a2, a3, a4]` of `det(lambda I - A)` (Faddeev-LeVerrier).
fn char_poly(a: &[[f64; 4]; 4]) -> [f64; 5] {
    let mul = |x: &[[f64; 4]; 4], y: &[[f64; 4]; 4]| {
        let mut z = [[0.0; 4]; 4];
        for i in 0..4 {
            for j in 0..4 {
                z[i][j] = (0..4).map(|k| x[i][k] * y[k][j]).sum();
            }
        }
        z
    };
    let mut c = [1.0, 0.0, 0.0, 0.0, 0.0];
    let mut m = [[0.0; 4]; 4];
    for k in 1..=4 {
        // M_k = A M_{k-1} + c_{k-1} I; c_k = -tr(A M_k) / k.
        let mut mk = mul(a, &m);
        for (i, row) in mk.iter_mut().enumerate() {
            row[i] += c[k - 1];
        }
        let am = mul(a, &mk);
        c[k] = -(0..4).map(|i| am[i][i]).sum::<f64>() / k as f64;
        m = mk;
    }
    c
}

/// Routh-Hurwitz for a monic quartic: every root has a negative real part.
fn hurwitz_stable(c: &[f64; 5]) -> bool {
    let [_, a1, a2, a3, a4] = *c;
    a1 > 0.0
        && a2 > 0.0
        && a3 > 0.0
        && a4 > 0.0
        && a1 * a2 > a3
        && a1 * a2 * a3 > a3 * a3 + a1 * a1 * a4
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

/// [`over`] on lanes: the division is skipped for every lane alike, since `d` is a parameter.
#[inline(always)]
fn over_lanes<T: Lane>(x: T, d: f64) -> T {
    if d == 1.0 {
        x
    } else {
        x / T::splat(d)
    }
}

/// The standalone four-species model, as an [`OdeSystem`].
pub struct Cooper2015(pub CooperParams);

impl OdeSystem<4> for Cooper2015 {
    fn rhs(&self, y: &[f64; 4], dy: &mut [f64; 4]) {
        *dy = self.0.rates(y[P], y[PT], y[N], y[M]);
    }
}

#[cfg(test)]
mod healing_tests {
    use super::*;
    use crate::params::ParameterSet;

    fn curated() -> CooperParams {
        CooperParams::from_set(&ParameterSet::literature()).unwrap()
    }

    #[test]
    fn healed_state_rate_matches_the_closed_form_blocks() {
        // E = C = 0: eigenvalues are the pathogen and macrophage diagonals and the two roots of
        // the debris-neutrophil block (audit: -1.37 and -0.021 /day for the curated set).
        for scale in [0.8, 1.0, 1.2] {
            let mut c = curated();
            c.mupt *= scale;
            let p = c.kpg - c.kpb * c.sb / c.mub;
            let m = c.smr * c.kmm / c.mumr - c.mum;
            let (a, b, cc, d) = (-c.mupt, c.mun, c.snr * c.knpt / c.munr, -c.mun);
            let (tr, det) = (a + d, a * d - b * cc);
            let disc = (tr * tr / 4.0 - det).max(0.0).sqrt();
            let slowest =
                [p, m, tr / 2.0 + disc, tr / 2.0 - disc].into_iter().fold(f64::MIN, f64::max);
            let got = c.healed_decay_rate();
            assert!((got + slowest).abs() < 1e-9, "scale {scale}: {got} vs {}", -slowest);
        }
        let r = curated().healed_decay_rate();
        assert!((r - 0.021).abs() < 0.002, "curated slowest rate {r}");
    }

    #[test]
    fn the_debris_neutrophil_condition_decides_stability() {
        let mut c = curated();
        assert!(c.healing().is_ok());
        // Just inside mupt * munr = snr * knpt: stable but far too slow to heal.
        c.mupt = 1.001 * c.snr * c.knpt / c.munr;
        let r = c.healed_decay_rate();
        assert!(r > 0.0 && r < 1e-3 && c.healing().unwrap_err().contains("slowly"), "{r}");
        // Just across: unstable.
        c.mupt = 0.999 * c.snr * c.knpt / c.munr;
        let e = c.healing().unwrap_err();
        assert!(c.healed_decay_rate() < 0.0 && e.contains("unstable"), "{e}");
    }
}

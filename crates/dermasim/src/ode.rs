//! Rodas4: a stiffly accurate, L-stable Rosenbrock method of order 4(3) for small dense systems.
//!
//! Coefficients from Hairer & Wanner, *Solving ODEs II* (1996), as tabulated in the RODAS code
//! and in KPP's Rosenbrock integrator (Sandu et al.), in the form
//!
//! ```text
//! G = 1/(h*gamma) - J,   G K_i = f(y0 + sum_j a_ij K_j) + sum_j (c_ij / h) K_j
//! y1 = y0 + sum_i m_i K_i,   err = K_6
//! ```
//!
//! Systems here are autonomous, so the time-derivative term is absent. Sizes are const
//! generics so every stage lives on the stack; the Jacobian is by finite differences unless
//! the system supplies one.

/// A first-order autonomous ODE system of fixed size.
pub trait OdeSystem<const N: usize> {
    fn rhs(&self, y: &[f64; N], dy: &mut [f64; N]);

    /// Jacobian `J[i][j] = d f_i / d y_j`; forward differences by default.
    fn jacobian(&self, y: &[f64; N], f0: &[f64; N], jac: &mut [[f64; N]; N]) {
        let mut yp = *y;
        let mut fp = [0.0; N];
        for j in 0..N {
            let dy = f64::EPSILON.sqrt() * y[j].abs().max(1e-5);
            yp[j] = y[j] + dy;
            self.rhs(&yp, &mut fp);
            for i in 0..N {
                jac[i][j] = (fp[i] - f0[i]) / dy;
            }
            yp[j] = y[j];
        }
    }

    /// Factorise the iteration matrix `G = I/(h gamma) - J` in place; false if singular.
    /// Dense LU with partial pivoting by default; systems with structure override this and
    /// [`OdeSystem::solve`] together.
    fn factor(&self, g: &mut [[f64; N]; N], piv: &mut [usize; N]) -> bool {
        lu_factor(g, piv)
    }

    /// Solve `G x = b` in place with the factors from [`OdeSystem::factor`].
    fn solve(&self, g: &[[f64; N]; N], piv: &[usize; N], b: &mut [f64; N]) {
        lu_solve(g, piv, b)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    pub rtol: f64,
    pub atol: f64,
}

impl Tolerance {
    /// Tight enough for reference runs of the published models.
    pub const REFERENCE: Tolerance = Tolerance { rtol: 1e-11, atol: 1e-13 };
    /// The spatial simulator's default: well below the splitting error.
    pub const SIMULATION: Tolerance = Tolerance { rtol: 1e-6, atol: 1e-10 };
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub accepted: u64,
    pub rejected: u64,
}

impl std::ops::AddAssign for Stats {
    fn add_assign(&mut self, o: Self) {
        self.accepted += o.accepted;
        self.rejected += o.rejected;
    }
}

const GAMMA: f64 = 0.25;
// Strictly lower-triangular A and C, row i holds stage i's coefficients (0-based).
const A: [[f64; 5]; 6] = [
    [0.0; 5],
    [1.544, 0.0, 0.0, 0.0, 0.0],
    [0.946_678_528_081_582_6, 0.255_701_169_898_328_4, 0.0, 0.0, 0.0],
    [3.314_825_187_068_521, 2.896_124_015_972_201, 0.998_641_913_997_781_7, 0.0, 0.0],
    [1.221_224_509_226_641, 6.019_134_481_288_629, 12.537_083_329_320_87, -0.687_886_036_105_895, 0.0],
    [1.221_224_509_226_641, 6.019_134_481_288_629, 12.537_083_329_320_87, -0.687_886_036_105_895, 1.0],
];
const C: [[f64; 5]; 6] = [
    [0.0; 5],
    [-5.6688, 0.0, 0.0, 0.0, 0.0],
    [-2.430_093_356_833_875, -0.206_359_915_709_191_5, 0.0, 0.0, 0.0],
    [-0.107_352_905_815_137_5, -9.594_562_251_023_355, -20.470_286_148_096_16, 0.0, 0.0],
    [7.496_443_313_967_647, -10.246_804_314_643_52, -33.999_903_528_199_05, 11.708_908_932_061_6, 0.0],
    [8.083_246_795_921_522, -7.981_132_988_064_893, -31.521_594_328_743_71, 16.319_305_431_231_36, -6.058_818_238_834_054],
];
const M: [f64; 6] = [
    1.221_224_509_226_641,
    6.019_134_481_288_629,
    12.537_083_329_320_87,
    -0.687_886_036_105_895,
    1.0,
    1.0,
];

/// In-place LU factorisation with partial pivoting. Returns false if singular.
fn lu_factor<const N: usize>(a: &mut [[f64; N]; N], piv: &mut [usize; N]) -> bool {
    lu_factor_leading(a, piv, N)
}

fn lu_solve<const N: usize>(lu: &[[f64; N]; N], piv: &[usize; N], b: &mut [f64; N]) {
    lu_solve_leading(lu, piv, N, b)
}

/// LU with partial pivoting of the leading `n x n` block only; the rest of `a` is untouched.
fn lu_factor_leading<const N: usize>(a: &mut [[f64; N]; N], piv: &mut [usize; N], n: usize) -> bool {
    for k in 0..n {
        let mut p = k;
        let mut best = a[k][k].abs();
        for i in k + 1..n {
            if a[i][k].abs() > best {
                best = a[i][k].abs();
                p = i;
            }
        }
        if best == 0.0 || !best.is_finite() {
            return false;
        }
        piv[k] = p;
        if p != k {
            for j in 0..n {
                let t = a[p][j];
                a[p][j] = a[k][j];
                a[k][j] = t;
            }
        }
        let inv = 1.0 / a[k][k];
        for i in k + 1..n {
            let l = a[i][k] * inv;
            a[i][k] = l;
            if l != 0.0 {
                for j in k + 1..n {
                    a[i][j] -= l * a[k][j];
                }
            }
        }
    }
    true
}

fn lu_solve_leading<const N: usize>(lu: &[[f64; N]; N], piv: &[usize; N], n: usize, b: &mut [f64; N]) {
    for k in 0..n {
        b.swap(k, piv[k]);
    }
    for i in 1..n {
        let mut s = b[i];
        for j in 0..i {
            s -= lu[i][j] * b[j];
        }
        b[i] = s;
    }
    for i in (0..n).rev() {
        let mut s = b[i];
        for j in i + 1..n {
            s -= lu[i][j] * b[j];
        }
        b[i] = s / lu[i][i];
    }
}

/// Block lower-triangular systems: a dense leading block of size `B` (pivoted LU) and a tail
/// that is triangular when its unknowns are taken in `order`. Such a matrix needs no
/// elimination outside the block, so factorising costs a `B x B` LU and a solve one
/// forward substitution (exact and backward stable without pivoting).
pub fn block_factor<const N: usize>(g: &mut [[f64; N]; N], piv: &mut [usize; N], b: usize, order: &[usize]) -> bool {
    debug_assert_eq!(b + order.len(), N);
    lu_factor_leading(g, piv, b) && order.iter().all(|&i| g[i][i] != 0.0 && g[i][i].is_finite())
}

/// Solve with the factors from [`block_factor`].
pub fn block_solve<const N: usize>(g: &[[f64; N]; N], piv: &[usize; N], b: usize, order: &[usize], x: &mut [f64; N]) {
    lu_solve_leading(g, piv, b, x);
    // The tail by forward substitution: row i is zero in every column not yet solved.
    for &i in order {
        let mut s = x[i];
        for (j, gij) in g[i].iter().enumerate() {
            if j != i && *gij != 0.0 {
                s -= gij * x[j];
            }
        }
        x[i] = s / g[i][i];
    }
}

/// Integrate `y` from `t0` to `t1` in place with error control.
///
/// `h` is the first trial step and returns the last successful one, so callers can carry it
/// from call to call.
pub fn integrate<const N: usize, S: OdeSystem<N>>(
    sys: &S,
    t0: f64,
    t1: f64,
    y: &mut [f64; N],
    h: &mut f64,
    tol: Tolerance,
) -> Result<Stats, String> {
    let mut stats = Stats::default();
    let span = t1 - t0;
    if span <= 0.0 {
        return Ok(stats);
    }
    let hmin = span * 1e-14;
    let mut t = t0;
    let mut hh = if *h > 0.0 { h.min(span) } else { span };
    let mut f0 = [0.0; N];
    let mut jac = [[0.0; N]; N];
    let mut g = [[0.0; N]; N];
    let mut piv = [0usize; N];
    let mut k = [[0.0; N]; 6];
    let mut ys: [f64; N];
    let mut fs = [0.0; N];
    let mut need_jac = true;
    let mut reject_streak = 0;
    while t < t1 {
        let last = t + hh >= t1 - 1e-12 * span.max(1.0);
        if last {
            hh = t1 - t;
        }
        if need_jac {
            sys.rhs(y, &mut f0);
            sys.jacobian(y, &f0, &mut jac);
            need_jac = false;
        }
        let ghinv = 1.0 / (hh * GAMMA);
        for i in 0..N {
            for j in 0..N {
                g[i][j] = -jac[i][j];
            }
            g[i][i] += ghinv;
        }
        if !sys.factor(&mut g, &mut piv) {
            hh *= 0.5;
            stats.rejected += 1;
            if hh < hmin {
                return Err("singular iteration matrix".into());
            }
            continue;
        }
        for s in 0..6 {
            if s == 0 {
                fs = f0;
            } else {
                ys = *y;
                for j in 0..s {
                    let a = A[s][j];
                    if a != 0.0 {
                        for i in 0..N {
                            ys[i] += a * k[j][i];
                        }
                    }
                }
                sys.rhs(&ys, &mut fs);
            }
            let mut ks = fs;
            for j in 0..s {
                let c = C[s][j] / hh;
                for i in 0..N {
                    ks[i] += c * k[j][i];
                }
            }
            sys.solve(&g, &piv, &mut ks);
            k[s] = ks;
        }
        let mut ynew = *y;
        for s in 0..6 {
            for i in 0..N {
                ynew[i] += M[s] * k[s][i];
            }
        }
        let mut err = 0.0;
        for i in 0..N {
            let sc = tol.atol + tol.rtol * y[i].abs().max(ynew[i].abs());
            let e = k[5][i] / sc;
            err += e * e;
        }
        let err = (err / N as f64).sqrt();
        if !err.is_finite() {
            hh *= 0.25;
            stats.rejected += 1;
            if hh < hmin {
                return Err("step size underflow (non-finite error)".into());
            }
            continue;
        }
        let fac = (0.9 / err.max(1e-10).powf(0.25)).clamp(0.2, 6.0);
        if err <= 1.0 {
            t = if last { t1 } else { t + hh };
            *y = ynew;
            stats.accepted += 1;
            need_jac = true;
            *h = hh;
            hh *= if reject_streak > 0 { fac.min(1.0) } else { fac };
            reject_streak = 0;
        } else {
            stats.rejected += 1;
            reject_streak += 1;
            hh *= fac.min(0.5);
            if hh < hmin {
                return Err(format!("step size underflow at t = {t}"));
            }
        }
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stiff linear system with eigenvalues -1 and -1000: y1' = -y1, y2' = -1000 (y2 - y1).
    struct Stiff;
    impl OdeSystem<2> for Stiff {
        fn rhs(&self, y: &[f64; 2], dy: &mut [f64; 2]) {
            dy[0] = -y[0];
            dy[1] = -1000.0 * (y[1] - y[0]);
        }
    }

    fn exact(t: f64) -> [f64; 2] {
        // y1 = e^-t; y2 = (1000/999) e^-t + (1 - 1000/999) e^-1000t with y2(0) = 1.
        let a = 1000.0 / 999.0;
        [(-t).exp(), a * (-t).exp() + (1.0 - a) * (-1000.0 * t).exp()]
    }

    #[test]
    fn stiff_linear_matches_exact_solution() {
        let mut y = [1.0, 1.0];
        let mut h = 1e-3;
        let stats = integrate(&Stiff, 0.0, 5.0, &mut y, &mut h, Tolerance::REFERENCE).unwrap();
        let e = exact(5.0);
        for i in 0..2 {
            assert!(((y[i] - e[i]) / e[i]).abs() < 1e-9, "component {i}: {} vs {}", y[i], e[i]);
        }
        // Stiffness must not force tiny steps once the fast mode has decayed.
        assert!(stats.accepted < 2_000, "{stats:?}");
    }

    #[test]
    fn fixed_steps_converge_at_fourth_order() {
        // Non-stiff problem y' = -y^2, y(0) = 1, exact 1/(1+t); take single steps (huge tol).
        struct Riccati;
        impl OdeSystem<1> for Riccati {
            fn rhs(&self, y: &[f64; 1], dy: &mut [f64; 1]) {
                dy[0] = -y[0] * y[0];
            }
        }
        let err_for = |n: usize| {
            let mut y = [1.0];
            let dt = 2.0 / n as f64;
            for s in 0..n {
                let mut h = dt;
                integrate(&Riccati, s as f64 * dt, (s + 1) as f64 * dt, &mut y, &mut h, Tolerance { rtol: 1.0, atol: 1.0 })
                    .unwrap();
            }
            (y[0] - 1.0 / 3.0).abs()
        };
        let (e1, e2) = (err_for(20), err_for(40));
        let order = (e1 / e2).log2();
        assert!(order > 3.6 && order < 4.6, "observed order {order} ({e1:e} -> {e2:e})");
    }
}

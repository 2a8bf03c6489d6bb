//! Tridiagonal solvers for many lines at once: plain (Thomas) and periodic (Sherman-Morrison),
//! in `f64` or `f32`.

/// The floating-point types a field can hold: `f64` by default, `f32` to halve the memory
/// traffic (matrices are always factorised in `f64`, then rounded).
pub trait Real:
    Copy
    + Send
    + Sync
    + Default
    + PartialEq
    + PartialOrd
    + std::fmt::Debug
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + std::ops::SubAssign
    + std::ops::MulAssign
    + 'static
{
    /// Zero.
    const ZERO: Self;
    /// `v` in this type, rounded to nearest for `f32`.
    fn from_f64(v: f64) -> Self;
    /// The value as `f64` (exact).
    fn to_f64(self) -> f64;
}

impl Real for f64 {
    const ZERO: f64 = 0.0;
    #[inline(always)]
    fn from_f64(v: f64) -> f64 {
        v
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
}

impl Real for f32 {
    const ZERO: f32 = 0.0;
    #[inline(always)]
    fn from_f64(v: f64) -> f32 {
        v as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
}

/// A tridiagonal matrix factorised for repeated solves (Thomas algorithm).
#[derive(Debug, Clone)]
pub struct Thomas<R> {
    /// Lower diagonal.
    pub(crate) lower: Vec<R>,
    /// Modified upper diagonal c'.
    pub(crate) upper: Vec<R>,
    /// 1 / pivot.
    pub(crate) inv: Vec<R>,
}

impl<R: Real> Thomas<R> {
    /// Factorise the matrix with these diagonals (`lower[0]` and `upper[n-1]` are unused).
    pub fn new(lower: &[f64], diag: &[f64], upper: &[f64]) -> Thomas<R> {
        let n = diag.len();
        let mut cp = vec![0.0; n];
        let mut inv = vec![0.0; n];
        for k in 0..n {
            let denom = diag[k] - if k > 0 { lower[k] * cp[k - 1] } else { 0.0 };
            inv[k] = 1.0 / denom;
            cp[k] = upper[k] * inv[k];
        }
        let cast = |v: &[f64]| v.iter().map(|&x| R::from_f64(x)).collect();
        Thomas { lower: cast(lower), upper: cast(&cp), inv: cast(&inv) }
    }

    /// Solve many lines at once: row `k` of `rows` holds the k-th unknown of every line, so
    /// each elimination step is one contiguous vector operation.
    #[inline(always)]
    pub fn solve_rows(&self, rows: &mut [R], width: usize) {
        let n = self.inv.len();
        let inv0 = self.inv[0];
        for v in &mut rows[..width] {
            *v *= inv0;
        }
        for k in 1..n {
            let (prev, cur) = rows[(k - 1) * width..(k + 1) * width].split_at_mut(width);
            let (l, m) = (self.lower[k], self.inv[k]);
            for (c, p) in cur.iter_mut().zip(prev.iter()) {
                *c = (*c - l * *p) * m;
            }
        }
        for k in (0..n - 1).rev() {
            let (cur, next) = rows[k * width..(k + 2) * width].split_at_mut(width);
            let u = self.upper[k];
            for (c, nx) in cur.iter_mut().zip(next.iter()) {
                *c -= u * *nx;
            }
        }
    }
}

/// Periodic tridiagonal `-r u[i-1] + (1+2r) u[i] - r u[i+1]` via Sherman-Morrison.
#[derive(Debug, Clone)]
pub struct Cyclic<R> {
    inner: Thomas<R>,
    z: Vec<R>,
    beta_over_gamma: R,
    kappa: R,
}

impl<R: Real> Cyclic<R> {
    /// Factorise the periodic matrix of `n` cells with coupling `r`.
    pub fn new(n: usize, r: f64) -> Cyclic<R> {
        assert!(n >= 3, "periodic axis needs at least 3 cells");
        let b = 1.0 + 2.0 * r;
        let (alpha, beta, gamma) = (-r, -r, -b);
        let lower = vec![-r; n];
        let upper = vec![-r; n];
        let mut diag = vec![b; n];
        diag[0] = b - gamma;
        diag[n - 1] = b - alpha * beta / gamma;
        let inner = Thomas::<f64>::new(&lower, &diag, &upper);
        let mut z = vec![0.0; n];
        z[0] = gamma;
        z[n - 1] = alpha;
        inner.solve_rows(&mut z, 1);
        let kappa = 1.0 + z[0] + beta * z[n - 1] / gamma;
        Cyclic {
            inner: Thomas::new(&lower, &diag, &upper),
            z: z.iter().map(|&v| R::from_f64(v)).collect(),
            beta_over_gamma: R::from_f64(beta / gamma),
            kappa: R::from_f64(kappa),
        }
    }

    /// Solve many periodic lines at once (layout as in [`Thomas::solve_rows`]); `fact` is
    /// scratch of `width` values.
    #[inline(always)]
    pub fn solve_rows(&self, rows: &mut [R], width: usize, fact: &mut [R]) {
        let n = self.z.len();
        self.inner.solve_rows(rows, width);
        // Sherman-Morrison correction, row-wise.
        let (first, rest) = rows.split_at_mut(width);
        let last = &rest[(n - 2) * width..];
        for ((f, a), b) in fact.iter_mut().zip(first.iter()).zip(last) {
            *f = (*a + self.beta_over_gamma * *b) / self.kappa;
        }
        for (k, row) in rows.chunks_exact_mut(width).enumerate() {
            let zk = self.z[k];
            for (v, f) in row.iter_mut().zip(fact.iter()) {
                *v -= *f * zk;
            }
        }
    }
}

/// Lines solved together by [`Cyclic::solve_lines`].
const LANES: usize = 8;

impl<R: Real> Cyclic<R> {
    /// Solve many periodic lines stored one after another (`lines.len()` a multiple of n).
    /// Blocks of lines are eliminated together, one element of each per step, so the
    /// recurrences run side by side instead of waiting on each other (measured faster than
    /// transposing blocks of lines for vector operations).
    #[inline(always)]
    pub fn solve_lines(&self, lines: &mut [R]) {
        let n = self.z.len();
        let mut blocks = lines.chunks_exact_mut(LANES * n);
        for block in &mut blocks {
            self.solve_block::<LANES>(block);
        }
        for line in blocks.into_remainder().chunks_exact_mut(n) {
            self.solve_block::<1>(line);
        }
    }

    #[inline(always)]
    fn solve_block<const L: usize>(&self, block: &mut [R]) {
        let t = &self.inner;
        let n = self.z.len();
        assert!(
            block.len() == L * n && t.inv.len() == n && t.lower.len() == n && t.upper.len() == n
        );
        // SAFETY: every index below is r * n + i with r < L and i < n, inside `block`
        // (asserted above); the coefficient vectors have length n.
        unsafe {
            let x = block.as_mut_ptr();
            let inv0 = *t.inv.get_unchecked(0);
            for r in 0..L {
                *x.add(r * n) *= inv0;
            }
            for i in 1..n {
                let (l, m) = (*t.lower.get_unchecked(i), *t.inv.get_unchecked(i));
                for r in 0..L {
                    let p = x.add(r * n + i);
                    *p = (*p - l * *p.sub(1)) * m;
                }
            }
            for i in (0..n - 1).rev() {
                let u = *t.upper.get_unchecked(i);
                for r in 0..L {
                    let p = x.add(r * n + i);
                    *p -= u * *p.add(1);
                }
            }
        }
        for line in block.chunks_exact_mut(n) {
            let fact = (line[0] + self.beta_over_gamma * line[n - 1]) / self.kappa;
            for (v, z) in line.iter_mut().zip(&self.z) {
                *v -= fact * *z;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cyclic_solver_inverts_the_periodic_matrix() {
        let (n, r) = (7, 0.8);
        let m = Cyclic::<f64>::new(n, r);
        let x0: Vec<f64> = (0..n).map(|i| (i as f64 * 1.3).sin() + 2.0).collect();
        let mut b = vec![0.0; n];
        for i in 0..n {
            b[i] = (1.0 + 2.0 * r) * x0[i] - r * x0[(i + n - 1) % n] - r * x0[(i + 1) % n];
        }
        m.solve_rows(&mut b, 1, &mut [0.0]);
        for i in 0..n {
            assert!((b[i] - x0[i]).abs() < 1e-12);
        }
    }
}

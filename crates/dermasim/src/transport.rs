//! Implicit diffusion on the layered grid: locally one-dimensional (LOD) splitting, one
//! backward-Euler line solve per axis, so any step size is stable.
//!
//! Depth (z) uses finite volumes on cells of varying width with harmonic-mean face
//! coefficients and no-flux top and bottom, so `sum(h_k u_k)` is conserved to round-off.
//! Lateral axes (x, y) are uniform and periodic (cyclic tridiagonal, Sherman-Morrison).
//! Every line of a sweep shares one matrix, so each is factorised once and the sweeps run as
//! vector operations over whole rows or planes: contiguous memory, no strided walks.

use rayon::prelude::*;

use crate::tissue::Layer;

/// The simulation grid: z (depth) slowest, then y, then x.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    pub nx: usize,
    pub ny: usize,
    pub nz: usize,
    /// Lateral spacing, um (unused when nx = ny = 1).
    pub dx: f64,
    /// Cell widths in depth, um.
    pub hz: Vec<f64>,
    /// Cell centres in depth, um below the surface.
    pub zc: Vec<f64>,
    /// Layer of each depth cell.
    pub layer: Vec<Layer>,
}

impl Grid {
    /// Cells per layer from a target spacing; every layer gets at least one cell and its cells
    /// end exactly on the layer boundaries.
    pub fn layered(thickness_um: &[f64; 4], dz: Option<f64>, nx: usize, ny: usize, dx: f64) -> Grid {
        let mut hz = Vec::new();
        let mut layer = Vec::new();
        for (l, &t) in Layer::ALL.iter().zip(thickness_um) {
            let n = match dz {
                Some(dz) => (t / dz).round().max(1.0) as usize,
                None => 1,
            };
            for _ in 0..n {
                hz.push(t / n as f64);
                layer.push(*l);
            }
        }
        let mut zc = Vec::with_capacity(hz.len());
        let mut top = 0.0;
        for h in &hz {
            zc.push(top + h / 2.0);
            top += h;
        }
        Grid { nx, ny, nz: hz.len(), dx, hz, zc, layer }
    }

    pub fn plane(&self) -> usize {
        self.nx * self.ny
    }

    pub fn len(&self) -> usize {
        self.nz * self.plane()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    pub fn idx(&self, k: usize, j: usize, i: usize) -> usize {
        (k * self.ny + j) * self.nx + i
    }

    /// Top of depth cell `k`.
    pub fn z_top(&self, k: usize) -> f64 {
        self.zc[k] - self.hz[k] / 2.0
    }
}

/// A tridiagonal matrix factorised for repeated solves (Thomas algorithm).
#[derive(Debug, Clone)]
struct Thomas {
    lower: Vec<f64>,
    /// Modified upper diagonal c'.
    upper: Vec<f64>,
    /// 1 / pivot.
    inv: Vec<f64>,
}

impl Thomas {
    fn new(lower: &[f64], diag: &[f64], upper: &[f64]) -> Thomas {
        let n = diag.len();
        let mut cp = vec![0.0; n];
        let mut inv = vec![0.0; n];
        for k in 0..n {
            let denom = diag[k] - if k > 0 { lower[k] * cp[k - 1] } else { 0.0 };
            inv[k] = 1.0 / denom;
            cp[k] = upper[k] * inv[k];
        }
        Thomas { lower: lower.to_vec(), upper: cp, inv }
    }

    /// Solve one contiguous line in place.
    fn solve(&self, x: &mut [f64]) {
        let n = x.len();
        x[0] *= self.inv[0];
        for k in 1..n {
            x[k] = (x[k] - self.lower[k] * x[k - 1]) * self.inv[k];
        }
        for k in (0..n - 1).rev() {
            x[k] -= self.upper[k] * x[k + 1];
        }
    }
}

/// Periodic tridiagonal `-r u[i-1] + (1+2r) u[i] - r u[i+1]` via Sherman-Morrison.
#[derive(Debug, Clone)]
struct Cyclic {
    inner: Thomas,
    z: Vec<f64>,
    beta_over_gamma: f64,
    kappa: f64,
}

impl Cyclic {
    fn new(n: usize, r: f64) -> Cyclic {
        assert!(n >= 3, "periodic axis needs at least 3 cells");
        let b = 1.0 + 2.0 * r;
        let (alpha, beta, gamma) = (-r, -r, -b);
        let lower = vec![-r; n];
        let upper = vec![-r; n];
        let mut diag = vec![b; n];
        diag[0] = b - gamma;
        diag[n - 1] = b - alpha * beta / gamma;
        let inner = Thomas::new(&lower, &diag, &upper);
        let mut z = vec![0.0; n];
        z[0] = gamma;
        z[n - 1] = alpha;
        inner.solve(&mut z);
        let kappa = 1.0 + z[0] + beta * z[n - 1] / gamma;
        Cyclic { inner, z, beta_over_gamma: beta / gamma, kappa }
    }

    fn solve(&self, x: &mut [f64]) {
        self.inner.solve(x);
        let n = x.len();
        let fact = (x[0] + self.beta_over_gamma * x[n - 1]) / self.kappa;
        for (xi, zi) in x.iter_mut().zip(&self.z) {
            *xi -= fact * zi;
        }
    }

    /// Solve many lines at once: `rows[j]` is the j-th unknown of every line (contiguous).
    fn solve_rows(&self, plane: &mut [f64], width: usize) {
        let n = self.z.len();
        let t = &self.inner;
        // Forward sweep.
        for v in &mut plane[..width] {
            *v *= t.inv[0];
        }
        for k in 1..n {
            let (prev, cur) = plane[(k - 1) * width..(k + 1) * width].split_at_mut(width);
            let (l, m) = (t.lower[k], t.inv[k]);
            for (c, p) in cur.iter_mut().zip(prev.iter()) {
                *c = (*c - l * *p) * m;
            }
        }
        for k in (0..n - 1).rev() {
            let (cur, next) = plane[k * width..(k + 2) * width].split_at_mut(width);
            let u = t.upper[k];
            for (c, nx) in cur.iter_mut().zip(next.iter()) {
                *c -= u * *nx;
            }
        }
        // Sherman-Morrison correction, row-wise.
        let (first, rest) = plane.split_at_mut(width);
        let last = &rest[(n - 2) * width..];
        let mut fact = vec![0.0; width];
        for i in 0..width {
            fact[i] = (first[i] + self.beta_over_gamma * last[i]) / self.kappa;
        }
        for k in 0..n {
            let zk = self.z[k];
            for (v, f) in plane[k * width..(k + 1) * width].iter_mut().zip(&fact) {
                *v -= f * zk;
            }
        }
    }
}

/// A raw pointer that may cross threads; each task touches a disjoint set of columns.
#[derive(Clone, Copy)]
struct SharedMut(*mut f64);
unsafe impl Send for SharedMut {}
unsafe impl Sync for SharedMut {}

/// Depth diffusion coefficient of every cell for one species, um^2/day.
pub type DepthCoefficients = Vec<f64>;

/// One backward-Euler LOD step of `dt` days for one species field.
pub fn diffuse(grid: &Grid, field: &mut [f64], d: &DepthCoefficients, dt: f64) {
    debug_assert_eq!(field.len(), grid.len());
    if d.iter().all(|&v| v == 0.0) || dt <= 0.0 {
        return;
    }
    let plane = grid.plane();
    if grid.nx >= 3 {
        // x lines are contiguous rows: one cyclic matrix per depth cell.
        field.par_chunks_mut(plane).enumerate().for_each(|(k, p)| {
            let r = d[k] * dt / (grid.dx * grid.dx);
            if r > 0.0 {
                let m = Cyclic::new(grid.nx, r);
                for row in p.chunks_mut(grid.nx) {
                    m.solve(row);
                }
            }
        });
    }
    if grid.ny >= 3 {
        // y lines: solve whole planes with rows of x as vectors.
        field.par_chunks_mut(plane).enumerate().for_each(|(k, p)| {
            let r = d[k] * dt / (grid.dx * grid.dx);
            if r > 0.0 {
                Cyclic::new(grid.ny, r).solve_rows(p, grid.nx);
            }
        });
    }
    diffuse_depth(grid, field, d, dt);
}

fn depth_matrix(grid: &Grid, d: &[f64], dt: f64) -> Thomas {
    let nz = grid.nz;
    // Face conductance g = 2 / (h_k/D_k + h_{k+1}/D_{k+1}); zero where either side is 0.
    let g: Vec<f64> = (0..nz.saturating_sub(1))
        .map(|k| {
            let (a, b) = (d[k], d[k + 1]);
            if a <= 0.0 || b <= 0.0 {
                0.0
            } else {
                2.0 / (grid.hz[k] / a + grid.hz[k + 1] / b)
            }
        })
        .collect();
    let mut lower = vec![0.0; nz];
    let mut upper = vec![0.0; nz];
    let mut diag = vec![1.0; nz];
    for k in 0..nz {
        let s = dt / grid.hz[k];
        if k > 0 {
            lower[k] = -s * g[k - 1];
        }
        if k + 1 < nz {
            upper[k] = -s * g[k];
        }
        diag[k] = 1.0 - lower[k] - upper[k];
    }
    Thomas::new(&lower, &diag, &upper)
}

fn diffuse_depth(grid: &Grid, field: &mut [f64], d: &[f64], dt: f64) {
    let nz = grid.nz;
    if nz < 2 {
        return;
    }
    let t = depth_matrix(grid, d, dt);
    let plane = grid.plane();
    // Columns in chunks: each task sweeps all depths for a contiguous range of columns.
    const CHUNK: usize = 512;
    let ptr = SharedMut(field.as_mut_ptr());
    let chunks = plane.div_ceil(CHUNK);
    (0..chunks).into_par_iter().for_each(|c| {
        let ptr = ptr;
        let (lo, hi) = (c * CHUNK, ((c + 1) * CHUNK).min(plane));
        let w = hi - lo;
        // SAFETY: chunks cover disjoint column ranges [lo, hi) of every depth row.
        let row = |k: usize| unsafe { std::slice::from_raw_parts_mut(ptr.0.add(k * plane + lo), w) };
        {
            let r0 = row(0);
            for v in r0.iter_mut() {
                *v *= t.inv[0];
            }
        }
        for k in 1..nz {
            let (prev, cur) = (row(k - 1), row(k));
            let (l, m) = (t.lower[k], t.inv[k]);
            for (c, p) in cur.iter_mut().zip(prev.iter()) {
                *c = (*c - l * *p) * m;
            }
        }
        for k in (0..nz - 1).rev() {
            let (cur, next) = (row(k), row(k + 1));
            let u = t.upper[k];
            for (c, n) in cur.iter_mut().zip(next.iter()) {
                *c -= u * *n;
            }
        }
    });
}

/// Volume-weighted total of a field (um^3 x concentration), summed in a fixed order.
pub fn total(grid: &Grid, field: &[f64]) -> f64 {
    let cell = if grid.plane() > 1 { grid.dx * grid.dx } else { 1.0 };
    field
        .chunks(grid.plane())
        .zip(&grid.hz)
        .map(|(p, h)| p.iter().sum::<f64>() * h * cell)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid3(n: usize) -> Grid {
        Grid::layered(&[10.0, 50.0, 200.0, 800.0], Some(20.0), n, n + 1, 20.0)
    }

    fn coefficients(g: &Grid) -> Vec<f64> {
        g.layer
            .iter()
            .map(|l| match l {
                Layer::StratumCorneum => 1.0,
                Layer::Epidermis => 1e3,
                _ => 1e5,
            })
            .collect()
    }

    #[test]
    fn cyclic_solver_inverts_the_periodic_matrix() {
        let (n, r) = (7, 0.8);
        let m = Cyclic::new(n, r);
        let x0: Vec<f64> = (0..n).map(|i| (i as f64 * 1.3).sin() + 2.0).collect();
        let mut b = vec![0.0; n];
        for i in 0..n {
            b[i] = (1.0 + 2.0 * r) * x0[i] - r * x0[(i + n - 1) % n] - r * x0[(i + 1) % n];
        }
        m.solve(&mut b);
        for i in 0..n {
            assert!((b[i] - x0[i]).abs() < 1e-12);
        }
    }

    #[test]
    fn diffusion_conserves_mass_with_no_flux_boundaries() {
        let g = grid3(9);
        let d = coefficients(&g);
        let mut f: Vec<f64> = (0..g.len()).map(|i| ((i * 7919) % 101) as f64).collect();
        let before = total(&g, &f);
        for _ in 0..20 {
            diffuse(&g, &mut f, &d, 0.3);
        }
        let after = total(&g, &f);
        assert!(((after - before) / before).abs() < 1e-12, "{before} -> {after}");
        assert!(f.iter().all(|&v| v >= 0.0));
    }

    #[test]
    fn depth_diffusion_relaxes_to_uniform_and_stays_positive() {
        let g = Grid::layered(&[10.0, 50.0, 200.0, 800.0], Some(10.0), 1, 1, 1.0);
        let d = vec![1e4; g.nz];
        let mut f = vec![0.0; g.nz];
        f[3] = 1.0;
        let mass = total(&g, &f);
        // One huge implicit step: slowest mode damped by 1/(1 + lambda dt) ~ 1e-8.
        diffuse(&g, &mut f, &d, 1e8);
        let mean = mass / g.hz.iter().sum::<f64>();
        assert!(f.iter().all(|&v| v >= 0.0 && (v - mean).abs() < 1e-6 * mean.max(1.0)));
    }

    #[test]
    fn depth_solution_matches_analytic_cosine_mode() {
        // u = cos(pi z / L) decays as exp(-D (pi/L)^2 t) with no-flux ends; backward Euler
        // error shrinks with dt and dz.
        let l = 1000.0;
        let dd = 1e4;
        let err = |nz: usize, steps: usize| {
            let g = Grid::layered(&[0.0, 0.0, 0.0, l], Some(l / nz as f64), 1, 1, 1.0);
            let g = Grid { hz: g.hz[3..].to_vec(), zc: g.zc[3..].to_vec(), layer: g.layer[3..].to_vec(), nz: g.nz - 3, ..g };
            let d = vec![dd; g.nz];
            let mut f: Vec<f64> = g.zc.iter().map(|z| (std::f64::consts::PI * z / l).cos()).collect();
            let t_end = 5.0;
            for _ in 0..steps {
                diffuse(&g, &mut f, &d, t_end / steps as f64);
            }
            let decay = (-dd * (std::f64::consts::PI / l).powi(2) * t_end).exp();
            g.zc.iter().zip(&f).map(|(z, v)| (v - decay * (std::f64::consts::PI * z / l).cos()).abs()).fold(0.0, f64::max)
        };
        let e1 = err(50, 50);
        let e2 = err(100, 100);
        assert!(e1 < 0.02, "{e1}");
        assert!(e2 < 0.55 * e1, "halving dz and dt should roughly halve the error: {e1} -> {e2}");
    }

    #[test]
    fn lateral_point_source_spreads_symmetrically() {
        let n = 21;
        let g = Grid::layered(&[0.0, 0.0, 0.0, 100.0], Some(100.0), n, n, 10.0);
        let g = Grid { hz: vec![100.0], zc: vec![50.0], layer: vec![Layer::ReticularDermis], nz: 1, ..g };
        let mut f = vec![0.0; g.len()];
        f[g.idx(0, 10, 10)] = 1.0;
        diffuse(&g, &mut f, &vec![100.0], 1.0);
        for (a, b) in [((10, 9), (10, 11)), ((9, 10), (11, 10)), ((10, 9), (9, 10)), ((7, 8), (13, 12))] {
            let (u, v) = (f[g.idx(0, a.0, a.1)], f[g.idx(0, b.0, b.1)]);
            assert!((u - v).abs() < 1e-15, "{a:?} {u} vs {b:?} {v}");
        }
    }
}

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
    /// Cells along x (1 at fidelities 0d and 1d).
    pub nx: usize,
    /// Cells along y (1 at fidelities 0d and 1d).
    pub ny: usize,
    /// Cells in depth.
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
    pub fn layered(
        thickness_um: &[f64; 4],
        dz: Option<f64>,
        nx: usize,
        ny: usize,
        dx: f64,
    ) -> Grid {
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

    /// Cells in one depth plane: `nx * ny`.
    pub fn plane(&self) -> usize {
        self.nx * self.ny
    }

    /// Cells in the grid: `nz * nx * ny`.
    pub fn len(&self) -> usize {
        self.nz * self.plane()
    }

    /// Whether the grid has no cells.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Index into a field of the cell at depth `k`, row `j` (y) and column `i` (x).
    #[inline]
    pub fn idx(&self, k: usize, j: usize, i: usize) -> usize {
        (k * self.ny + j) * self.nx + i
    }

    /// Top of depth cell `k`.
    pub fn z_top(&self, k: usize) -> f64 {
        self.zc[k] - self.hz[k] / 2.0
    }
}

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
struct Thomas<R> {
    lower: Vec<R>,
    /// Modified upper diagonal c'.
    upper: Vec<R>,
    /// 1 / pivot.
    inv: Vec<R>,
}

impl<R: Real> Thomas<R> {
    fn new(lower: &[f64], diag: &[f64], upper: &[f64]) -> Thomas<R> {
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
    fn solve_rows(&self, rows: &mut [R], width: usize) {
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
struct Cyclic<R> {
    inner: Thomas<R>,
    z: Vec<R>,
    beta_over_gamma: R,
    kappa: R,
}

impl<R: Real> Cyclic<R> {
    fn new(n: usize, r: f64) -> Cyclic<R> {
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
    fn solve_rows(&self, rows: &mut [R], width: usize, fact: &mut [R]) {
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
    fn solve_lines(&self, lines: &mut [R]) {
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

/// Whether the hot loops may run in their AVX2 build: the same IEEE operations in the same
/// order in wider registers (no fused multiply-add), so results are bit-identical to the
/// baseline build on any machine.
#[inline(always)]
fn avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// x then y sweeps of one depth plane.
fn lateral_plane<R: Real>(
    mx: Option<&Cyclic<R>>,
    my: Option<&Cyclic<R>>,
    p: &mut [R],
    nx: usize,
    fact: &mut Vec<R>,
) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2")]
        unsafe fn wide<R: Real>(
            mx: Option<&Cyclic<R>>,
            my: Option<&Cyclic<R>>,
            p: &mut [R],
            nx: usize,
            fact: &mut Vec<R>,
        ) {
            lateral_plane_body(mx, my, p, nx, fact)
        }
        if avx2() {
            // SAFETY: the CPU has AVX2 (checked at run time).
            return unsafe { wide(mx, my, p, nx, fact) };
        }
    }
    lateral_plane_body(mx, my, p, nx, fact)
}

#[inline(always)]
fn lateral_plane_body<R: Real>(
    mx: Option<&Cyclic<R>>,
    my: Option<&Cyclic<R>>,
    p: &mut [R],
    nx: usize,
    fact: &mut Vec<R>,
) {
    if let Some(mx) = mx {
        mx.solve_lines(p);
    }
    if let Some(my) = my {
        fact.resize(nx, R::ZERO);
        my.solve_rows(p, nx, fact);
    }
}

/// A raw pointer that may cross threads; each task touches a disjoint set of columns.
#[derive(Clone, Copy)]
struct SharedMut<R>(*mut R);
unsafe impl<R> Send for SharedMut<R> {}
unsafe impl<R> Sync for SharedMut<R> {}

impl<R> SharedMut<R> {
    /// A method, not the field, so closures capture the whole (Send) wrapper.
    #[inline]
    unsafe fn at(&self, i: usize) -> *mut R {
        self.0.add(i)
    }
}

/// Depth diffusion coefficient of every cell for one species, um^2/day.
pub type DepthCoefficients = Vec<f64>;

/// Grids below this many values per sweep run on the calling thread: scheduling would cost
/// more than the work (0d and 1d columns).
const SERIAL_BELOW: usize = 1 << 14;

/// One backward-Euler LOD step of `dt` days for one species field.
pub fn diffuse<R: Real>(grid: &Grid, field: &mut [R], d: &[f64], dt: f64) {
    diffuse_fields(grid, field, &[d], 0.0, dt);
}

/// One backward-Euler LOD step of `dt` for several species fields stored back to back
/// (`fields[s * len..(s + 1) * len]`, coefficients `d[s]` per depth cell), with an optional
/// first-order decay folded into the depth sweep. Species whose coefficients are all zero,
/// or whose field is zero everywhere (diffusion keeps it so), are skipped.
///
/// Two passes over memory per species: the lateral sweeps (x then y) of each depth plane
/// while it sits in cache, then the depth sweep over blocks of whole columns. The x lines are
/// eliminated eight side by side, the y and depth lines as vector operations over whole rows.
/// Every line is solved by the same arithmetic whatever the thread count, so results are
/// bit-identical across thread counts.
pub fn diffuse_fields<R: Real>(grid: &Grid, fields: &mut [R], d: &[&[f64]], decay: f64, dt: f64) {
    let len = grid.len();
    debug_assert_eq!(fields.len(), d.len() * len);
    if dt <= 0.0 || len == 0 {
        return;
    }
    let active: Vec<usize> = (0..d.len())
        .filter(|&s| {
            (decay > 0.0 || d[s].iter().any(|&v| v != 0.0))
                && fields[s * len..(s + 1) * len].iter().any(|&v| v != R::ZERO)
        })
        .collect();
    if active.is_empty() {
        return;
    }
    if grid.nx >= 3 || grid.ny >= 3 {
        lateral(grid, fields, d, &active, dt);
    }
    depth(grid, fields, d, &active, decay, dt);
}

/// A lateral coefficient (as `r = D dt / dx^2` bits) with its x and y matrices.
type LateralMatrices<R> = (u64, Option<Cyclic<R>>, Option<Cyclic<R>>);

/// x and y sweeps, one task per (species, depth plane).
fn lateral<R: Real>(grid: &Grid, fields: &mut [R], d: &[&[f64]], active: &[usize], dt: f64) {
    let (nx, ny, nz, plane) = (grid.nx, grid.ny, grid.nz, grid.plane());
    let dx2 = grid.dx * grid.dx;
    // One pair of matrices per distinct coefficient, shared by every line of every plane that
    // has it: a uniform layer costs one factorisation, however many planes it spans.
    let mut distinct: Vec<LateralMatrices<R>> = Vec::new();
    let which: Vec<Option<usize>> = (0..d.len() * nz)
        .map(|i| {
            let (s, k) = (i / nz, i % nz);
            let r = d[s][k] * dt / dx2;
            if !active.contains(&s) || r <= 0.0 {
                return None;
            }
            let at = distinct.iter().position(|m| m.0 == r.to_bits()).unwrap_or_else(|| {
                distinct.push((
                    r.to_bits(),
                    (nx >= 3).then(|| Cyclic::new(nx, r)),
                    (ny >= 3).then(|| Cyclic::new(ny, r)),
                ));
                distinct.len() - 1
            });
            Some(at)
        })
        .collect();
    let work = |fact: &mut Vec<R>, (i, p): (usize, &mut [R])| {
        let Some(m) = which[i] else { return };
        let (_, mx, my) = &distinct[m];
        lateral_plane(mx.as_ref(), my.as_ref(), p, nx, fact);
    };
    if fields.len() < SERIAL_BELOW {
        let mut fact = Vec::new();
        fields.chunks_mut(plane).enumerate().for_each(|x| work(&mut fact, x));
    } else {
        fields.par_chunks_mut(plane).enumerate().for_each_init(Vec::new, work);
    }
}

fn depth_matrix<R: Real>(grid: &Grid, d: &[f64], decay: f64, dt: f64) -> Thomas<R> {
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
        diag[k] = 1.0 + decay * dt - lower[k] - upper[k];
    }
    Thomas::new(&lower, &diag, &upper)
}

/// Depth sweeps: one task per (species, block of columns); a block's whole depth stays in
/// cache between the forward and the backward pass.
fn depth<R: Real>(
    grid: &Grid,
    fields: &mut [R],
    d: &[&[f64]],
    active: &[usize],
    decay: f64,
    dt: f64,
) {
    let (nz, plane, len) = (grid.nz, grid.plane(), grid.len());
    if nz < 2 && decay == 0.0 {
        return;
    }
    let mats: Vec<Thomas<R>> =
        active.iter().map(|&s| depth_matrix(grid, d[s], decay, dt)).collect();
    // About 256 KiB per block, at least 64 columns.
    let block = (256 * 1024 / (nz * std::mem::size_of::<R>())).clamp(64, 4096).min(plane);
    let blocks = plane.div_ceil(block);
    let ptr = SharedMut(fields.as_mut_ptr());
    let work = |task: usize| {
        let (a, c) = (task / blocks, task % blocks);
        let (t, base) = (&mats[a], active[a] * len);
        let (lo, hi) = (c * block, ((c + 1) * block).min(plane));
        let w = hi - lo;
        // SAFETY: tasks cover disjoint column ranges [lo, hi) of disjoint species.
        let row =
            |k: usize| unsafe { std::slice::from_raw_parts_mut(ptr.at(base + k * plane + lo), w) };
        sweep_columns(t, nz, row)
    };
    let tasks = active.len() * blocks;
    if active.len() * len < SERIAL_BELOW {
        (0..tasks).for_each(work);
    } else {
        (0..tasks).into_par_iter().for_each(work);
    }
}

/// Forward and backward Thomas sweeps down a block of columns; `row(k)` is the block's slice
/// of depth row k.
fn sweep_columns<'a, R: Real, F: Fn(usize) -> &'a mut [R]>(t: &Thomas<R>, nz: usize, row: F) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2")]
        unsafe fn wide<'a, R: Real, F: Fn(usize) -> &'a mut [R]>(t: &Thomas<R>, nz: usize, row: F) {
            sweep_columns_body(t, nz, row)
        }
        if avx2() {
            // SAFETY: the CPU has AVX2 (checked at run time).
            return unsafe { wide(t, nz, row) };
        }
    }
    sweep_columns_body(t, nz, row)
}

#[inline(always)]
fn sweep_columns_body<'a, R: Real, F: Fn(usize) -> &'a mut [R]>(t: &Thomas<R>, nz: usize, row: F) {
    let inv0 = t.inv[0];
    for v in row(0).iter_mut() {
        *v *= inv0;
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
}

/// Volume-weighted total of a field (um^3 x concentration), summed in a fixed order.
pub fn total(grid: &Grid, field: &[f64]) -> f64 {
    let cell = if grid.plane() > 1 { grid.dx * grid.dx } else { 1.0 };
    field.chunks(grid.plane()).zip(&grid.hz).map(|(p, h)| p.iter().sum::<f64>() * h * cell).sum()
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
            let g = Grid {
                hz: g.hz[3..].to_vec(),
                zc: g.zc[3..].to_vec(),
                layer: g.layer[3..].to_vec(),
                nz: g.nz - 3,
                ..g
            };
            let d = vec![dd; g.nz];
            let mut f: Vec<f64> =
                g.zc.iter().map(|z| (std::f64::consts::PI * z / l).cos()).collect();
            let t_end = 5.0;
            for _ in 0..steps {
                diffuse(&g, &mut f, &d, t_end / steps as f64);
            }
            let decay = (-dd * (std::f64::consts::PI / l).powi(2) * t_end).exp();
            g.zc.iter()
                .zip(&f)
                .map(|(z, v)| (v - decay * (std::f64::consts::PI * z / l).cos()).abs())
                .fold(0.0, f64::max)
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
        let g = Grid {
            hz: vec![100.0],
            zc: vec![50.0],
            layer: vec![Layer::ReticularDermis],
            nz: 1,
            ..g
        };
        let mut f = vec![0.0f64; g.len()];
        f[g.idx(0, 10, 10)] = 1.0;
        diffuse(&g, &mut f, &[100.0], 1.0);
        for (a, b) in
            [((10, 9), (10, 11)), ((9, 10), (11, 10)), ((10, 9), (9, 10)), ((7, 8), (13, 12))]
        {
            let (u, v) = (f[g.idx(0, a.0, a.1)], f[g.idx(0, b.0, b.1)]);
            assert!((u - v).abs() < 1e-15, "{a:?} {u} vs {b:?} {v}");
        }
    }

    /// Solve `a x = b` densely by Gaussian elimination with partial pivoting.
    #[allow(clippy::needless_range_loop)]
    fn dense_solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Vec<f64> {
        let n = b.len();
        for k in 0..n {
            let p = (k..n).max_by(|&i, &j| a[i][k].abs().total_cmp(&a[j][k].abs())).unwrap();
            a.swap(k, p);
            b.swap(k, p);
            for i in k + 1..n {
                let l = a[i][k] / a[k][k];
                for j in k..n {
                    a[i][j] -= l * a[k][j];
                }
                b[i] -= l * b[k];
            }
        }
        for i in (0..n).rev() {
            b[i] = (b[i] - (i + 1..n).map(|j| a[i][j] * b[j]).sum::<f64>()) / a[i][i];
        }
        b
    }

    /// The LOD step written out with dense matrices: x, then y, then depth.
    fn dense_lod(g: &Grid, f: &[f64], d: &[f64], decay: f64, dt: f64) -> Vec<f64> {
        let mut u = f.to_vec();
        let periodic = |n: usize, r: f64| {
            (0..n)
                .map(|i| {
                    let mut row = vec![0.0; n];
                    row[i] += 1.0 + 2.0 * r;
                    row[(i + n - 1) % n] -= r;
                    row[(i + 1) % n] -= r;
                    row
                })
                .collect::<Vec<_>>()
        };
        for k in 0..g.nz {
            let r = d[k] * dt / (g.dx * g.dx);
            for j in 0..g.ny {
                let line: Vec<f64> = (0..g.nx).map(|i| u[g.idx(k, j, i)]).collect();
                for (i, v) in dense_solve(periodic(g.nx, r), line).into_iter().enumerate() {
                    u[g.idx(k, j, i)] = v;
                }
            }
            for i in 0..g.nx {
                let line: Vec<f64> = (0..g.ny).map(|j| u[g.idx(k, j, i)]).collect();
                for (j, v) in dense_solve(periodic(g.ny, r), line).into_iter().enumerate() {
                    u[g.idx(k, j, i)] = v;
                }
            }
        }
        let mut a = vec![vec![0.0; g.nz]; g.nz];
        for k in 0..g.nz {
            a[k][k] = 1.0 + decay * dt;
            for n in [k.wrapping_sub(1), k + 1] {
                if n < g.nz {
                    let face = 2.0 / (g.hz[k] / d[k] + g.hz[n] / d[n]);
                    a[k][k] += dt / g.hz[k] * face;
                    a[k][n] -= dt / g.hz[k] * face;
                }
            }
        }
        for j in 0..g.ny {
            for i in 0..g.nx {
                let line: Vec<f64> = (0..g.nz).map(|k| u[g.idx(k, j, i)]).collect();
                for (k, v) in dense_solve(a.clone(), line).into_iter().enumerate() {
                    u[g.idx(k, j, i)] = v;
                }
            }
        }
        u
    }

    fn pattern(n: usize, seed: usize) -> Vec<f64> {
        (0..n).map(|i| (((i + seed) * 7919) % 101) as f64 / 10.0).collect()
    }

    #[test]
    fn fused_sweeps_match_the_lod_step_written_out_densely() {
        let g = Grid::layered(&[10.0, 50.0, 200.0, 300.0], Some(40.0), 5, 4, 20.0);
        let d = coefficients(&g);
        for decay in [0.0, 0.7] {
            let f = pattern(g.len(), 3);
            let expect = dense_lod(&g, &f, &d, decay, 0.4);
            let mut got = f.clone();
            diffuse_fields(&g, &mut got, &[&d], decay, 0.4);
            for (v, (a, b)) in got.iter().zip(&expect).enumerate() {
                assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "voxel {v}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn several_species_at_once_equal_one_at_a_time_bit_for_bit() {
        let g = grid3(9);
        let (len, d) = (g.len(), coefficients(&g));
        let d2: Vec<f64> = d.iter().map(|v| v * 0.3).collect();
        let zero = vec![0.0; g.nz];
        let mut all: Vec<f64> = [pattern(len, 1), pattern(len, 2), pattern(len, 5)].concat();
        let mut one = all.clone();
        diffuse_fields(&g, &mut all, &[&d, &d2, &zero], 0.0, 0.25);
        diffuse(&g, &mut one[..len], &d, 0.25);
        diffuse(&g, &mut one[len..2 * len], &d2, 0.25);
        assert_eq!(all, one, "the third species has no diffusion and must be untouched too");
    }

    #[test]
    fn single_precision_stays_within_its_stated_bound_of_double() {
        // f32 fields: the same step, rounded to 24 bits per operation. Over 50 steps the
        // difference stays below 1e-5 of the field's scale and mass drifts below 1e-5.
        let g = grid3(9);
        let d = coefficients(&g);
        let f64s = pattern(g.len(), 4);
        let mut a = f64s.clone();
        let mut b: Vec<f32> = f64s.iter().map(|&v| v as f32).collect();
        let mass = total(&g, &a);
        for _ in 0..50 {
            diffuse(&g, &mut a, &d, 0.3);
            diffuse(&g, &mut b, &d, 0.3);
        }
        let scale = a.iter().copied().fold(0.0, f64::max);
        let worst = a.iter().zip(&b).map(|(x, y)| (x - *y as f64).abs()).fold(0.0, f64::max);
        assert!(worst < 1e-5 * scale, "f32 differs from f64 by {worst:e} (scale {scale})");
        let b64: Vec<f64> = b.iter().map(|&v| v as f64).collect();
        assert!(((total(&g, &b64) - mass) / mass).abs() < 1e-5);
    }

    #[test]
    fn decay_of_a_uniform_field_is_exactly_backward_euler() {
        let g = grid3(5);
        let d = coefficients(&g);
        let mut f = vec![2.0f64; g.len()];
        diffuse_fields(&g, &mut f, &[&d], 0.5, 0.2);
        let expect = 2.0 / (1.0 + 0.5 * 0.2);
        assert!(f.iter().all(|&v| (v - expect).abs() < 1e-13), "{} vs {expect}", f[0]);
    }
}

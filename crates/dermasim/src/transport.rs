//! Implicit diffusion on the layered grid: locally one-dimensional (LOD) splitting, one
//! backward-Euler line solve per axis, so any step size is stable.
//!
//! Depth (z) uses finite volumes on cells of varying width with harmonic-mean face
//! coefficients and no-flux top and bottom, so `sum(h_k u_k)` is conserved to round-off.
//! Lateral axes (x, y) are uniform and periodic (cyclic tridiagonal, Sherman-Morrison).
//! Every line of a sweep shares one matrix, so each is factorised once and the sweeps run as
//! vector operations over whole rows or planes: contiguous memory, no strided walks.

use rayon::prelude::*;

use crate::grid::Grid;
pub use crate::numerics::Real;
use crate::numerics::{column_blocks, lateral_plane, sweep_columns, Cyclic, Thomas};

/// Depth diffusion coefficient of every cell for one species, um^2/day.
pub type DepthCoefficients = Vec<f64>;

/// Grids below this many values per sweep run on the calling thread: scheduling would cost
/// more than the work (0d and 1d columns).
pub(crate) const SERIAL_BELOW: usize = 1 << 14;

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
    diffuse_with_decay(grid, fields, d, &vec![decay; grid.nz], dt);
}

/// One backward-Euler LOD step of `dt` for one field that also decays at `decay[k]` per day
/// in depth cell `k` (folded into the depth sweep): the screened diffusion
/// `(1 - dt (div D grad - decay)) u_new = u` of a species whose decay is as fast as its
/// spread (TGF-beta, `sim::step`).
pub fn diffuse_screened<R: Real>(grid: &Grid, field: &mut [R], d: &[f64], decay: &[f64], dt: f64) {
    diffuse_with_decay(grid, field, &[d], decay, dt);
}

fn diffuse_with_decay<R: Real>(
    grid: &Grid,
    fields: &mut [R],
    d: &[&[f64]],
    decay: &[f64],
    dt: f64,
) {
    let len = grid.len();
    debug_assert_eq!(fields.len(), d.len() * len);
    debug_assert_eq!(decay.len(), grid.nz);
    if dt <= 0.0 || len == 0 {
        return;
    }
    let decays = decay.iter().any(|&k| k > 0.0);
    let active: Vec<usize> = (0..d.len())
        .filter(|&s| {
            (decays || d[s].iter().any(|&v| v != 0.0))
                && fields[s * len..(s + 1) * len].iter().any(|&v| v != R::ZERO)
        })
        .collect();
    if active.is_empty() {
        return;
    }
    if grid.nx >= 3 || grid.ny >= 3 {
        lateral(grid, fields, d, &active, decay, dt);
    }
    depth(grid, fields, d, &active, decay, dt);
}

/// A lateral coefficient (as `r = D dt / dx^2` bits) with its x and y matrices.
type LateralMatrices<R> = (u64, Option<Cyclic<R>>, Option<Cyclic<R>>);

/// x and y sweeps, one task per (species, depth plane).
///
/// With decay, the step's operator `(1 + dt k) - dt D lap` is factored as
/// `(1 - dt' D dxx)(1 - dt' D dyy)((1 + dt k) - dt D dzz)` with `dt' = dt / (1 + dt k)`: the
/// cross terms are then of order `dt'`, which stays below `1 / k` however long the step. With
/// the decay left to the depth sweep alone (`dt' = dt`) they grew as `dt * k` times the lateral
/// diffusion, and at the steps of the days after a session (`dt k` 0.3 to 15) the screened
/// TGF-beta spread several times too far sideways: the largest step error at 3d
/// (docs/numerics.md, "Time steps at 3d").
fn lateral<R: Real>(
    grid: &Grid,
    fields: &mut [R],
    d: &[&[f64]],
    active: &[usize],
    decay: &[f64],
    dt: f64,
) {
    let (nx, ny, nz, plane) = (grid.nx, grid.ny, grid.nz, grid.plane());
    let dx2 = grid.dx * grid.dx;
    // One pair of matrices per distinct coefficient, shared by every line of every plane that
    // has it: a uniform layer costs one factorisation, however many planes it spans.
    let mut distinct: Vec<LateralMatrices<R>> = Vec::new();
    let which: Vec<Option<usize>> = (0..d.len() * nz)
        .map(|i| {
            let (s, k) = (i / nz, i % nz);
            let r = d[s][k] * dt / (1.0 + dt * decay[k]) / dx2;
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

fn depth_matrix<R: Real>(grid: &Grid, d: &[f64], decay: &[f64], dt: f64) -> Thomas<R> {
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
        diag[k] = 1.0 + decay[k] * dt - lower[k] - upper[k];
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
    decay: &[f64],
    dt: f64,
) {
    let (nz, plane, len) = (grid.nz, grid.plane(), grid.len());
    if nz < 2 && decay.iter().all(|&k| k == 0.0) {
        return;
    }
    let mats: Vec<Thomas<R>> =
        active.iter().map(|&s| depth_matrix(grid, d[s], decay, dt)).collect();
    // About 256 KiB per block, at least 64 columns.
    let block = (256 * 1024 / (nz * std::mem::size_of::<R>())).clamp(64, 4096).min(plane);
    // One task per (species, block of columns), holding that block's slice of every depth row:
    // disjoint borrows, split up front.
    let mut tasks: Vec<(&Thomas<R>, Vec<&mut [R]>)> = Vec::new();
    let species = fields.chunks_mut(len).enumerate().filter(|(s, _)| active.contains(s));
    for ((_, field), t) in species.zip(&mats) {
        tasks.extend(column_blocks(field, plane, block).into_iter().map(|rows| (t, rows)));
    }
    let work = |(t, rows): &mut (&Thomas<R>, Vec<&mut [R]>)| sweep_columns(t, rows);
    if active.len() * len < SERIAL_BELOW {
        tasks.iter_mut().for_each(work);
    } else {
        tasks.par_iter_mut().for_each(work);
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
    use crate::tissue::Layer;

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
    fn dense_lod(g: &Grid, f: &[f64], d: &[f64], decay: &[f64], dt: f64) -> Vec<f64> {
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
            let r = d[k] * dt / (1.0 + decay[k] * dt) / (g.dx * g.dx);
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
            a[k][k] = 1.0 + decay[k] * dt;
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
            let expect = dense_lod(&g, &f, &d, &vec![decay; g.nz], 0.4);
            let mut got = f.clone();
            diffuse_fields(&g, &mut got, &[&d], decay, 0.4);
            for (v, (a, b)) in got.iter().zip(&expect).enumerate() {
                assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "voxel {v}: {a} vs {b}");
            }
        }
        // Decay by depth cell (TGF-beta: none in the stratum corneum).
        let decay: Vec<f64> =
            g.layer.iter().map(|l| if l.is_viable() { 15.0 } else { 0.0 }).collect();
        let f = pattern(g.len(), 8);
        let expect = dense_lod(&g, &f, &d, &decay, 0.4);
        let mut got = f.clone();
        diffuse_screened(&g, &mut got, &d, &decay, 0.4);
        for (v, (a, b)) in got.iter().zip(&expect).enumerate() {
            assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "screened, voxel {v}: {a} vs {b}");
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
    fn a_screened_lateral_mode_decays_exactly_as_backward_euler_says() {
        // One depth cell, a cosine along x: the factored step must damp it by
        // 1 / (1 + dt k + dt D lambda), the unsplit backward-Euler factor, whatever dt k. The
        // decay folded into the depth sweep alone gave 1 / ((1 + dt k)(1 + dt D lambda)):
        // at dt k = 15 that spreads a screened species several times too far.
        let (n, dx, dd, k) = (16, 20.0, 2e4, 15.0);
        let g = Grid::layered(&[0.0, 0.0, 0.0, 100.0], Some(100.0), n, n, dx);
        let g = Grid {
            hz: vec![100.0],
            zc: vec![50.0],
            layer: vec![Layer::ReticularDermis],
            nz: 1,
            ..g
        };
        for dt in [0.01, 0.3, 2.0] {
            for m in [1, 3] {
                let theta = 2.0 * std::f64::consts::PI * m as f64 / n as f64;
                let mut f: Vec<f64> =
                    (0..g.len()).map(|v| (theta * (v % n) as f64).cos()).collect();
                diffuse_screened(&g, &mut f, &[dd], &[k], dt);
                let lambda = (2.0 - 2.0 * theta.cos()) / (dx * dx);
                let damp = 1.0 / (1.0 + dt * k + dt * dd * lambda);
                for (v, got) in f.iter().enumerate() {
                    let want = damp * (theta * (v % n) as f64).cos();
                    assert!(
                        (got - want).abs() < 1e-13,
                        "dt {dt} mode {m} voxel {v}: {got} vs {want}"
                    );
                }
            }
        }
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

//! One time step: transport (Strang halves), kinetics per voxel (scalar or SIMD lanes,
//! skipping voxels at rest) and the epidermis.

use super::*;
use crate::kinetics::lane::{Lane, Pack};
use crate::kinetics::lanes::{Packed, Vec12};
use crate::kinetics::BaseLanes;
use crate::transport::SERIAL_BELOW;

impl Simulation {
    /// Diffuse every species' departure from its resting profile. Only fibroblasts have a
    /// resting density that changes with depth (papillary vs reticular); moving the departure
    /// `f - f_rest` instead of `f` keeps the resting profile an exact fixed point (an absolute
    /// density would be pushed across the layer step for ever, issue 15 point 1), and what moves
    /// is the wound-driven excess. The other diffusing species rest at zero.
    pub(super) fn transport(&mut self, dt: f64) {
        let (len, plane) = (self.grid.len(), self.grid.plane());
        let shift = |fields: &mut [f64], base: &[Baseline], sign: f64| {
            let row = &mut fields[F * len..(F + 1) * len];
            per_plane(row, plane, |k, cells| {
                let b = &base[k];
                if b.fibroblasts != 0.0 {
                    for v in cells {
                        *v += sign * b.fibroblasts;
                    }
                }
            });
        };
        shift(&mut self.fields, &self.base, -1.0);
        let d: Vec<&[f64]> = self.diffusion.iter().map(Vec::as_slice).collect();
        diffuse_fields(&self.grid, &mut self.fields, &d, 0.0, dt);
        shift(&mut self.fields, &self.base, 1.0);
        self.transport_tgf(dt);
    }

    /// TGF-beta decays within hours (15 per day), as fast as it spreads, so diffusion alone
    /// for half a step, with the decay left to the kinetics, spreads it several times too far
    /// and opens every kinetics call with a transient: a first-order error in the step and
    /// most of the kinetics' work at 3d (docs/numerics.md, "Time steps at 3d"). So the field is
    /// held as the voxel's own TGF-beta `own`, which the kinetics integrates (production and
    /// decay, untouched here), plus an excess `u` that diffusion brought:
    /// `d(own + u)/dt = D lap(own + u) - k u` here, with `own` frozen over the step.
    ///
    /// One backward-Euler step of it: `(1 - dt (D lap - k)) (own + u)_new = own + u +
    /// dt k own`, one screened diffusion of the whole field, whose factored operator keeps the
    /// lateral spread right at any `k dt` ([`diffuse_screened`]). The total, a concentration,
    /// is kept at or above 0. Rest stays exact: with no TGF-beta anywhere nothing moves.
    pub(super) fn transport_tgf(&mut self, dt: f64) {
        let plane = self.grid.plane();
        let len = self.grid.len();
        let total = &mut self.fields[T * len..(T + 1) * len];
        let excess = &mut self.tgf_excess;
        let (grid, d, decay) = (&self.grid, &self.tgf_diffusion, &self.tgf_decay);
        // `excess` holds `own` while the solve runs.
        per_plane_pair(total, excess, plane, |k, total, excess| {
            for (t, u) in total.iter_mut().zip(excess) {
                let own = *t - *u;
                *u = own;
                *t += dt * decay[k] * own;
            }
        });
        diffuse_screened(grid, total, d, decay, dt);
        per_plane_pair(total, excess, plane, |_, total, excess| {
            for (t, u) in total.iter_mut().zip(excess) {
                *t = t.max(0.0);
                *u = *t - *u;
            }
        });
    }

    pub(super) fn advance(&mut self, dt: f64) -> Result<(), Error> {
        let clock = std::time::Instant::now();
        self.transport(dt / 2.0);
        let transported = clock.elapsed().as_secs_f64();
        let clock = std::time::Instant::now();
        let drive = self.epidermis_drive();
        self.kinetics(dt)?;
        self.update_epidermis(dt, &drive);
        self.profile.kinetics_s += clock.elapsed().as_secs_f64();
        let clock = std::time::Instant::now();
        self.transport(dt / 2.0);
        self.profile.transport_s += transported + clock.elapsed().as_secs_f64();
        self.profile.steps += 1;
        Ok(())
    }

    pub(super) fn kinetics(&mut self, dt: f64) -> Result<(), Error> {
        let len = self.grid.len();
        let plane = self.grid.plane();
        let reference = self.options.reference_kinetics;
        let tol = self.options.tolerance.unwrap_or(if reference {
            Tolerance::REFERENCE_SIMULATION
        } else {
            Tolerance::SIMULATION
        });
        let (cooper, remodel, base, layers) =
            (&self.cooper, &self.remodel, &self.base, &self.grid.layer);
        let module = self.options.inflammation.as_deref();
        let lanes = module.is_none() && !reference && !self.options.scalar_kinetics;
        let quiet = self.quiet_voxels();
        let quiet = quiet.as_deref();
        let (nx, ny, nz) = (self.grid.nx, self.grid.ny, self.grid.nz);
        // A voxel is skipped when it and its six neighbours (periodic in x and y) are quiet:
        // no neighbour is about to push it away from rest either.
        let skip = |v: usize| {
            let Some(q) = quiet else { return false };
            let (i, j, k) = (v % nx, (v / nx) % ny, v / plane);
            let row = v - i;
            let left = if i == 0 { row + nx - 1 } else { v - 1 };
            let right = if i + 1 == nx { row } else { v + 1 };
            let front = if j == 0 { v + plane - nx } else { v - nx };
            let back = if j + 1 == ny { v + nx - plane } else { v + nx };
            q[v] && q[left]
                && q[right]
                && q[front]
                && q[back]
                && (k == 0 || q[v - plane])
                && (k + 1 == nz || q[v + plane])
        };
        const CHUNK: usize = 2048;
        // Each chunk of voxels gets its own slice of every species row: disjoint borrows.
        let mut rows = crate::numerics::column_blocks(&mut self.fields, len, CHUNK);
        let mut refills = crate::numerics::column_blocks(&mut self.refill, len, CHUNK);
        let results: Vec<Result<(Stats, u64, u64), ode::OdeError>> = self
            .step
            .par_chunks_mut(CHUNK)
            .zip(self.tgf_excess.par_chunks_mut(CHUNK))
            .zip(rows.par_iter_mut().zip(refills.par_iter_mut()))
            .enumerate()
            // The built-in kinetics go four voxels at a time through SIMD lanes, reading the
            // voxels from the fields; the list of which ones each worker keeps from chunk to
            // chunk (no allocation per chunk).
            .map_init(
                || Vec::with_capacity(CHUNK),
                |at, (c, ((steps, excess), (rows, refill)))| {
                    let (mut stats, mut integrated, mut resting) = (Stats::default(), 0, 0);
                    // One evaluator per chunk: an SBML module needs its own value store.
                    let rates = module.map(|m| {
                        std::cell::RefCell::new(m.evaluator(&[cooper.estrogen, cooper.cortisol]))
                    });
                    at.clear();
                    for (o, h) in steps.iter_mut().enumerate() {
                        let v = c * CHUNK + o;
                        let k = v / plane;
                        if !layers[k].is_viable() {
                            continue;
                        }
                        let resting_now = if quiet.is_some() {
                            skip(v)
                        } else {
                            // The diffused TGF-beta first: near any wound it is not 0, and
                            // the voxel's thirteen values need not be read.
                            excess[o].abs() < REST_EPS && at_rest(&gather(rows, o), &base[k])
                        };
                        if resting_now {
                            resting += 1;
                            continue;
                        }
                        integrated += 1;
                        if *h <= 0.0 {
                            *h = dt;
                        }
                        at.push((o, k));
                    }
                    let first = c * CHUNK;
                    let mut voxels = FieldVoxels { at, rows, excess, steps, refill, base };
                    if lanes {
                        stats += integrate_voxels(cooper, remodel, &mut voxels, dt, tol)?;
                    } else {
                        for n in 0..voxels.count() {
                            let Job { mut y, mut h, base, refill_to, tgf_excess } = voxels.job(n);
                            let sys = Voxel { cooper, remodel, base, refill_to, tgf_excess };
                            let (y, h) = (&mut y, &mut h);
                            stats += if let Some(rates) = &rates {
                                let sys = ModuleVoxel { voxel: sys, rates };
                                ode::integrate_with::<Rodas3, COUNT, _>(&sys, 0.0, dt, y, h, tol)?
                            } else if reference {
                                ode::integrate(&Reference(sys), 0.0, dt, y, h, tol)?
                            } else {
                                ode::integrate_with::<Rodas3, COUNT, _>(&sys, 0.0, dt, y, h, tol)?
                            };
                            voxels.finish(n, y, *h);
                        }
                    }
                    retire_refill_targets(rows, refill, base, first, plane);
                    Ok((stats, integrated, resting))
                },
            )
            .collect();
        for r in results {
            let (stats, integrated, resting) = r.map_err(Error::Solver)?;
            self.stats += stats;
            self.profile.voxel_steps += integrated;
            self.profile.voxels_resting += resting;
        }
        Ok(())
    }

    /// With a non-zero `simulation.rest_tolerance`, which voxels lie within it of rest (every
    /// voxel, viable or not, so the neighbour test can read any of them); `None` at 0, where
    /// only voxels exactly at rest are skipped.
    pub(super) fn quiet_voxels(&self) -> Option<Vec<bool>> {
        let tol = self.prepared.scenario.simulation.rest_tolerance;
        if tol <= 0.0 {
            return None;
        }
        let (len, plane) = (self.grid.len(), self.grid.plane());
        let rest: Vec<[f64; COUNT]> = self.base.iter().map(Baseline::state).collect();
        let fields = &self.fields;
        Some(
            (0..len)
                .into_par_iter()
                .with_min_len(4096)
                .map(|v| {
                    let k = v / plane;
                    let y: [f64; COUNT] = std::array::from_fn(|s| fields[s * len + v]);
                    near_rest(&y, &rest[k], &self.rest_scale[k], tol)
                        && within_rest(self.tgf_excess[v].abs(), self.rest_scale[k].0[T], tol)
                })
                .collect(),
        )
    }

    /// Epidermal thickness per column: driven by activated papillary fibroblasts (paracrine
    /// keratinocyte growth factors) and by debris in the epidermis (wound signal), relaxing
    /// back slowly. Linear in H, so solved exactly with the drive held at the mean of its
    /// values before and after the kinetics (`start`, from [`Self::epidermis_drive`]): second
    /// order in the step. The drive after the kinetics alone made it first order, the largest
    /// step error left at 3d once TGF-beta's spread was right (docs/numerics.md).
    pub(super) fn update_epidermis(&mut self, dt: f64, start: &[f64]) {
        let end = self.epidermis_drive();
        let e = self.epi;
        let work = |((x, s), n): ((&mut f64, &f64), &f64)| {
            let drive = 0.5 * (s + n);
            let a = e.epidermis_growth_per_day * drive * e.epidermis_max_rel
                + e.epidermis_relax_per_day;
            let b = e.epidermis_growth_per_day * drive + e.epidermis_relax_per_day;
            let eq = a / b;
            *x = eq + (*x - eq) * (-b * dt).exp();
        };
        let columns = self.epidermis.par_iter_mut().zip(start).zip(&end);
        columns.with_min_len(4096).for_each(work);
    }

    /// Per column, what drives the epidermis now: activated papillary fibroblasts, epidermal
    /// debris and lasting papillary collagen ([`Self::update_epidermis`]).
    ///
    /// Blocks of columns in parallel, each walking the depth cells in order over contiguous
    /// rows (a column at a time read every depth cell a plane apart, on one core): each
    /// column's sums are added in the same order either way, so the result is the same.
    pub(super) fn epidermis_drive(&self) -> Vec<f64> {
        const COLUMNS: usize = 4096;
        let (len, plane) = (self.grid.len(), self.grid.plane());
        let e = self.epi;
        let (fields, grid, base) = (&self.fields, &self.grid, &self.base);
        let work = |(b, drives): (usize, &mut [f64])| {
            let first = b * COLUMNS;
            let n = drives.len();
            // Per column: papillary drive, epidermal debris, papillary collagen. The layers'
            // widths and resting collagen are the same for every column.
            let mut sums = vec![[0.0f64; 3]; n];
            let (mut pap_w, mut epi_w, mut coll_rest) = (0.0, 0.0, 0.0);
            for (k, b) in base.iter().enumerate() {
                let h = grid.hz[k];
                let cells = k * plane + first..k * plane + first + n;
                match grid.layer[k] {
                    Layer::PapillaryDermis => {
                        let fib = &fields[F * len..][cells.clone()];
                        let c1 = &fields[C1 * len..][cells.clone()];
                        let c3 = &fields[C3 * len..][cells];
                        for (c, s) in sums.iter_mut().enumerate() {
                            s[0] += (fib[c] - b.fibroblasts).max(0.0) * b.response * h;
                            s[2] += (c1[c] + c3[c]) * h;
                        }
                        pap_w += h;
                        coll_rest += (b.collagen_i + b.collagen_iii) * h;
                    }
                    Layer::Epidermis => {
                        let debris = &fields[PT * len..][cells];
                        for (c, s) in sums.iter_mut().enumerate() {
                            s[1] += debris[c] * h;
                        }
                        epi_w += h;
                    }
                    _ => {}
                }
            }
            for (x, &[pap, epi, coll]) in drives.iter_mut().zip(&sums) {
                // Lasting thickening only while the papillary dermis itself stays changed.
                let dermal = if coll_rest > 0.0 { (coll / coll_rest - 1.0).max(0.0) } else { 0.0 };
                *x = pap / pap_w.max(1e-30)
                    + e.epidermis_injury_signal_weight * epi / epi_w.max(1e-30)
                    + e.epidermis_dermal_coupling * dermal;
            }
        };
        let mut drives = vec![0.0; plane];
        if plane <= COLUMNS {
            work((0, &mut drives));
        } else {
            drives.par_chunks_mut(COLUMNS).enumerate().for_each(work);
        }
        drives
    }
}

/// `work(k, plane k of row)` for every depth plane of one field row, in parallel on large
/// grids (element-wise work: the same values whatever the thread count).
fn per_plane(row: &mut [f64], plane: usize, work: impl Fn(usize, &mut [f64]) + Sync) {
    if row.len() < SERIAL_BELOW {
        row.chunks_mut(plane.max(1)).enumerate().for_each(|(k, p)| work(k, p));
    } else {
        row.par_chunks_mut(plane).enumerate().for_each(|(k, p)| work(k, p));
    }
}

/// [`per_plane`] over two rows side by side.
fn per_plane_pair(
    a: &mut [f64],
    b: &mut [f64],
    plane: usize,
    work: impl Fn(usize, &mut [f64], &mut [f64]) + Sync,
) {
    if a.len() < SERIAL_BELOW {
        let planes = a.chunks_mut(plane.max(1)).zip(b.chunks_mut(plane.max(1)));
        planes.enumerate().for_each(|(k, (a, b))| work(k, a, b));
    } else {
        let planes = a.par_chunks_mut(plane).zip(b.par_chunks_mut(plane));
        planes.enumerate().for_each(|(k, (a, b))| work(k, a, b));
    }
}

/// Wound filling ends once it has restored what the injury took: a voxel whose matrix is
/// back at its refill target gets its resting level as target again. A target kept after it
/// was reached would refill collagen III for as long as it matures into collagen I, a source of
/// matrix that never ends (and at 0d/1d, where a session's targets are set over the whole wound
/// zone, it made repeated sessions outgrow 3d). Run on each kinetics chunk once its voxels are
/// integrated (`first` is the chunk's first voxel), while its rows are in cache: run by run
/// of voxels in one depth cell, which share a resting level.
fn retire_refill_targets(
    rows: &[&mut [f64]],
    refill: &mut [&mut [f64]],
    base: &[Baseline],
    first: usize,
    plane: usize,
) {
    let n = refill[0].len();
    let mut o = 0;
    while o < n {
        let k = (first + o) / plane;
        let run = o..((k + 1) * plane - first).min(n);
        let rest = base[k].matrix();
        for (m, s) in [C3, C1, EF].into_iter().enumerate() {
            let level = &rows[s][run.clone()];
            for (t, &x) in refill[m][run.clone()].iter_mut().zip(level) {
                if *t > rest[m] && x >= *t {
                    *t = rest[m];
                }
            }
        }
        o = run.end;
    }
}

/// Voxel `o`'s species from a chunk's rows. A loop, not `array::from_fn`, whose closure LLVM
/// left out of line (and so, inside the lanes, built without AVX2), called once per voxel.
#[inline(always)]
fn gather(rows: &[&mut [f64]], o: usize) -> [f64; COUNT] {
    let mut y = [0.0; COUNT];
    for (ys, row) in y.iter_mut().zip(rows) {
        *ys = row[o];
    }
    y
}

/// Write a voxel's new state back: round-off can leave values a hair below zero near rest, and
/// the field holds the voxel's own TGF-beta plus the excess ([`own_plus_excess`]).
#[inline(always)]
fn store_voxel(rows: &mut [&mut [f64]], excess: &mut f64, o: usize, y: &[f64; COUNT]) {
    for (row, ys) in rows.iter_mut().zip(y) {
        row[o] = ys.max(0.0);
    }
    rows[T][o] = own_plus_excess(rows[T][o], excess);
}

/// The field's TGF-beta from the voxel's own part and the diffused excess; where the own part
/// fell below what diffusion took away, the total is 0 and the excess its negative.
#[inline(always)]
fn own_plus_excess(own: f64, excess: &mut f64) -> f64 {
    if own + *excess < 0.0 {
        *excess = -own;
    }
    own + *excess
}

/// One kinetics chunk's voxels to integrate, read from and written back to the fields (by the
/// SIMD lanes, or one at a time by the scalar integrators).
struct FieldVoxels<'a, 'r> {
    /// The voxels to integrate: offset in the chunk and depth layer.
    at: &'a [(usize, usize)],
    /// The chunk's slice of every species row.
    rows: &'a mut [&'r mut [f64]],
    /// The chunk's diffused TGF-beta ([`Simulation::tgf_excess`]).
    excess: &'a mut [f64],
    /// The chunk's carried kinetics steps.
    steps: &'a mut [f64],
    /// The chunk's wound-filling targets, species by species.
    refill: &'a [&'r mut [f64]],
    /// Resting state per depth layer.
    base: &'a [Baseline],
}

impl Voxels for FieldVoxels<'_, '_> {
    #[inline(always)]
    fn count(&self) -> usize {
        self.at.len()
    }

    #[inline(always)]
    fn job(&self, n: usize) -> Job {
        let (o, k) = self.at[n];
        let tgf_excess = self.excess[o];
        let mut y = gather(self.rows, o);
        // The kinetics integrates the voxel's own TGF-beta (`transport_tgf`).
        y[T] -= tgf_excess;
        Job {
            y,
            h: self.steps[o],
            base: self.base[k],
            refill_to: [self.refill[0][o], self.refill[1][o], self.refill[2][o]],
            tgf_excess,
        }
    }

    #[inline(always)]
    fn finish(&mut self, n: usize, y: &[f64; COUNT], h: f64) {
        let o = self.at[n].0;
        self.steps[o] = h;
        store_voxel(self.rows, &mut self.excess[o], o, y);
    }

    /// Most chunks integrate every voxel, so four jobs in a row are usually four neighbouring
    /// voxels of one depth layer: read as vectors, not voxel by voxel and transposed.
    #[inline(always)]
    fn packed<const N: usize>(&self, n: usize) -> Option<Packed<N>> {
        let o = self.side_by_side::<N>(n)?;
        let k = self.at[n].1;
        let at = |row: &[f64]| -> Pack<N> {
            let row = &row[o..o + N];
            Pack(std::array::from_fn(|l| row[l]))
        };
        let excess = at(self.excess);
        let mut y = [Pack([0.0; N]); COUNT];
        for (ys, row) in y.iter_mut().zip(self.rows.iter()) {
            *ys = at(row);
        }
        // The kinetics integrates the voxel's own TGF-beta (`transport_tgf`).
        y[T] = y[T] - excess;
        let b = &self.base[k];
        let splat = Pack::<N>::splat;
        Some(Packed {
            y,
            h: at(self.steps).0,
            base: BaseLanes {
                fibroblasts: splat(b.fibroblasts),
                collagen_i: splat(b.collagen_i),
                collagen_iii: splat(b.collagen_iii),
                elastin: splat(b.elastin),
                damaged_elastin: splat(b.damaged_elastin),
                response: splat(b.response),
            },
            refill: [at(self.refill[0]), at(self.refill[1]), at(self.refill[2])],
            excess,
        })
    }

    /// [`store_voxel`] for four neighbouring voxels at once.
    #[inline(always)]
    fn finish_packed<const N: usize>(&mut self, n: usize, y: &Vec12<N>, h: [f64; N]) -> bool {
        let Some(o) = self.side_by_side::<N>(n) else { return false };
        self.steps[o..o + N].copy_from_slice(&h);
        for (row, ys) in self.rows.iter_mut().zip(y) {
            for (v, &x) in row[o..o + N].iter_mut().zip(&ys.0) {
                *v = x.max(0.0);
            }
        }
        let excess = &mut self.excess[o..o + N];
        for (t, u) in self.rows[T][o..o + N].iter_mut().zip(excess) {
            *t = own_plus_excess(*t, u);
        }
        true
    }
}

impl FieldVoxels<'_, '_> {
    /// Where jobs `n..n + N` are `N` neighbouring voxels of one depth layer, the chunk offset
    /// of the first.
    #[inline(always)]
    fn side_by_side<const N: usize>(&self, n: usize) -> Option<usize> {
        let ((o, k), (o_last, k_last)) = (self.at[n], self.at[n + N - 1]);
        (o_last == o + N - 1 && k_last == k).then_some(o)
    }
}

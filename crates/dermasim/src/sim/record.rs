//! What a run reports: dermis sums, timeline points and the summary.

use super::*;

/// Dermis sums used for the timeline.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct Sums {
    volume: f64,
    papillary_volume: f64,
    c1: f64,
    c3: f64,
    papillary_collagen: f64,
    elastin: f64,
    damaged_elastin: f64,
    new_elastin: f64,
    fibroblasts: f64,
    neutrophils: f64,
    macrophages: f64,
    debris: f64,
    tgf: f64,
}

impl Sums {
    /// `sum of w_i s_i`, sum by sum (linear in the fields, so the sums of the fields combined
    /// alike); the volumes, which never change, are the last part's.
    fn weighted(parts: &[(&Sums, f64)]) -> Sums {
        let mix = |get: fn(&Sums) -> f64| parts.iter().map(|(s, w)| w * get(s)).sum::<f64>();
        let last = parts.last().expect("at least one part").0;
        Sums {
            volume: last.volume,
            papillary_volume: last.papillary_volume,
            c1: mix(|s| s.c1),
            c3: mix(|s| s.c3),
            papillary_collagen: mix(|s| s.papillary_collagen),
            elastin: mix(|s| s.elastin),
            damaged_elastin: mix(|s| s.damaged_elastin),
            new_elastin: mix(|s| s.new_elastin),
            fibroblasts: mix(|s| s.fibroblasts),
            neutrophils: mix(|s| s.neutrophils),
            macrophages: mix(|s| s.macrophages),
            debris: mix(|s| s.debris),
            tgf: mix(|s| s.tgf),
        }
    }
}

/// A value of the wound zone mixed with resting tissue by the zone's share `w` of the column
/// (0d/1d; at 3d every voxel is its own column and `w` is 1, the value itself).
#[inline(always)]
pub(super) fn zone_mixed(x: f64, w: f64, rest: f64) -> f64 {
    if w == 1.0 {
        x
    } else {
        rest + w * (x - rest)
    }
}

/// `sum of f(x_i, w_i)` in eight running sums (element `i` into sum `i mod 8`) added pairwise
/// at the end: a fixed order, so the same bits on any thread count, and independent additions
/// the CPU overlaps and vectorises, where one running sum waits on each add in turn (these sums
/// run over every voxel after every step). One element is its own sum, bit for bit.
fn sum_lanes(xs: &[f64], ws: &[f64], f: impl Fn(f64, f64) -> f64) -> f64 {
    debug_assert_eq!(xs.len(), ws.len());
    const L: usize = 8;
    let mut acc = [0.0; L];
    let (xc, wc) = (xs.chunks_exact(L), ws.chunks_exact(L));
    let (xr, wr) = (xc.remainder(), wc.remainder());
    for (x, w) in xc.zip(wc) {
        for l in 0..L {
            acc[l] += f(x[l], w[l]);
        }
    }
    for (l, (&x, &w)) in xr.iter().zip(wr).enumerate() {
        acc[l] += f(x, w);
    }
    let pairs = [acc[0] + acc[1], acc[2] + acc[3], acc[4] + acc[5], acc[6] + acc[7]];
    (pairs[0] + pairs[1]) + (pairs[2] + pairs[3])
}

/// What a timeline point is made of: the dermis sums and the mean epidermal thickness at one
/// time.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub(super) struct Recordable {
    t: f64,
    sums: Sums,
    epidermis: f64,
}

impl Recordable {
    /// Whether this is a record of finite numbers from before `t` (a checkpoint's check).
    pub(super) fn precedes(&self, t: f64) -> bool {
        let s = &self.sums;
        let values = [
            self.t,
            self.epidermis,
            s.volume,
            s.papillary_volume,
            s.c1,
            s.c3,
            s.papillary_collagen,
            s.elastin,
            s.damaged_elastin,
            s.new_elastin,
            s.fibroblasts,
            s.neutrophils,
            s.macrophages,
            s.debris,
            s.tgf,
        ];
        values.iter().all(|v| v.is_finite()) && self.t < t
    }
}

/// Lagrange weights at `t` of the polynomial through the points at `times` (all distinct).
fn lagrange_weights(times: &[f64], t: f64) -> Vec<f64> {
    let n = times.len();
    (0..n)
        .map(|i| {
            (0..n).filter(|&j| j != i).map(|j| (t - times[j]) / (times[i] - times[j])).product()
        })
        .collect()
}

impl Simulation {
    /// The sums and epidermis now, to interpolate timeline points between steps.
    pub(super) fn recordable(&self) -> Recordable {
        Recordable { t: self.t, sums: self.sums(), epidermis: self.epidermis_mean() }
    }

    /// Timeline points at `times`, strictly between the step's start `before` and now. They
    /// are interpolated in time along the parabola through the previous step's start
    /// `earlier`, `before` and now: a straight line between the step's ends misses the
    /// curvature of the inflammatory peak by up to a few thousandths of it at the default
    /// steps and grows with the square of the step (docs/numerics.md). With no `earlier` (the
    /// first step, or a session at its start, whose jump no curve should bridge) the line.
    pub(super) fn record_between(
        &mut self,
        earlier: Option<&Recordable>,
        before: &Recordable,
        times: &[f64],
    ) {
        let after = self.recordable();
        let points: Vec<&Recordable> = earlier.into_iter().chain([before, &after]).collect();
        let at: Vec<f64> = points.iter().map(|p| p.t).collect();
        for &t in times {
            let weights = lagrange_weights(&at, t);
            let parts: Vec<(&Sums, f64)> = points.iter().map(|p| &p.sums).zip(weights).collect();
            let epidermis = parts.iter().zip(&points).map(|((_, w), p)| w * p.epidermis).sum();
            self.push_point(t, &Sums::weighted(&parts), epidermis);
        }
    }

    /// Zone-weighted mean relative epidermal thickness.
    fn epidermis_mean(&self) -> f64 {
        self.epidermis.iter().zip(&self.zone).map(|(&x, &w)| zone_mixed(x, w, 1.0)).sum::<f64>()
            / self.epidermis.len() as f64
    }

    pub(super) fn sums(&self) -> Sums {
        let (len, plane) = (self.grid.len(), self.grid.plane());
        // Each dermis layer's sums in parallel (at 3d; a 0d/1d layer is one value), added up
        // in depth order as one pass would.
        let layers: Vec<(usize, [f64; COUNT])> = (0..self.grid.nz)
            .into_par_iter()
            .with_min_len(if plane >= 1024 { 1 } else { usize::MAX })
            .filter(|&k| self.grid.layer[k].is_dermis())
            .map(|k| {
                let h = self.grid.hz[k];
                let rest = self.base[k].state();
                // Column means: the wound zone's state mixed with resting tissue (3d: zone = 1).
                let row = |sp: usize| {
                    let xs = &self.fields[sp * len + k * plane..sp * len + (k + 1) * plane];
                    let r = rest[sp];
                    sum_lanes(xs, &self.zone, |x, w| zone_mixed(x, w, r)) * h
                };
                let mut rows = [0.0; COUNT];
                for sp in [C1, C3, EF, ED, EN, F, N, M, PT, T] {
                    rows[sp] = row(sp);
                }
                (k, rows)
            })
            .collect();
        let mut s = Sums::default();
        for (k, rows) in layers {
            let (layer, h) = (self.grid.layer[k], self.grid.hz[k]);
            let (c1, c3) = (rows[C1], rows[C3]);
            s.volume += h * plane as f64;
            s.c1 += c1;
            s.c3 += c3;
            if layer == Layer::PapillaryDermis {
                s.papillary_volume += h * plane as f64;
                s.papillary_collagen += c1 + c3;
            }
            s.elastin += rows[EF];
            s.damaged_elastin += rows[ED];
            s.new_elastin += rows[EN];
            s.fibroblasts += rows[F];
            s.neutrophils += rows[N];
            s.macrophages += rows[M];
            s.debris += rows[PT];
            s.tgf += rows[T];
        }
        s
    }

    /// A timeline point at `t`, the current state.
    pub(super) fn record(&mut self, t: f64) {
        let (s, epidermis) = (self.sums(), self.epidermis_mean());
        self.push_point(t, &s, epidermis);
    }

    fn push_point(&mut self, t: f64, s: &Sums, epidermis: f64) {
        let r = &self.reference;
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 1.0 };
        self.timeline.push(TimelinePoint {
            t_day: t,
            collagen_i_rel: ratio(s.c1, r.c1),
            collagen_iii_rel: ratio(s.c3, r.c3),
            collagen_total_rel: ratio(s.c1 + s.c3, r.c1 + r.c3),
            collagen_papillary_rel: ratio(s.papillary_collagen, r.papillary_collagen),
            elastin_rel: ratio(s.elastin, r.elastin),
            elastin_total_rel: ratio(s.elastin + s.damaged_elastin, r.elastin + r.damaged_elastin),
            elastin_functional_rel: ratio(s.elastin, r.elastin),
            elastin_new_fraction: if r.elastin > 0.0 { s.new_elastin / r.elastin } else { 0.0 },
            epidermis_thickness_rel: epidermis,
            fibroblasts_rel: ratio(s.fibroblasts, r.fibroblasts),
            neutrophils: s.neutrophils / s.volume,
            macrophages: s.macrophages / s.volume,
            debris: s.debris / s.volume,
            tgf_beta: s.tgf / s.volume,
            bands: Default::default(),
        });
    }

    pub(super) fn summary(&self) -> Summary {
        let n = self.session_outcomes.len().max(1) as f64;
        let t = self.prepared.column.thickness_um;
        Summary {
            program: "dermasim".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            scenario_name: self.prepared.scenario.name.clone(),
            site: self.prepared.column.site.clone(),
            fidelity: self.prepared.scenario.simulation.fidelity.as_str().into(),
            seed: self.prepared.scenario.simulation.seed,
            parameter_set: self.prepared.set.provenance(),
            layers_um: LayersUm {
                stratum_corneum: t[0],
                epidermis: t[1],
                papillary_dermis: t[2],
                reticular_dermis: t[3],
            },
            punctures_per_cm2: self
                .session_outcomes
                .iter()
                .map(|s| s.punctures_per_cm2)
                .sum::<f64>()
                / n,
            effective_depth_um: self
                .session_outcomes
                .iter()
                .map(|s| s.effective_depth_um)
                .fold(0.0, f64::max),
            bleeding: self
                .session_outcomes
                .iter()
                .map(|s| s.bleeding)
                .max()
                .unwrap_or(crate::device::Bleeding::None),
            sessions: self.session_outcomes.clone(),
            endpoints: endpoints(
                &self.timeline,
                self.prepared.scenario.protocol.sessions.first().map_or(0.0, |s| s.day),
                self.prepared.scenario.protocol.sessions.get(1).map(|s| s.day),
            ),
            timeline: self.timeline.clone(),
            notes: Vec::new(),
            disclaimer: DISCLAIMER.into(),
            delivery: None,
        }
    }
}

//! What the outputs need from a running simulation at the snapshot days: laterally averaged
//! depth profiles, the cross-section through the middle of a 3d patch, and whole fields for
//! the `.vti` snapshots.

use dermasim::grid::Grid;
use dermasim::kinetics::species::{self as sp, COUNT};
use dermasim::{Options, Simulation};

use crate::depth::{DepthRow, DepthTable, RELATIVE};

/// Every species on the whole grid at one day, species-major as in the simulator, in single
/// precision (what the `.vti` files hold).
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub t_day: f64,
    pub fields: Vec<f32>,
}

/// Watches a simulation and keeps what the outputs need at each snapshot day.
pub struct Capture {
    days: Vec<f64>,
    keep_fields: bool,
    grid: Grid,
    /// Resting state per depth cell: the denominator of the `*_rel` columns.
    reference: Vec<[f64; COUNT]>,
    pub profiles: DepthTable,
    /// 3d runs only.
    pub sections: DepthTable,
    /// Only when whole fields were asked for, and not yet written out.
    pub snapshots: Vec<Snapshot>,
    /// Snapshots already written while the run went on (`(day, file name under fields/)`, in
    /// day order): a run into a folder streams them out so that it holds one at a time.
    pub streamed: Vec<(f64, String)>,
}

impl Capture {
    /// Options that make the stepper land on `days`.
    pub fn options(days: &[f64]) -> Options {
        Options { stops: days.to_vec(), ..Options::default() }
    }

    /// Start watching `sim` before it runs: its state now is the resting reference (and the
    /// snapshot of day 0, when asked for). `keep_fields` keeps whole fields for `.vti`.
    pub fn new(sim: &Simulation, days: &[f64], keep_fields: bool) -> Capture {
        let mut me = Capture {
            days: days.to_vec(),
            keep_fields,
            grid: sim.grid().clone(),
            reference: lateral_means(sim),
            profiles: DepthTable::default(),
            sections: DepthTable::default(),
            snapshots: Vec::new(),
            streamed: Vec::new(),
        };
        me.observe(sim);
        me
    }

    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    /// Resting state per depth cell.
    pub fn reference(&self) -> &[[f64; COUNT]] {
        &self.reference
    }

    /// Call after every step; records when the simulation stands on a snapshot day.
    pub fn observe(&mut self, sim: &Simulation) {
        let t = sim.time();
        let due = self.days.iter().any(|&d| (d - t).abs() < 1e-9);
        if !due || self.profiles.days().iter().any(|&d| (d - t).abs() < 1e-9) {
            return;
        }
        let g = &self.grid;
        for (k, v) in lateral_means(sim).into_iter().enumerate() {
            self.profiles.rows.push(self.row(t, None, k, v));
        }
        if g.nx > 1 || g.ny > 1 {
            let j = g.ny / 2;
            for k in 0..g.nz {
                for i in 0..g.nx {
                    let v = std::array::from_fn(|s| sim.field(s)[g.idx(k, j, i)]);
                    self.sections.rows.push(self.row(t, Some((i as f64 + 0.5) * g.dx), k, v));
                }
            }
        }
        if self.keep_fields {
            let fields = (0..COUNT).flat_map(|s| sim.field(s).iter().map(|&v| v as f32)).collect();
            self.snapshots.push(Snapshot { t_day: t, fields });
        }
    }

    fn row(&self, t_day: f64, x_um: Option<f64>, k: usize, v: [f64; COUNT]) -> DepthRow {
        let r = &self.reference[k];
        let ratio = |num: f64, den: f64| if den > 0.0 { num / den } else { f64::NAN };
        let relative = RELATIVE.map(|name| match name {
            "collagen_i_rel" => ratio(v[sp::C1], r[sp::C1]),
            "collagen_iii_rel" => ratio(v[sp::C3], r[sp::C3]),
            "collagen_total_rel" => ratio(v[sp::C1] + v[sp::C3], r[sp::C1] + r[sp::C3]),
            "elastin_rel" => ratio(v[sp::EF], r[sp::EF]),
            "fibroblasts_rel" => ratio(v[sp::F], r[sp::F]),
            _ => unreachable!("every RELATIVE name is handled"),
        });
        let g = &self.grid;
        DepthRow {
            t_day,
            x_um,
            depth_um: g.zc[k],
            thickness_um: g.hz[k],
            layer: g.layer[k],
            relative,
            species: v,
        }
    }
}

/// Mean of every species over each depth plane.
fn lateral_means(sim: &Simulation) -> Vec<[f64; COUNT]> {
    (0..sim.grid().nz).map(|k| sim.lateral_mean(k)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dermasim::tissue::Layer;
    use dermasim::{Fidelity, ParameterSet, Scenario};

    fn short(fidelity: Fidelity) -> Scenario {
        let mut s = Scenario::default_scenario();
        s.protocol.follow_up_days = 6.0;
        s.protocol.sessions.truncate(1);
        s.simulation.fidelity = fidelity;
        s.simulation.patch_um = [200.0, 150.0];
        s.simulation.dx_um = 50.0;
        s.simulation.dz_um = 100.0;
        s
    }

    fn capture(s: &Scenario, days: &[f64], fields: bool) -> Capture {
        let base = ParameterSet::default_set();
        let mut sim = Simulation::with_options(s, &base, Capture::options(days)).unwrap();
        let mut cap = Capture::new(&sim, days, fields);
        sim.run(&mut |s| cap.observe(s)).unwrap();
        cap
    }

    #[test]
    fn each_day_once_and_day_0_is_the_resting_tissue() {
        let days = [0.0, 2.5, 6.0];
        let cap = capture(&short(Fidelity::One), &days, false);
        assert_eq!(cap.profiles.days(), days);
        let nz = cap.grid().nz;
        assert_eq!(cap.profiles.rows.len(), 3 * nz);
        for r in cap.profiles.at(0.0) {
            match r.layer {
                Layer::StratumCorneum | Layer::Epidermis => {
                    assert!(r.get("collagen_total_rel").unwrap().is_nan())
                }
                _ => assert_eq!(
                    r.get("collagen_total_rel"),
                    Some(1.0),
                    "at rest every dermal cell is its own reference"
                ),
            }
        }
        // The session at day 0 injures the dermis: collagen falls below rest somewhere by day 2.5.
        assert!(cap.profiles.at(2.5).any(|r| r.relative[2] < 1.0));
        assert!(
            cap.sections.is_empty() && cap.snapshots.is_empty(),
            "1d: no sections, no fields unless asked"
        );
    }

    #[test]
    fn three_d_sections_cover_the_mid_plane_and_fields_the_grid() {
        let cap = capture(&short(Fidelity::Three), &[1.0], true);
        let g = cap.grid().clone();
        assert_eq!((g.nx, g.ny), (4, 3));
        assert_eq!(cap.sections.rows.len(), g.nz * g.nx);
        assert_eq!(cap.snapshots.len(), 1);
        assert_eq!(cap.snapshots[0].fields.len(), COUNT * g.len());
        // The profile is the lateral mean of the fields kept for the same day.
        let k = g.nz / 2;
        let mean: f64 = (0..g.plane())
            .map(|c| cap.snapshots[0].fields[sp::N * g.len() + k * g.plane() + c] as f64)
            .sum::<f64>()
            / g.plane() as f64;
        let row = cap.profiles.at(1.0).nth(k).unwrap();
        assert!(
            (row.species[sp::N] - mean).abs() <= 1e-6 * mean.abs().max(1e-12),
            "{} vs {mean}",
            row.species[sp::N]
        );
    }
}

//! Punctures to an injured-tissue fraction on the grid.

use crate::device::Channels;
use crate::grid::Grid;

/// Sub-samples per voxel edge when rasterising a channel (3d) or a cell (1d).
const SUB: usize = 4;

/// Injured fraction of every voxel, in [0, 1].
///
/// With `positions` (3d) each puncture is a cylinder with a tapered tip of injured tissue around
/// its centre, placed in the periodic patch; overlapping punctures combine as independent
/// events. Positions are consumed one at a time, so they need not all be in memory. Without
/// positions (0d, 1d) the expected fraction of randomly placed punctures is used, which is the
/// lateral average of the 3d field.
pub fn injured_fraction(
    grid: &Grid,
    ch: &Channels,
    positions: Option<&mut dyn Iterator<Item = [f64; 2]>>,
) -> Vec<f64> {
    match positions {
        None => (0..grid.nz)
            .flat_map(|k| {
                let (top, h) = (grid.z_top(k), grid.hz[k]);
                let n = 16;
                let f = (0..n)
                    .map(|s| ch.mean_injured_fraction_at(top + (s as f64 + 0.5) * h / n as f64))
                    .sum::<f64>()
                    / n as f64;
                std::iter::repeat_n(f, grid.plane())
            })
            .collect(),
        Some(points) => {
            let mut intact = vec![1.0; grid.len()];
            let (lx, ly) = (grid.nx as f64 * grid.dx, grid.ny as f64 * grid.dx);
            let reach = (ch.injury_radius_um / grid.dx).ceil() as isize + 1;
            for p in points {
                let (ci, cj) =
                    ((p[0] / grid.dx).floor() as isize, (p[1] / grid.dx).floor() as isize);
                for k in 0..grid.nz {
                    let (top, h) = (grid.z_top(k), grid.hz[k]);
                    if top >= ch.effective_depth_um {
                        break;
                    }
                    let radii: Vec<f64> = (0..SUB)
                        .map(|s| ch.injury_radius_at(top + (s as f64 + 0.5) * h / SUB as f64))
                        .collect();
                    for dj in -reach..=reach {
                        for di in -reach..=reach {
                            let (i, j) = (ci + di, cj + dj);
                            let mut inside = 0usize;
                            for sy in 0..SUB {
                                let y = (j as f64 + (sy as f64 + 0.5) / SUB as f64) * grid.dx;
                                for sx in 0..SUB {
                                    let x = (i as f64 + (sx as f64 + 0.5) / SUB as f64) * grid.dx;
                                    // Distance in the periodic patch.
                                    let ddx = x - p[0] - lx * ((x - p[0]) / lx).round();
                                    let ddy = y - p[1] - ly * ((y - p[1]) / ly).round();
                                    let r2 = ddx * ddx + ddy * ddy;
                                    inside += radii.iter().filter(|&&r| r2 < r * r).count();
                                }
                            }
                            if inside > 0 {
                                let frac = inside as f64 / (SUB * SUB * SUB) as f64;
                                let (iw, jw) = (
                                    i.rem_euclid(grid.nx as isize) as usize,
                                    j.rem_euclid(grid.ny as isize) as usize,
                                );
                                intact[grid.idx(k, jw, iw)] *= 1.0 - frac;
                            }
                        }
                    }
                }
            }
            intact.into_iter().map(|v| 1.0 - v).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::Bleeding;

    fn channels(density: f64) -> Channels {
        Channels {
            punctures_per_cm2: density,
            nominal_depth_um: 1000.0,
            penetration_efficiency: 0.5,
            effective_depth_um: 500.0,
            channel_radius_um: 30.0,
            injury_radius_um: 55.0,
            angle_deg: 0.0,
            bleeding: Bleeding::Pinpoint,
            tip_length_um: 150.0,
            closure_reach_um: 80.0,
        }
    }

    #[test]
    fn random_3d_pattern_averages_to_the_1d_expectation() {
        let density = 2000.0;
        let ch = channels(density);
        let g3 = Grid::layered(&[10.0, 50.0, 200.0, 800.0], Some(25.0), 80, 80, 25.0);
        let g1 = Grid::layered(&[10.0, 50.0, 200.0, 800.0], Some(25.0), 1, 1, 25.0);
        let patch = [2000.0, 2000.0];
        let device = crate::device::Device::Stamp(crate::device::Stamp {
            needle_length_mm: 1.0,
            needle_grid: [1, 1],
            needle_spacing_mm: 1.0,
            stamps_per_cm2: density,
            needle_diameter_mm: 0.25,
            penetration_efficiency: None,
        });
        let mut pos = crate::placement::punctures(
            &device,
            crate::placement::Placement::Random,
            0.0,
            patch,
            3,
            0,
        );
        let f3 = injured_fraction(&g3, &ch, Some(&mut pos));
        let f1 = injured_fraction(&g1, &ch, None);
        for k in 0..g1.nz {
            let mean3 =
                f3[k * g3.plane()..(k + 1) * g3.plane()].iter().sum::<f64>() / g3.plane() as f64;
            // 80 punctures: sampling noise of a few percent of the mean.
            assert!(
                (mean3 - f1[k]).abs() <= 0.15 * f1[k] + 1e-3,
                "k={k}: 3d {mean3} vs 1d {}",
                f1[k]
            );
        }
        assert!(f3.iter().all(|&v| (0.0..=1.0).contains(&v)));
    }
}

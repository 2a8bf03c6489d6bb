//! Where the needles of one session enter a 3d patch.
//!
//! [`Placement::Random`] (the default) scatters the session's punctures uniformly over the
//! periodic patch: the pattern the 0d/1d mean field averages. [`Placement::Paths`] follows the
//! device as it is used over a treatment area:
//! - a **pen** stamps its cartridge at the stroke rate while gliding along parallel tracks one
//!   track spacing apart, so every needle of the cartridge draws a line of punctures one
//!   `glide / stroke rate` apart; each pass crosses the others at `180° / passes`;
//! - a **roller**'s drum turns along parallel lines one line spacing apart, each needle
//!   printing once per revolution (`π D` apart), `passes` times in each of `directions`
//!   directions (`180° / directions` apart);
//! - **stamps** are tiled edge to edge on the lattice their density implies.
//!
//! Every pass starts at a random offset (from the scenario seed and the session), and a hand
//! wobble of up to `simulation.path_jitter_um` moves each stroke (pen), revolution (roller) or
//! stamp sideways. Punctures are generated one at a time, so a large patch never holds them
//! all in memory. On average a path gives the device's `punctures_per_cm2`; locally it has
//! tracks, overlaps and, with a spacing wider than the footprint, untreated gaps.
//!
//! The patch is periodic for transport; a path is clipped to the patch rather than wrapped,
//! so at the patch edges its pattern has a seam (negligible on an area much larger than a
//! track).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::device::{Device, Stamp};
use crate::rng::Stream;

/// How punctures are placed on a 3d patch (`simulation.placement`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// Uniformly at random over the periodic patch.
    #[default]
    Random,
    /// Along the device's tracks, lines or stamp lattice.
    Paths,
}

impl Placement {
    /// Whether this is the default (kept out of the scenario's canonical form).
    pub fn is_default(&self) -> bool {
        *self == Placement::Random
    }
}

/// Stream ids: random placement keeps the ids it always had, so its patterns are unchanged.
const RANDOM_STREAM: u64 = 0x5e55_0000;
const PATH_STREAM: u64 = 0x7a75_0000;

/// Puncture centres `[x, y]` (µm) of session `session` on a patch of `patch_um`,
/// reproducible from `seed`.
pub fn punctures(
    device: &Device,
    placement: Placement,
    jitter_um: f64,
    patch_um: [f64; 2],
    seed: u64,
    session: usize,
) -> Box<dyn Iterator<Item = [f64; 2]>> {
    match placement {
        Placement::Random => Box::new(random(device, patch_um, seed, session)),
        Placement::Paths => {
            let sweeps = sweeps(device, jitter_um, seed, session);
            Box::new(sweeps.into_iter().flat_map(move |s| s.punctures(patch_um)))
        }
    }
}

/// The random pattern (as before paths existed: same streams, same order). A stamp is pressed
/// whole at each random point, its needles wrapped into the patch; other devices put one
/// needle there (wrapping a point already inside the patch leaves it exactly as it is).
fn random(
    device: &Device,
    patch_um: [f64; 2],
    seed: u64,
    session: usize,
) -> impl Iterator<Item = [f64; 2]> {
    let area_cm2 = patch_um[0] * patch_um[1] * 1e-8;
    let stream = Stream::new(seed, RANDOM_STREAM + session as u64);
    let [lx, ly] = patch_um;
    let (imprint, count) = match device {
        Device::Stamp(s) => (stamp_grid(s), (s.stamps_per_cm2 * area_cm2).round().max(1.0) as u64),
        _ => (vec![[0.0, 0.0]], (device.punctures_per_cm2() * area_cm2).round() as u64),
    };
    // Shared by every point's inner iterator without copying.
    let imprint: std::sync::Arc<[[f64; 2]]> = imprint.into();
    (0..count).flat_map(move |k| {
        let (ox, oy) = (stream.uniform(2 * k) * lx, stream.uniform(2 * k + 1) * ly);
        let imprint = imprint.clone();
        (0..imprint.len()).map(move |n| {
            [(ox + imprint[n][0]).rem_euclid(lx), (oy + imprint[n][1]).rem_euclid(ly)]
        })
    })
}

/// Needle offsets `[x, y]` of a stamp's grid from its corner needle, µm.
fn stamp_grid(s: &Stamp) -> Vec<[f64; 2]> {
    let step = s.needle_spacing_mm * 1000.0;
    let [rows, cols] = s.needle_grid;
    (0..rows).flat_map(|r| (0..cols).map(move |c| [c as f64 * step, r as f64 * step])).collect()
}

/// One pass of a device over the plane: an imprint (needle offsets `[along, across]`, µm)
/// repeated every `step` along lanes `spacing` apart, in direction `angle`.
#[derive(Debug, Clone)]
struct Sweep {
    angle: f64,
    imprint: Vec<[f64; 2]>,
    step: f64,
    spacing: f64,
    /// Offsets of the pass along and across its lanes, µm.
    phase: [f64; 2],
    jitter: f64,
    stream: Stream,
}

impl Sweep {
    fn punctures(self, patch: [f64; 2]) -> impl Iterator<Item = [f64; 2]> {
        let (sin, cos) = self.angle.sin_cos();
        let along = |p: [f64; 2]| p[0] * cos + p[1] * sin;
        let across = |p: [f64; 2]| -p[0] * sin + p[1] * cos;
        let corners = [[0.0, 0.0], [patch[0], 0.0], [0.0, patch[1]], patch];
        let span = |f: &dyn Fn([f64; 2]) -> f64| {
            corners.iter().fold([f64::INFINITY, f64::NEG_INFINITY], |[lo, hi], &c| {
                [lo.min(f(c)), hi.max(f(c))]
            })
        };
        let (s_span, c_span) = (span(&along), span(&across));
        let extent = |i: usize| {
            self.imprint.iter().fold([f64::INFINITY, f64::NEG_INFINITY], |[lo, hi], p| {
                [lo.min(p[i]), hi.max(p[i])]
            })
        };
        let (s_ext, c_ext) = (extent(0), extent(1));
        // Lane and step indices whose imprint (with its wobble) can touch the patch.
        let range = |span: [f64; 2], ext: [f64; 2], phase: f64, period: f64| {
            let lo = ((span[0] - ext[1] - self.jitter - phase) / period).floor() as i64;
            let hi = ((span[1] - ext[0] + self.jitter - phase) / period).ceil() as i64;
            lo..=hi
        };
        let steps = range(s_span, s_ext, self.phase[0], self.step);
        let lanes = range(c_span, c_ext, self.phase[1], self.spacing);
        let sweep = std::sync::Arc::new(self);
        lanes.flat_map(move |lane| {
            let sweep = sweep.clone();
            steps.clone().flat_map(move |m| {
                let sweep = sweep.clone();
                // One counter pair per (lane, step), whatever the thread or order.
                let key = ((lane as u64) << 32 ^ (m as u64 & 0xffff_ffff)).wrapping_mul(2);
                let wobble = |i: u64| (2.0 * sweep.stream.uniform(key + i) - 1.0) * sweep.jitter;
                let s0 = sweep.phase[0] + m as f64 * sweep.step + wobble(0);
                let c0 = sweep.phase[1] + lane as f64 * sweep.spacing + wobble(1);
                (0..sweep.imprint.len()).filter_map(move |k| {
                    let [ds, dc] = sweep.imprint[k];
                    let (s, c) = (s0 + ds, c0 + dc);
                    let p = [s * cos - c * sin, s * sin + c * cos];
                    (p[0] >= 0.0 && p[0] < patch[0] && p[1] >= 0.0 && p[1] < patch[1]).then_some(p)
                })
            })
        })
    }
}

/// Needle offsets of a pen cartridge: `n` needles spread evenly over a disc of diameter `d`
/// (a sunflower layout), µm.
fn cartridge(n: u32, d: f64) -> Vec<[f64; 2]> {
    let golden = std::f64::consts::PI * (3.0 - 5f64.sqrt());
    (0..n)
        .map(|k| {
            let r = 0.5 * d * ((k as f64 + 0.5) / n as f64).sqrt();
            let (sin, cos) = (k as f64 * golden).sin_cos();
            [r * cos, r * sin]
        })
        .collect()
}

/// Needle prints of one drum revolution: `n` needles spread helically over a drum of
/// circumference `c` and width `w` (axial positions evenly spaced, angles by the golden
/// ratio), µm `[along, across]`.
fn drum(n: u32, c: f64, w: f64) -> Vec<[f64; 2]> {
    let golden = (5f64.sqrt() - 1.0) / 2.0;
    (0..n)
        .map(|k| [c * (k as f64 * golden).fract(), w * ((k as f64 + 0.5) / n as f64 - 0.5)])
        .collect()
}

/// The passes of one session.
fn sweeps(device: &Device, jitter: f64, seed: u64, session: usize) -> Vec<Sweep> {
    let pass = |i: u32, angle: f64, imprint: Vec<[f64; 2]>, step: f64, spacing: f64| {
        let stream = Stream::new(seed, PATH_STREAM + ((session as u64) << 8) + i as u64);
        // The pass's offsets sit at the top counters, far from the wobbles' keys.
        let phase = [stream.uniform(u64::MAX) * step, stream.uniform(u64::MAX - 1) * spacing];
        Sweep { angle, imprint, step, spacing, phase, jitter, stream }
    };
    let half_turn = std::f64::consts::PI;
    match device {
        Device::Pen(p) => {
            let imprint = cartridge(p.needles, p.footprint_mm * 1000.0);
            let step = p.glide_speed_mm_s / p.stroke_rate_hz * 1000.0;
            let spacing = p.track_spacing_mm() * 1000.0;
            (0..p.passes)
                .map(|i| {
                    pass(i, i as f64 * half_turn / p.passes as f64, imprint.clone(), step, spacing)
                })
                .collect()
        }
        Device::Roller(r) => {
            let circumference = std::f64::consts::PI * r.drum_diameter_mm * 1000.0;
            let imprint = drum(r.needles, circumference, r.drum_width_mm * 1000.0);
            let spacing = r.line_spacing_mm() * 1000.0;
            (0..r.directions)
                .flat_map(|d| (0..r.passes).map(move |q| (d, q)))
                .map(|(d, q)| {
                    let angle = d as f64 * half_turn / r.directions as f64;
                    pass(d * r.passes + q, angle, imprint.clone(), circumference, spacing)
                })
                .collect()
        }
        Device::Stamp(s) => {
            let lattice = (1e8 / s.stamps_per_cm2).sqrt();
            vec![pass(0, 0.0, stamp_grid(s), lattice, lattice)]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{Pen, Roller};

    fn pen(passes: u32) -> Device {
        let Device::Pen(p) = toml::from_str("kind = 'pen'\ndepth_mm = 1.5").unwrap() else {
            unreachable!()
        };
        Device::Pen(Pen { passes, ..p })
    }

    fn mf8(passes: u32, directions: u32) -> Device {
        let text = "kind = 'roller'\nneedle_length_mm = 1.0";
        let Device::Roller(r) = toml::from_str(text).unwrap() else { unreachable!() };
        Device::Roller(Roller { passes, directions, ..r })
    }

    fn count(d: &Device, jitter: f64, patch: [f64; 2], seed: u64) -> usize {
        punctures(d, Placement::Paths, jitter, patch, seed, 0).count()
    }

    #[test]
    fn paths_give_the_device_density_on_a_large_patch() {
        let roller = mf8(2, 4);
        for d in [pen(3), roller] {
            let patch = [20_000.0, 20_000.0];
            let expected = d.punctures_per_cm2() * 4.0;
            let n: f64 = (0..4).map(|seed| count(&d, 100.0, patch, seed) as f64).sum::<f64>() / 4.0;
            // Clipping whole tracks at the edges: a few per cent on 2 x 2 cm.
            assert!((n / expected - 1.0).abs() < 0.05, "{}: {n} vs {expected}", d.kind());
        }
    }

    #[test]
    fn a_pen_pass_draws_one_line_per_needle_at_stroke_spacing() {
        let d = pen(1);
        let Device::Pen(p) = &d else { unreachable!() };
        let points: Vec<[f64; 2]> =
            punctures(&d, Placement::Paths, 0.0, [30_000.0, 30_000.0], 5, 0).collect();
        // The first pass runs along x: every needle keeps its y (mod the track spacing) ...
        let spacing = p.track_spacing_mm() * 1000.0;
        let mut rows: Vec<f64> = points.iter().map(|q| q[1].rem_euclid(spacing)).collect();
        rows.sort_by(f64::total_cmp);
        rows.dedup_by(|a, b| (*a - *b).abs() < 1e-6);
        assert_eq!(rows.len(), p.needles as usize, "one line per needle");
        // ... and its punctures are one glide / stroke rate apart.
        let step = p.glide_speed_mm_s / p.stroke_rate_hz * 1000.0;
        let mut line: Vec<f64> =
            points.iter().filter(|q| (q[1] - points[0][1]).abs() < 1e-6).map(|q| q[0]).collect();
        line.sort_by(f64::total_cmp);
        assert!(line.windows(2).all(|w| (w[1] - w[0] - step).abs() < 1e-6), "stroke spacing");
    }

    #[test]
    fn tracks_wider_apart_than_the_footprint_leave_untreated_bands() {
        let Device::Pen(base) = pen(1) else { unreachable!() };
        // Share of 2 mm bands across the tracks (one track-spacing period) with no puncture.
        let untreated = |d: &Device, spacing_mm: f64| {
            let period = spacing_mm * 1000.0;
            let mut hit = vec![false; (spacing_mm / 2.0) as usize];
            for q in punctures(d, Placement::Paths, 0.0, [40_000.0, 40_000.0], 9, 0) {
                hit[(q[1].rem_euclid(period) / 2000.0) as usize] = true;
            }
            hit.iter().filter(|h| !**h).count() as f64 / hit.len() as f64
        };
        let wide = 2.0 * base.footprint_mm;
        let d = Device::Pen(Pen { track_spacing_mm: Some(wide), ..base.clone() });
        let (edge_to_edge, gapped) = (untreated(&pen(1), base.footprint_mm), untreated(&d, wide));
        // Edge to edge every band is treated; twice as far apart, the 8 mm between the
        // footprints (at least 3 of the 8 bands, however they align) are not.
        assert!(edge_to_edge == 0.0 && gapped >= 3.0 / 8.0, "{edge_to_edge} vs {gapped}");
        // The density follows the spacing at every fidelity.
        assert!((d.punctures_per_cm2() - 0.5 * pen(1).punctures_per_cm2()).abs() < 1e-9);
    }

    #[test]
    fn crossing_passes_run_in_different_directions() {
        // Two pen passes, along x then along y. With no wobble a pass's punctures take few
        // values across its tracks (one per needle and track) and many along them.
        let d = pen(2);
        let patch = [20_000.0, 20_000.0];
        let distinct = |points: &[[f64; 2]], axis: usize| {
            let mut v: Vec<i64> = points.iter().map(|q| (q[axis] * 1e3).round() as i64).collect();
            v.sort_unstable();
            v.dedup();
            v.len()
        };
        for (i, sweep) in sweeps(&d, 0.0, 3, 0).into_iter().enumerate() {
            let points: Vec<[f64; 2]> = sweep.punctures(patch).collect();
            let (across, along) = if i == 0 { (1, 0) } else { (0, 1) };
            // 12 needles on at most 4 tracks of 8 mm over 20 mm; about 117 strokes per track.
            assert!(distinct(&points, across) <= 12 * 4, "pass {i} across");
            assert!(distinct(&points, along) >= 12 * 100, "pass {i} along");
        }
    }

    #[test]
    fn paths_are_reproducible_inside_the_patch_and_differ_by_session() {
        let d = pen(3);
        let patch = [3000.0, 2000.0];
        let a: Vec<[f64; 2]> = punctures(&d, Placement::Paths, 50.0, patch, 7, 0).collect();
        let b: Vec<[f64; 2]> = punctures(&d, Placement::Paths, 50.0, patch, 7, 0).collect();
        let c: Vec<[f64; 2]> = punctures(&d, Placement::Paths, 50.0, patch, 7, 1).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.iter().all(|p| p[0] >= 0.0 && p[0] < patch[0] && p[1] >= 0.0 && p[1] < patch[1]));
    }

    #[test]
    fn random_placement_is_reproducible_inside_the_patch_at_the_device_density() {
        let d = mf8(1, 1);
        let patch = [10_000.0, 20_000.0];
        let draw = |session| -> Vec<[f64; 2]> {
            punctures(&d, Placement::Random, 0.0, patch, 7, session).collect()
        };
        let a = draw(0);
        assert_eq!(a, draw(0));
        assert_ne!(a, draw(1));
        assert_eq!(a.len(), (d.punctures_per_cm2() * 2.0).round() as usize);
        assert!(a.iter().all(|p| p[0] >= 0.0 && p[0] < patch[0] && p[1] >= 0.0 && p[1] < patch[1]));
    }

    #[test]
    fn stamps_tile_edge_to_edge() {
        let d = Device::Stamp(crate::device::Stamp {
            needle_length_mm: 1.0,
            needle_grid: [4, 4],
            needle_spacing_mm: 0.5,
            stamps_per_cm2: 4.0,
            needle_diameter_mm: 0.25,
            penetration_efficiency: None,
        });
        // 4 stamps per cm2: a 5 mm lattice of 4 x 4 needles, 16 needles per 25 mm2.
        let n = count(&d, 0.0, [20_000.0, 20_000.0], 1);
        assert_eq!(n, 16 * 16);
    }
}

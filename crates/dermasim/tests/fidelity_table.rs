//! The fidelity-agreement table of docs/numerics.md (issue 15 point 4): 0d and 1d against the
//! resolved 3d field after one pen session, over punctures 10-5,000 per cm2 and depths
//! 0.25-2.0 mm, with the bands it holds.
//!
//! The whole grid takes about three minutes (the 3d patches), so it is `#[ignore]`d; it prints
//! the table and checks the bands with
//! `cargo test -p dermasim --test fidelity_table -- --ignored --nocapture`. Two dense 1.0 mm
//! cells of the grid, where 0d departed most before its grid was split at the channel ends
//! (0d - 3d was +0.025 and +0.030 there), run by default against the same bands.
//! It replaces `tools/fidelity_table.py`, which ran the same grid through the CLI.

use dermasim::device::Device;
use dermasim::scenario::Session;
use dermasim::{Fidelity, ParameterSet, Scenario};

/// Day the table reads (collagen III is laid down, collagen I rising).
const DAY: f64 = 90.0;
/// Stated band (docs/numerics.md, from the table): 1d within this of 3d in absolute day-90
/// dermal collagen gain (measured 0.0310). It was 0.013 until TGF-beta moved with its decay
/// (2026-12-02): that made the 3d reference, which had read the gain about 4 % low, 4-10 %
/// higher from 1,000 punctures/cm2 up, where the 0d/1d wound zone covers the column and no
/// choice of `closure_reach_um` moves 1d.
const BAND_1D: f64 = 0.032;
/// Stated band: 0d within this of 3d (measured 0.0250; 0.013 before the 3d change above, 0.032
/// before the split 0d grid).
const BAND_0D: f64 = 0.026;

/// Density from which channels overlap enough for their arrangement to matter: the 3d
/// reference then places [`RANDOM_PUNCTURES`] punctures at random in its patch, the pattern
/// the 0d/1d mean field averages. Below it one lattice cell with one puncture stands for the
/// whole (sparse channels hardly overlap, and a lattice cell is much cheaper). The lattice at
/// 5,000/cm2 covered more tissue than random channels do: 3d read +0.42 against 1d +0.33.
const RANDOM_FROM: f64 = 2000.0;
/// Punctures in a random 3d patch.
const RANDOM_PUNCTURES: f64 = 16.0;
/// Lateral step of a random 3d patch (10 um gave the same gain to 0.001 at 5,000/cm2, 1 mm).
const RANDOM_DX_UM: f64 = 20.0;

/// One pen session at `density` punctures/cm2 and depth setting `depth_mm`: one needle, one
/// pass, 1 mm footprint at 10 mm/s, so the stroke rate sets the density (rate / 10 x 100).
/// The 3d reference is a periodic patch: below [`RANDOM_FROM`] one cell of a square channel
/// lattice (area 1/density, one puncture, lateral step patch/20 and at most 50 um), from it
/// [`RANDOM_PUNCTURES`] random punctures at step [`RANDOM_DX_UM`]; depth step 20 um.
fn scenario(fidelity: Fidelity, density: f64, depth_mm: f64) -> Scenario {
    let mut s = Scenario::default_scenario();
    match &mut s.device {
        Device::Pen(p) => {
            p.depth_mm = depth_mm;
            p.needles = 1;
            p.passes = 1;
            p.footprint_mm = 1.0;
            p.glide_speed_mm_s = 10.0;
            p.stroke_rate_hz = density / 10.0;
        }
        _ => panic!("default device is a pen"),
    }
    s.protocol.sessions = vec![Session { day: 0.0, device: None }];
    s.protocol.follow_up_days = DAY;
    s.simulation.output_every_days = 1.0;
    s.simulation.fidelity = fidelity;
    if fidelity == Fidelity::Three {
        let (side, dx) = if density >= RANDOM_FROM {
            let side = (RANDOM_PUNCTURES * 1e8 / density).sqrt();
            (side, side / (side / RANDOM_DX_UM).round())
        } else {
            let side = (1e8 / density).sqrt();
            (side, side / (side / (side / 20.0).min(50.0)).round())
        };
        s.simulation.patch_um = [side, side];
        s.simulation.dx_um = dx;
        s.simulation.dz_um = 20.0;
    }
    s
}

/// Day-90 gains `(dermal collagen, papillary collagen)` at one fidelity.
fn gains(fidelity: Fidelity, density: f64, depth_mm: f64) -> (f64, f64) {
    let r = dermasim::run(&scenario(fidelity, density, depth_mm), &ParameterSet::default_set())
        .unwrap();
    let p = r.at(DAY).unwrap();
    (p.collagen_total_rel - 1.0, p.collagen_papillary_rel - 1.0)
}

/// Runs the cells, prints the Markdown rows and returns the largest `|1d - 3d|`, `|0d - 3d|`.
fn table(cells: &[(f64, f64)]) -> (f64, f64) {
    let mut worst = (0.0f64, 0.0f64);
    println!(
        "| depth mm | punctures/cm2 | 3d gain | 1d gain | 0d gain | 1d - 3d | 0d - 3d | 3d papillary | 1d papillary | 0d papillary |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for &(depth, density) in cells {
        let g3 = gains(Fidelity::Three, density, depth);
        let g1 = gains(Fidelity::One, density, depth);
        let g0 = gains(Fidelity::Zero, density, depth);
        let (d1, d0) = (g1.0 - g3.0, g0.0 - g3.0);
        worst = (worst.0.max(d1.abs()), worst.1.max(d0.abs()));
        println!(
            "| {depth:.2} | {density} | {:+.4} | {:+.4} | {:+.4} | {d1:+.4} | {d0:+.4} | {:+.4} | {:+.4} | {:+.4} |",
            g3.0, g1.0, g0.0, g3.1, g1.1, g0.1
        );
    }
    println!(
        "\nLargest |1d - 3d| = {:.4}, largest |0d - 3d| = {:.4} (absolute collagen gain).",
        worst.0, worst.1
    );
    worst
}

fn assert_bands((w1, w0): (f64, f64)) {
    assert!(w1 <= BAND_1D, "1d departs from 3d by {w1} (band {BAND_1D})");
    assert!(w0 <= BAND_0D, "0d departs from 3d by {w0} (band {BAND_0D})");
}

#[test]
#[ignore = "the whole grid takes about three minutes: run with -- --ignored --nocapture"]
fn fidelity_agreement_table_over_density_and_depth() {
    let cells: Vec<(f64, f64)> = [0.25, 1.0, 2.0]
        .iter()
        .flat_map(|&d| [10.0, 100.0, 1000.0, 5000.0].map(|n| (d, n)))
        .collect();
    assert_bands(table(&cells));
}

#[test]
fn fidelity_agreement_holds_at_the_dense_corner_of_the_table() {
    assert_bands(table(&[(1.0, 1000.0), (1.0, 5000.0)]));
}

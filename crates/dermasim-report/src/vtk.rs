//! VTK XML ImageData (`.vti`) snapshots of the fields, and a `.pvd` collection that gives
//! ParaView their times.
//!
//! ImageData needs uniform spacing, but the simulation's depth cells differ in width between
//! layers (uniform within one). Depth is therefore resampled onto a uniform spacing no wider
//! than the thinnest cell, so every simulation cell keeps at least one sample; each sample
//! takes the value of the cell it falls in (the finite-volume value). Values are cell data.
//! Coordinates are micrometres: x and y across the patch, z the height above the skin surface
//! (0 at the surface, negative below), so ParaView shows the surface on top.

use std::fmt::Write;

use dermasim::grid::Grid;
use dermasim::kinetics::species::{self as sp, COUNT, NAMES};
use dermasim::tissue::Layer;

use crate::capture::Snapshot;

/// The uniform depth sampling of a grid: spacing and, per sample from the surface down, the
/// simulation cell it falls in.
pub fn depth_samples(grid: &Grid) -> (f64, Vec<usize>) {
    let total: f64 = grid.hz.iter().sum();
    let thinnest = grid.hz.iter().copied().fold(f64::INFINITY, f64::min);
    let n = (total / thinnest - 1e-9).ceil().max(1.0) as usize;
    let dz = total / n as f64;
    let mut k = 0;
    let cells = (0..n)
        .map(|m| {
            let z = (m as f64 + 0.5) * dz;
            while k + 1 < grid.nz && z >= grid.z_top(k) + grid.hz[k] {
                k += 1;
            }
            k
        })
        .collect();
    (dz, cells)
}

/// One snapshot as a `.vti` file. `reference` is the resting state per depth cell, for the
/// derived `collagen_total_rel` array.
pub fn vti(grid: &Grid, reference: &[[f64; COUNT]], snap: &Snapshot) -> String {
    let mut bytes = Vec::new();
    write_vti(&mut bytes, grid, reference, snap).expect("writing to memory does not fail");
    String::from_utf8(bytes).expect("a .vti file is ASCII")
}

/// [`vti`] written into `w` one data array at a time, so a large snapshot is never held whole
/// as text.
pub fn write_vti(
    w: &mut dyn std::io::Write,
    grid: &Grid,
    reference: &[[f64; COUNT]],
    snap: &Snapshot,
) -> std::io::Result<()> {
    let (dz, cells) = depth_samples(grid);
    let nzs = cells.len();
    // A 1d column has no lateral extent of its own; draw it as square cells.
    let dx = if grid.nx * grid.ny > 1 { grid.dx } else { dz };
    let depth = nzs as f64 * dz;
    let len = grid.len();
    // VTK order: x fastest, then y, then z from the bottom up.
    let order = |f: &mut dyn FnMut(usize, usize)| {
        for m in (0..nzs).rev() {
            let k = cells[m];
            for j in 0..grid.ny {
                for i in 0..grid.nx {
                    f(k, grid.idx(k, j, i));
                }
            }
        }
    };
    let mut out = String::new();
    let _ = writeln!(out, r#"<?xml version="1.0"?>"#);
    let _ = writeln!(out, "<!-- dermasim field snapshot at day {}; x, y: micrometres across the patch; z: micrometres above the skin surface (negative below). Species in model units (docs/outputs.md); collagen_total_rel relative to the resting tissue at the same depth. -->", snap.t_day);
    let _ = writeln!(
        out,
        r#"<VTKFile type="ImageData" version="1.0" byte_order="LittleEndian" header_type="UInt64">"#
    );
    let extent = format!("0 {} 0 {} 0 {}", grid.nx, grid.ny, nzs);
    let _ = writeln!(
        out,
        r#"  <ImageData WholeExtent="{extent}" Origin="0 0 {}" Spacing="{dx} {dx} {dz}">"#,
        -depth
    );
    let _ = writeln!(out, "    <FieldData>");
    let _ = writeln!(
        out,
        r#"      <DataArray type="Float64" Name="TimeValue" NumberOfTuples="1" format="ascii">{}</DataArray>"#,
        snap.t_day
    );
    let _ = writeln!(out, "    </FieldData>");
    let _ = writeln!(out, r#"    <Piece Extent="{extent}">"#);
    let _ = writeln!(out, r#"      <CellData Scalars="collagen_total_rel">"#);
    for (s, name) in NAMES.iter().enumerate() {
        let field = &snap.fields[s * len..(s + 1) * len];
        let mut bytes = Vec::with_capacity(4 * grid.plane() * nzs);
        order(&mut |_, v| bytes.extend_from_slice(&field[v].to_le_bytes()));
        data_array(&mut out, "Float32", name, &bytes);
        w.write_all(out.as_bytes())?;
        out.clear();
    }
    let mut rel = Vec::with_capacity(4 * grid.plane() * nzs);
    order(&mut |k, v| {
        let r = reference[k][sp::C1] + reference[k][sp::C3];
        let now = snap.fields[sp::C1 * len + v] as f64 + snap.fields[sp::C3 * len + v] as f64;
        let x = if r > 0.0 { (now / r) as f32 } else { f32::NAN };
        rel.extend_from_slice(&x.to_le_bytes());
    });
    data_array(&mut out, "Float32", "collagen_total_rel", &rel);
    drop(rel);
    w.write_all(out.as_bytes())?;
    out.clear();
    let mut layer = Vec::with_capacity(grid.plane() * nzs);
    order(&mut |k, _| {
        layer.push(Layer::ALL.iter().position(|&l| l == grid.layer[k]).expect("a layer") as u8)
    });
    data_array(&mut out, "UInt8", "layer", &layer);
    let _ = writeln!(out, "      </CellData>");
    let _ = writeln!(out, "    </Piece>");
    let _ = writeln!(out, "  </ImageData>");
    let _ = writeln!(out, "</VTKFile>");
    w.write_all(out.as_bytes())
}

/// Inline binary data: base64 of a UInt64 byte count followed by the little-endian values.
fn data_array(out: &mut String, ty: &str, name: &str, bytes: &[u8]) {
    let mut raw = (bytes.len() as u64).to_le_bytes().to_vec();
    raw.extend_from_slice(bytes);
    let _ = writeln!(
        out,
        r#"        <DataArray type="{ty}" Name="{name}" NumberOfComponents="1" format="binary">{}</DataArray>"#,
        base64(&raw)
    );
}

/// A ParaView collection of snapshot files with their times (days).
pub fn pvd(files: &[(f64, String)]) -> String {
    let mut out = String::from("<?xml version=\"1.0\"?>\n<VTKFile type=\"Collection\" version=\"1.0\" byte_order=\"LittleEndian\">\n  <Collection>\n");
    for (t, file) in files {
        let _ = writeln!(out, r#"    <DataSet timestep="{t}" group="" part="0" file="{file}"/>"#);
    }
    out.push_str("  </Collection>\n</VTKFile>\n");
    out
}

/// File name of the snapshot of a day: `day_0028.vti`, `day_0002.5.vti`.
pub fn snapshot_name(t_day: f64) -> String {
    let whole = t_day.trunc();
    if (t_day - whole).abs() < 1e-9 {
        format!("day_{:04}.vti", whole as u64)
    } else {
        let frac = format!("{:.3}", t_day - whole);
        format!("day_{:04}{}.vti", whole as u64, frac.trim_start_matches('0').trim_end_matches('0'))
    }
}

/// Standard base64 with padding (RFC 4648).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (raw, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(raw.as_bytes()), enc);
        }
    }

    #[test]
    fn every_cell_keeps_a_sample_and_samples_are_in_depth_order() {
        let grid = Grid::layered(&[15.0, 80.0, 300.0, 1500.0], Some(40.0), 1, 1, 1.0);
        let (dz, cells) = depth_samples(&grid);
        let thinnest = grid.hz.iter().copied().fold(f64::INFINITY, f64::min);
        assert!(dz <= thinnest + 1e-12);
        assert!(
            (dz * cells.len() as f64 - 1895.0).abs() < 1e-9,
            "the samples span the column exactly"
        );
        assert!(cells.windows(2).all(|w| w[1] == w[0] || w[1] == w[0] + 1), "no cell skipped");
        assert_eq!((cells[0], *cells.last().unwrap()), (0, grid.nz - 1));
        // Each sample centre lies inside its cell.
        for (m, &k) in cells.iter().enumerate() {
            let z = (m as f64 + 0.5) * dz;
            assert!(z >= grid.z_top(k) - 1e-9 && z <= grid.z_top(k) + grid.hz[k] + 1e-9);
        }
    }

    #[test]
    fn names_sort_by_day() {
        assert_eq!(snapshot_name(28.0), "day_0028.vti");
        assert_eq!(snapshot_name(2.5), "day_0002.5.vti");
        assert_eq!(snapshot_name(0.25), "day_0000.25.vti");
    }
}

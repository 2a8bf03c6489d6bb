//! The simulation grid: layered cells in depth, uniform periodic cells laterally.

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

    /// The 0d grid: one cell per layer, except that a layer a channel ends in is split at the
    /// channel's end (each depth in `channel_ends_um`), so that injured and uninjured tissue of
    /// that layer are not mixed into one cell. Why: the inflammatory response saturates at low
    /// injury, so spreading a channel's injury over the whole layer depth makes every part of
    /// the layer respond as if cut, and that excess adds up session after session (issue 15:
    /// 0d - 1d was 0.063 on the three-session default). Splits closer than 1 um to a face are
    /// dropped.
    pub fn split_layers(thickness_um: &[f64; 4], channel_ends_um: &[f64]) -> Grid {
        const MIN_CELL_UM: f64 = 1.0;
        let mut hz = Vec::new();
        let mut layer = Vec::new();
        let mut top = 0.0;
        for (l, &t) in Layer::ALL.iter().zip(thickness_um) {
            let bottom = top + t;
            let mut faces: Vec<f64> = channel_ends_um
                .iter()
                .copied()
                .filter(|&z| z > top + MIN_CELL_UM && z < bottom - MIN_CELL_UM)
                .collect();
            faces.sort_by(f64::total_cmp);
            faces.dedup_by(|a, b| (*a - *b).abs() < MIN_CELL_UM);
            let mut at = top;
            for z in faces.into_iter().chain([bottom]) {
                hz.push(z - at);
                layer.push(*l);
                at = z;
            }
            top = bottom;
        }
        let mut zc = Vec::with_capacity(hz.len());
        let mut top = 0.0;
        for h in &hz {
            zc.push(top + h / 2.0);
            top += h;
        }
        Grid { nx: 1, ny: 1, nz: hz.len(), dx: 1.0, hz, zc, layer }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_0d_grid_splits_a_layer_only_where_a_channel_ends() {
        let t = [15.0, 50.0, 200.0, 800.0];
        // No channels: one cell per layer.
        let g = Grid::split_layers(&t, &[]);
        assert_eq!(g.hz, t.to_vec());
        // A channel ending inside the reticular dermis splits it there; one ending on a layer
        // face (265 um) or within 1 um of it, and repeated depths, add nothing.
        let g = Grid::split_layers(&t, &[725.0, 265.0, 265.5, 725.0]);
        assert_eq!(g.hz, vec![15.0, 50.0, 200.0, 460.0, 340.0]);
        assert_eq!(g.layer[3], Layer::ReticularDermis);
        assert_eq!(g.layer[4], Layer::ReticularDermis);
        assert!((g.zc[4] - 895.0).abs() < 1e-9);
        // Two sessions with different depths give two faces in the layers they end in.
        let g = Grid::split_layers(&t, &[40.0, 500.0]);
        assert_eq!(g.hz, vec![15.0, 25.0, 25.0, 200.0, 235.0, 565.0]);
        assert_eq!(g.layer[1], Layer::Epidermis);
        assert_eq!(g.layer[2], Layer::Epidermis);
    }
}

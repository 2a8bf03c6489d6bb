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

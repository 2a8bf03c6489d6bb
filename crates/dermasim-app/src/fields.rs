//! Whole fields of a run in memory, for front ends that hand them over without files
//! (Python's `RunResult.fields(day)`): the grid's coordinates, each species' unit, and the
//! snapshot of a day. The values are those of the run folder's `.vti` snapshots (single
//! precision), on the simulation's own depth cells rather than the `.vti` resampling.

use dermasim::kinetics::species::{COUNT, NAMES};
pub use dermasim_report::capture::Snapshot;
pub use dermasim_report::Capture;

use crate::AppError;

/// Unit of each species, in [`NAMES`] order (as `docs/outputs.md` gives them for
/// `profiles.csv`).
pub const UNITS: [&str; COUNT] = [
    "model units (Cooper et al. 2015)",
    "model units (Cooper et al. 2015)",
    "model units (Cooper et al. 2015)",
    "model units (Cooper et al. 2015)",
    "model units",
    "model units (active TGF-beta)",
    "relative to the papillary dermis of a young adult at rest",
    "relative to the reticular collagen density of a 30-year-old",
    "relative to the reticular collagen density of a 30-year-old",
    "fraction of healthy elastic fibre",
    "fraction of healthy elastic fibre",
    "fraction of healthy elastic fibre (made since day 0)",
    "model units (latent TGF-beta, as active TGF-beta once activated)",
];

/// Species names with their units, in the order of a snapshot's fields.
pub fn species() -> impl Iterator<Item = (&'static str, &'static str)> {
    NAMES.into_iter().zip(UNITS)
}

/// The days with a field snapshot in `capture` (none when the run kept no fields).
pub fn snapshot_days(capture: Option<&Capture>) -> Vec<f64> {
    capture.map(|c| c.snapshots.iter().map(|s| s.t_day).collect()).unwrap_or_default()
}

/// The snapshot of `day` (within 1e-6 days). The error names the argument `day` and lists the
/// days there are, or says why there are none.
pub fn snapshot(capture: Option<&Capture>, day: f64) -> Result<&Snapshot, AppError> {
    let i = snapshot_index(&snapshot_days(capture), day)?;
    Ok(&capture.expect("days come from a capture").snapshots[i])
}

/// Where `day` is among the snapshot days `days` (within 1e-6 days), for front ends that keep
/// the snapshots their own way; errors as [`snapshot`].
pub fn snapshot_index(days: &[f64], day: f64) -> Result<usize, AppError> {
    if days.is_empty() {
        return Err(AppError::request(
            "day",
            "this run kept no field snapshots: fields are kept at fidelity 3d, or at any \
             fidelity when outputs.write includes vti",
        ));
    }
    days.iter().position(|&d| day.is_finite() && (d - day).abs() < 1e-6).ok_or_else(|| {
        let list: Vec<String> = days.iter().map(|d| format!("{d}")).collect();
        AppError::request(
            "day",
            format!(
                "{day} is not a snapshot day of this run; the snapshot days are {} \
                 (outputs.snapshot_days chooses them)",
                list.join(", ")
            ),
        )
    })
}

/// Total collagen of a snapshot's `fields` relative to the resting tissue at the same depth,
/// per cell in the snapshot's order, computed as the `.vti` files compute it (`NaN` where the
/// resting value is 0, above the dermis).
pub fn collagen_total_rel(capture: &Capture, fields: &[f32]) -> Vec<f32> {
    use dermasim::kinetics::species::{C1, C3};
    let g = capture.grid();
    let len = g.len();
    (0..len)
        .map(|v| {
            let r = capture.reference()[v / g.plane()];
            let r = r[C1] + r[C3];
            let now = fields[C1 * len + v] as f64 + fields[C3 * len + v] as f64;
            if r > 0.0 {
                (now / r) as f32
            } else {
                f32::NAN
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{run, RunRequest};

    fn small_3d() -> dermasim::Scenario {
        let mut s = dermasim::Scenario::default_scenario();
        s.simulation.fidelity = dermasim::Fidelity::Three;
        s.simulation.patch_um = [200.0, 150.0];
        s.simulation.dx_um = 50.0;
        s.simulation.dz_um = 100.0;
        s.protocol.follow_up_days = 10.0;
        s.protocol.sessions.truncate(1);
        s
    }

    #[test]
    fn a_captured_3d_run_has_its_snapshot_days_and_refuses_others() {
        let r =
            run(&RunRequest { capture: true, ..RunRequest::new(small_3d()) }, &crate::NoObserver)
                .unwrap();
        let days = snapshot_days(r.capture.as_ref());
        assert_eq!(days, r.scenario.outputs.days(&r.scenario.scenario.protocol));
        let grid = r.capture.as_ref().unwrap().grid().clone();
        let snap = snapshot(r.capture.as_ref(), days[0]).unwrap();
        assert_eq!(snap.fields.len(), COUNT * grid.len());
        let e = snapshot(r.capture.as_ref(), 3.0).unwrap_err().to_string();
        assert!(e.contains("day") && e.contains(&format!("{}", days[0])), "{e}");
        let plain = run(&RunRequest::new(small_3d()), &crate::NoObserver).unwrap();
        let e = snapshot(plain.capture.as_ref(), days[0]).unwrap_err().to_string();
        assert!(e.contains("no field snapshots"), "{e}");
    }
}

//! What a run folder holds besides its fixed files (`manifest.json`, `summary.json`,
//! `scenario.json`): the scenario file's `[outputs]` table, overridden by `dermasim run
//! --outputs`. A file-format concern, so it lives here and not in the core; the core gets only
//! the snapshot days, as plain numbers ([`Outputs::snapshot_request`]).

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use dermasim::scenario::{Fidelity, Protocol, SnapshotRequest};

/// One kind of optional output. Names as in the scenario file and `--outputs`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum OutputKind {
    /// `timeseries.csv`: the timeline, units in the column names.
    TimeseriesCsv,
    /// `timeseries.parquet`: the same columns as the CSV.
    TimeseriesParquet,
    /// `profiles.csv` (depth profiles at the snapshot days) and, at 3d, `sections.csv`.
    Profiles,
    /// `parameters.json`: every parameter of the run with its source and evidence grade.
    Parameters,
    /// `plots/*.svg`.
    PlotsSvg,
    /// `plots/*.png`.
    PlotsPng,
    /// `report.html`, one self-contained page; brings `profiles` and `parameters` with it so
    /// that `dermasim report DIR` can rebuild it from the folder.
    Report,
    /// `fields/*.vti` VTK ImageData snapshots at the snapshot days, and `fields/snapshots.pvd`.
    Vti,
}

impl OutputKind {
    /// Every kind, in a fixed order.
    pub const ALL: [OutputKind; 8] = [
        OutputKind::TimeseriesCsv,
        OutputKind::TimeseriesParquet,
        OutputKind::Profiles,
        OutputKind::Parameters,
        OutputKind::PlotsSvg,
        OutputKind::PlotsPng,
        OutputKind::Report,
        OutputKind::Vti,
    ];

    /// The name used in scenario files and by `--outputs`, e.g. `timeseries_csv`.
    pub fn as_str(self) -> &'static str {
        match self {
            OutputKind::TimeseriesCsv => "timeseries_csv",
            OutputKind::TimeseriesParquet => "timeseries_parquet",
            OutputKind::Profiles => "profiles",
            OutputKind::Parameters => "parameters",
            OutputKind::PlotsSvg => "plots_svg",
            OutputKind::PlotsPng => "plots_png",
            OutputKind::Report => "report",
            OutputKind::Vti => "vti",
        }
    }
}

impl std::str::FromStr for OutputKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        OutputKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = OutputKind::ALL.iter().map(|k| k.as_str()).collect();
            format!("`{s}` is not an output; use {} (or all, none)", names.join(", "))
        })
    }
}

/// The `[outputs]` table of a scenario.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Outputs {
    /// What to write; when absent, everything (`vti` only at fidelity 3d). An empty list writes
    /// only `manifest.json`, `summary.json` and `scenario.json` (sweeps).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write: Option<Vec<OutputKind>>,
    /// Days (from day 0) of the depth profiles, 3d cross-sections and `.vti` snapshots, taken
    /// before any session of that day. When empty: 1, 7 and 28 days after the first session,
    /// and the end of follow-up. At most 20.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub snapshot_days: Vec<f64>,
}

/// `kinds` plus what they need: `report` is rebuilt from `profiles` and `parameters`.
pub fn with_requirements(mut kinds: BTreeSet<OutputKind>) -> BTreeSet<OutputKind> {
    if kinds.contains(&OutputKind::Report) {
        kinds.insert(OutputKind::Profiles);
        kinds.insert(OutputKind::Parameters);
    }
    kinds
}

impl Outputs {
    /// Whether the table is the default one (`write` absent, no snapshot days given).
    pub fn is_default(&self) -> bool {
        *self == Outputs::default()
    }

    /// The kinds to write, with what they need (`report` brings `profiles` and `parameters`).
    pub fn resolved(&self, fidelity: Fidelity) -> BTreeSet<OutputKind> {
        let kinds: BTreeSet<OutputKind> = match &self.write {
            Some(list) => list.iter().copied().collect(),
            None => OutputKind::ALL
                .into_iter()
                .filter(|&k| k != OutputKind::Vti || fidelity == Fidelity::Three)
                .collect(),
        };
        with_requirements(kinds)
    }

    /// The snapshot days as the core takes them: plain numbers and where they sit in the file
    /// (checked by `Scenario::prepare_with_snapshots`, after the protocol).
    pub fn snapshot_request(&self) -> SnapshotRequest<'_> {
        SnapshotRequest { path: "outputs.snapshot_days", days: &self.snapshot_days }
    }

    /// Snapshot days, sorted and unique (the default days when none are given).
    pub fn days(&self, protocol: &Protocol) -> Vec<f64> {
        self.snapshot_request().resolve(protocol)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dermasim::scenario::Session;

    fn protocol() -> Protocol {
        Protocol { sessions: vec![Session { day: 2.0, device: None }], follow_up_days: 20.0 }
    }

    #[test]
    fn names_round_trip_and_unknown_names_list_the_choices() {
        for k in OutputKind::ALL {
            assert_eq!(k.as_str().parse::<OutputKind>().unwrap(), k);
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        let e = "pdf".parse::<OutputKind>().unwrap_err();
        assert!(e.contains("pdf") && e.contains("plots_svg") && e.contains("vti"), "{e}");
    }

    #[test]
    fn default_writes_everything_and_vti_only_in_3d() {
        let o = Outputs::default();
        assert_eq!(o.resolved(Fidelity::Three).len(), OutputKind::ALL.len());
        assert!(!o.resolved(Fidelity::One).contains(&OutputKind::Vti));
        let none = Outputs { write: Some(vec![]), ..Outputs::default() };
        assert!(none.resolved(Fidelity::Three).is_empty());
    }

    #[test]
    fn report_brings_what_it_is_rebuilt_from() {
        let o = Outputs { write: Some(vec![OutputKind::Report]), ..Outputs::default() };
        let k = o.resolved(Fidelity::One);
        assert!(
            k.contains(&OutputKind::Profiles)
                && k.contains(&OutputKind::Parameters)
                && !k.contains(&OutputKind::PlotsSvg)
        );
    }

    #[test]
    fn default_days_follow_the_first_session_and_stay_inside_follow_up() {
        assert_eq!(Outputs::default().days(&protocol()), vec![3.0, 9.0, 20.0]);
        let o = Outputs { snapshot_days: vec![5.0, 1.0, 5.0], ..Outputs::default() };
        assert_eq!(o.days(&protocol()), vec![1.0, 5.0]);
    }
}

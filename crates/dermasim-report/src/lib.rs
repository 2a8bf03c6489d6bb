//! What people look at and tools read: charts (SVG, PNG), the self-contained HTML report,
//! the timeline as Parquet, depth tables, and VTK ImageData snapshots for ParaView.
//!
//! Heavy dependencies (plotters, parquet) live here so the core and the I/O crate stay light.
//!
//! - [`Capture`] watches a simulation and keeps depth profiles, cross-sections and fields at
//!   the snapshot days.
//! - [`write_outputs`] writes the selected outputs into a [`Sink`] (a run folder or memory).
//! - [`rebuild_report`] rebuilds `report.html` from a run folder (`dermasim report DIR`).
//! - [`figures`] draws the built-in charts; [`html::Section`] is how later layers (delivered
//!   dose, plan forecasts) add their own parts to the report.

pub mod capture;
pub mod delivery;
pub mod depth;
pub mod html;
pub mod parquet;
pub mod plots;
pub mod vtk;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use dermasim::{ParameterSet, Summary};
use dermasim_io::outputs::{with_requirements, OutputKind};
use dermasim_io::{replace_in_folder, scenario_hash, timeseries_csv, IoError, ScenarioFile, Sink};

pub use capture::Capture;
pub use depth::DepthTable;
pub use html::Section;
pub use plots::{render, Chart, Figure};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error(transparent)]
    Plot(#[from] plots::PlotError),
    #[error("timeseries.parquet: cannot write the table")]
    Parquet(#[from] ::parquet::errors::ParquetError),
    #[error("{path}: {message}")]
    Read { path: PathBuf, message: String },
}

/// One run, as the writers see it.
pub struct RunData<'a> {
    /// The scenario file as run (its outputs give the report's scenario hash).
    pub scenario: &'a ScenarioFile,
    pub summary: &'a Summary,
    /// The parameter set the run used (scenario overrides applied).
    pub parameters: Option<&'a ParameterSet>,
    pub profiles: &'a DepthTable,
    /// 3d runs only.
    pub sections: &'a DepthTable,
    /// Parts added by later layers (dose, forecast), after the built-in charts.
    pub extra: &'a [Section],
}

/// The built-in charts that the data allow, in report order. `png` also draws PNGs.
pub fn figures(run: &RunData, png: bool) -> Result<Vec<Figure>, plots::PlotError> {
    let s = run.summary;
    let mut out = vec![
        render(&plots::TimelineChart { summary: s }, png)?,
        render(&plots::CellsChart { summary: s }, png)?,
    ];
    if !run.profiles.is_empty() {
        out.push(render(&plots::ProfilesChart { profiles: run.profiles }, png)?);
    }
    if !run.sections.is_empty() {
        let chart = plots::SectionChart {
            sections: run.sections,
            column: "collagen_total_rel",
            label: "total collagen, relative to rest",
        };
        out.push(render(&chart, png)?);
    }
    if let Some(first) = s.sessions.first() {
        out.push(render(
            &plots::PunctureChart {
                scenario: &run.scenario.scenario,
                session: 0,
                channel_radius_um: first.channel_radius_um,
            },
            png,
        )?);
    }
    Ok(out)
}

/// The report's extra parts: the delivered dose when the run applied a topical, then the
/// caller's `run.extra`.
pub fn sections(run: &RunData, png: bool) -> Result<Vec<Section>, plots::PlotError> {
    let mut out = Vec::new();
    if let Some(d) = &run.summary.delivery {
        out.push(delivery::section(d, png)?);
    }
    out.extend(run.extra.iter().cloned());
    Ok(out)
}

/// The report page of a run; `hash` is the scenario hash of the manifest (computed when
/// `None`).
pub fn report_page(run: &RunData, figures: &[Figure], hash: Option<&str>) -> String {
    html::report_html(&html::ReportInput {
        scenario: run.scenario,
        summary: run.summary,
        parameters: run.parameters,
        scenario_hash: &hash.map_or_else(|| scenario_hash(run.scenario), str::to_string),
        figures,
        extra: run.extra,
    })
}

const REPORT_DESCRIPTION: &str = "run report: scenario, summary, sessions, charts, evidence and disclaimer; one self-contained page (open in a browser)";

/// Write the selected outputs of a run into `folder` (the caller writes `summary.json` and
/// `scenario.json`; the commit writes `manifest.json`). `capture` holds the depth data and
/// fields taken during the run, when it was watched.
pub fn write_outputs(
    folder: &mut dyn Sink,
    run: &RunData,
    capture: Option<&Capture>,
    kinds: &BTreeSet<OutputKind>,
) -> Result<(), ReportError> {
    use OutputKind::*;
    let kinds = &with_requirements(kinds.clone());
    let s = run.summary;
    if kinds.contains(&TimeseriesCsv) {
        folder.write(
            "timeseries.csv",
            "table",
            "timeline, one row per output time; units in column names (docs/outputs.md)",
            timeseries_csv(s).as_bytes(),
        )?;
    }
    if kinds.contains(&TimeseriesParquet) {
        folder.write(
            "timeseries.parquet",
            "table",
            "timeline as Parquet, the same columns as timeseries.csv",
            &parquet::timeseries_parquet(s)?,
        )?;
    }
    if kinds.contains(&Profiles) && !run.profiles.is_empty() {
        folder.write(
            "profiles.csv",
            "table",
            "depth profiles (lateral means) at the snapshot days; one row per depth cell and day",
            run.profiles.to_csv().as_bytes(),
        )?;
        if !run.sections.is_empty() {
            folder.write(
                "sections.csv",
                "table",
                "x-depth plane through the middle of the 3d patch at the snapshot days",
                run.sections.to_csv().as_bytes(),
            )?;
        }
    }
    if let (true, Some(set)) = (kinds.contains(&Parameters), run.parameters) {
        let text = serde_json::to_string_pretty(set).expect("parameter set serialises");
        folder.write("parameters.json", "parameters", "every model parameter of the run with its value, range, unit, source and evidence grade", text.as_bytes())?;
    }
    let (svg, png, report) =
        (kinds.contains(&PlotsSvg), kinds.contains(&PlotsPng), kinds.contains(&Report));
    if svg || png || report {
        let extra = sections(run, png)?;
        let run = &RunData { extra: &extra, ..*run };
        let mut figs = figures(run, png)?;
        figs.extend(run.extra.iter().flat_map(|x| x.figures.iter().cloned()));
        for f in &figs {
            if svg {
                folder.write(
                    &format!("plots/{}.svg", f.name),
                    "plot",
                    &format!("chart (SVG): {}", f.title),
                    f.svg.as_bytes(),
                )?;
            }
            if let Some(bytes) = f.png.as_ref().filter(|_| png) {
                folder.write(
                    &format!("plots/{}.png", f.name),
                    "plot",
                    &format!("chart (PNG): {}", f.title),
                    bytes,
                )?;
            }
        }
        if report {
            let builtin = figs.len() - run.extra.iter().map(|x| x.figures.len()).sum::<usize>();
            folder.write(
                "report.html",
                "report",
                REPORT_DESCRIPTION,
                report_page(run, &figs[..builtin], None).as_bytes(),
            )?;
        }
    }
    if let (true, Some(cap)) = (kinds.contains(&Vti), capture) {
        let mut listed = cap.streamed.clone();
        for snap in &cap.snapshots {
            listed.push((snap.t_day, write_snapshot(folder, cap, snap)?));
        }
        if !listed.is_empty() {
            folder.write(
                "fields/snapshots.pvd",
                "fields",
                "ParaView collection of the .vti snapshots with their days as time",
                vtk::pvd(&listed).as_bytes(),
            )?;
        }
    }
    Ok(())
}

/// Write one `.vti` snapshot of `cap` into `fields/` of `folder`; returns its file name.
pub fn write_snapshot(
    folder: &mut dyn Sink,
    cap: &Capture,
    snap: &capture::Snapshot,
) -> Result<String, ReportError> {
    let name = vtk::snapshot_name(snap.t_day);
    folder.write_with(
        &format!("fields/{name}"),
        "fields",
        &format!("VTK ImageData of every species at day {} (ParaView)", snap.t_day),
        &mut |w| vtk::write_vti(w, cap.grid(), cap.reference(), snap),
    )?;
    Ok(name)
}

fn read(dir: &Path, name: &str) -> Result<Option<String>, ReportError> {
    let path = dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ReportError::Read { path, message: e.to_string() }),
    }
}

fn require(dir: &Path, name: &str) -> Result<String, ReportError> {
    read(dir, name)?.ok_or_else(|| ReportError::Read {
        path: dir.join(name),
        message: "missing; is this a dermasim run folder (`dermasim run --out DIR`)?".into(),
    })
}

/// Rebuild `report.html` of a run folder from its `summary.json`, `scenario.json` and, where
/// present, `parameters.json`, `profiles.csv` and `sections.csv`; rewrite it atomically and
/// list it in the manifest. `extra` are parts of later layers.
pub fn rebuild_report(dir: &Path, extra: &[Section]) -> Result<PathBuf, ReportError> {
    let bad = |name: &str, message: String| ReportError::Read { path: dir.join(name), message };
    let manifest: serde_json::Value = serde_json::from_str(&require(dir, "manifest.json")?)
        .map_err(|e| bad("manifest.json", e.to_string()))?;
    let summary: Summary = serde_json::from_str(&require(dir, "summary.json")?)
        .map_err(|e| bad("summary.json", e.to_string()))?;
    if summary.timeline.is_empty() {
        return Err(bad("summary.json", "its timeline is empty; nothing to report".into()));
    }
    let tree: serde_json::Value = serde_json::from_str(&require(dir, "scenario.json")?)
        .map_err(|e| bad("scenario.json", e.to_string()))?;
    let scenario =
        dermasim_io::scenario_from_tree(tree).map_err(|e| bad("scenario.json", e.to_string()))?;
    let parameters: Option<ParameterSet> = match read(dir, "parameters.json")? {
        Some(t) => {
            Some(serde_json::from_str(&t).map_err(|e| bad("parameters.json", e.to_string()))?)
        }
        None => None,
    };
    let table = |name: &str| -> Result<DepthTable, ReportError> {
        match read(dir, name)? {
            Some(t) => DepthTable::from_csv(&t).map_err(|e| bad(name, e)),
            None => Ok(DepthTable::default()),
        }
    };
    let (profiles, sections) = (table("profiles.csv")?, table("sections.csv")?);
    let run = RunData {
        scenario: &scenario,
        summary: &summary,
        parameters: parameters.as_ref(),
        profiles: &profiles,
        sections: &sections,
        extra,
    };
    let extra = self::sections(&run, false)?;
    let run = RunData { extra: &extra, ..run };
    let figs = figures(&run, false)?;
    replace_in_folder(
        dir,
        "report.html",
        "report",
        REPORT_DESCRIPTION,
        report_page(&run, &figs, manifest["scenario_hash"].as_str()).as_bytes(),
    )?;
    Ok(dir.join("report.html"))
}

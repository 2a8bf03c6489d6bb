//! Run a scenario: one central simulation (watched, checkpointed, cancellable), ensemble bands
//! around it when asked, topical delivery when the scenario has one, and the run's files into a
//! [`Sink`].

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use dermasim::{ParameterSet, Scenario, Simulation, Summary};
use dermasim_io::{
    prepared_hash, Manifest, OutputKind, Outputs, PreparedFile, RunFolder, ScenarioFile, Sink,
};
use dermasim_report::{Capture, DepthTable, RunData};

use crate::{AppError, Observer, Progress, VERSION};

/// Ensemble sizes allowed.
pub const ENSEMBLE_MEMBERS: std::ops::RangeInclusive<usize> = 2..=10_000;

/// Below this many members the 5-95 % band is rough (its ends rest on one or two members each);
/// such runs say so in their notes, manifest and report.
pub const MIN_RELIABLE_MEMBERS: usize = 20;

/// Saving and resuming the central run's state.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointPlan {
    /// The checkpoint file ([`checkpoint_path`] of the run folder, for the CLI).
    pub path: PathBuf,
    /// Save every this many simulated days; `None` saves nothing.
    pub every_days: Option<f64>,
    /// Continue from `path` when it exists.
    pub resume: bool,
}

/// The scenario of a [`RunRequest`]: checked already, or checked when the run starts. Either
/// way the run checks it exactly once: the run takes a [`PreparedFile`] and nothing after
/// that has a scenario to check.
#[derive(Debug, Clone)]
pub enum RunScenario {
    /// Checked and prepared already ([`crate::scenario::load`]): the run takes it as it is.
    Prepared(Box<PreparedFile>),
    /// Not checked yet (built in code, read back from a database): prepared when the run
    /// starts, and refused then with the same field-path errors.
    File(Box<ScenarioFile>),
}

impl RunScenario {
    /// The scenario as the core sees it.
    pub fn scenario(&self) -> &Scenario {
        match self {
            RunScenario::Prepared(p) => p.scenario(),
            RunScenario::File(f) => &f.scenario,
        }
    }

    /// The file's `[outputs]`.
    pub fn outputs(&self) -> &Outputs {
        match self {
            RunScenario::Prepared(p) => p.outputs(),
            RunScenario::File(f) => &f.outputs,
        }
    }

    /// The kinds of file a run folder of this scenario gets.
    fn kinds(&self) -> std::collections::BTreeSet<OutputKind> {
        self.outputs().resolved(self.scenario().simulation.fidelity)
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The scenario, prepared already ([`RunRequest::prepared`]) or not ([`RunRequest::new`]).
    pub scenario: RunScenario,
    /// Bands from this many ensemble members.
    pub ensemble: Option<usize>,
    /// Checkpoints of the central run (single runs only).
    pub checkpoint: Option<CheckpointPlan>,
    /// How the front end describes the request, for the manifest (the CLI's argv).
    pub command: Vec<String>,
    /// Keep what the outputs need (depth profiles and, when the scenario's outputs include
    /// `vti`, the field snapshots) in [`RunReport::capture`] even when nothing is written: for
    /// front ends that hand fields over in memory (Python's `RunResult.fields`).
    pub capture: bool,
}

impl RunRequest {
    /// A single run of `scenario` (a [`Scenario`] or a [`ScenarioFile`]), checked when the
    /// run starts; nothing else.
    pub fn new(scenario: impl Into<ScenarioFile>) -> RunRequest {
        RunRequest::with(RunScenario::File(Box::new(scenario.into())))
    }

    /// A single run of a scenario checked already ([`crate::scenario::load`]): the run uses
    /// its preparation and checks nothing again.
    pub fn prepared(scenario: PreparedFile) -> RunRequest {
        RunRequest::with(RunScenario::Prepared(Box::new(scenario)))
    }

    fn with(scenario: RunScenario) -> RunRequest {
        RunRequest {
            scenario,
            ensemble: None,
            checkpoint: None,
            command: Vec::new(),
            capture: false,
        }
    }

    fn check(&self) -> Result<(), AppError> {
        if let Some(n) = self.ensemble {
            if !ENSEMBLE_MEMBERS.contains(&n) {
                return Err(AppError::request(
                    "ensemble",
                    format!(
                        "{n} is outside the allowed range {} to {}",
                        ENSEMBLE_MEMBERS.start(),
                        ENSEMBLE_MEMBERS.end()
                    ),
                ));
            }
        }
        if let Some(c) = &self.checkpoint {
            if let Some(every) = c.every_days {
                if !(every.is_finite() && every > 0.0) {
                    return Err(AppError::request(
                        "checkpoint_every",
                        format!("{every} must be a positive number of days"),
                    ));
                }
            }
            if self.ensemble.is_some() && (c.every_days.is_some() || c.resume) {
                return Err(AppError::request(
                    "checkpoint",
                    "checkpoints apply to single runs; drop the ensemble or the checkpoint",
                ));
            }
        }
        Ok(())
    }
}

/// What a run produced.
pub struct RunReport {
    /// The summary (`summary.json`), with bands and delivery when asked.
    pub summary: Summary,
    /// The scenario file as run (`scenario.json`).
    pub scenario: ScenarioFile,
    /// The parameter set as run (scenario overrides applied).
    pub parameters: ParameterSet,
    /// Depth data taken while the run went (when files that need them were written, or the
    /// request asked for [`RunRequest::capture`]).
    pub capture: Option<Capture>,
    /// The ensemble members' own runs in draw order, `None` for a member that failed to solve
    /// (empty without an ensemble). At 3d they ran at 1d, as the bands did.
    pub members: Vec<Option<Summary>>,
    /// Wall-clock seconds.
    pub wall_time_s: f64,
    /// The day the run continued from, when it resumed from a checkpoint.
    pub resumed_from_day: Option<f64>,
    /// Warnings for the user (also in the summary's notes and the manifest).
    pub warnings: Vec<String>,
    /// Provenance of the run (the manifest of its folder; `files` filled by the folder).
    pub manifest: Manifest,
}

/// The checkpoint file of a run folder: `NAME.checkpoint` beside it (the whole name kept, so
/// `depth_1.5` and `depth_1.0` do not share one).
pub fn checkpoint_path(out: &Path) -> PathBuf {
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    out.with_file_name(format!("{name}.checkpoint"))
}

/// Run, writing nothing (checkpoints aside).
pub fn run(request: &RunRequest, observer: &dyn Observer) -> Result<RunReport, AppError> {
    execute(request, request.capture, observer, None)
}

/// Run and put the run's files into `sink`: `summary.json`, `scenario.json` and the outputs the
/// scenario selects. The caller finishes the sink (a [`RunFolder`] is committed with
/// `report.manifest`). Nothing is written when the run fails or is cancelled.
pub fn run_into(
    request: &RunRequest,
    sink: &mut dyn Sink,
    observer: &dyn Observer,
) -> Result<RunReport, AppError> {
    let kinds = request.scenario.kinds();
    let watch = kinds.contains(&OutputKind::Profiles) || kinds.contains(&OutputKind::Vti);
    // Field snapshots go into the sink as they are taken (a 1 cm2 patch holds 0.7 GB of them
    // per day), unless the caller asked to keep them in the report.
    let stream = (!request.capture).then_some(&mut *sink);
    let report = execute(request, watch || request.capture, observer, stream)?;
    observer.progress(Progress::Stage("writing outputs"));
    write_run(&report, sink)?;
    Ok(report)
}

/// Run into a run folder at `out` (`flag` names the option in errors). The folder is checked
/// and its staging area made before the simulation starts, so an unusable place fails at once;
/// it appears complete or not at all.
pub fn run_to_folder(
    request: &RunRequest,
    out: &Path,
    flag: &str,
    observer: &dyn Observer,
) -> Result<(RunReport, PathBuf), AppError> {
    let mut folder = RunFolder::create(out, flag)?;
    let report = run_into(request, &mut folder, observer)?;
    let path = folder.commit(report.manifest.clone())?;
    if let Some(c) = &request.checkpoint {
        if is_checkpoint_file(&c.path) {
            let _ = std::fs::remove_file(&c.path);
        }
    }
    Ok((report, path))
}

/// The fixed files and the selected outputs of a finished run.
pub fn write_run(report: &RunReport, sink: &mut dyn Sink) -> Result<(), AppError> {
    sink.write(
        "summary.json",
        "summary",
        "run summary: sessions, endpoints, timeline (see README output contract)",
        pretty(&report.summary).as_bytes(),
    )?;
    sink.write(
        "scenario.json",
        "scenario",
        "the scenario as run, after --set and --outputs overrides",
        pretty(&report.scenario).as_bytes(),
    )?;
    let empty = DepthTable::default();
    let cap = report.capture.as_ref();
    let data = RunData {
        scenario: &report.scenario,
        summary: &report.summary,
        parameters: Some(&report.parameters),
        profiles: cap.map_or(&empty, |c| &c.profiles),
        sections: cap.map_or(&empty, |c| &c.sections),
        extra: &[],
    };
    let kinds = report.scenario.output_kinds();
    dermasim_report::write_outputs(sink, &data, cap, &kinds)?;
    if !report.members.is_empty() && kinds.contains(&OutputKind::TimeseriesCsv) {
        sink.write(
            "ensemble_members.csv",
            "table",
            "every ensemble member's timeline in long form: member, then the timeseries.csv columns",
            crate::tables::members_csv(&report.members).as_bytes(),
        )?;
    }
    Ok(())
}

/// Pretty JSON of run results (they always serialise).
pub(crate) fn pretty<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("run results serialise")
}

/// Run the request. With `stream`, field snapshots are written into it as they are taken
/// (and listed in `Capture::streamed`) instead of kept in memory.
fn execute(
    request: &RunRequest,
    watch: bool,
    observer: &dyn Observer,
    mut stream: Option<&mut (dyn Sink + '_)>,
) -> Result<RunReport, AppError> {
    request.check()?;
    let started = Instant::now();
    let base = ParameterSet::default_set();
    // Checked once: here for a file, already for a prepared one. The central run, the
    // ensemble and delivery all take `prepared`; there is no unchecked scenario below.
    let checked_here;
    let file = match &request.scenario {
        RunScenario::Prepared(p) => p,
        RunScenario::File(f) => {
            checked_here = f.clone().prepare(dermasim::tissue::SiteTable::shared(), &base)?;
            &checked_here
        }
    };
    let prepared = file.prepared();
    let scenario = prepared.scenario();
    let days = prepared.snapshot_days().to_vec();
    let keep_fields = request.scenario.kinds().contains(&OutputKind::Vti);
    let mut warnings = Vec::new();

    // An SBML inflammation module, when the scenario names one (`[inflammation]`).
    let inflammation = crate::inflammation::module(scenario)?;
    if inflammation.is_some() && request.ensemble.is_some() {
        return Err(AppError::request(
            "ensemble",
            "not available with an SBML inflammation module (inflammation.sbml): the ensemble's \
             members draw built-in inflammation parameters",
        ));
    }
    let options = dermasim::Options { inflammation: inflammation.clone(), ..Default::default() };
    let mut sim = Simulation::from_prepared(prepared, options)?;
    let mut resumed_from_day = None;
    if let Some(c) = request.checkpoint.as_ref().filter(|c| c.resume && c.path.exists()) {
        let bytes = std::fs::read(&c.path)
            .map_err(|source| dermasim_io::IoError::Read { path: c.path.clone(), source })?;
        sim.restore(&bytes)?;
        resumed_from_day = Some(sim.time());
        if watch {
            warnings.push(format!(
                "resumed from day {:.2}: depth profiles and snapshots before that day are not in \
                 this run folder",
                sim.time()
            ));
        }
    }
    if let Some(c) = request.checkpoint.as_ref().filter(|c| c.every_days.is_some()) {
        if c.path.exists() && !is_checkpoint_file(&c.path) {
            return Err(dermasim_io::IoError::Refused {
                flag: "checkpoint".into(),
                path: c.path.clone(),
                why: "exists and is not a dermasim checkpoint; dermasim will not replace it".into(),
            }
            .into());
        }
    }

    let end = scenario.protocol.follow_up_days;
    let mut capture = watch.then(|| Capture::new(&sim, &days, keep_fields));
    let every = request.checkpoint.as_ref().and_then(|c| c.every_days);
    let mut next_save = every.map(|e| sim.time() + e);
    let mut save_error = None;
    let mut stream_error = None;
    let outcome = sim.run_until(&mut |s| {
        if let Some(c) = capture.as_mut() {
            c.observe(s);
            if let Some(sink) = stream.as_deref_mut() {
                for snap in std::mem::take(&mut c.snapshots) {
                    match dermasim_report::write_snapshot(sink, c, &snap) {
                        Ok(name) => c.streamed.push((snap.t_day, name)),
                        Err(e) => {
                            stream_error = Some(e);
                            return ControlFlow::Break(());
                        }
                    }
                }
            }
        }
        if let (Some(due), Some(every), Some(plan)) = (next_save, every, &request.checkpoint) {
            if s.time() >= due && save_error.is_none() {
                save_error = dermasim_io::write_atomic(&plan.path, &s.checkpoint()).err();
                next_save = Some(s.time() + every);
            }
        }
        observer.progress(Progress::Day { day: s.time(), end });
        if observer.cancelled() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    if let Some(e) = stream_error {
        return Err(e.into());
    }
    let mut summary = outcome?;
    if let Some(e) = save_error {
        warnings.push(format!("checkpoint not saved: {e}"));
    }

    let mut members = Vec::new();
    if let Some(n) = request.ensemble {
        observer.progress(Progress::Members { done: 0, total: n });
        members = dermasim::ensemble::add_bands(
            &mut summary,
            prepared,
            &base,
            n,
            &|done| observer.progress(Progress::Members { done, total: n }),
            &|| observer.cancelled(),
        )?;
        if n < MIN_RELIABLE_MEMBERS {
            warnings.push(format!(
                "only {n} ensemble members: the 5-95 % band is rough and the central run may lie \
                 outside it; use {MIN_RELIABLE_MEMBERS} or more"
            ));
        }
    }
    if scenario.topical.is_some() {
        observer.progress(Progress::Stage("topical delivery"));
        summary.delivery = Some(dermasim::delivery::deliver(prepared)?);
    }
    let outside = scenario.overrides_outside_range(&base);
    if !outside.is_empty() {
        warnings.push(format!(
            "parameters outside their ranges, accepted by allow_outside_range: {}",
            outside.join(", ")
        ));
    }
    check_finite(&summary)?;
    if let Some(m) = &inflammation {
        summary.notes.push(m.describe());
    }
    summary.notes.extend(warnings.iter().cloned());

    let wall_time_s = started.elapsed().as_secs_f64();
    let manifest = Manifest {
        program: "dermasim".into(),
        version: VERSION.into(),
        created_utc: dermasim_io::utc_now(),
        command: request.command.clone(),
        scenario_hash: prepared_hash(file),
        seed: scenario.simulation.seed,
        fidelity: scenario.simulation.fidelity.as_str().into(),
        threads: rayon::current_num_threads(),
        wall_time_s,
        parameter_set: summary.parameter_set.clone(),
        ensemble_members: request.ensemble,
        resumed_from_day,
        warnings: warnings.clone(),
        files: vec![],
        disclaimer: dermasim::DISCLAIMER.into(),
    };
    Ok(RunReport {
        summary,
        scenario: file.file(),
        parameters: prepared.parameters().clone(),
        capture,
        members,
        wall_time_s,
        resumed_from_day,
        warnings,
        manifest,
    })
}

/// Refuse results that are not numbers: never hand NaN to a user as a result.
fn check_finite(summary: &Summary) -> Result<(), AppError> {
    for p in &summary.timeline {
        for (name, v) in p.columns() {
            if !v.is_finite() {
                return Err(AppError::NotFinite {
                    what: format!("{name} = {v} at day {}", p.t_day),
                });
            }
        }
    }
    Ok(())
}

/// Whether `path` holds a dermasim checkpoint (so it may be replaced or removed).
pub fn is_checkpoint_file(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else { return false };
    let Some(n) = bytes.get(..8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes"))) else {
        return false;
    };
    let Some(header) = usize::try_from(n).ok().and_then(|n| bytes.get(8..8usize.checked_add(n)?))
    else {
        return false;
    };
    serde_json::from_slice::<serde_json::Value>(header).ok().is_some_and(|h| {
        h.get("format")
            .and_then(|f| f.as_str())
            .is_some_and(|f| f.starts_with("dermasim-checkpoint"))
    })
}

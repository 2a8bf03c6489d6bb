//! `dermasim._native`: the Python extension module, a thin front end over `dermasim-app`.
//!
//! Every call builds the same typed request the command line builds and calls the same
//! application function, so the numbers equal `dermasim run --json` for the same scenario and
//! seed. The pure-Python package (`python/dermasim`) wraps these calls in friendlier types
//! (pandas, pyarrow, polars, tqdm). Compute runs on a worker thread with the GIL released; the
//! calling thread waits, delivers progress to Python and checks for Ctrl-C, which cancels the
//! run through the application layer's [`Observer`] and raises `KeyboardInterrupt`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use arrow_array::{Array, Float32Array};
use arrow_pyarrow::ToPyArrow;
use dermasim_app::cohort::{self, Cohort};
use dermasim_app::fields::{self, Capture};
use dermasim_app::run::{self as app_run, RunRequest};
use dermasim_app::scenario::{self as app_scenario, ScenarioSource};
use dermasim_app::tables;
use dermasim_app::{AppError, Observer, ParameterSet, Progress, Summary};
use dermasim_io::{OutputKind, ScenarioFile};
use pyo3::create_exception;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

create_exception!(
    _native,
    ScenarioError,
    PyValueError,
    "A scenario, profile or request field is wrong; `.path` names the field (as `--set` does)."
);
create_exception!(_native, DermasimError, PyRuntimeError, "A dermasim run failed.");

/// An application error as the Python exception a user expects, field paths kept.
fn py_err(py: Python<'_>, e: AppError) -> PyErr {
    let field = match &e {
        AppError::Field(f) | AppError::Io(dermasim_io::IoError::Field(f)) => Some(f.path.clone()),
        AppError::Core(dermasim::Error::Field(f)) => Some(f.path.clone()),
        AppError::Request { field, .. } => Some(field.clone()),
        _ => None,
    };
    let text = error_chain(&e);
    if let Some(path) = field {
        let err = ScenarioError::new_err(text);
        let _ = err.value(py).setattr("path", path);
        return err;
    }
    match e {
        AppError::Io(dermasim_io::IoError::Read { .. } | dermasim_io::IoError::Write { .. }) => {
            PyOSError::new_err(text)
        }
        AppError::Io(dermasim_io::IoError::Refused { .. }) => PyOSError::new_err(text),
        AppError::Io(dermasim_io::IoError::Syntax { .. }) | AppError::Clinic(_) => {
            let err = ScenarioError::new_err(text);
            let _ = err.value(py).setattr("path", py.None());
            err
        }
        _ => DermasimError::new_err(text),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// Shared between the worker (which runs the use case) and the waiting Python thread.
struct Watch {
    cancel: AtomicBool,
    finished: AtomicBool,
    latest: Mutex<Option<Progress>>,
    waiter: std::thread::Thread,
}

impl Observer for Watch {
    fn progress(&self, p: Progress) {
        if let Ok(mut l) = self.latest.lock() {
            // Keep the furthest member count: members finish out of order.
            match (*l, p) {
                (Some(Progress::Members { done: a, .. }), Progress::Members { done: b, .. })
                    if b < a => {}
                _ => *l = Some(p),
            }
        }
    }
    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

fn call_progress(cb: &Bound<'_, PyAny>, p: Progress) -> PyResult<()> {
    match p {
        Progress::Day { day, end } => cb.call1(("day", day, end)).map(drop),
        Progress::Members { done, total } => {
            cb.call1(("members", done as f64, total as f64)).map(drop)
        }
        Progress::Stage(s) => cb.call1((s, f64::NAN, f64::NAN)).map(drop),
    }
}

/// Run `f` on a worker thread with the GIL released. This thread wakes at least every 50 ms
/// to pass the latest progress to `progress` and to check for signals; Ctrl-C (or an exception
/// from the callback) cancels the use case and is raised once the worker has stopped.
fn compute<T: Send>(
    py: Python<'_>,
    progress: Option<&Bound<'_, PyAny>>,
    f: impl FnOnce(&Watch) -> Result<T, AppError> + Send,
) -> PyResult<T> {
    let watch = Watch {
        cancel: AtomicBool::new(false),
        finished: AtomicBool::new(false),
        latest: Mutex::new(None),
        waiter: std::thread::current(),
    };
    let mut raised: Option<PyErr> = None;
    let joined = std::thread::scope(|s| {
        let worker = s.spawn(|| {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&watch)));
            watch.finished.store(true, Ordering::SeqCst);
            watch.waiter.unpark();
            r
        });
        loop {
            py.detach(|| {
                if !watch.finished.load(Ordering::SeqCst) {
                    std::thread::park_timeout(Duration::from_millis(50));
                }
            });
            if let Err(e) = py.check_signals() {
                watch.cancel.store(true, Ordering::SeqCst);
                raised.get_or_insert(e);
            }
            if let Some(cb) = progress {
                let latest = watch.latest.lock().ok().and_then(|mut l| l.take());
                if let Some(p) = latest {
                    if let Err(e) = call_progress(cb, p) {
                        watch.cancel.store(true, Ordering::SeqCst);
                        raised.get_or_insert(e);
                    }
                }
            }
            if watch.finished.load(Ordering::SeqCst) {
                break;
            }
        }
        py.detach(|| worker.join())
    });
    if let Some(e) = raised {
        return Err(e);
    }
    match joined {
        Ok(Ok(r)) => r.map_err(|e| py_err(py, e)),
        _ => Err(DermasimError::new_err("the dermasim worker panicked; please report it")),
    }
}

/// A validated scenario (immutable: `replace` returns a new one).
#[pyclass(module = "dermasim._native", name = "Scenario", frozen, from_py_object)]
#[derive(Clone)]
struct PyScenario {
    inner: ScenarioFile,
}

fn base() -> &'static ParameterSet {
    static BASE: OnceLock<ParameterSet> = OnceLock::new();
    BASE.get_or_init(ParameterSet::default_set)
}

/// `PATH=VALUE` edits applied to `scenario`, then typed parsing and validation: the path of
/// `dermasim run --set`.
fn edited(scenario: &ScenarioFile, edits: &[String]) -> Result<ScenarioFile, AppError> {
    let mut tree = serde_json::to_value(scenario).expect("a scenario serialises");
    for e in edits {
        dermasim_io::apply_override(&mut tree, e)?;
    }
    let s = dermasim_io::scenario_from_tree(tree)?;
    s.validate(dermasim::tissue::SiteTable::shared(), base())?;
    Ok(s)
}

/// `PATH=VALUE` strings from keyword arguments, each value as JSON (what `--set` parses).
fn kwargs_edits(py: Python<'_>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Vec<String>> {
    let mut edits = Vec::new();
    if let Some(kw) = kwargs {
        let dumps = py.import("json")?.getattr("dumps")?;
        for (k, v) in kw.iter() {
            let key: String = k.extract()?;
            let text: String = dumps.call1((v,))?.extract()?;
            edits.push(format!("{key}={text}"));
        }
    }
    Ok(edits)
}

#[pymethods]
impl PyScenario {
    /// The built-in default scenario (`dermasim init`).
    #[staticmethod]
    fn default() -> PyScenario {
        PyScenario { inner: ScenarioFile::default_scenario() }
    }

    /// Read a scenario file (TOML, or JSON by extension), with optional `PATH=VALUE` edits,
    /// exactly as `dermasim run FILE --set ...` loads it.
    #[staticmethod]
    #[pyo3(signature = (path, set = None))]
    fn from_file(py: Python<'_>, path: PathBuf, set: Option<Vec<String>>) -> PyResult<PyScenario> {
        let source = ScenarioSource {
            file: Some(path),
            overrides: set.unwrap_or_default(),
            ..ScenarioSource::default()
        };
        app_scenario::load(&source, base())
            .map(|prepared| PyScenario { inner: prepared.file() })
            .map_err(|e| py_err(py, e))
    }

    /// A scenario from JSON text (as `to_json` writes it), validated.
    #[staticmethod]
    fn from_json(py: Python<'_>, text: &str) -> PyResult<PyScenario> {
        let tree = dermasim_io::parse_tree(text, true, "json").map_err(|e| py_err(py, e.into()))?;
        let s = dermasim_io::scenario_from_tree(tree).map_err(|e| py_err(py, e.into()))?;
        edited(&s, &[]).map(|inner| PyScenario { inner }).map_err(|e| py_err(py, e))
    }

    /// A copy with fields changed by dotted path: `replace(**{"patient.age_years": 65})`.
    /// Values are passed as JSON to the same parser as `--set`; errors are `ScenarioError`
    /// with `.path`.
    #[pyo3(signature = (**kwargs))]
    fn replace(&self, py: Python<'_>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<PyScenario> {
        let edits = kwargs_edits(py, kwargs)?;
        edited(&self.inner, &edits).map(|inner| PyScenario { inner }).map_err(|e| py_err(py, e))
    }

    /// A copy with `PATH=VALUE` edits, written exactly as for `--set`.
    #[pyo3(signature = (*edits))]
    fn set(&self, py: Python<'_>, edits: Vec<String>) -> PyResult<PyScenario> {
        edited(&self.inner, &edits).map(|inner| PyScenario { inner }).map_err(|e| py_err(py, e))
    }

    /// The scenario as JSON (the run folder's `scenario.json`).
    fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.inner).expect("a scenario serialises")
    }

    /// SHA-256 of the canonical JSON (first 16 hex digits), as in `manifest.json`.
    #[getter]
    fn hash(&self) -> String {
        dermasim_io::scenario_hash(&self.inner)
    }

    /// `0d`, `1d` or `3d`.
    #[getter]
    fn fidelity(&self) -> &'static str {
        self.inner.scenario.simulation.fidelity.as_str()
    }

    /// The seed (3d puncture positions, ensemble draws).
    #[getter]
    fn seed(&self) -> u64 {
        self.inner.scenario.simulation.seed
    }

    fn __eq__(&self, other: &PyScenario) -> bool {
        self.inner == other.inner
    }

    fn __repr__(&self) -> String {
        format!(
            "Scenario(site={:?}, age_years={}, fidelity={:?}, seed={}, hash={:?})",
            self.inner.scenario.patient.site,
            self.inner.scenario.patient.age_years,
            self.inner.scenario.simulation.fidelity.as_str(),
            self.inner.scenario.simulation.seed,
            dermasim_io::scenario_hash(&self.inner)
        )
    }
}

/// What a run gave: the summary and its timeline, the ensemble members, the field snapshots.
#[pyclass(module = "dermasim._native", name = "RunResult", frozen)]
struct PyRunResult {
    summary: Summary,
    scenario: ScenarioFile,
    warnings: Vec<String>,
    wall_time_s: f64,
    members: Vec<Option<Summary>>,
    /// Depth data and the grid (the snapshots moved out into `snapshots`).
    capture: Option<Capture>,
    /// Each snapshot day's fields, species-major, moved (not copied) into Arrow buffers so
    /// every `fields(day)` hands the same memory to numpy.
    snapshots: Vec<(f64, Float32Array)>,
}

impl PyRunResult {
    fn new(report: app_run::RunReport) -> PyRunResult {
        let mut capture = report.capture;
        let snapshots = capture
            .as_mut()
            .map(|c| std::mem::take(&mut c.snapshots))
            .unwrap_or_default()
            .into_iter()
            .map(|s| (s.t_day, Float32Array::from(s.fields)))
            .collect();
        PyRunResult {
            summary: report.summary,
            scenario: report.scenario,
            warnings: report.warnings,
            wall_time_s: report.wall_time_s,
            members: report.members,
            capture,
            snapshots,
        }
    }

    /// The capture and the index of `day`'s snapshot; errors name `day` and the days there are.
    fn snapshot(&self, py: Python<'_>, day: f64) -> PyResult<(&Capture, usize)> {
        let days: Vec<f64> = self.snapshots.iter().map(|(t, _)| *t).collect();
        let i = fields::snapshot_index(&days, day).map_err(|e| py_err(py, e))?;
        Ok((self.capture.as_ref().expect("snapshots come with a capture"), i))
    }
}

#[pymethods]
impl PyRunResult {
    /// `summary.json` as text (parse with `json.loads`).
    fn summary_json(&self) -> String {
        serde_json::to_string_pretty(&self.summary).expect("a summary serialises")
    }

    /// The timeline as a `pyarrow.RecordBatch` through the Arrow C data interface: the columns
    /// of `timeseries.csv`, units in their names, bands after their columns.
    fn timeline_arrow<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        cohort::timeline_record_batch(&self.summary).to_pyarrow(py)
    }

    /// The column names of `timeseries.csv`.
    fn timeline_columns(&self) -> Vec<String> {
        dermasim_io::timeline_columns(&self.summary)
    }

    /// The scenario as run.
    #[getter]
    fn scenario(&self) -> PyScenario {
        PyScenario { inner: self.scenario.clone() }
    }

    /// Warnings of the run (also in the summary's notes).
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }

    /// Wall-clock seconds of the run.
    #[getter]
    fn wall_time_s(&self) -> f64 {
        self.wall_time_s
    }

    /// The ensemble members in long form as a `pyarrow.RecordBatch`: `member`, then the
    /// `timeseries.csv` columns (the run folder's `ensemble_members.csv`); `None` without an
    /// ensemble.
    fn members_arrow<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        if self.members.is_empty() {
            return Ok(None);
        }
        tables::members_record_batch(&self.members).to_pyarrow(py).map(Some)
    }

    /// The days with field snapshots.
    fn snapshot_days(&self) -> Vec<f64> {
        self.snapshots.iter().map(|(t, _)| *t).collect()
    }

    /// The grid of the fields: `(nz, ny, nx)`, lateral spacing (um), depth cell centres and
    /// heights (um below the surface), layer names per depth cell. `None` without snapshots.
    #[allow(clippy::type_complexity)]
    fn field_grid(
        &self,
    ) -> Option<((usize, usize, usize), f64, Vec<f64>, Vec<f64>, Vec<&'static str>)> {
        let c = self.capture.as_ref().filter(|_| !self.snapshots.is_empty())?;
        let g = c.grid();
        Some((
            (g.nz, g.ny, g.nx),
            g.dx,
            g.zc.clone(),
            g.hz.clone(),
            g.layer.iter().map(|l| l.name()).collect(),
        ))
    }

    /// Species names and units, in the order of a snapshot's fields.
    #[staticmethod]
    fn field_species() -> Vec<(&'static str, &'static str)> {
        fields::species().collect()
    }

    /// The snapshot of `day` as one `pyarrow.FloatArray` (species-major, then z, y, x): the
    /// run's own buffer, not a copy. Errors name `day` and the snapshot days.
    fn field_snapshot<'py>(&self, py: Python<'py>, day: f64) -> PyResult<Bound<'py, PyAny>> {
        let (_, i) = self.snapshot(py, day)?;
        self.snapshots[i].1.to_data().to_pyarrow(py)
    }

    /// Total collagen of `day`'s snapshot relative to rest at the same depth (as in `.vti`).
    fn field_collagen_total_rel<'py>(
        &self,
        py: Python<'py>,
        day: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (c, i) = self.snapshot(py, day)?;
        let rel = fields::collagen_total_rel(c, self.snapshots[i].1.values());
        Float32Array::from(rel).to_data().to_pyarrow(py)
    }
}

fn with_switches(
    scenario: &ScenarioFile,
    fidelity: Option<String>,
    seed: Option<u64>,
) -> Result<ScenarioFile, AppError> {
    let mut edits = Vec::new();
    if let Some(f) = fidelity {
        edits.push(format!("simulation.fidelity={f}"));
    }
    if let Some(s) = seed {
        edits.push(format!("simulation.seed={s}"));
    }
    if edits.is_empty() {
        return Ok(scenario.clone());
    }
    edited(scenario, &edits)
}

/// Run a scenario (`dermasim run`), with ensemble bands from `members` when given.
#[pyfunction]
#[pyo3(signature = (scenario = None, *, fidelity = None, seed = None, members = None, progress = None))]
fn run(
    py: Python<'_>,
    scenario: Option<PyScenario>,
    fidelity: Option<String>,
    seed: Option<u64>,
    members: Option<usize>,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<PyRunResult> {
    let s = scenario.map(|s| s.inner).unwrap_or_else(ScenarioFile::default_scenario);
    let s = with_switches(&s, fidelity, seed).map_err(|e| py_err(py, e))?;
    // Keep the field snapshots the run folder would get (3d, or `vti` asked for), for
    // `RunResult.fields(day)`.
    let keep_fields = s.output_kinds().contains(&OutputKind::Vti);
    let request = RunRequest { ensemble: members, capture: keep_fields, ..RunRequest::new(s) };
    let report = compute(py, progress.as_ref(), |w| app_run::run(&request, w))?;
    Ok(PyRunResult::new(report))
}

/// Topical delivery of the scenario's `topical` section (`dermasim deliver --json`).
#[pyfunction]
fn deliver_json(py: Python<'_>, scenario: PyScenario) -> PyResult<String> {
    // A Python scenario was checked when it was made (the default is valid): prepare it for
    // the delivery run.
    let prepared = scenario
        .inner
        .prepare(dermasim::tissue::SiteTable::shared(), base())
        .map_err(|e| py_err(py, e.into()))?;
    let r = compute(py, None, |w| dermasim_app::deliver::deliver(&prepared, w))?;
    Ok(serde_json::to_string(&r).expect("serialises"))
}

fn profile(
    py: Python<'_>,
    text: &str,
    json: bool,
    origin: &str,
) -> PyResult<dermasim_clinic::Profile> {
    dermasim_clinic::parse_profile(text, json, origin).map_err(|e| py_err(py, e.into()))
}

fn date(py: Python<'_>, d: Option<&str>) -> PyResult<Option<dermasim_clinic::Date>> {
    d.map(|d| {
        dermasim_clinic::Date::parse(d).map_err(|e| {
            let err = ScenarioError::new_err(format!("date: {e}"));
            let _ = err.value(py).setattr("path", "date");
            err
        })
    })
    .transpose()
}

/// Screen a profile (TOML or JSON text) for contraindications; the screening as JSON.
#[pyfunction]
#[pyo3(signature = (text, json, origin, date = None))]
fn screen_json(
    py: Python<'_>,
    text: &str,
    json: bool,
    origin: &str,
    date: Option<&str>,
) -> PyResult<String> {
    let p = profile(py, text, json, origin)?;
    let d = self::date(py, date)?;
    let s = compute(py, None, |_| dermasim_app::clinic::screen(&p, d))?;
    Ok(serde_json::to_string(&s).expect("serialises"))
}

/// Screen, then plan and forecast: `{"planned": report}` or `{"refused": screening}`.
#[pyfunction]
#[pyo3(signature = (text, json, origin, date = None, members = None))]
fn plan_json(
    py: Python<'_>,
    text: &str,
    json: bool,
    origin: &str,
    date: Option<&str>,
    members: Option<usize>,
) -> PyResult<String> {
    use dermasim_app::clinic::PlanOutcome;
    let p = profile(py, text, json, origin)?;
    let d = self::date(py, date)?;
    let out = compute(py, None, |_| dermasim_app::clinic::plan(&p, d, members))?;
    let v = match out {
        PlanOutcome::Planned(r) => serde_json::json!({ "planned": r }),
        PlanOutcome::Refused(s) => serde_json::json!({ "refused": s }),
    };
    Ok(v.to_string())
}

/// The site table (`dermasim sites --json`).
#[pyfunction]
fn sites_json() -> String {
    let t = dermasim::tissue::SiteTable::embedded();
    serde_json::json!({ "sites": t.site }).to_string()
}

/// The default parameter set, every value with its source, grade and range.
#[pyfunction]
fn parameters_json() -> String {
    serde_json::to_string(base()).expect("serialises")
}

/// A published model as a standalone run (`dermasim model run NAME --set K=V`): the column
/// names and the rows.
#[pyfunction]
#[pyo3(signature = (name, days = 20.0, every = 0.1, set = Vec::new()))]
fn model_run(
    py: Python<'_>,
    name: &str,
    days: f64,
    every: f64,
    set: Vec<(String, f64)>,
) -> PyResult<(Vec<String>, Vec<Vec<f64>>)> {
    use dermasim::models;
    let info = models::find(name).map_err(|e| py_err(py, e.into()))?;
    let mut params = ParameterSet::literature();
    let mut initial = Vec::new();
    for (k, v) in set {
        let pname = if name == "waugh_sherratt2006" && !k.starts_with("ws_") {
            format!("ws_{k}")
        } else {
            k.clone()
        };
        if info.species.contains(&k.as_str()) {
            initial.push((k, v));
        } else if params.param.contains_key(&pname) {
            params.set(&pname, v).map_err(|e| py_err(py, AppError::Core(e.into())))?;
        } else {
            let err = ScenarioError::new_err(format!("{k}: not a parameter or species of {name}"));
            let _ = err.value(py).setattr("path", k);
            return Err(err);
        }
    }
    let tc = compute(py, None, |_| {
        models::run(name, &params, &initial, days, every, dermasim::ode::Tolerance::REFERENCE)
            .map_err(AppError::Core)
    })?;
    Ok((tc.columns, tc.rows))
}

/// A loaded cohort file (every member's scenario checked).
#[pyclass(module = "dermasim._native", name = "Cohort", frozen)]
struct PyCohort {
    inner: Cohort,
}

#[pymethods]
impl PyCohort {
    /// Read and check a cohort file.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<PyCohort> {
        let inner = compute(py, None, |_| Cohort::load(&path))?;
        Ok(PyCohort { inner })
    }

    /// Read a cohort file on a worker: members are checked as their shards run, not all up
    /// front; refused when the file's spec hash is not `expected_hash` (the driver's).
    #[staticmethod]
    fn load_for_worker(py: Python<'_>, path: PathBuf, expected_hash: &str) -> PyResult<PyCohort> {
        let inner = compute(py, None, |_| Cohort::load_for_worker(&path, expected_hash))?;
        Ok(PyCohort { inner })
    }

    /// Members in the cohort.
    #[getter]
    fn members(&self) -> usize {
        self.inner.members()
    }

    /// Shards in the cohort.
    #[getter]
    fn shards(&self) -> usize {
        self.inner.shards()
    }

    /// The spec hash.
    #[getter]
    fn hash(&self) -> String {
        self.inner.hash().to_string()
    }

    /// Protocol names.
    #[getter]
    fn protocols(&self) -> Vec<String> {
        self.inner.protocols()
    }

    /// The `--set` edits that turn protocol `protocol`'s scenario into member `member`.
    fn member_overrides(&self, member: usize, protocol: usize) -> Vec<String> {
        self.inner.member_overrides(member, protocol)
    }

    /// Member `member` under protocol `protocol` as a scenario.
    fn member_scenario(
        &self,
        py: Python<'_>,
        member: usize,
        protocol: usize,
    ) -> PyResult<PyScenario> {
        self.inner
            .member_scenario(member, protocol)
            .map(|prepared| PyScenario { inner: prepared.file() })
            .map_err(|e| py_err(py, e))
    }

    /// Check the folder, write the manifest when new; the shards still to do.
    fn prepare(&self, py: Python<'_>, out: PathBuf) -> PyResult<Vec<usize>> {
        self.inner.prepare(&out, "out").map_err(|e| py_err(py, e))
    }

    /// Whether a shard is complete in `out`.
    fn shard_done(&self, out: PathBuf, shard: usize) -> bool {
        self.inner.shard_done(&out, shard)
    }

    /// Complete shards in `out`.
    fn completed(&self, out: PathBuf) -> usize {
        self.inner.completed(&out)
    }

    /// Run one shard into `out` on `threads` threads (all cores when None); its marker as JSON.
    #[pyo3(signature = (out, shard, threads = None, progress = None))]
    fn run_shard(
        &self,
        py: Python<'_>,
        out: PathBuf,
        shard: usize,
        threads: Option<usize>,
        progress: Option<Bound<'_, PyAny>>,
    ) -> PyResult<String> {
        let marker = compute(py, progress.as_ref(), |w| match threads {
            None => self.inner.run_shard(&out, shard, w),
            Some(n) => {
                let pool = rayon_pool(n)?;
                pool.install(|| self.inner.run_shard(&out, shard, w))
            }
        })?;
        Ok(serde_json::to_string(&marker).expect("serialises"))
    }

    /// The dataset manifest as JSON.
    fn manifest_json(&self) -> String {
        self.inner.manifest().to_string()
    }
}

fn rayon_pool(n: usize) -> Result<std::sync::Arc<rayon_pool::Pool>, AppError> {
    rayon_pool::get(n)
}

/// One thread pool per size, kept for the process (workers run many shards).
mod rayon_pool {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};

    use dermasim_app::AppError;

    pub type Pool = rayon::ThreadPool;

    pub fn get(n: usize) -> Result<Arc<Pool>, AppError> {
        static POOLS: OnceLock<Mutex<HashMap<usize, Arc<Pool>>>> = OnceLock::new();
        if !(1..=256).contains(&n) {
            return Err(AppError::request("threads", format!("{n} is outside 1 to 256")));
        }
        let mut pools = POOLS.get_or_init(Default::default).lock().expect("pool map");
        if let Some(p) = pools.get(&n) {
            return Ok(p.clone());
        }
        let p = Arc::new(
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .map_err(|e| AppError::request("threads", e.to_string()))?,
        );
        pools.insert(n, p.clone());
        Ok(p)
    }
}

/// The extension module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", dermasim_app::VERSION)?;
    m.add("DISCLAIMER", dermasim::DISCLAIMER)?;
    m.add("ScenarioError", m.py().get_type::<ScenarioError>())?;
    m.add("DermasimError", m.py().get_type::<DermasimError>())?;
    m.add_class::<PyScenario>()?;
    m.add_class::<PyRunResult>()?;
    m.add_class::<PyCohort>()?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(deliver_json, m)?)?;
    m.add_function(wrap_pyfunction!(screen_json, m)?)?;
    m.add_function(wrap_pyfunction!(plan_json, m)?)?;
    m.add_function(wrap_pyfunction!(sites_json, m)?)?;
    m.add_function(wrap_pyfunction!(parameters_json, m)?)?;
    m.add_function(wrap_pyfunction!(model_run, m)?)?;
    Ok(())
}

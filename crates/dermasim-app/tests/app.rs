//! The application layer as every front end uses it: the same numbers from the CLI, the
//! library and the Rust examples; cancellation that leaves nothing; sinks that agree.

use dermasim_app::run::{self, RunRequest};
use dermasim_app::{CancelFlag, MemorySink, NoObserver, Observer, Progress, Scenario, Sink};

#[path = "../examples/run_scenario.rs"]
#[allow(dead_code)]
mod run_scenario;

#[path = "../examples/ensemble.rs"]
#[allow(dead_code)]
mod ensemble;

#[path = "../examples/plan.rs"]
#[allow(dead_code)]
mod plan;

fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::from_str(&serde_json::to_string(v).unwrap()).unwrap()
}

#[test]
fn the_run_example_is_the_library_run() {
    let from_example = run_scenario::summary(None);
    let mut scenario = Scenario::default_scenario();
    scenario.patient.age_years = 45.0;
    let from_library = run::run(&RunRequest::new(scenario), &NoObserver).unwrap().summary;
    assert_eq!(json(&from_example), json(&from_library));
}

#[test]
fn the_ensemble_example_has_ordered_bands() {
    let s = ensemble::summary(6);
    for p in &s.timeline {
        let b = |q: &str| p.bands[&format!("collagen_total_rel_{q}")];
        assert!(b("p05") <= b("p50") && b("p50") <= b("p95"), "day {}", p.t_day);
    }
}

#[test]
fn the_plan_example_plans() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/patients/fine_lines_laxity_55.toml");
    let dermasim_app::clinic::PlanOutcome::Planned(report) = plan::outcome(&path) else {
        panic!("this profile is planned")
    };
    assert!(!report.plans.is_empty());
}

/// Cancels after `after` progress calls.
struct CancelAfter {
    flag: CancelFlag,
    after: usize,
    calls: std::sync::atomic::AtomicUsize,
}

impl Observer for CancelAfter {
    fn progress(&self, _: Progress) {
        if self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 >= self.after {
            self.flag.cancel();
        }
    }
    fn cancelled(&self) -> bool {
        self.flag.is_cancelled()
    }
}

#[test]
fn a_cancelled_run_stops_within_a_step_and_leaves_no_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let obs = CancelAfter { flag: CancelFlag::new(), after: 5, calls: Default::default() };
    let e =
        match run::run_to_folder(&RunRequest::new(Scenario::default_scenario()), &out, "out", &obs)
        {
            Ok(_) => panic!("the run was cancelled"),
            Err(e) => e,
        };
    assert!(e.is_cancelled(), "{e}");
    // One progress call per step: the stop came at the step that raised the flag.
    assert_eq!(obs.calls.load(std::sync::atomic::Ordering::SeqCst), 5);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0, "no folder, no staging");

    let mut s = Scenario::default_scenario();
    s.simulation.fidelity = dermasim::Fidelity::Zero;
    let request = RunRequest { ensemble: Some(8), ..RunRequest::new(s) };
    let flag = CancelFlag::new();
    flag.cancel();
    assert!(run::run(&request, &flag).err().is_some_and(|e| e.is_cancelled()));
}

#[test]
fn memory_and_folder_sinks_hold_the_same_files() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = dermasim_app::ScenarioFile::default_scenario();
    // `.vti` snapshots go to a folder piece by piece (`Sink::write_with`), to memory whole.
    s.outputs.write =
        Some(vec![dermasim_app::OutputKind::TimeseriesCsv, dermasim_app::OutputKind::Vti]);
    let request = RunRequest::new(s);
    let mut mem = MemorySink::new();
    run::run_into(&request, &mut mem, &NoObserver).unwrap();
    let (_, path) =
        run::run_to_folder(&request, &tmp.path().join("run"), "out", &NoObserver).unwrap();
    for f in mem.files() {
        assert_eq!(
            std::fs::read(path.join(&f.path)).unwrap(),
            mem.get(&f.path).unwrap(),
            "{}",
            f.path
        );
    }
    assert!(mem.files().iter().any(|f| f.path.ends_with(".vti")), "a snapshot was written");
    let listed: Vec<String> = walkdir(&path).into_iter().filter(|n| n != "manifest.json").collect();
    assert_eq!(listed.len(), mem.files().len());
}

/// Every file under `dir`, as paths relative to it.
fn walkdir(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type().unwrap().is_dir() {
            out.extend(walkdir(&e.path()).into_iter().map(|n| format!("{name}/{n}")));
        } else {
            out.push(name);
        }
    }
    out
}

#[test]
fn requests_out_of_range_name_their_field() {
    let r = RunRequest { ensemble: Some(1), ..RunRequest::new(Scenario::default_scenario()) };
    let e = run::run(&r, &NoObserver).err().unwrap().to_string();
    assert!(e.starts_with("ensemble:") && e.contains("2 to 10000"), "{e}");
}

#[test]
fn the_examples_run_as_documented() {
    // Not `main`: under the test harness the first argument is a test filter, not a file.
    run_scenario::run_with(None);
    ensemble::run_with(None);
    plan::run_with(None);
}

#[test]
fn a_loaded_scenario_runs_on_its_one_preparation() {
    use dermasim_app::scenario::{load, ScenarioSource};
    let source = ScenarioSource {
        overrides: vec!["outputs.snapshot_days=[3, 40]".into()],
        fidelity: Some("0d".into()),
        ..Default::default()
    };
    let prepared = load(&source, &dermasim::ParameterSet::default_set()).unwrap();
    let once = run::run(&RunRequest::prepared(prepared.clone()), &NoObserver).unwrap();
    // The same file checked when the run starts: the same run, bit for bit.
    let checked_at_start = run::run(&RunRequest::new(prepared.file()), &NoObserver).unwrap();
    assert_eq!(json(&once.summary), json(&checked_at_start.summary));
    assert_eq!(once.manifest.scenario_hash, checked_at_start.manifest.scenario_hash);
    assert_eq!(once.scenario, prepared.file());

    // A prepared request is not checked again: prepared against a set whose range admits an
    // override, it runs; the same file as an unchecked request is checked against the
    // default set when it starts, and refused.
    let name = "collagen_synthesis_per_day";
    let mut wide = dermasim::ParameterSet::default_set();
    wide.param.get_mut(name).unwrap().range[1] = 1.0;
    let source = ScenarioSource {
        overrides: vec![format!("parameters.{name}=0.4")],
        fidelity: Some("0d".into()),
        ..Default::default()
    };
    let prepared = load(&source, &wide).unwrap();
    assert!(run::run(&RunRequest::prepared(prepared.clone()), &NoObserver).is_ok());
    let e = run::run(&RunRequest::new(prepared.file()), &NoObserver).err().unwrap().to_string();
    assert!(e.starts_with(&format!("parameters.{name}:")) && e.contains("outside"), "{e}");
}

#[test]
fn field_snapshots_stream_into_the_sink_as_the_run_goes() {
    // A run into a sink writes each `.vti` snapshot when it is taken and keeps none in memory;
    // a run asked to keep them (`capture`) writes them at the end. Same files, same bytes.
    let mut s = dermasim_app::ScenarioFile::default_scenario();
    s.scenario.simulation.fidelity = dermasim::Fidelity::Three;
    s.scenario.simulation.patch_um = [200.0, 200.0];
    s.scenario.simulation.dx_um = 40.0;
    s.scenario.protocol.follow_up_days = 12.0;
    s.scenario.protocol.sessions.truncate(1);
    s.outputs.write = Some(vec![dermasim_app::OutputKind::Vti]);
    s.outputs.snapshot_days = vec![2.0, 5.0, 12.0];
    let streamed_request = RunRequest::new(s.clone());
    let kept_request = RunRequest { capture: true, ..RunRequest::new(s) };
    let (mut streamed, mut kept) = (MemorySink::new(), MemorySink::new());
    let a = run::run_into(&streamed_request, &mut streamed, &NoObserver).unwrap();
    let b = run::run_into(&kept_request, &mut kept, &NoObserver).unwrap();
    let (a, b) = (a.capture.unwrap(), b.capture.unwrap());
    assert!(a.snapshots.is_empty(), "streamed snapshots are not kept");
    let days: Vec<f64> = a.streamed.iter().map(|(d, _)| *d).collect();
    assert_eq!(days, b.snapshots.iter().map(|s| s.t_day).collect::<Vec<_>>());
    assert!(days.len() >= 3, "snapshot days {days:?}");
    let fields = |m: &MemorySink| {
        let mut names: Vec<String> =
            m.files().iter().map(|f| f.path.clone()).filter(|p| p.starts_with("fields/")).collect();
        names.sort();
        names
    };
    assert_eq!(fields(&streamed), fields(&kept));
    assert_eq!(fields(&streamed).len(), days.len() + 1, "one file a day and the .pvd");
    for name in fields(&streamed) {
        assert_eq!(streamed.get(&name), kept.get(&name), "{name}");
    }
}

//! The reliability defects of the first version, each reproduced: every test here failed on
//! the code before the fix (data loss, output choices changing numbers, panics, ranges, ...).

mod common;

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{dermasim, ok};

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn refused(o: &std::process::Output, flag: &str) {
    assert_eq!(o.status.code(), Some(2), "exit 2 expected: {}", stderr(o));
    assert!(stderr(o).contains(flag), "the message names {flag}: {}", stderr(o));
    assert!(!stderr(o).contains("panicked"), "{}", stderr(o));
}

#[test]
fn a_foreign_folder_is_never_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let victim = tmp.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("thesis.txt"), "years of work").unwrap();
    let o = dermasim(&["run", "--outputs", "none", "--out", victim.to_str().unwrap()]);
    refused(&o, "--out");
    assert_eq!(std::fs::read_to_string(victim.join("thesis.txt")).unwrap(), "years of work");
    // Nothing else was left beside it either.
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
}

#[test]
fn the_input_scenario_is_never_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let scenario = input.join("t.toml");
    std::fs::write(&scenario, ok(&["init"]).stdout).unwrap();
    let o = dermasim(&["run", scenario.to_str().unwrap(), "--out", input.to_str().unwrap()]);
    refused(&o, "--out");
    assert!(scenario.exists());
}

#[test]
fn files_devices_and_links_are_refused_as_run_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("notes.txt");
    std::fs::write(&file, "mine").unwrap();
    refused(&dermasim(&["run", "--outputs", "none", "--out", file.to_str().unwrap()]), "--out");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
    #[cfg(unix)]
    {
        refused(&dermasim(&["run", "--outputs", "none", "--out", "/dev/null"]), "--out");
        assert!(!std::fs::metadata("/dev/null").unwrap().is_dir(), "/dev/null is still a device");
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(tmp.path(), &link).unwrap();
        refused(&dermasim(&["run", "--outputs", "none", "--out", link.to_str().unwrap()]), "--out");
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    }
    let foreign = tmp.path().join("report");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("keep.md"), "x").unwrap();
    refused(&dermasim(&["validate", "--report", foreign.to_str().unwrap()]), "--report");
    assert!(foreign.join("keep.md").exists());
}

#[test]
fn empty_folders_and_earlier_run_folders_are_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    std::fs::create_dir(&out).unwrap();
    ok(&["run", "--outputs", "none", "--out", out.to_str().unwrap()]);
    assert!(out.join("summary.json").exists());
    ok(&["run", "--outputs", "timeseries_csv", "--out", out.to_str().unwrap()]);
    assert!(out.join("timeseries.csv").exists());
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1, "no old or staging folder left");
}

#[test]
fn stale_staging_folders_of_dead_runs_are_cleaned() {
    let tmp = tempfile::tempdir().unwrap();
    // A killed run's staging folder (no process can have this id).
    let stale = tmp.path().join(".run.tmp-999999999");
    std::fs::create_dir(&stale).unwrap();
    std::fs::write(stale.join("summary.json"), "{}").unwrap();
    ok(&["run", "--outputs", "none", "--out", tmp.path().join("run").to_str().unwrap()]);
    assert!(!stale.exists());
}

#[test]
fn an_unwritable_out_fails_before_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("plain");
    std::fs::write(&file, "").unwrap();
    // A folder inside a file can never be made.
    let o = dermasim(&["run", "--out", file.join("run").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot write"), "{}", stderr(&o));
}

#[cfg(unix)]
#[test]
fn plan_writes_through_links_and_into_devices() {
    let tmp = tempfile::tempdir().unwrap();
    let real = tmp.path().join("real.md");
    std::fs::write(&real, "old").unwrap();
    let link = tmp.path().join("handout.md");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let profile = "../../examples/patients/fine_lines_laxity_55.toml";
    ok(&["plan", profile, "--members", "4", "--markdown", link.to_str().unwrap()]);
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert!(std::fs::read_to_string(&real).unwrap().contains("dermasim"));
    ok(&["plan", profile, "--members", "4", "--markdown", "/dev/null"]);
    assert!(!std::fs::metadata("/dev/null").unwrap().is_file());
}

#[test]
fn output_choices_do_not_change_the_numbers() {
    // Snapshot days off the output grid: the single run and the ensemble's central run agree.
    let set = ["--set", "outputs.snapshot_days=[1.37, 20.5, 33.3]", "--fidelity", "0d"];
    let single = ok(&[&["run", "--json"][..], &set].concat());
    let ens = ok(&[&["run", "--json", "--ensemble", "3"][..], &set].concat());
    let a: serde_json::Value = serde_json::from_slice(&single.stdout).unwrap();
    let b: serde_json::Value = serde_json::from_slice(&ens.stdout).unwrap();
    let (ta, tb) = (a["timeline"].as_array().unwrap(), b["timeline"].as_array().unwrap());
    assert_eq!(ta.len(), tb.len());
    for (p, q) in ta.iter().zip(tb) {
        for (k, v) in p.as_object().unwrap() {
            assert_eq!(v, &q[k], "{k} at day {}", p["t_day"]);
        }
    }
    // And the small ensemble is flagged.
    assert!(stderr(&ens).contains("only 3 ensemble members"), "{}", stderr(&ens));
    assert!(b["notes"].to_string().contains("only 3 ensemble members"));
}

#[test]
fn parameter_overrides_outside_their_ranges_are_refused_unless_allowed() {
    for bad in [
        "parameters.papillary_collagen_iii_share=1e308",
        "parameters.papillary_fraction_of_dermis=1e308",
        "parameters.collagen_synthesis_per_day=5",
    ] {
        let o = dermasim(&["run", "--fidelity", "0d", "--set", bad]);
        let name = bad.split('=').next().unwrap();
        refused(&o, name);
        assert!(stderr(&o).contains("allowed range"), "{}", stderr(&o));
        assert!(o.stdout.is_empty(), "no partial output");
    }
    let o = ok(&[
        "run",
        "--json",
        "--fidelity",
        "0d",
        "--allow-outside-range",
        "--set",
        "parameters.collagen_synthesis_per_day=0.5",
    ]);
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(s["notes"].to_string().contains("collagen_synthesis_per_day = 0.5"), "{}", s["notes"]);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("NaN"));
}

#[test]
fn nan_and_inf_in_a_file_name_their_field() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("s.toml");
    let text = String::from_utf8(ok(&["init"]).stdout).unwrap();
    let text = text.replace("age_years = 35", "age_years = nan");
    assert!(text.contains("nan"));
    std::fs::write(&f, text).unwrap();
    refused(&dermasim(&["run", f.to_str().unwrap()]), "patient.age_years");
}

#[test]
fn a_closed_stdout_ends_quietly() {
    for args in [&["schema"][..], &["run", "--fidelity", "0d"][..], &["sites"][..]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dermasim"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        // The reader is gone (as with `| head -1`).
        let out = child.wait_with_output().unwrap();
        assert!(!first.is_empty());
        assert!(!stderr(&out).contains("panicked"), "{args:?}: {}", stderr(&out));
        assert_ne!(out.status.code(), Some(101), "{args:?}");
    }
}

#[test]
fn report_of_an_empty_timeline_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    ok(&["run", "--outputs", "none", "--out", out.to_str().unwrap()]);
    let path = out.join("summary.json");
    let mut s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    s["timeline"] = serde_json::json!([]);
    std::fs::write(&path, s.to_string()).unwrap();
    let o = dermasim(&["report", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("timeline is empty"), "{}", stderr(&o));
}

fn checkpoint_of(out: &Path) -> std::path::PathBuf {
    dermasim_app::run::checkpoint_path(out)
}

#[test]
fn edited_or_damaged_checkpoints_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    // A checkpoint as an interrupted run leaves it.
    let scenario = dermasim::Scenario::default_scenario();
    let mut sim =
        dermasim::Simulation::new(&scenario, &dermasim::ParameterSet::default_set()).unwrap();
    let mut saved = None;
    sim.run(&mut |s| {
        // Day 56 is a session, where a step ends (the session itself comes after).
        if saved.is_none() && s.time() >= 56.0 {
            saved = Some(s.checkpoint());
        }
    })
    .unwrap();
    let bytes = saved.unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = String::from_utf8(bytes[8..8 + n].to_vec()).unwrap();
    for (from, to) in [("\"sessions_done\":2", "\"sessions_done\":9"), ("\"t\":56.0", "\"t\":-5.0")]
    {
        let mut edited = bytes.clone();
        let h = header.replacen(from, to, 1);
        assert_ne!(h, header, "{from} is in the header");
        assert_eq!(h.len(), header.len(), "same length keeps the layout");
        edited[8..8 + n].copy_from_slice(h.as_bytes());
        std::fs::write(checkpoint_of(&out), &edited).unwrap();
        let o = dermasim(&["run", "--outputs", "none", "--resume", "--out", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("checksum"), "{}", stderr(&o));
        assert!(!out.exists(), "no folder from a refused resume");
    }
}

#[test]
fn checkpoint_names_keep_the_whole_folder_name() {
    let a = checkpoint_of(Path::new("runs/depth_1.5"));
    let b = checkpoint_of(Path::new("runs/depth_1.0"));
    assert_ne!(a, b);
    assert_eq!(a, Path::new("runs/depth_1.5.checkpoint"));
}

#[test]
fn resumed_runs_say_what_their_folder_lacks() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    // Which files are written is not part of the checkpoint (the default snapshot days are).
    let scenario = dermasim::Scenario::default_scenario();
    let mut sim =
        dermasim::Simulation::new(&scenario, &dermasim::ParameterSet::default_set()).unwrap();
    let mut saved = None;
    sim.run(&mut |s| {
        if saved.is_none() && s.time() >= 30.0 {
            saved = Some(s.checkpoint());
        }
    })
    .unwrap();
    std::fs::write(checkpoint_of(&out), saved.unwrap()).unwrap();
    ok(&["run", "--outputs", "profiles,report", "--resume", "--out", out.to_str().unwrap()]);
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert!(m["resumed_from_day"].as_f64().unwrap() >= 30.0);
    assert!(m["warnings"].to_string().contains("not in this run folder"));
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("not in this run folder"), "the report says so too");
    assert!(!checkpoint_of(&out).exists(), "the finished run removes its checkpoint");
}

#[test]
fn small_mistakes_get_clear_answers() {
    // --threads far beyond any machine: refused at once, not a hang.
    let o = dermasim(&["--threads", "100000", "sites"]);
    refused(&o, "--threads");
    // An error's cause is printed once.
    let o = dermasim(&["run", "no/such/file.toml"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert_eq!(e.matches("No such file").count(), 1, "{e}");
}

#[test]
fn plan_depth_limits_name_the_profile_field() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string("../../examples/patients/home_roller_1_5mm.toml").unwrap();
    let f = tmp.path().join("p.toml");
    std::fs::write(&f, text.replace("requested_depth_mm = 1.5", "requested_depth_mm = 0.05"))
        .unwrap();
    let o = dermasim(&["plan", f.to_str().unwrap(), "--members", "4"]);
    refused(&o, "concerns.0.requested_depth_mm");
    assert!(!stderr(&o).contains("device."), "no internal field: {}", stderr(&o));
}

//! The `dermasim` binary as users call it: examples, output contract, bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dermasim"))
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn check_summary_contract(v: &serde_json::Value) {
    for key in [
        "punctures_per_cm2",
        "effective_depth_um",
        "bleeding",
        "timeline",
        "sessions",
        "parameter_set",
        "disclaimer",
    ] {
        assert!(v.get(key).is_some(), "summary lacks {key}");
    }
    let tl = v["timeline"].as_array().unwrap();
    assert!(tl.len() > 10);
    let mut last = -1.0;
    for p in tl {
        let t = p["t_day"].as_f64().unwrap();
        assert!(t > last, "timeline must be ordered by t_day");
        last = t;
        for k in [
            "collagen_i_rel",
            "collagen_iii_rel",
            "collagen_total_rel",
            "elastin_rel",
            "epidermis_thickness_rel",
            "fibroblasts_rel",
            "neutrophils",
            "macrophages",
        ] {
            let x = p[k].as_f64().unwrap_or_else(|| panic!("{k} missing at t={t}"));
            assert!(x.is_finite() && x >= 0.0, "{k} = {x}");
        }
    }
    // 1.0 means unchanged: the first point is before any treatment.
    assert_eq!(tl[0]["collagen_total_rel"].as_f64().unwrap(), 1.0);
}

#[test]
fn every_example_runs_with_json() {
    let dir = root().join("examples");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let mut run = bin();
            run.arg("run").arg(&path).arg("--json");
            // A 3d example's own patch takes minutes here; a smaller one runs the same code.
            if std::fs::read_to_string(&path).unwrap().contains("fidelity = \"3d\"") {
                run.args(["--set", "simulation.patch_um=[500,500]"]);
            }
            let v: serde_json::Value = serde_json::from_str(&ok(run.output().unwrap())).unwrap();
            check_summary_contract(&v);
            n += 1;
        }
    }
    assert!(
        n >= 8,
        "expected the default, four issue examples and three delivery examples, found {n}"
    );
}

#[test]
fn default_run_prints_a_table_and_the_disclaimer() {
    let text = ok(bin().arg("run").output().unwrap());
    assert!(text.contains("timeline") && text.contains("coll tot"));
    assert!(text.contains("not a medical device"));
}

#[test]
fn out_writes_the_run_folder_contract() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run1");
    ok(bin().args(["run", "--fidelity", "0d", "--out"]).arg(&out).output().unwrap());
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    for k in ["version", "scenario_hash", "seed", "fidelity", "threads", "wall_time_s"] {
        assert!(manifest.get(k).is_some(), "manifest lacks {k}");
    }
    assert_eq!(manifest["fidelity"], "0d");
    let listed: Vec<String> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    let present: Vec<String> = common::files_in(&out).into_iter().collect();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(sorted, present, "the manifest must list exactly the files in the folder");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    check_summary_contract(&summary);
    let csv = std::fs::read_to_string(out.join("timeseries.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(header.starts_with("t_day,collagen_i_rel"), "{header}");
    assert_eq!(csv.lines().count(), summary["timeline"].as_array().unwrap().len() + 1);
}

#[test]
fn same_seed_same_summary_across_thread_counts() {
    let run = |threads: &str| {
        ok(bin()
            .args(["--threads", threads, "run", "--json", "--fidelity", "0d"])
            .output()
            .unwrap())
    };
    assert_eq!(run("1"), run("2"));
}

#[test]
fn set_overrides_fields_with_the_same_validation() {
    let v: serde_json::Value = serde_json::from_str(&ok(bin()
        .args(["run", "--json", "--fidelity", "0d", "--set", "patient.site=forehead"])
        .output()
        .unwrap()))
    .unwrap();
    assert_eq!(v["site"], "forehead");
}

fn fails_naming(args: &[&str], field: &str, tmp: &Path) {
    let out_dir = tmp.join("should_not_exist");
    let out = bin().args(args).arg("--out").arg(&out_dir).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} should fail");
    assert!(err.contains(field), "{args:?}: error should name {field}: {err}");
    assert!(!out_dir.exists(), "no run folder may be left behind");
    assert!(
        std::fs::read_dir(tmp).unwrap().next().is_none(),
        "no temporary folder may be left behind"
    );
}

#[test]
fn bad_input_names_the_field_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    fails_naming(&["run", "/nonexistent/scenario.toml"], "cannot read", t);
    fails_naming(&["run", "--set", "patient.site=elbow"], "patient.site", t);
    fails_naming(&["run", "--set", "patient.age_years=-3"], "patient.age_years", t);
    fails_naming(&["run", "--set", "device.depth_mm=4.0"], "device.depth_mm", t);
    fails_naming(&["run", "--set", "device.passes=-1"], "device.passes", t);
    fails_naming(&["run", "--set", "protocol.sessions.2.day=400"], "protocol.sessions.2.day", t);
    fails_naming(
        &[
            "run",
            "--set",
            "patient.site=periorbital",
            "--set",
            "device.depth_mm=2.5",
            "--set",
            "device.penetration_efficiency=0.9",
        ],
        "deeper than the whole skin",
        t,
    );
    fails_naming(&["run", "--fidelity", "2d"], "--fidelity", t);
    let bad = t.join("bad.toml");
    std::fs::write(&bad, "[patient\nsite = ").unwrap();
    let out = bin().arg("run").arg(&bad).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid TOML"));
}

#[test]
fn init_prints_scenarios_that_run() {
    let tmp = tempfile::tempdir().unwrap();
    for name in [
        "default",
        "acne_scars_cheek",
        "fine_lines_forehead",
        "home_roller",
        "stretch_marks_abdomen",
        "delivery_vitamin_c_pen",
    ] {
        let text = ok(bin().args(["init", name]).output().unwrap());
        let f = tmp.path().join(format!("{name}.toml"));
        std::fs::write(&f, text).unwrap();
        ok(bin().arg("run").arg(&f).args(["--fidelity", "0d", "--json"]).output().unwrap());
    }
    assert!(!bin().args(["init", "nope"]).output().unwrap().status.success());
}

#[test]
fn schema_sites_and_models_answer() {
    let schema: serde_json::Value =
        serde_json::from_str(&ok(bin().arg("schema").output().unwrap())).unwrap();
    assert!(schema["properties"]["patient"].is_object());
    let sites = ok(bin().arg("sites").output().unwrap());
    for s in [
        "forehead",
        "glabella",
        "periorbital",
        "nose",
        "cheek",
        "chin",
        "upper_lip",
        "neck",
        "decolletage",
        "abdomen",
        "thigh",
        "upper_arm",
        "back",
    ] {
        assert!(sites.contains(s), "sites lacks {s}");
    }
    let csv = ok(bin()
        .args(["model", "run", "cooper2015", "--days", "20", "--every", "0.1", "--format", "csv"])
        .output()
        .unwrap());
    assert_eq!(csv.lines().next().unwrap(), "t_day,P,Pt,N,M");
    assert_eq!(csv.lines().count(), 202);
    let ws = ok(bin()
        .args([
            "model",
            "run",
            "waugh_sherratt2006",
            "--days",
            "10",
            "--every",
            "1",
            "--format",
            "json",
        ])
        .output()
        .unwrap());
    let v: serde_json::Value = serde_json::from_str(&ws).unwrap();
    assert_eq!(v["rows"].as_array().unwrap().len(), 11);
    assert!(v["rows"][0].get("phiI").is_some());
}

#[test]
fn checkpoint_resume_gives_the_same_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let whole = ok(bin()
        .args(["run", "--json", "--outputs", "none", "--out"])
        .arg(tmp.path().join("a"))
        .output()
        .unwrap());
    // Leave a checkpoint as an interrupted run would, then resume from it.
    let out = tmp.path().join("b");
    ok(bin()
        .args(["run", "--json", "--outputs", "none", "--checkpoint-every", "30", "--out"])
        .arg(&out)
        .output()
        .unwrap());
    assert!(!out.with_extension("checkpoint").exists(), "a finished run removes its checkpoint");
    // The scenario and stepping exactly as `run --outputs none` builds them.
    let scenario = dermasim::Scenario::default_scenario();
    let days = dermasim_io::Outputs::default().days(&scenario.protocol);
    let opts = dermasim_report::Capture::options(&days);
    let mut sim =
        dermasim::Simulation::with_options(&scenario, &dermasim::ParameterSet::default_set(), opts)
            .unwrap();
    let mut saved = None;
    sim.run(&mut |s| {
        if saved.is_none() && s.time() >= 60.0 {
            saved = Some(s.checkpoint());
        }
    })
    .unwrap();
    std::fs::write(out.with_extension("checkpoint"), saved.unwrap()).unwrap();
    let resumed = bin()
        .args(["run", "--json", "--outputs", "none", "--resume", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&resumed.stderr).contains("resumed from day"));
    assert_eq!(whole, ok(resumed));
    assert!(
        !bin().args(["run", "--resume"]).output().unwrap().status.success(),
        "--resume without --out is an error"
    );
}

#[test]
fn bench_cases_report_time_and_peak_memory_as_json() {
    // The child-process protocol of `dermasim bench` (the full benchmark is too slow for tests).
    let out =
        ok(bin().args(["--threads", "1", "bench", "--case", "e2e:0d:1000:25"]).output().unwrap());
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["fidelity"], "0d");
    assert_eq!(v["threads"], 1);
    assert!(v["wall_s"].as_f64().unwrap() > 0.0);
    assert!(v["steps"].as_u64().unwrap() > 100);
    if cfg!(target_os = "linux") {
        assert!(v["peak_rss_mb"].as_f64().unwrap() > 0.0);
    }
    let out = ok(bin().args(["bench", "--case", "biofvm:1:2"]).output().unwrap());
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        v["updates_per_s"].as_f64().unwrap() > 0.0
            && v["bytes_per_voxel_species"].as_f64().unwrap() >= 8.0
    );
    let bad = bin().args(["bench", "--case", "nonsense"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("error: unknown bench case"));
}

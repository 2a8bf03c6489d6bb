//! `dermasim run --outputs`, the scenario's `[outputs]` table and `dermasim report DIR`, end
//! to end through the binary.

use std::collections::BTreeSet;

mod common;
use common::{checked_files, dermasim, ok};

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn outputs_flag_chooses_the_files_and_the_manifest_follows() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |name: &str, outputs: Option<&str>| {
        let dir = tmp.path().join(name);
        let mut args = vec!["run", "--out", dir.to_str().unwrap()];
        if let Some(o) = outputs {
            args.extend(["--outputs", o]);
        }
        ok(&args);
        checked_files(&dir)
    };
    let fixed = set(&["manifest.json", "scenario.json", "summary.json"]);
    assert_eq!(run("none", Some("none")), fixed);
    let mut csv = fixed.clone();
    csv.insert("timeseries.csv".into());
    assert_eq!(run("csv", Some("timeseries_csv")), csv);
    let some = run("some", Some("timeseries_csv, timeseries_parquet,plots_svg"));
    assert!(
        csv.is_subset(&some)
            && some.contains("timeseries.parquet")
            && some.contains("plots/timeline.svg")
    );
    assert!(!some.iter().any(|f| f.ends_with(".png") || f == "report.html"));
    let default = run("default", None);
    assert!(some.is_subset(&default) && default.len() > some.len());
    for f in [
        "report.html",
        "profiles.csv",
        "parameters.json",
        "plots/timeline.png",
        "plots/cells.svg",
        "plots/depth_profiles.svg",
        "plots/punctures.png",
    ] {
        assert!(default.contains(f), "{f} missing from the default outputs");
    }
    assert!(!default.iter().any(|f| f.starts_with("fields/")), "no .vti by default at 1d");
    // The scenario records the selection it ran with.
    let scenario: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("csv/scenario.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(scenario["outputs"]["write"], serde_json::json!(["timeseries_csv"]));
}

#[test]
fn bad_output_names_and_days_are_errors_with_no_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let out = dermasim(&["run", "--out", dir.to_str().unwrap(), "--outputs", "timeseries_csv,pdf"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--outputs") && err.contains("`pdf`") && err.contains("plots_png"),
        "{err}"
    );
    let out = dermasim(&[
        "run",
        "--out",
        dir.to_str().unwrap(),
        "--set",
        "outputs.snapshot_days=[1, 400]",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("outputs.snapshot_days.1") && err.contains("180"), "{err}");
    let out =
        dermasim(&["run", "--out", dir.to_str().unwrap(), "--set", "outputs.write=[\"svg\"]"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("outputs.write"));
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0, "no partial output");
}

#[test]
fn scenario_outputs_table_is_honoured_and_the_flag_overrides_it() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("s.toml");
    let text = String::from_utf8(ok(&["init"]).stdout).unwrap();
    std::fs::write(
        &file,
        format!("{text}\n[outputs]\nwrite = [\"timeseries_parquet\"]\nsnapshot_days = [3, 10]\n"),
    )
    .unwrap();
    let a = tmp.path().join("a");
    ok(&["run", file.to_str().unwrap(), "--out", a.to_str().unwrap()]);
    assert_eq!(
        checked_files(&a),
        set(&["manifest.json", "scenario.json", "summary.json", "timeseries.parquet"])
    );
    let b = tmp.path().join("b");
    ok(&["run", file.to_str().unwrap(), "--out", b.to_str().unwrap(), "--outputs", "profiles"]);
    assert_eq!(
        checked_files(&b),
        set(&["manifest.json", "profiles.csv", "scenario.json", "summary.json"])
    );
    let profiles = std::fs::read_to_string(b.join("profiles.csv")).unwrap();
    let days: BTreeSet<&str> =
        profiles.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(days, ["10", "3"].into_iter().collect());
}

#[test]
fn report_command_rebuilds_the_page_from_the_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    ok(&["run", "--out", dir.to_str().unwrap(), "--outputs", "report", "--ensemble", "3"]);
    let first = std::fs::read(dir.join("report.html")).unwrap();
    let before = checked_files(&dir);
    ok(&["report", dir.to_str().unwrap()]);
    assert_eq!(
        std::fs::read(dir.join("report.html")).unwrap(),
        first,
        "the same page from the folder alone"
    );
    assert_eq!(checked_files(&dir), before);

    // A folder written without the page gets one, and the manifest lists it.
    let bare = tmp.path().join("bare");
    ok(&["run", "--out", bare.to_str().unwrap(), "--outputs", "profiles,parameters"]);
    ok(&["report", bare.to_str().unwrap()]);
    assert!(checked_files(&bare).contains("report.html"));

    let out = dermasim(&["report", tmp.path().join("missing").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("manifest.json"));
}

#[test]
fn three_d_runs_write_vti_snapshots_and_a_cross_section() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    ok(&[
        "run",
        "--out",
        dir.to_str().unwrap(),
        "--fidelity",
        "3d",
        "--set",
        "simulation.patch_um=[150, 150]",
        "--set",
        "simulation.dx_um=50",
        "--set",
        "simulation.dz_um=100",
        "--set",
        "protocol.sessions=[{day = 0}]",
        "--set",
        "protocol.follow_up_days=5",
        "--outputs",
        "vti,plots_svg",
        "--set",
        "outputs.snapshot_days=[0.5, 5]",
    ]);
    let files = checked_files(&dir);
    for f in [
        "fields/day_0000.5.vti",
        "fields/day_0005.vti",
        "fields/snapshots.pvd",
        "plots/cross_section.svg",
        "plots/depth_profiles.svg",
    ] {
        assert!(files.contains(f), "{f} missing from {files:?}");
    }
    assert!(!files.contains("profiles.csv"), "depth data are only written when asked for");
}

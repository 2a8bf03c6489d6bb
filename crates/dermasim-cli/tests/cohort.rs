//! `dermasim cohort`: a small cohort end to end, slices that compose, members equal to single
//! runs, and folders dermasim did not make left alone.

mod common;

use common::{dermasim, files_in, ok};

const SPEC: &str = r#"
seed = 3
members = 6
shard_size = 2
fidelity = "0d"
[[protocol]]
name = "pen"
set = ["protocol.sessions=[{day=0}]", "protocol.follow_up_days=20"]
[population]
"patient.age_years" = { uniform = [30, 60] }
"patient.sex" = { choice = ["female", "male"] }
"#;

#[test]
fn cohort_runs_resumes_and_matches_single_runs() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("c.toml");
    std::fs::write(&spec, SPEC).unwrap();
    let (s, whole, sliced) =
        (spec.to_str().unwrap(), dir.path().join("whole"), dir.path().join("sliced"));
    let out = ok(&["cohort", s, "--out", whole.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 of 3 shards complete"));
    for i in ["0/2", "1/2"] {
        ok(&["cohort", s, "--out", sliced.to_str().unwrap(), "--shard", i]);
    }
    let files = files_in(&whole);
    assert_eq!(files, files_in(&sliced));
    assert!(files.contains("members/shard=00002/part.parquet"));
    assert!(files.contains("_shards/00000.json"));
    for f in &files {
        assert_eq!(std::fs::read(whole.join(f)).unwrap(), std::fs::read(sliced.join(f)).unwrap());
    }
    // A rerun finds every shard complete and changes nothing.
    let err = ok(&["cohort", s, "--out", whole.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&err.stderr).contains("3 of 3 shards already complete"));
    // Member 4 as a scenario, run on its own.
    let scen = ok(&["cohort", s, "--member", "4"]).stdout;
    let path = dir.path().join("m4.json");
    std::fs::write(&path, scen).unwrap();
    let summary: serde_json::Value =
        serde_json::from_slice(&ok(&["run", path.to_str().unwrap(), "--json"]).stdout).unwrap();
    let marker: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(whole.join("_shards/00002.json")).unwrap())
            .unwrap();
    assert_eq!(marker["members"], serde_json::json!([4, 6]));
    assert_eq!(summary["fidelity"], "0d");
}

#[test]
fn foreign_folders_and_bad_slices_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("c.toml");
    std::fs::write(&spec, SPEC).unwrap();
    let victim = dir.path().join("thesis");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("ch1.tex"), "x").unwrap();
    let out = dermasim(&["cohort", spec.to_str().unwrap(), "--out", victim.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("did not write"));
    assert_eq!(files_in(&victim).len(), 1);
    let out = dermasim(&["cohort", spec.to_str().unwrap(), "--out", "x", "--shard", "2/2"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--shard"));
}

#[test]
fn a_rerun_clears_what_a_killed_shard_left_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("c.toml");
    std::fs::write(&spec, SPEC).unwrap();
    let (s, out) = (spec.to_str().unwrap(), dir.path().join("ds"));
    ok(&["cohort", s, "--out", out.to_str().unwrap()]);
    let clean = files_in(&out);
    // Shard 1 killed while writing its marker and a table; shard 2's marker write (maybe in
    // another process) still in flight.
    std::fs::remove_file(out.join("_shards/00001.json")).unwrap();
    let left = [
        "_shards/.dermasim-00001.json-k1Ll3d.tmp",
        "members/shard=00001/.dermasim-part.parquet-k1Ll3d.tmp",
    ];
    let in_flight = "_shards/.dermasim-00002.json-w0rk1n.tmp";
    for f in left.iter().chain([&in_flight]) {
        std::fs::write(out.join(f), "half").unwrap();
    }
    let err = ok(&["cohort", s, "--out", out.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&err.stdout).contains("3 of 3 shards complete"));
    let mut want = clean.clone();
    want.insert(in_flight.to_string());
    assert_eq!(files_in(&out), want);
}

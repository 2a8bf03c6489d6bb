//! Helpers shared by the CLI integration tests (each test file uses some of them).
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

/// Run the binary.
pub fn dermasim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dermasim")).args(args).output().expect("the binary runs")
}

/// Run the binary and require success.
pub fn ok(args: &[&str]) -> Output {
    let out = dermasim(args);
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// Every file below `dir`, as paths relative to it with `/` separators.
pub fn files_in(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out
}

/// The folder's files, after checking that the manifest lists exactly them with their sizes;
/// also returns the manifest.
pub fn checked_files_and_manifest(dir: &Path) -> (BTreeSet<String>, serde_json::Value) {
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let listed = m["files"].as_array().unwrap();
    let names: BTreeSet<String> =
        listed.iter().map(|f| f["path"].as_str().unwrap().to_string()).collect();
    assert_eq!(names.len(), listed.len(), "no file listed twice");
    let on_disk = files_in(dir);
    assert_eq!(names, on_disk, "manifest of {}", dir.display());
    for f in listed.iter().filter(|f| f["path"] != "manifest.json") {
        assert_eq!(
            f["bytes"].as_u64().unwrap(),
            std::fs::metadata(dir.join(f["path"].as_str().unwrap())).unwrap().len()
        );
        assert!(!f["description"].as_str().unwrap().is_empty());
    }
    (on_disk, m)
}

/// As `checked_files_and_manifest`, files only.
pub fn checked_files(dir: &Path) -> BTreeSet<String> {
    checked_files_and_manifest(dir).0
}

//! Bit-identity guard for restructuring: the summary of every shipped example at 0d, 1d and 3d
//! must hash to what was recorded. A deliberate model change re-records them with
//! `DERMASIM_BLESS=1 cargo test -p dermasim-cli --test golden` and says so in its commit.
//!
//! Recorded first from the version before the application layer was introduced (all 24
//! summaries were byte-identical after it), then re-recorded only for model changes.

mod common;

use sha2::{Digest, Sha256};

const RECORD: &str = "tests/golden/summaries.sha256";

fn cases() -> Vec<(String, &'static str)> {
    let mut names: Vec<String> = std::fs::read_dir("../../examples")
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names.into_iter().flat_map(|n| ["0d", "1d", "3d"].map(|f| (n.clone(), f))).collect()
}

fn summary_hash(name: &str, fidelity: &str) -> String {
    let file = format!("../../examples/{name}.toml");
    let mut args = vec!["run", &file, "--json", "--fidelity", fidelity];
    if fidelity == "3d" {
        args.extend(["--set", "simulation.patch_um=[300,300]", "--set", "simulation.dx_um=50"]);
    }
    let out = common::ok(&args);
    Sha256::digest(&out.stdout).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn every_example_summary_is_bit_identical_to_the_record() {
    let now: Vec<String> =
        cases().iter().map(|(n, f)| format!("{n} {f} {}", summary_hash(n, f))).collect();
    if std::env::var_os("DERMASIM_BLESS").is_some() {
        std::fs::write(RECORD, now.join("\n") + "\n").unwrap();
        return;
    }
    let recorded = std::fs::read_to_string(RECORD).expect("the record exists");
    let recorded: Vec<&str> = recorded.lines().collect();
    assert_eq!(recorded.len(), now.len(), "one line per example and fidelity");
    let changed: Vec<&String> = now.iter().filter(|l| !recorded.contains(&l.as_str())).collect();
    assert!(changed.is_empty(), "summaries changed: {changed:#?}");
}

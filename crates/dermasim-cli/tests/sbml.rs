//! `dermasim sbml run|info|conformance`.

mod common;

use std::path::PathBuf;

use common::{dermasim, ok};

fn data(name: &str) -> String {
    let p =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dermasim-sbml/tests/data").join(name);
    p.to_string_lossy().into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn run_prints_csv_matching_the_builtin_model() {
    let cooper = data("BIOMD0000000855.xml");
    let sbml = stdout(&ok(&[
        "sbml", "run", &cooper, "--end", "4", "--every", "1", "--rtol", "1e-11", "--atol", "1e-13",
    ]));
    let builtin = stdout(&ok(&["model", "run", "cooper2015", "--days", "4", "--every", "1"]));
    let mut lines = sbml.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(&header[..5], &["time", "P", "Pt", "M", "N"]);
    let mut blines = builtin.lines();
    let bheader: Vec<&str> = blines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<f64>> =
        lines.map(|l| l.split(',').map(|v| v.parse().unwrap()).collect()).collect();
    let brows: Vec<Vec<f64>> =
        blines.map(|l| l.split(',').map(|v| v.parse().unwrap()).collect()).collect();
    assert_eq!(rows.len(), 5);
    assert_eq!(rows.len(), brows.len());
    for (r, b) in rows.iter().zip(&brows) {
        for id in ["P", "Pt", "N", "M"] {
            let x = r[header.iter().position(|h| *h == id).unwrap()];
            let y = b[bheader.iter().position(|h| *h == id).unwrap()];
            assert!((x - y).abs() <= 1e-6 * y.abs() + 1e-10, "{id} at {}: {x} vs {y}", r[0]);
        }
    }
    // Deterministic: the same command prints the same bytes.
    let again = stdout(&ok(&[
        "sbml", "run", &cooper, "--end", "4", "--every", "1", "--rtol", "1e-11", "--atol", "1e-13",
    ]));
    assert_eq!(sbml, again);
}

#[test]
fn run_json_and_set() {
    let waugh = data("BIOMD0000000680.xml");
    let base =
        stdout(&ok(&["sbml", "run", &waugh, "--end", "10", "--every", "5", "--format", "json"]));
    let v: serde_json::Value = serde_json::from_str(&base).unwrap();
    assert_eq!(v["rows"].as_array().unwrap().len(), 3);
    assert_eq!(v["rows"][0]["T"], 6.0);
    let set = stdout(&ok(&[
        "sbml",
        "run",
        &waugh,
        "--end",
        "10",
        "--every",
        "5",
        "--format",
        "json",
        "--set",
        "alpha=0.5",
        "--set",
        "T=8",
    ]));
    let w: serde_json::Value = serde_json::from_str(&set).unwrap();
    assert_eq!(w["rows"][0]["T"], 8.0);
    assert_ne!(w["rows"][2]["phi_I"], v["rows"][2]["phi_I"]);
}

#[test]
fn bad_input_is_refused_naming_it() {
    let cooper = data("BIOMD0000000855.xml");
    for (args, needle) in [
        (
            vec!["sbml", "run", cooper.as_str(), "--end", "1", "--every", "1", "--set", "nope=1"],
            "nope",
        ),
        (
            vec!["sbml", "run", cooper.as_str(), "--end", "1", "--every", "1", "--set", "fi2=1"],
            "fi2",
        ),
        (vec!["sbml", "run", cooper.as_str(), "--end", "1", "--every", "0"], "--every"),
        (vec!["sbml", "run", "/nonexistent.xml", "--end", "1", "--every", "1"], "nonexistent"),
    ] {
        let out = dermasim(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.xml");
    std::fs::write(&bad, "<sbml level=\"3\" version=\"2\"><model id=\"m\">").unwrap();
    let out = dermasim(&["sbml", "info", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("malformed"));
}

#[test]
fn info_outlines_a_refused_file_and_says_why() {
    let case = data("suite/01124/01124-sbml-l3v2.xml");
    let out = dermasim(&["sbml", "info", &case]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("SBML Level 3 Version"), "{text}");
    assert!(text.contains("listOfParameters ("), "{text}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not supported") && err.contains("comp"), "{err}");
}

#[test]
fn info_lists_the_model() {
    let out = stdout(&ok(&["sbml", "info", &data("BIOMD0000000855.xml")]));
    assert!(out.contains("SBML Level 2 Version 4"), "{out}");
    assert!(out.contains("species (4)"), "{out}");
    assert!(out.contains("reactions (12)"), "{out}");
    assert!(out.contains("supported: yes. 4 state(s)"), "{out}");
}

#[test]
fn conformance_runs_the_subset_and_writes_the_table() {
    let suite = data("suite");
    let out = stdout(&ok(&["sbml", "conformance", &suite]));
    assert!(out.contains("| passed | 95 |"), "{out}");
    assert!(out.contains("| failed | 0 |"), "{out}");
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("t.md");
    std::fs::write(&md, "# T\n\n<!-- conformance:begin -->\nold\n<!-- conformance:end -->\ntail\n")
        .unwrap();
    ok(&["sbml", "conformance", &suite, "--write", md.to_str().unwrap()]);
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(
        text.starts_with("# T\n") && text.ends_with("<!-- conformance:end -->\ntail\n"),
        "{text}"
    );
    assert!(!text.contains("old") && text.contains("| passed | 95 |"), "{text}");
    std::fs::write(&md, "no markers").unwrap();
    let out = dermasim(&["sbml", "conformance", &suite, "--write", md.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}

//! `dermasim run` with an SBML inflammation module (`[inflammation]`): the shipped example
//! runs and says which model it used; a wrong mapping exits 2 naming the field and the id,
//! and writes nothing.

mod common;

use std::path::{Path, PathBuf};

use common::{dermasim, ok};

const EXAMPLE: &str = "../../examples/sbml_inflammation_cheek.toml";

fn example_text() -> String {
    std::fs::read_to_string(EXAMPLE).unwrap()
}

/// The example with `edit` applied, written into `dir` with the model path made absolute.
fn scenario_with(dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    let model = std::fs::canonicalize("../../examples/models/BIOMD0000000855.xml").unwrap();
    let text = example_text().replace(
        r#"sbml = "models/BIOMD0000000855.xml""#,
        &format!("sbml = {:?}", model.to_string_lossy()),
    );
    assert!(text.contains("BIOMD0000000855.xml\""), "the model line was found");
    let edited = edit(text.clone());
    assert_ne!(edited, text, "the edit applied");
    let path = dir.join("scenario.toml");
    std::fs::write(&path, edited).unwrap();
    path
}

/// Run `args`, require exit 2 and a message naming every one of `wanted`; return stderr.
fn refused(args: &[&str], wanted: &[&str]) -> String {
    let out = dermasim(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(out.stdout.is_empty(), "no partial output: {}", String::from_utf8_lossy(&out.stdout));
    for w in wanted {
        assert!(err.contains(w), "{args:?}: `{w}` not in {err}");
    }
    err
}

#[test]
fn the_example_runs_on_the_sbml_module() {
    let out = ok(&["run", EXAMPLE, "--json", "--fidelity", "0d"]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let notes = summary["notes"].as_array().unwrap();
    assert!(
        notes.iter().any(|n| n.as_str().unwrap().contains("(BIOMD0000000855.xml, sha256 ")),
        "{notes:?}"
    );
}

#[test]
fn an_unknown_species_is_refused_with_its_id_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario_with(dir.path(), |t| {
        t.replace(r#"neutrophils = "N""#, r#"neutrophils = "Neutro""#)
    });
    let out_dir = dir.path().join("run");
    let out_arg = out_dir.to_string_lossy().into_owned();
    refused(
        &["run", file.to_str().unwrap(), "--out", &out_arg],
        &["inflammation.map.neutrophils", "Neutro"],
    );
    assert!(!out_dir.exists(), "no run folder for a refused scenario");
    // The same through --set on the shipped example (its relative model path resolved
    // against the example's folder).
    refused(
        &["run", EXAMPLE, "--fidelity", "0d", "--set", "inflammation.map.neutrophils=Neutro"],
        &["inflammation.map.neutrophils", "Neutro"],
    );
}

#[test]
fn a_missing_input_and_an_unknown_quantity_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario_with(dir.path(), |t| t.replace("cortisol = \"C\"\n", ""));
    refused(&["run", file.to_str().unwrap()], &["inflammation.map.cortisol", "missing"]);
    let file = scenario_with(dir.path(), |t| {
        t.replace("[inflammation.map]\n", "[inflammation.map]\noxygen = \"O2\"\n")
    });
    refused(
        &["run", file.to_str().unwrap()],
        &["inflammation.map.oxygen", "not a dermasim quantity"],
    );
    // An input mapped to an id the model does not have.
    let file = scenario_with(dir.path(), |t| t.replace(r#"estrogen = "E""#, r#"estrogen = "E2""#));
    refused(&["run", file.to_str().unwrap()], &["inflammation.map.estrogen", "E2"]);
}

#[test]
fn a_missing_model_file_is_refused_naming_the_field() {
    refused(
        &["run", EXAMPLE, "--set", "inflammation.sbml=models/missing.xml"],
        &["inflammation.sbml", "missing.xml"],
    );
}

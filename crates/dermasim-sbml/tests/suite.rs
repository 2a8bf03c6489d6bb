//! The SBML Test Suite subset kept in the repository: every case whose tags are supported
//! passes at the suite's own tolerances; the others are classified as unsupported.

use std::path::Path;

use dermasim_sbml::conformance::{run_case, Outcome, Report};

fn suite() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/suite"))
}

#[test]
fn every_supported_case_in_the_subset_passes() {
    let report = Report::run(suite(), &mut |_| {}).unwrap();
    let (passed, failed, unsupported) = report.totals();
    let failures: Vec<String> = report
        .cases
        .iter()
        .filter_map(|c| match &c.outcome {
            Outcome::Failed(why) => Some(format!("{}: {why}", c.id)),
            _ => None,
        })
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(report.cases.len(), 97);
    assert_eq!(passed, 95);
    assert_eq!(unsupported, 2);
    assert_eq!(failed, 0);
    // The table names every tag seen and the totals.
    let md = report.markdown("2026-12-01");
    assert!(md.contains("| passed | 95 |"), "{md}");
    assert!(md.contains("| AlgebraicRule | yes |"), "{md}");
    assert!(md.contains("| comp:Submodel | no |"), "{md}");
    assert!(md.contains("| EventWithDelay | yes |"), "{md}");
}

#[test]
fn unsupported_tags_are_not_run_and_say_why() {
    for id in ["00870", "01124"] {
        let r = run_case(&suite().join(id));
        match r.outcome {
            Outcome::Unsupported(why) => assert!(why.contains("tags"), "{id}: {why}"),
            o => panic!("{id}: {o:?}"),
        }
    }
}

#[test]
fn a_wrong_expected_value_fails_the_case() {
    // The comparison can fail: perturb one expected value of a passing case by 1 %.
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("00001");
    std::fs::create_dir(&case).unwrap();
    for f in std::fs::read_dir(suite().join("00001")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, case.join(f.file_name().unwrap())).unwrap();
    }
    let results = case.join("00001-results.csv");
    let text = std::fs::read_to_string(&results).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut cells: Vec<String> = lines[5].split(',').map(String::from).collect();
    let v: f64 = cells[1].parse().unwrap();
    cells[1] = format!("{}", v * 1.01);
    lines[5] = cells.join(",");
    std::fs::write(&results, lines.join("\n")).unwrap();
    let r = run_case(&case);
    assert!(matches!(r.outcome, Outcome::Failed(ref w) if w.contains("S1")), "{:?}", r.outcome);
}

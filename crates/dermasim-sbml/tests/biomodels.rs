//! The two curated BioModels files, imported and run, against the hand-written models.

use dermasim::models;
use dermasim::ode::Tolerance;
use dermasim::ParameterSet;
use dermasim_sbml::{load, run, Column, Options};

const COOPER: &str = include_str!("data/BIOMD0000000855.xml");
const WAUGH: &str = include_str!("data/BIOMD0000000680.xml");

fn compare(xml: &str, builtin: &str, ids: &[&str], days: f64, every: f64) -> f64 {
    let model = load(xml, &[]).unwrap();
    let reference =
        models::run(builtin, &ParameterSet::literature(), &[], days, every, Tolerance::REFERENCE)
            .unwrap();
    let times: Vec<f64> = reference.rows.iter().map(|r| r[0]).collect();
    let cols: Vec<Column> = ids.iter().map(|s| Column::Value(s.to_string())).collect();
    let opts = Options { rtol: 1e-11, atol: 1e-13, ..Options::default() };
    let ours = run(&model, 0.0, &times, &cols, opts).unwrap();
    let mut worst: f64 = 0.0;
    for (a, b) in ours.rows.iter().zip(&reference.rows) {
        assert_eq!(a[0], b[0]);
        for k in 1..a.len() {
            // Column k of ours is ids[k-1]; the reference column holds the same species.
            let rc = reference.columns.iter().position(|c| c == builtin_name(ids[k - 1])).unwrap();
            let (x, y) = (a[k], b[rc]);
            let rel = (x - y).abs() / y.abs().max(1e-12);
            let ok = (x - y).abs() <= 1e-6 * y.abs() || (x - y).abs() <= 1e-10;
            assert!(ok, "{builtin} {} at t={}: sbml {x:e} vs built-in {y:e}", ids[k - 1], a[0]);
            if y.abs() > 1e-8 {
                worst = worst.max(rel);
            }
        }
    }
    worst
}

fn builtin_name(sbml_id: &str) -> &str {
    match sbml_id {
        "phi_I" => "phiI",
        "phi_R" => "phiR",
        other => other,
    }
}

#[test]
fn cooper2015_sbml_matches_the_builtin_model_to_1e6() {
    let worst = compare(COOPER, "cooper2015", &["P", "Pt", "N", "M"], 20.0, 0.5);
    eprintln!("cooper2015 worst relative difference {worst:e}");
}

#[test]
fn waugh2006_sbml_matches_the_builtin_model_to_1e6() {
    let worst = compare(WAUGH, "waugh_sherratt2006", &["phi_I", "phi_R", "T"], 40.0, 1.0);
    eprintln!("waugh2006 worst relative difference {worst:e}");
}

#[test]
fn cooper2015_analytic_jacobian_matches_finite_differences() {
    let model = load(COOPER, &[]).unwrap();
    let mut sys = dermasim_sbml::System::new(&model, 0.0);
    let n = sys.n();
    let y: Vec<f64> = vec![0.3, 1.1, 0.4, 0.2][..n].to_vec();
    let (mut ja, mut jf) = (vec![0.0; n * n], vec![0.0; n * n]);
    let (mut ta, mut tf) = (vec![0.0; n], vec![0.0; n]);
    sys.jacobian(0.5, &y, &mut ja, &mut ta);
    sys.jacobian_fd(0.5, &y, &mut jf, &mut tf);
    for k in 0..n * n {
        assert!(
            (ja[k] - jf[k]).abs() <= 1e-5 * ja[k].abs().max(1.0),
            "{k}: {} vs {}",
            ja[k],
            jf[k]
        );
    }
}

#[test]
fn an_override_changes_the_run_and_unknown_ids_are_refused() {
    let base = load(COOPER, &[]).unwrap();
    let set = load(COOPER, &[("kpn".into(), 20.0)]).unwrap();
    let c = [Column::Value("N".into())];
    let a = run(&base, 0.0, &[0.5], &c, Options::default()).unwrap();
    let b = run(&set, 0.0, &[0.5], &c, Options::default()).unwrap();
    assert!((a.rows[0][1] - b.rows[0][1]).abs() > 1e-6);
    let err = load(COOPER, &[("nope".into(), 1.0)]).unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}

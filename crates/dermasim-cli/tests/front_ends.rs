//! The CLI and the Rust API (the `dermasim-app` examples) give identical results: both are the
//! same application layer.

mod common;

use common::ok;
use dermasim_app::run::{self, RunRequest};
use dermasim_app::{NoObserver, Scenario};

#[path = "../../dermasim-app/examples/run_scenario.rs"]
#[allow(dead_code)]
mod run_scenario;

#[path = "../../dermasim-app/examples/ensemble.rs"]
#[allow(dead_code)]
mod ensemble;

#[path = "../../dermasim-app/examples/plan.rs"]
#[allow(dead_code)]
mod plan;

fn cli(args: &[&str]) -> serde_json::Value {
    serde_json::from_slice(&ok(args).stdout).unwrap()
}

fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::from_str(&serde_json::to_string(v).unwrap()).unwrap()
}

#[test]
fn run_is_identical_from_the_cli_and_from_rust() {
    assert_eq!(
        cli(&["run", "--json", "--set", "patient.age_years=45"]),
        json(&run_scenario::summary(None))
    );
    // Every fidelity, straight through the library.
    for fidelity in ["0d", "1d", "3d"] {
        let mut args = vec!["run", "--json", "--fidelity", fidelity];
        let small = [
            "--set",
            "simulation.patch_um=[300,300]",
            "--set",
            "simulation.dx_um=50",
            "--set",
            "protocol.follow_up_days=60",
        ];
        if fidelity == "3d" {
            args.extend(small);
        }
        let mut s = Scenario::default_scenario();
        s.simulation.fidelity = fidelity.parse().unwrap();
        if fidelity == "3d" {
            s.simulation.patch_um = [300.0, 300.0];
            s.simulation.dx_um = 50.0;
            s.protocol.follow_up_days = 60.0;
        }
        let lib = run::run(&RunRequest::new(s), &NoObserver).unwrap().summary;
        assert_eq!(cli(&args), json(&lib), "{fidelity}");
    }
}

#[test]
fn ensemble_is_identical_from_the_cli_and_from_rust() {
    assert_eq!(
        cli(&["run", "--json", "--fidelity", "0d", "--ensemble", "6"]),
        json(&ensemble::summary(6))
    );
}

#[test]
fn plan_is_identical_from_the_cli_and_from_rust() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/patients/fine_lines_laxity_55.toml");
    let dermasim_app::clinic::PlanOutcome::Planned(report) = plan::outcome(&path) else {
        panic!("this profile is planned")
    };
    let from_cli =
        cli(&["plan", path.to_str().unwrap(), "--json", "--members", "4", "--date", "2026-12-01"]);
    assert_eq!(from_cli, json(&report));
}

#[test]
fn deliver_is_identical_from_the_cli_and_from_rust() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/delivery_vitamin_c_pen.toml");
    let source =
        dermasim_app::scenario::ScenarioSource { file: Some(path.clone()), ..Default::default() };
    let s = dermasim_app::scenario::load(&source, &dermasim::ParameterSet::default_set()).unwrap();
    let lib = dermasim_app::deliver::deliver(&s, &NoObserver).unwrap();
    assert_eq!(cli(&["deliver", path.to_str().unwrap(), "--json"]), json(&lib));
}

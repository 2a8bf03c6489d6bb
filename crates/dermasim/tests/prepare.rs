//! `Scenario::prepare`: each part's own check refuses exactly what the whole scenario's check
//! refuses (same field path, same message), the parts are checked in a fixed order, and what
//! the checks derive (parameters, column, channels) is what a run uses.

use dermasim::device::DeviceParams;
use dermasim::ensemble::Posterior;
use dermasim::scenario::{Session, SnapshotRequest};
use dermasim::tissue::{Column, SiteTable};
use dermasim::{Fidelity, FieldError, Options, ParameterSet, Scenario, Simulation};

fn base() -> ParameterSet {
    ParameterSet::default_set()
}

fn refusal(s: &Scenario) -> FieldError {
    s.prepare(SiteTable::shared(), &base()).expect_err("the scenario is refused")
}

fn column(s: &Scenario) -> Column {
    s.patient.validate("patient", SiteTable::shared(), &base()).expect("a valid patient")
}

#[test]
fn each_part_refuses_what_the_whole_scenario_refuses() {
    let sites = SiteTable::shared();
    let set = base();
    let dp = DeviceParams::from_set(&set).unwrap();

    let mut s = Scenario::default_scenario();
    s.patient.age_years = 7.0;
    let part = s.patient.validate("patient", sites, &set).unwrap_err();
    assert_eq!(part.path, "patient.age_years");
    assert_eq!(refusal(&s), part);

    let mut s = Scenario::default_scenario();
    s.patient.fitzpatrick = 9;
    let part = s.patient.validate("patient", sites, &set).unwrap_err();
    assert_eq!(part.path, "patient.fitzpatrick");
    assert_eq!(refusal(&s), part);

    let mut s = Scenario::default_scenario();
    s.protocol.sessions.push(Session { day: 1.0, device: None });
    let part = s.protocol.validate("protocol", &column(&s), &dp).unwrap_err();
    let last = s.protocol.sessions.len() - 1;
    assert_eq!(part.path, format!("protocol.sessions.{last}.day"));
    assert!(part.message.contains("after the previous session"), "{part}");
    assert_eq!(refusal(&s), part);

    let mut s = Scenario::default_scenario();
    s.simulation.dt_max_days = s.simulation.dt_min_days / 2.0;
    let follow_up = s.protocol.follow_up_days;
    let part = s.simulation.validate("simulation", follow_up, &column(&s)).unwrap_err();
    assert_eq!(part.path, "simulation.dt_max_days");
    assert_eq!(refusal(&s), part);

    let mut s = Scenario::default_scenario();
    s.simulation.fidelity = Fidelity::Three;
    s.simulation.dx_um = 2.0;
    s.simulation.patch_um = [20_000.0, 20_000.0];
    let part = s.simulation.validate("simulation", follow_up, &column(&s)).unwrap_err();
    assert_eq!(part.path, "simulation.dx_um");
    assert!(part.message.contains("voxels"), "{part}");
    assert_eq!(refusal(&s), part);
}

#[test]
fn a_scenario_with_several_faults_is_refused_for_the_first_part_in_order() {
    // Patient, device, protocol, outputs, simulation, topical, inflammation.
    let mut s = Scenario::default_scenario();
    s.simulation.dz_um = 0.0;
    assert_eq!(refusal(&s).path, "simulation.dz_um");
    s.protocol.follow_up_days = 0.0;
    assert_eq!(refusal(&s).path, "protocol.follow_up_days");
    s.patient.age_years = 200.0;
    assert_eq!(refusal(&s).path, "patient.age_years");
}

#[test]
fn requested_snapshot_days_are_checked_after_the_protocol_and_before_the_simulation() {
    let asked = |days| SnapshotRequest { path: "outputs.snapshot_days", days };
    let refused = |s: &Scenario, days| {
        s.prepare_with_snapshots(SiteTable::shared(), &base(), asked(days))
            .expect_err("the scenario is refused")
            .path
    };
    let mut s = Scenario::default_scenario();
    s.simulation.dz_um = 0.0;
    assert_eq!(refused(&s, &[400.0]), "outputs.snapshot_days.0");
    s.protocol.follow_up_days = 0.0;
    assert_eq!(refused(&s, &[400.0]), "protocol.follow_up_days");

    let s = Scenario::default_scenario();
    let prepared = s.prepare_with_snapshots(SiteTable::shared(), &base(), asked(&[5.0, 2.0, 5.0]));
    assert_eq!(prepared.unwrap().snapshot_days(), [2.0, 5.0]);
}

#[test]
fn the_prepared_scenario_holds_what_the_run_derives() {
    let mut s = Scenario::default_scenario();
    s.simulation.fidelity = Fidelity::Zero;
    s.parameters.insert("penetration_efficiency_pen".into(), 0.5);
    let prepared = s.prepare(SiteTable::shared(), &base()).unwrap();
    assert_eq!(prepared.scenario(), &s);
    assert_eq!(prepared.parameters(), &s.parameter_set(&base()).unwrap());
    assert_eq!(prepared.column(), &column(&s));
    assert_eq!(prepared.channels().len(), s.protocol.sessions.len());
    for (i, ch) in prepared.channels().iter().enumerate() {
        let set = prepared.parameters();
        assert_eq!(ch, &s.session_device(i).channels(prepared.column(), set).unwrap());
    }
    let default_days = SnapshotRequest::default().resolve(&s.protocol);
    assert_eq!(prepared.snapshot_days(), default_days);

    // A run of the prepared scenario is the run of the scenario, bit for bit.
    let mut sim = Simulation::from_prepared(&prepared, Options::default()).unwrap();
    assert_eq!(sim.channels(0), &prepared.channels()[0]);
    let from_prepared = sim.run(&mut |_| {}).unwrap();
    let direct = dermasim::run(&s, &base()).unwrap();
    assert_eq!(
        serde_json::to_string(&from_prepared).unwrap(),
        serde_json::to_string(&direct).unwrap()
    );
}

#[test]
fn the_embedded_posterior_is_parsed_once() {
    let (Some(a), Some(b)) = (Posterior::embedded(), Posterior::embedded()) else {
        panic!("the shipped posterior is embedded and usable");
    };
    assert!(std::ptr::eq(a, b), "both calls see the same parsed posterior");
}

//! An SBML model as the tissue's inflammation module (issue 13 point 3): the curated Cooper
//! 2015 file (BIOMD0000000855, `examples/models/`) inside the default scenario gives the
//! built-in timeline to 1e-6 relative at 0d, 1d and 3d (small patch); the mapping is really
//! used (scales and SBML parameter values change the run); wrong tables are refused with the
//! field and the id.

use std::collections::BTreeMap;

use dermasim::kinetics::module::InflammationSource;
use dermasim::{Fidelity, Scenario, Summary};
use dermasim_app::run::{run, RunRequest};
use dermasim_app::{AppError, NoObserver};

fn cooper_file() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/models/BIOMD0000000855.xml").into()
}

fn cooper_source() -> InflammationSource {
    let map = [
        ("pathogen", "P"),
        ("wound_signal", "Pt"),
        ("neutrophils", "N"),
        ("macrophages", "M"),
        ("estrogen", "E"),
        ("cortisol", "C"),
    ];
    InflammationSource {
        sbml: cooper_file(),
        map: map.iter().map(|(q, id)| (q.to_string(), id.to_string())).collect(),
        scale: BTreeMap::new(),
        set: BTreeMap::new(),
    }
}

fn scenario(fidelity: Fidelity) -> Scenario {
    let mut s = Scenario::default_scenario();
    s.simulation.fidelity = fidelity;
    if fidelity == Fidelity::Three {
        // Small patch, one session, a month: the 3d kinetics run on ~3,000 voxels.
        s.simulation.patch_um = [300.0, 300.0];
        s.simulation.dx_um = 50.0;
        s.protocol.sessions.truncate(1);
        s.protocol.follow_up_days = 30.0;
    }
    s
}

fn with_sbml(mut s: Scenario, src: InflammationSource) -> Scenario {
    s.inflammation = Some(src);
    s
}

fn summary(s: &Scenario) -> Result<Summary, AppError> {
    Ok(run(&RunRequest::new(s.clone()), &NoObserver)?.summary)
}

/// Worst relative difference over every timeline column and point (values below `floor`
/// compared absolutely); fails if the timelines do not line up.
fn worst_relative(a: &Summary, b: &Summary, floor: f64) -> f64 {
    assert_eq!(a.timeline.len(), b.timeline.len());
    assert!(a.timeline.len() > 10);
    let mut worst: f64 = 0.0;
    for (pa, pb) in a.timeline.iter().zip(&b.timeline) {
        for ((name, x), (_, y)) in pa.columns().into_iter().zip(pb.columns()) {
            assert!(x.is_finite() && y.is_finite(), "{name} at day {}", pa.t_day);
            worst = worst.max((x - y).abs() / y.abs().max(floor));
        }
    }
    worst
}

#[test]
fn cooper_sbml_gives_the_builtin_timeline_at_0d_1d_and_3d() {
    for fidelity in [Fidelity::Zero, Fidelity::One, Fidelity::Three] {
        let builtin = summary(&scenario(fidelity)).unwrap();
        let sbml = summary(&with_sbml(scenario(fidelity), cooper_source())).unwrap();
        let worst = worst_relative(&sbml, &builtin, 1e-9);
        eprintln!("{}: worst relative difference SBML vs built-in {worst:e}", fidelity.as_str());
        assert!(worst <= 1e-6, "{}: {worst:e}", fidelity.as_str());
        // The module really ran, and says so.
        assert!(
            sbml.notes.iter().any(|n| n.contains("SBML model") && n.contains("BIOMD0000000855")),
            "{:?}",
            sbml.notes
        );
        assert!(!builtin.notes.iter().any(|n| n.contains("SBML")));
        // Inflammation happened at all (a comparison of two empty runs would prove nothing).
        let peak = builtin.timeline.iter().map(|p| p.macrophages).fold(0.0, f64::max);
        assert!(peak > 1e-3, "{}: macrophage peak {peak}", fidelity.as_str());
    }
}

#[test]
fn inputs_and_sbml_parameter_values_reach_the_model() {
    // Cortisol through the mapping (parameter set -> SBML `C`) and an SBML parameter through
    // `inflammation.set` give the built-in run with the same values.
    let mut builtin = scenario(Fidelity::Zero);
    builtin.parameters.insert("cortisol".into(), 30.0);
    builtin.parameters.insert("kpn".into(), 40.0);
    let mut src = cooper_source();
    src.set.insert("kpn".into(), 40.0);
    let mut sbml = with_sbml(scenario(Fidelity::Zero), src);
    sbml.parameters.insert("cortisol".into(), 30.0);
    let (b, s) = (summary(&builtin).unwrap(), summary(&sbml).unwrap());
    let worst = worst_relative(&s, &b, 1e-9);
    assert!(worst <= 1e-6, "{worst:e}");
    // ... and they matter: the default run differs.
    let plain = summary(&scenario(Fidelity::Zero)).unwrap();
    assert!(worst_relative(&plain, &b, 1e-9) > 1e-3);
}

#[test]
fn a_role_scale_changes_the_tissue_units() {
    // Neutrophils counted in other units: the injury's neutrophils enter the model divided
    // by the scale, so the run differs from the built-in one (scale 1 matches, above).
    let mut src = cooper_source();
    src.scale.insert("neutrophils".into(), 4.0);
    let scaled = summary(&with_sbml(scenario(Fidelity::Zero), src)).unwrap();
    let builtin = summary(&scenario(Fidelity::Zero)).unwrap();
    assert!(worst_relative(&scaled, &builtin, 1e-9) > 1e-3);
}

fn refused(src: InflammationSource) -> dermasim::FieldError {
    match summary(&with_sbml(scenario(Fidelity::Zero), src)) {
        Err(AppError::Field(e)) => e,
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn wrong_tables_are_refused_with_the_field_and_the_id() {
    let mut src = cooper_source();
    src.map.insert("neutrophils".into(), "Neutro".into());
    let e = refused(src);
    assert_eq!(e.path, "inflammation.map.neutrophils");
    assert!(e.message.contains("Neutro"), "{}", e.message);

    let mut src = cooper_source();
    src.map.insert("cortisol".into(), "kpn_typo".into());
    let e = refused(src);
    assert_eq!(e.path, "inflammation.map.cortisol");
    assert!(e.message.contains("kpn_typo"), "{}", e.message);

    let mut src = cooper_source();
    src.map.insert("macrophages".into(), "fi2".into()); // a ruled parameter, not a species
    let e = refused(src);
    assert_eq!(e.path, "inflammation.map.macrophages");
    assert!(e.message.contains("fi2"), "{}", e.message);

    let mut src = cooper_source();
    src.set.insert("no_such_parameter".into(), 1.0);
    let e = refused(src);
    assert_eq!(e.path, "inflammation.set.no_such_parameter");

    let mut src = cooper_source();
    src.sbml = concat!(env!("CARGO_MANIFEST_DIR"), "/no/such/model.xml").into();
    let e = refused(src);
    assert_eq!(e.path, "inflammation.sbml");
    assert!(e.message.contains("model.xml"), "{}", e.message);
}

#[test]
fn the_core_refuses_an_sbml_scenario_it_was_not_given_a_module_for() {
    // Ensemble members, validation and cohorts build simulations in the core alone.
    let s = with_sbml(scenario(Fidelity::Zero), cooper_source());
    let e = dermasim::Simulation::new(&s, &dermasim::ParameterSet::default_set()).err().unwrap();
    assert!(e.to_string().contains("inflammation.sbml"), "{e}");
    let mut r = RunRequest::new(s);
    r.ensemble = Some(20);
    let e = run(&r, &NoObserver).err().unwrap();
    assert!(e.to_string().contains("ensemble"), "{e}");
}

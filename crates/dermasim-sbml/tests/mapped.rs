//! The SBML inflammation module driven the way the core would drive it: a validated mapping,
//! the core's own `dermasim::ode::integrate` (Rodas4) through `OdeAdapter`, inputs set from
//! tissue quantities. Compared with the built-in `Cooper2015` under the same integrator.

use dermasim::kinetics::cooper::{Cooper2015, CooperParams, INITIAL};
use dermasim::ode::{integrate, Tolerance};
use dermasim::ParameterSet;
use dermasim_sbml::mapping::{Mapping, ModuleSpec, OdeAdapter};

const COOPER: &str = include_str!("data/BIOMD0000000855.xml");

#[test]
fn mapped_sbml_module_gives_the_builtin_timeline_under_the_core_integrator() {
    let (estrogen, cortisol) = (2.0, 30.0);
    let mut set = ParameterSet::literature();
    set.set("estrogen", estrogen).unwrap();
    set.set("cortisol", cortisol).unwrap();
    let builtin = Cooper2015(CooperParams::from_set(&set).unwrap());

    let model = dermasim_sbml::load(COOPER, &[]).unwrap();
    let mapped = Mapping::cooper2015().validate(model, &ModuleSpec::inflammation()).unwrap();
    let mut sys = mapped.system();
    mapped.set_inputs(&mut sys, &[estrogen, cortisol]);
    // Tissue values in role order (pathogen, wound signal, neutrophils, macrophages).
    let tissue0 = [INITIAL[0], INITIAL[1], INITIAL[2], INITIAL[3]];
    let mut y = sys.state();
    mapped.to_state(&sys, &tissue0, &mut y);
    let adapter = OdeAdapter::<4>::new(sys).unwrap();
    let mut ys: [f64; 4] = y.try_into().unwrap();
    let mut yb = INITIAL;
    let (mut hs, mut hb) = (1e-3, 1e-3);
    let mut worst: f64 = 0.0;
    for day in 1..=20 {
        let (t0, t1) = ((day - 1) as f64, day as f64);
        integrate(&adapter, t0, t1, &mut ys, &mut hs, Tolerance::REFERENCE).unwrap();
        integrate(&builtin, t0, t1, &mut yb, &mut hb, Tolerance::REFERENCE).unwrap();
        let mut tissue = [0.0; 4];
        mapped.from_state(&adapter.system(), &ys, &mut tissue);
        for k in 0..4 {
            let (a, b) = (tissue[k], yb[k]);
            assert!(
                (a - b).abs() <= 1e-6 * b.abs() || (a - b).abs() <= 1e-10,
                "day {day} role {k}: sbml {a:e} vs built-in {b:e}"
            );
            if b.abs() > 1e-8 {
                worst = worst.max((a - b).abs() / b.abs());
            }
        }
    }
    eprintln!("mapped cooper2015 with inputs: worst relative difference {worst:e}");
    // The inputs matter: without them the run differs.
    let mut set0 = ParameterSet::literature();
    set0.set("estrogen", 0.0).unwrap();
    let mut y0 = INITIAL;
    let mut h0 = 1e-3;
    integrate(
        &Cooper2015(CooperParams::from_set(&set0).unwrap()),
        0.0,
        20.0,
        &mut y0,
        &mut h0,
        Tolerance::REFERENCE,
    )
    .unwrap();
    assert!((y0[3] - yb[3]).abs() > 1e-6 * yb[3].abs());
}

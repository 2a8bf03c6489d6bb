//! Cost of an SBML inflammation module inside the tissue model: the default scenario at 1d
//! (and 0d), built-in Cooper 2015 against the imported BIOMD0000000855 through
//! `skin::SbmlInflammation`, wall time and kinetics time of each, best of three:
//! `cargo run --release -p dermasim-sbml --example skin_speed [-- 0d|1d|3d]`.

use std::sync::Arc;
use std::time::Instant;

use dermasim::{Fidelity, Options, ParameterSet, Scenario, Simulation};
use dermasim_sbml::mapping::Mapping;
use dermasim_sbml::skin::SbmlInflammation;

fn main() {
    let fidelity: Fidelity =
        std::env::args().nth(1).as_deref().unwrap_or("1d").parse().expect("0d, 1d or 3d");
    let mut scenario = Scenario::default_scenario();
    scenario.simulation.fidelity = fidelity;
    if fidelity == Fidelity::Three {
        scenario.simulation.patch_um = [300.0, 300.0];
        scenario.simulation.dx_um = 50.0;
    }
    let base = ParameterSet::default_set();
    let xml = include_str!("../tests/data/BIOMD0000000855.xml");
    let model = dermasim_sbml::load(xml, &[]).unwrap();
    let module =
        Arc::new(SbmlInflammation::new(model, &Mapping::cooper2015(), "cooper".into()).unwrap());
    let time = |sbml: bool| {
        let mut best = (f64::INFINITY, 0.0, 0);
        for _ in 0..3 {
            let options = Options {
                inflammation: sbml.then(|| module.clone() as Arc<_>),
                ..Default::default()
            };
            let t = Instant::now();
            let mut sim = Simulation::with_options(&scenario, &base, options).unwrap();
            sim.run(&mut |_| {}).unwrap();
            let wall = t.elapsed().as_secs_f64();
            let p = sim.profile();
            if wall < best.0 {
                best = (wall, p.kinetics_s, p.voxel_steps);
            }
        }
        best
    };
    let (bw, bk, bv) = time(false);
    let (sw, sk, sv) = time(true);
    println!("default scenario at {}", fidelity.as_str());
    println!("built-in: wall {bw:.3} s, kinetics {bk:.3} s, {bv} voxel steps");
    println!("SBML:     wall {sw:.3} s, kinetics {sk:.3} s, {sv} voxel steps");
    println!("slowdown: wall {:.1}x, kinetics {:.1}x", sw / bw, sk / bk);
}

use dermasim::*;
fn main() {
    let sc = Scenario::default_scenario();
    let base = ParameterSet::default_set();
    let sets = ensemble::latin_hypercube(&base, 8, 42);
    for (i, s) in sets.iter().enumerate() {
        match Simulation::new(&sc, s).and_then(|mut sim| sim.run(&mut |_| {})) {
            Ok(r) => println!("{i}: ok {:.3}", r.last().collagen_total_rel),
            Err(e) => println!("{i}: {e}"),
        }
    }
}

//! Right-hand-side and whole-run speed of the imported Cooper 2015 against the built-in one:
//! `cargo run --release -p dermasim-sbml --example speed`.

use std::time::Instant;

use dermasim::kinetics::cooper::{Cooper2015, CooperParams, INITIAL};
use dermasim::ode::{integrate, OdeSystem, Tolerance};
use dermasim::ParameterSet;

fn main() {
    let xml = include_str!("../tests/data/BIOMD0000000855.xml");
    let t = Instant::now();
    let model = dermasim_sbml::load(xml, &[]).unwrap();
    let import = t.elapsed();
    let builtin = Cooper2015(CooperParams::from_set(&ParameterSet::literature()).unwrap());
    let mut sys = dermasim_sbml::System::new(&model, 0.0);
    let n = 2_000_000;
    let mut y = INITIAL;
    let mut dy = [0.0; 4];
    let t = Instant::now();
    let mut acc = 0.0;
    for i in 0..n {
        y[0] = 0.1 + 1e-9 * i as f64;
        builtin.rhs(&y, &mut dy);
        acc += dy[0];
    }
    let b = t.elapsed().as_secs_f64() / n as f64;
    let t = Instant::now();
    for i in 0..n {
        y[0] = 0.1 + 1e-9 * i as f64;
        sys.rhs(0.0, &y, &mut dy);
        acc += dy[0];
    }
    let s = t.elapsed().as_secs_f64() / n as f64;
    let mut jac = vec![0.0; 16];
    let mut dt = vec![0.0; 4];
    let t = Instant::now();
    for i in 0..n / 10 {
        y[0] = 0.1 + 1e-9 * i as f64;
        sys.jacobian(0.0, &y, &mut jac, &mut dt);
        acc += jac[0];
    }
    let j = t.elapsed().as_secs_f64() / (n / 10) as f64;
    // Whole 20-day runs at the reference tolerance, output daily.
    let times: Vec<f64> = (0..=20).map(f64::from).collect();
    let cols: Vec<dermasim_sbml::Column> =
        ["P", "Pt", "N", "M"].iter().map(|s| dermasim_sbml::Column::Value(s.to_string())).collect();
    let opts = dermasim_sbml::Options { rtol: 1e-11, atol: 1e-13, ..Default::default() };
    let t = Instant::now();
    let reps = 200;
    for _ in 0..reps {
        dermasim_sbml::run(&model, 0.0, &times, &cols, opts).unwrap();
    }
    let run_s = t.elapsed().as_secs_f64() / reps as f64;
    let t = Instant::now();
    for _ in 0..reps {
        let (mut y, mut h) = (INITIAL, 1e-3);
        for d in 1..=20 {
            integrate(&builtin, (d - 1) as f64, d as f64, &mut y, &mut h, Tolerance::REFERENCE)
                .unwrap();
        }
        acc += y[0];
    }
    let run_b = t.elapsed().as_secs_f64() / reps as f64;
    println!("rhs: {} bytecode operations, {} assignments", model.rhs_ops(), model.n_slots());
    println!("import (parse + compile + symbolic Jacobian): {:.2} ms", import.as_secs_f64() * 1e3);
    println!("rhs: built-in {:.1} ns, sbml bytecode {:.1} ns ({:.1}x)", b * 1e9, s * 1e9, s / b);
    println!("sbml analytic jacobian: {:.1} ns", j * 1e9);
    println!(
        "20-day run at rtol 1e-11: built-in Rodas4 (FD Jacobian) {:.3} ms, sbml {:.3} ms",
        run_b * 1e3,
        run_s * 1e3
    );
    if acc == 42.0 {
        println!();
    }
}

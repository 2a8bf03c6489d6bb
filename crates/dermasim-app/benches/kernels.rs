//! Regression benches of the hot kernels (divan): `cargo bench -p dermasim-app`.
//! Not run by `cargo test`; `dermasim bench` gives the full report against the bandwidth.

use dermasim::grid::Grid;
use dermasim::transport::diffuse_fields;
use dermasim::{Fidelity, ParameterSet};
use dermasim_app::bench::{self, KineticsWorkload};
use divan::Bencher;

fn main() {
    divan::main();
}

/// One LOD step of `species` fields on a 64^3 cube.
#[divan::bench(args = [1, 4])]
fn lod_f64(b: Bencher, species: usize) {
    lod::<f64>(b, species);
}

#[divan::bench(args = [1, 4])]
fn lod_f32(b: Bencher, species: usize) {
    lod::<f32>(b, species);
}

fn lod<R: dermasim::transport::Real>(b: Bencher, species: usize) {
    let g: Grid = bench::cube(64, 10.0);
    let mut fields: Vec<R> =
        (0..g.len() * species).map(|v| R::from_f64(1.0 + (v % 97) as f64 / 97.0)).collect();
    let d = vec![2e4; g.nz];
    let coefficients: Vec<&[f64]> = vec![&d; species];
    b.counter(divan::counter::ItemsCount::new(g.len() * species)).bench_local(|| {
        diffuse_fields(&g, &mut fields, &coefficients, 0.0, 0.1);
    });
}

/// The kinetics calls of a 20-day, one-session 1d run, replayed (optimised integrator, one
/// voxel at a time and four in SIMD lanes).
#[divan::bench(args = ["scalar", "lanes"], sample_count = 10)]
fn kinetics_replay(b: Bencher, integrator: &str) {
    let mut s = bench::default_case(Fidelity::One, 1000.0, 25.0);
    s.protocol.follow_up_days = 20.0;
    s.protocol.sessions.truncate(1);
    let work = KineticsWorkload::record(&s, &ParameterSet::default_set()).unwrap();
    let integrator =
        if integrator == "lanes" { bench::Integrator::Lanes } else { bench::Integrator::Scalar };
    b.counter(divan::counter::ItemsCount::new(work.len()))
        .bench_local(|| bench::kinetics(&work, integrator).unwrap());
}

/// The default scenario end to end at 0d and 1d.
#[divan::bench(args = ["0d", "1d"], sample_count = 10)]
fn end_to_end(b: Bencher, fidelity: &str) {
    let s = bench::default_case(fidelity.parse().unwrap(), 1000.0, 25.0);
    let set = ParameterSet::default_set();
    b.bench_local(|| bench::end_to_end(&s, &set).unwrap());
}

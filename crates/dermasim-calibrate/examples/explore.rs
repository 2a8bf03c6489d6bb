//! Prints every validation check for quick model exploration:
//! `cargo run -p dermasim-calibrate --example explore -- name=value ...`
use dermasim::ParameterSet;
use dermasim_calibrate::validation;
fn main() {
    let mut set = ParameterSet::default_set();
    for a in std::env::args().skip(1) {
        let (k, v) = a.split_once('=').unwrap();
        set.set(k, v.parse().unwrap()).unwrap();
    }
    for c in validation::validate(&set).unwrap() {
        println!(
            "{:5} {:32} model {:8.4} {:>10} {}",
            if c.pass { "pass" } else { "FAIL" },
            c.id,
            c.model,
            c.model_compare.map(|v| format!("{v:.4}")).unwrap_or_default(),
            c.accepted
        );
    }
}

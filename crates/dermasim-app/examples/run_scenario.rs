//! Run a scenario from Rust: the built-in default (or a file given as the first argument) with
//! one field changed, then print the collagen course and write a run folder into memory.
//!
//! `cargo run --release -p dermasim-app --example run_scenario [FILE]`

use dermasim_app::run::{self, RunRequest};
use dermasim_app::scenario::{self, ScenarioSource};
use dermasim_app::{MemorySink, NoObserver, ParameterSet, Sink, Summary};

/// The example's run: the scenario as `dermasim run FILE --set patient.age_years=45` loads it.
pub fn summary(file: Option<std::path::PathBuf>) -> Summary {
    let source = ScenarioSource {
        file,
        overrides: vec!["patient.age_years=45".into()],
        ..ScenarioSource::default()
    };
    let scenario = scenario::load(&source, &ParameterSet::default_set()).expect("a valid scenario");
    let mut sink = MemorySink::new();
    let report =
        run::run_into(&RunRequest::prepared(scenario), &mut sink, &NoObserver).expect("runs");
    println!("{} files in memory, e.g. {}", sink.files().len(), sink.files()[0].path);
    report.summary
}

/// The example with its command-line argument (`None`: the default).
pub fn run_with(arg: Option<String>) {
    let s = summary(arg.map(Into::into));
    for day in [7.0, 28.0, 90.0, 180.0] {
        if let Some(p) = s.at(day) {
            println!(
                "day {day:>5}: collagen x{:.3}, epidermis x{:.3}",
                p.collagen_total_rel, p.epidermis_thickness_rel
            );
        }
    }
    println!("{}", dermasim::DISCLAIMER);
}

pub fn main() {
    run_with(std::env::args().nth(1));
}

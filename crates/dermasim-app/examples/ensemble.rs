//! An ensemble from Rust with live progress and a time limit: 5-95 % bands around the central
//! run, cancelled cleanly if it takes longer than the limit.
//!
//! `cargo run --release -p dermasim-app --example ensemble [MEMBERS]`

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dermasim_app::run::{self, RunRequest};
use dermasim_app::{Observer, Progress, Scenario, Summary};

/// Prints each finished member; cancels past the deadline.
struct Watch {
    deadline: Instant,
    members: AtomicUsize,
}

impl Observer for Watch {
    fn progress(&self, p: Progress) {
        if let Progress::Members { done, total } = p {
            if done > self.members.swap(done, Ordering::Relaxed) {
                eprintln!("member {done}/{total}");
            }
        }
    }
    fn cancelled(&self) -> bool {
        Instant::now() > self.deadline
    }
}

/// Bands from `members` draws on the default scenario at 0d.
pub fn summary(members: usize) -> Summary {
    let mut scenario = Scenario::default_scenario();
    scenario.simulation.fidelity = dermasim::Fidelity::Zero;
    let request = RunRequest { ensemble: Some(members), ..RunRequest::new(scenario) };
    let watch =
        Watch { deadline: Instant::now() + Duration::from_secs(600), members: AtomicUsize::new(0) };
    match run::run(&request, &watch) {
        Ok(report) => report.summary,
        Err(e) if e.is_cancelled() => panic!("stopped at the time limit; nothing was written"),
        Err(e) => panic!("{e}"),
    }
}

/// The example with its command-line argument (`None`: the default).
pub fn run_with(arg: Option<String>) {
    let n = arg.and_then(|a| a.parse().ok()).unwrap_or(32);
    let s = summary(n);
    let p = s.last();
    println!(
        "day {}: collagen x{:.3} (5-95 %: {:.3} to {:.3})",
        p.t_day,
        p.collagen_total_rel,
        p.bands["collagen_total_rel_p05"],
        p.bands["collagen_total_rel_p95"]
    );
    println!("{}", dermasim::DISCLAIMER);
}

pub fn main() {
    run_with(std::env::args().nth(1));
}

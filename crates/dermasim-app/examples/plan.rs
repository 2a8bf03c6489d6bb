//! Screen and plan a patient from Rust, and draw the forecast chart into memory.
//!
//! `cargo run --release -p dermasim-app --example plan [PROFILE.toml]`

use dermasim_app::clinic::{self, PlanOutcome};

/// Plans for the profile at `path` (4 members per forecast, assessed on 2026-12-01).
pub fn outcome(path: &std::path::Path) -> PlanOutcome {
    let profile = clinic::load_profile(path).expect("a valid profile");
    let date = dermasim_clinic::Date::parse("2026-12-01").expect("a date");
    clinic::plan(&profile, Some(date), Some(4)).expect("planning runs")
}

/// The example with its command-line argument (`None`: the default).
pub fn run_with(arg: Option<String>) {
    let path = arg.unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/patients/fine_lines_laxity_55.toml")
            .into()
    });
    match outcome(path.as_ref()) {
        PlanOutcome::Planned(report) => {
            for p in &report.plans {
                println!(
                    "{}: {} at {} mm, {} sessions",
                    dermasim_clinic::render::plan_heading(p),
                    p.device.as_str(),
                    p.depth_mm,
                    p.sessions
                );
            }
            let svg = clinic::forecast_chart(&report, false).expect("a chart");
            println!("forecast chart: {} bytes of SVG", svg.len());
            println!("{}", report.disclaimer);
        }
        PlanOutcome::Refused(s) => println!("not planned: screening says {:?}", s.verdict),
    }
}

pub fn main() {
    run_with(std::env::args().nth(1));
}

//! Run an SBML Test Suite folder: `cargo run -p dermasim-sbml --example conformance -- DIR [--all]`.
//! Prints one line per case (id, outcome) and the Markdown table.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = args.get(1).expect("usage: conformance DIR [--all]");
    let all = args.iter().any(|a| a == "--all");
    let report =
        dermasim_sbml::conformance::Report::run_with(std::path::Path::new(dir), all, &mut |c| {
            let tags = format!("{} | {}", c.components.join(","), c.tests.join(","));
            println!("{}\t{:?}\t{}", c.id, c.outcome, tags);
        })
        .expect("read suite folder");
    println!("{}", report.markdown("today"));
}

//! `dermasim`: a thin command line over the dermasim library.

mod commands;
mod present;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "dermasim",
    version,
    about = "Microneedling simulator and treatment planner (a research and planning aid, not a medical device)"
)]
struct Cli {
    /// Worker threads (default: all cores). Results are identical for any count.
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario (the built-in default when FILE is absent) and print a summary.
    Run(commands::run::RunArgs),
    /// Print a commented scenario to start from (`dermasim init --list` names them).
    Init {
        /// Example name; `default` when absent.
        example: Option<String>,
        /// List the examples.
        #[arg(long)]
        list: bool,
    },
    /// Print the JSON Schema of scenario files.
    Schema,
    /// List the anatomical sites with their layer thicknesses and sources.
    Sites {
        #[arg(long)]
        json: bool,
    },
    /// Topical delivery through the channels of each session (the scenario's `topical` section).
    Deliver(commands::deliver::DeliverArgs),
    /// List the compound library with values, evidence grades and intact-skin permeability.
    Compounds {
        #[arg(long)]
        json: bool,
    },
    /// Run every published target as a scenario and compare (exit 1 when a check fails).
    Validate(commands::evidence::ValidateArgs),
    /// Fit the parameters with no published value to the calibration targets.
    Calibrate(commands::evidence::CalibrateArgs),
    /// Rebuild DIR/report.html from the run folder's summary, scenario and tables.
    Report {
        /// A run folder written by `dermasim run --out DIR`.
        dir: PathBuf,
    },
    /// The published kinetic models as standalone ODE runs.
    Model {
        #[command(subcommand)]
        action: commands::model::ModelAction,
    },
    /// SBML models: run one, describe one, or run the SBML Test Suite.
    Sbml {
        #[command(subcommand)]
        action: commands::sbml::SbmlAction,
    },
    /// Screen a patient profile for contraindications: go, go with cautions, defer or do not treat.
    Screen(commands::clinic::ScreenArgs),
    /// Screen, then plan and forecast each concern and site of a patient profile.
    Plan(commands::clinic::PlanArgs),
    /// Measure memory bandwidth, transport, kinetics and whole runs on this machine.
    Bench(commands::bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(n) = cli.threads {
        if n == 0 {
            eprintln!("error: --threads: 0 is not allowed; use 1 or more");
            return ExitCode::from(2);
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .expect("thread pool is configured once");
    }
    let result = match cli.command {
        Command::Run(args) => commands::run::run(args),
        Command::Init { example, list } => commands::init(example.as_deref(), list),
        Command::Schema => {
            println!(
                "{}",
                serde_json::to_string_pretty(&dermasim_io::scenario_schema()).expect("schema")
            );
            Ok(())
        }
        Command::Sites { json } => commands::sites(json),
        Command::Model { action } => commands::model::run(action),
        Command::Sbml { action } => commands::sbml::run(action),
        Command::Validate(args) => match commands::evidence::validate(args) {
            Ok(false) => return ExitCode::from(1),
            other => other.map(|_| ()),
        },
        Command::Calibrate(args) => commands::evidence::calibrate(args),
        Command::Deliver(args) => commands::deliver::run(args),
        Command::Compounds { json } => commands::deliver::compounds(json),
        Command::Screen(args) => commands::clinic::screen(args),
        Command::Plan(args) => match commands::clinic::plan(args) {
            Ok(false) => return ExitCode::from(commands::clinic::REFUSED),
            other => other.map(|_| ()),
        },
        Command::Report { dir } => commands::report(&dir),
        Command::Bench(args) => commands::bench::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

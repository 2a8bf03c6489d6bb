//! `dermasim`: a thin command line over the dermasim application layer (`dermasim-app`).

/// `println!` that ends the program quietly (exit 0) when stdout is closed (`dermasim run |
/// head -1`), instead of panicking.
macro_rules! outln {
    () => { $crate::stdout(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `print!` with the same closed-stdout rule as `outln!`.
macro_rules! out {
    ($($arg:tt)*) => { $crate::stdout(format_args!($($arg)*)) };
}

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
    /// Run a virtual cohort (protocols x a population) into a Parquet dataset, shard by shard.
    Cohort(commands::cohort::CohortArgs),
    /// The clinic web app: patients, screening, plans, audit trail, on an embedded database.
    Serve(commands::serve::ServeArgs),
}

/// Write to stdout; a closed pipe ends the program with success (the reader has what it
/// wanted), any other failure with exit code 2.
pub(crate) fn stdout(args: std::fmt::Arguments) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|_| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(2);
    }
}

/// Worker threads allowed by `--threads`.
const THREADS: std::ops::RangeInclusive<usize> = 1..=256;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(n) = cli.threads {
        if !THREADS.contains(&n) {
            eprintln!(
                "error: --threads: {n} is outside the allowed range {} to {}",
                THREADS.start(),
                THREADS.end()
            );
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
            outln!(
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
        Command::Cohort(args) => commands::cohort::run(args),
        Command::Serve(args) => commands::serve::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", message(&e));
            ExitCode::from(2)
        }
    }
}

/// The error chain as one line, with the application layer's request fields named as the
/// options that set them.
fn message(e: &anyhow::Error) -> String {
    if let Some(dermasim_app::AppError::Request { field, message }) = e.downcast_ref() {
        let flag = match field.as_str() {
            "outputs" => "--outputs",
            "ensemble" => "--ensemble",
            "checkpoint_every" => "--checkpoint-every",
            "checkpoint" => "--checkpoint-every/--resume",
            "members" => "--members",
            "max_iters" => "--max-iters",
            other => other,
        };
        return format!("{flag}: {message}");
    }
    format!("{e:#}")
}

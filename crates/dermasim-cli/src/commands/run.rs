//! `dermasim run`: argument parsing and presentation over `dermasim_app::run`.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use dermasim_app::run::{checkpoint_path, CheckpointPlan, RunRequest};
use dermasim_app::scenario::{self, ScenarioSource};
use dermasim_app::{Observer, ParameterSet, Progress};
use indicatif::{ProgressBar, ProgressStyle};

use crate::present;

#[derive(Args)]
pub struct RunArgs {
    /// Scenario file (TOML or JSON); the built-in default when absent.
    file: Option<PathBuf>,
    /// Write a run folder here: manifest.json, summary.json, scenario.json and the outputs
    /// chosen by the scenario's [outputs] table or --outputs (docs/outputs.md). It must be new,
    /// empty or an earlier dermasim run folder; nothing else is replaced.
    #[arg(long)]
    out: Option<PathBuf>,
    /// What the run folder holds besides its fixed files, comma-separated: timeseries_csv,
    /// timeseries_parquet, profiles, parameters, plots_svg, plots_png, report, vti; or all, none.
    #[arg(long, value_name = "LIST")]
    outputs: Option<String>,
    /// Override simulation.fidelity.
    #[arg(long, value_enum)]
    fidelity: Option<FidelityArg>,
    /// Print the summary as JSON on stdout (messages go to stderr).
    #[arg(long)]
    json: bool,
    /// Override any scenario field for this run: PATH=VALUE (e.g. patient.age_years=65).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    set: Vec<String>,
    /// Add 5-95 % bands from N members (2 to 10000; 20 or more for a reliable band).
    #[arg(long, value_name = "N")]
    ensemble: Option<usize>,
    /// Accept [parameters] overrides outside their ranges (recorded in the summary).
    #[arg(long)]
    allow_outside_range: bool,
    /// Save the run's state every DAYS of simulated time to OUT.checkpoint (needs --out);
    /// it is removed when the run completes.
    #[arg(long, value_name = "DAYS")]
    checkpoint_every: Option<f64>,
    /// Continue from OUT.checkpoint when one exists for this scenario (needs --out).
    #[arg(long)]
    resume: bool,
}

/// `--fidelity`: clap lists and checks the names.
#[derive(Clone, Copy, clap::ValueEnum)]
enum FidelityArg {
    /// Well-mixed layers.
    #[value(name = "0d")]
    Zero,
    /// Depth-resolved.
    #[value(name = "1d")]
    One,
    /// Patch with periodic lateral boundaries.
    #[value(name = "3d")]
    Three,
}

impl FidelityArg {
    fn as_str(self) -> &'static str {
        match self {
            FidelityArg::Zero => dermasim::Fidelity::Zero.as_str(),
            FidelityArg::One => dermasim::Fidelity::One.as_str(),
            FidelityArg::Three => dermasim::Fidelity::Three.as_str(),
        }
    }
}

/// A progress bar on a terminal, nothing otherwise.
struct Bar(ProgressBar);

impl Bar {
    fn new() -> Bar {
        if !std::io::stderr().is_terminal() {
            return Bar(ProgressBar::hidden());
        }
        let bar = ProgressBar::new(1);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} {pos}/{len} [{bar:40}] eta {eta}")
                .expect("template")
                .progress_chars("=> "),
        );
        Bar(bar)
    }
}

impl Observer for Bar {
    fn progress(&self, p: Progress) {
        match p {
            Progress::Day { day, end } => {
                self.0.set_message("day");
                self.0.set_length(end.ceil() as u64);
                self.0.set_position(day.floor() as u64);
            }
            Progress::Members { done, total } => {
                self.0.set_message("ensemble");
                self.0.set_length(total as u64);
                self.0.set_position(done as u64);
            }
            Progress::Stage(what) => self.0.set_message(what),
        }
    }
}

pub fn run(args: RunArgs) -> Result<()> {
    let base = ParameterSet::default_set();
    let scenario = scenario::load(
        &ScenarioSource {
            file: args.file.clone(),
            overrides: args.set.clone(),
            fidelity: args.fidelity.map(|f| f.as_str().to_string()),
            outputs: args.outputs.clone(),
            allow_outside_range: args.allow_outside_range,
        },
        &base,
    )?;
    let checkpoint = match (&args.out, args.checkpoint_every.is_some() || args.resume) {
        (Some(dir), true) => Some(CheckpointPlan {
            path: checkpoint_path(dir),
            every_days: args.checkpoint_every,
            resume: args.resume,
        }),
        (None, true) => anyhow::bail!(
            "--checkpoint-every and --resume need --out DIR (the checkpoint is DIR.checkpoint)"
        ),
        (_, false) => None,
    };
    // Loaded and checked once above; the run takes that preparation as it is.
    let request = RunRequest {
        ensemble: args.ensemble,
        checkpoint,
        command: std::env::args().collect(),
        capture: false,
        ..RunRequest::prepared(scenario)
    };
    let bar = Bar::new();
    let report = match &args.out {
        Some(dir) => {
            let (report, path) = dermasim_app::run::run_to_folder(&request, dir, "--out", &bar)?;
            bar.0.finish_and_clear();
            eprintln!("wrote {}", path.display());
            report
        }
        None => {
            let report = dermasim_app::run::run(&request, &bar)?;
            bar.0.finish_and_clear();
            report
        }
    };
    if let Some(day) = report.resumed_from_day {
        eprintln!("resumed from day {day:.2}");
    }
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report.summary)?);
    } else {
        present::summary(&report.summary, report.wall_time_s);
        if let Some(d) = &report.summary.delivery {
            outln!();
            crate::commands::deliver::print(d);
        }
    }
    Ok(())
}

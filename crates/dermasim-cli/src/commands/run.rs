use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use dermasim::{ParameterSet, Simulation};
use dermasim_io::{load_scenario, scenario_hash, timeseries_csv, Manifest, RunFolder};
use indicatif::{ProgressBar, ProgressStyle};

use crate::present;

#[derive(Args)]
pub struct RunArgs {
    /// Scenario file (TOML or JSON); the built-in default when absent.
    file: Option<PathBuf>,
    /// Write a run folder here (manifest.json, summary.json, timeseries.csv, scenario.json).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Override simulation.fidelity: 0d, 1d or 3d.
    #[arg(long)]
    fidelity: Option<String>,
    /// Print the summary as JSON on stdout (messages go to stderr).
    #[arg(long)]
    json: bool,
    /// Override any scenario field for this run: PATH=VALUE (e.g. patient.age_years=65).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    set: Vec<String>,
    /// Add 5-95 % bands from N Latin-hypercube draws over the parameter ranges.
    #[arg(long, value_name = "N")]
    ensemble: Option<usize>,
}

pub fn run(args: RunArgs) -> Result<()> {
    let base = ParameterSet::default_set();
    let mut overrides = args.set.clone();
    if let Some(f) = &args.fidelity {
        overrides.push(format!("simulation.fidelity={f}"));
    }
    let scenario = load_scenario(args.file.as_deref(), &overrides, &base)?;
    let started = Instant::now();
    let end = scenario.protocol.follow_up_days;
    let interactive = std::io::stderr().is_terminal();
    let summary = match args.ensemble {
        Some(n) => {
            if !(2..=10_000).contains(&n) {
                anyhow::bail!("--ensemble: {n} is outside the allowed range 2 to 10000");
            }
            let bar = if interactive { ProgressBar::new(n as u64) } else { ProgressBar::hidden() };
            bar.set_style(ProgressStyle::with_template("{spinner} ensemble {pos}/{len} [{bar:40}] eta {eta}").expect("template").progress_chars("=> "));
            let s = dermasim::ensemble::run_ensemble(&scenario, &base, n, &|k| bar.set_position(k as u64))?;
            bar.finish_and_clear();
            s
        }
        None => {
            let mut sim = Simulation::new(&scenario, &base)?;
            let bar = if interactive { ProgressBar::new(end.ceil() as u64) } else { ProgressBar::hidden() };
            bar.set_style(ProgressStyle::with_template("{spinner} day {pos}/{len} [{bar:40}] {elapsed_precise} eta {eta}").expect("template").progress_chars("=> "));
            let s = sim.run(&mut |s| bar.set_position(s.time().floor() as u64))?;
            bar.finish_and_clear();
            s
        }
    };
    let mut summary = summary;
    if scenario.topical.is_some() {
        summary.delivery = Some(dermasim::delivery::deliver(&scenario, &base)?);
    }
    let wall = started.elapsed().as_secs_f64();

    if let Some(dir) = &args.out {
        let mut folder = RunFolder::create(dir)?;
        folder.write("summary.json", "summary", "run summary: sessions, endpoints, timeline (see README output contract)", serde_json::to_string_pretty(&summary)?.as_bytes())?;
        folder.write("timeseries.csv", "table", "timeline, one row per output time; units in column names", timeseries_csv(&summary).as_bytes())?;
        folder.write("scenario.json", "scenario", "the scenario as run, after --set overrides", serde_json::to_string_pretty(&scenario)?.as_bytes())?;
        let manifest = Manifest {
            program: "dermasim".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            created_utc: dermasim_io::utc_now(),
            command: std::env::args().collect(),
            scenario_hash: scenario_hash(&scenario),
            seed: scenario.simulation.seed,
            fidelity: scenario.simulation.fidelity.as_str().into(),
            threads: rayon::current_num_threads(),
            wall_time_s: wall,
            parameter_set: summary.parameter_set.clone(),
            files: vec![],
            disclaimer: dermasim::DISCLAIMER.into(),
        };
        let path = folder.commit(manifest)?;
        eprintln!("wrote {}", path.display());
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        present::summary(&summary, wall);
        if let Some(d) = &summary.delivery {
            println!();
            crate::commands::deliver::print(d);
        }
    }
    Ok(())
}

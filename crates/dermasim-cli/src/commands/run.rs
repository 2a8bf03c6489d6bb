use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use dermasim::outputs::OutputKind;
use dermasim::{ParameterSet, Simulation};
use dermasim_io::{load_scenario, scenario_hash, Manifest, RunFolder};
use dermasim_report::{Capture, RunData};
use indicatif::{ProgressBar, ProgressStyle};

use crate::present;

#[derive(Args)]
pub struct RunArgs {
    /// Scenario file (TOML or JSON); the built-in default when absent.
    file: Option<PathBuf>,
    /// Write a run folder here: manifest.json, summary.json, scenario.json and the outputs
    /// chosen by the scenario's [outputs] table or --outputs (docs/outputs.md).
    #[arg(long)]
    out: Option<PathBuf>,
    /// What the run folder holds besides its fixed files, comma-separated: timeseries_csv,
    /// timeseries_parquet, profiles, parameters, plots_svg, plots_png, report, vti; or all, none.
    #[arg(long, value_name = "LIST")]
    outputs: Option<String>,
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
    /// Save the run's state every DAYS of simulated time to OUT.checkpoint (needs --out);
    /// it is removed when the run completes.
    #[arg(long, value_name = "DAYS")]
    checkpoint_every: Option<f64>,
    /// Continue from OUT.checkpoint when one exists for this scenario (needs --out).
    #[arg(long)]
    resume: bool,
}

pub fn run(args: RunArgs) -> Result<()> {
    let base = ParameterSet::default_set();
    let mut overrides = args.set.clone();
    if let Some(f) = &args.fidelity {
        overrides.push(format!("simulation.fidelity={f}"));
    }
    let mut scenario = load_scenario(args.file.as_deref(), &overrides, &base)?;
    if let Some(list) = &args.outputs {
        scenario.outputs.write = Some(parse_outputs(list)?);
    }
    let kinds = scenario.outputs.resolved(scenario.simulation.fidelity);
    let days = scenario.outputs.days(&scenario.protocol);
    // Depth data are taken while the run goes, only when a folder will hold them.
    let watch = args.out.is_some()
        && (kinds.contains(&OutputKind::Profiles) || kinds.contains(&OutputKind::Vti));
    let keep_fields = kinds.contains(&OutputKind::Vti);
    let mut capture = None;
    let checkpoint = match (&args.out, args.checkpoint_every.is_some() || args.resume) {
        (Some(dir), _) => Some(dir.with_extension("checkpoint")),
        (None, true) => anyhow::bail!(
            "--checkpoint-every and --resume need --out DIR (the checkpoint is DIR.checkpoint)"
        ),
        (None, false) => None,
    };
    if let Some(every) = args.checkpoint_every {
        if !(every.is_finite() && every > 0.0) {
            anyhow::bail!("--checkpoint-every: {every} must be a positive number of days");
        }
    }
    let started = Instant::now();
    let end = scenario.protocol.follow_up_days;
    let interactive = std::io::stderr().is_terminal();
    let summary = match args.ensemble {
        Some(n) => {
            if !(2..=10_000).contains(&n) {
                anyhow::bail!("--ensemble: {n} is outside the allowed range 2 to 10000");
            }
            let bar = if interactive { ProgressBar::new(n as u64) } else { ProgressBar::hidden() };
            bar.set_style(
                ProgressStyle::with_template("{spinner} ensemble {pos}/{len} [{bar:40}] eta {eta}")
                    .expect("template")
                    .progress_chars("=> "),
            );
            let s = dermasim::ensemble::run_ensemble(&scenario, &base, n, &|k| {
                bar.set_position(k as u64)
            })?;
            bar.finish_and_clear();
            if watch {
                // The central run once more, watched (the ensemble runs it unobserved).
                let mut sim = Simulation::with_options(&scenario, &base, Capture::options(&days))?;
                let mut cap = Capture::new(&sim, &days, keep_fields);
                sim.run(&mut |s| cap.observe(s))?;
                capture = Some(cap);
            }
            s
        }
        None => {
            // The stepper lands on the snapshot days whether or not they are written, so the
            // numbers never depend on the output selection.
            let mut sim = Simulation::with_options(&scenario, &base, Capture::options(&days))?;
            let bar = if interactive {
                ProgressBar::new(end.ceil() as u64)
            } else {
                ProgressBar::hidden()
            };
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} day {pos}/{len} [{bar:40}] {elapsed_precise} eta {eta}",
                )
                .expect("template")
                .progress_chars("=> "),
            );
            if let (true, Some(path)) = (args.resume, &checkpoint) {
                if path.exists() {
                    let bytes = std::fs::read(path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    sim.restore(&bytes)
                        .with_context(|| format!("cannot resume from {}", path.display()))?;
                    eprintln!("resuming from day {:.2} ({})", sim.time(), path.display());
                    if watch {
                        eprintln!("note: depth profiles and snapshots before day {:.2} are not in the resumed run's folder", sim.time());
                    }
                }
            }
            let mut cap = watch.then(|| Capture::new(&sim, &days, keep_fields));
            let mut next_save = args.checkpoint_every.map(|e| sim.time() + e);
            let mut save_error = None;
            let s = sim.run(&mut |s| {
                bar.set_position(s.time().floor() as u64);
                if let Some(c) = cap.as_mut() {
                    c.observe(s);
                }
                if let (Some(due), Some(path), Some(every)) =
                    (next_save, &checkpoint, args.checkpoint_every)
                {
                    if s.time() >= due && save_error.is_none() {
                        save_error = write_atomically(path, &s.checkpoint()).err();
                        next_save = Some(s.time() + every);
                    }
                }
            })?;
            bar.finish_and_clear();
            if let Some(e) = save_error {
                eprintln!("warning: checkpoint not saved: {e:#}");
            }
            capture = cap;
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
        folder.write(
            "summary.json",
            "summary",
            "run summary: sessions, endpoints, timeline (see README output contract)",
            serde_json::to_string_pretty(&summary)?.as_bytes(),
        )?;
        folder.write(
            "scenario.json",
            "scenario",
            "the scenario as run, after --set and --outputs overrides",
            serde_json::to_string_pretty(&scenario)?.as_bytes(),
        )?;
        let parameters = scenario.parameter_set(&base)?;
        let empty = dermasim_report::DepthTable::default();
        let run = RunData {
            scenario: &scenario,
            summary: &summary,
            parameters: Some(&parameters),
            profiles: capture.as_ref().map_or(&empty, |c| &c.profiles),
            sections: capture.as_ref().map_or(&empty, |c| &c.sections),
            extra: &[],
        };
        dermasim_report::write_outputs(&mut folder, &run, capture.as_ref(), &kinds)?;
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
        if let Some(c) = checkpoint.as_ref().filter(|c| c.exists()) {
            std::fs::remove_file(c).with_context(|| format!("cannot remove {}", c.display()))?;
        }
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

/// `--outputs a,b,c`, `all` or `none`.
fn parse_outputs(list: &str) -> Result<Vec<OutputKind>> {
    match list.trim() {
        "all" => Ok(OutputKind::ALL.to_vec()),
        "none" | "" => Ok(Vec::new()),
        l => l
            .split(',')
            .map(|k| k.trim().parse::<OutputKind>().map_err(|e| anyhow::anyhow!("--outputs: {e}")))
            .collect(),
    }
}

/// Write a file by writing a temporary sibling and renaming it over the target.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("checkpoint.tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

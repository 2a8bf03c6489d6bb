//! `dermasim cohort`: run a virtual cohort (or one slice of its shards) into a Parquet dataset.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use dermasim_app::cohort::Cohort;
use dermasim_app::{Observer, Progress};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Args)]
pub struct CohortArgs {
    /// Cohort file (TOML): protocols, population, fidelity (docs/cohorts.md).
    spec: PathBuf,
    /// The dataset folder: new, empty, or a cohort folder of the same spec (it resumes,
    /// skipping finished shards). Nothing else is replaced.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Run only shards s with s % N == i (a Slurm array element: --shard $SLURM_ARRAY_TASK_ID/N).
    #[arg(long, value_name = "i/N")]
    shard: Option<String>,
    /// Print member I's scenario as JSON (under --protocol) instead of running the cohort.
    #[arg(long, value_name = "I")]
    member: Option<usize>,
    /// The protocol for --member, by name (the first when absent).
    #[arg(long)]
    protocol: Option<String>,
    /// Print the plan (members, shards, spec hash, shards left) as JSON and run nothing.
    #[arg(long)]
    dry_run: bool,
}

struct Bar(ProgressBar);

impl Observer for Bar {
    fn progress(&self, p: Progress) {
        if let Progress::Members { done, .. } = p {
            self.0.set_position(done as u64);
        }
    }
}

fn parse_slice(s: &str) -> Result<(usize, usize)> {
    let (i, n) = s.split_once('/').context("--shard: write i/N, e.g. 0/4")?;
    let i: usize = i.trim().parse().context("--shard: i is not a whole number")?;
    let n: usize = n.trim().parse().context("--shard: N is not a whole number")?;
    if n == 0 || i >= n {
        bail!("--shard: {i}/{n} needs 0 <= i < N");
    }
    Ok((i, n))
}

pub fn run(args: CohortArgs) -> Result<()> {
    let cohort = Cohort::load(&args.spec)?;
    if let Some(m) = args.member {
        let names = cohort.protocols();
        let p = match &args.protocol {
            None => 0,
            Some(name) => names.iter().position(|n| n == name).with_context(|| {
                format!("--protocol: unknown `{name}`; known: {}", names.join(", "))
            })?,
        };
        let s = cohort.member_scenario(m, p)?;
        outln!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(());
    }
    let Some(out) = &args.out else { bail!("--out DIR is required to run a cohort") };
    let slice = args.shard.as_deref().map(parse_slice).transpose()?;
    let pending = cohort.prepare(out, "--out")?;
    let mine: Vec<usize> =
        pending.iter().copied().filter(|s| slice.is_none_or(|(i, n)| s % n == i)).collect();
    if args.dry_run {
        let plan = serde_json::json!({
            "members": cohort.members(),
            "shards": cohort.shards(),
            "spec_hash": cohort.hash(),
            "pending": pending,
            "this_slice": mine,
        });
        outln!("{}", serde_json::to_string_pretty(&plan)?);
        return Ok(());
    }
    let skipped = cohort.shards() - pending.len();
    if skipped > 0 {
        eprintln!("{skipped} of {} shards already complete; skipping them", cohort.shards());
    }
    for s in &mine {
        let range = cohort.shard_range(*s);
        let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            let b = ProgressBar::new((range.len() * cohort.protocols().len()) as u64);
            b.set_style(
                ProgressStyle::with_template("shard {msg} {pos}/{len} [{bar:40}] eta {eta}")
                    .expect("template"),
            );
            b.set_message(s.to_string());
            b
        } else {
            ProgressBar::hidden()
        };
        let bar = Bar(bar);
        let marker = cohort.run_shard(out, *s, &bar)?;
        bar.0.finish_and_clear();
        eprintln!(
            "shard {s}: members {} to {}, {} rows",
            marker.members[0],
            marker.members[1] - 1,
            marker.rows
        );
    }
    let done = cohort.completed(out);
    outln!(
        "{}: {done} of {} shards complete ({} members x {} protocols)",
        out.display(),
        cohort.shards(),
        cohort.members(),
        cohort.protocols().len()
    );
    Ok(())
}

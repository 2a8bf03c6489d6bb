//! `dermasim validate` and `dermasim calibrate`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use dermasim::ParameterSet;

#[derive(Args)]
pub struct ValidateArgs {
    /// Print the checks as JSON.
    #[arg(long)]
    json: bool,
    /// Write a report folder (checks as JSON and CSV, a Markdown table, plots of model against data).
    #[arg(long)]
    report: Option<PathBuf>,
}

#[derive(Args)]
pub struct CalibrateArgs {
    /// Nelder-Mead iterations (default: the shipped calibration's).
    #[arg(long, default_value_t = 200)]
    max_iters: u64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Where to write the fitted overlay (commit it as data/calibrated.toml to make it the default).
    #[arg(long, default_value = "calibrated.toml")]
    out: PathBuf,
    /// Prior draws for the posterior ensemble (0 skips it; default: the shipped posterior's).
    #[arg(long, default_value_t = 4000)]
    posterior_draws: usize,
    /// Where to write the posterior draws (commit as data/posterior.json).
    #[arg(long, default_value = "posterior.json")]
    posterior_out: PathBuf,
}

pub fn validate(args: ValidateArgs) -> Result<bool> {
    if let Some(dir) = &args.report {
        // Refuse an unusable place before the work.
        dermasim_io::check_folder_target(dir, "--report")?;
    }
    let v = dermasim_app::evidence::validate()?;
    if let Some(dir) = &args.report {
        let path =
            dermasim_app::evidence::write_report(&v, dir, "--report", std::env::args().collect())?;
        eprintln!("wrote {}", path.display());
    }
    let all = v.all_pass();
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "parameter_set": v.set.provenance(), "all_pass": all, "checks": v.checks })
            )?
        );
    } else {
        outln!("parameters: {}\n", v.set.provenance());
        out!("{}", dermasim_app::evidence::table(&v.checks));
        outln!(
            "\n{} of {} checks pass",
            v.checks.iter().filter(|c| c.pass).count(),
            v.checks.len()
        );
    }
    Ok(all)
}

pub fn calibrate(args: CalibrateArgs) -> Result<()> {
    let request = dermasim_app::evidence::CalibrateRequest {
        max_iters: args.max_iters,
        seed: args.seed,
        posterior_draws: args.posterior_draws,
    };
    eprintln!(
        "fitting {} parameters to the calibration targets ({} iterations at most){}...",
        dermasim_calibrate::FREE.len(),
        args.max_iters,
        if args.posterior_draws > 0 {
            format!(", then {} posterior draws", args.posterior_draws)
        } else {
            String::new()
        }
    );
    let c = dermasim_app::evidence::calibrate(&request)?;
    let lit = ParameterSet::literature();
    outln!("{:<32} {:>12} {:>12}  range", "parameter", "prior", "fitted");
    for (name, v) in &c.fit.overlay.values {
        let p = &lit.param[name];
        outln!("{name:<32} {:>12.5} {v:>12.5}  [{}, {}]", p.value, p.range[0], p.range[1]);
    }
    outln!("\nresiduals (model - target) / half band:");
    for (id, r) in &c.fit.overlay.calibration.residuals {
        outln!("  {id:<32} {r:+.3}");
    }
    dermasim_io::write_file(&args.out, c.overlay_toml.as_bytes(), "--out")?;
    eprintln!(
        "wrote {} (set `{}`, {} iterations)",
        args.out.display(),
        c.fit.overlay.name,
        c.fit.evaluations
    );
    if let Some(post) = &c.posterior {
        dermasim_io::write_file(
            &args.posterior_out,
            serde_json::to_string(post)?.as_bytes(),
            "--posterior-out",
        )?;
        outln!(
            "\nposterior: {} of {} draws kept, effective sample size {:.1}",
            post.draws.len(),
            post.prior_draws,
            post.effective_size()
        );
        eprintln!("wrote {}", args.posterior_out.display());
    }
    Ok(())
}

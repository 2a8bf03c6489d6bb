//! `dermasim validate` and `dermasim calibrate`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use dermasim::validation::{self, Check};
use dermasim::ParameterSet;
use dermasim_io::{Manifest, RunFolder};

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
    /// Nelder-Mead iterations.
    #[arg(long, default_value_t = 120)]
    max_iters: u64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Where to write the fitted overlay (commit it as data/calibrated.toml to make it the default).
    #[arg(long, default_value = "calibrated.toml")]
    out: PathBuf,
    /// Prior draws for the posterior ensemble (0 skips it).
    #[arg(long, default_value_t = 400)]
    posterior_draws: usize,
    /// Where to write the posterior draws (commit as data/posterior.json).
    #[arg(long, default_value = "posterior.json")]
    posterior_out: PathBuf,
}

fn fmt(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.4}")
    } else {
        "-".into()
    }
}

fn table(checks: &[Check]) -> String {
    let mut s = format!(
        "{:<4} {:<32} {:>9} {:>9}  {:<44} source\n",
        "", "check", "model", "compare", "accepted"
    );
    for c in checks {
        s.push_str(&format!(
            "{:<4} {:<32} {:>9} {:>9}  {:<44} {}\n",
            if c.pass { "ok" } else { "FAIL" },
            c.id,
            fmt(c.model),
            c.model_compare.map(fmt).unwrap_or_default(),
            c.accepted,
            c.source
        ));
    }
    s
}

fn markdown(checks: &[Check], set: &ParameterSet) -> String {
    let mut s = format!("# dermasim validation\n\nParameter set: {}\n\n", set.provenance());
    s.push_str("| check | source | protocol | observed | model | accepted | result | fitted to it |\n|---|---|---|---|---|---|---|---|\n");
    for c in checks {
        let model = match c.model_compare {
            Some(b) => format!("{} vs {}", fmt(c.model), fmt(b)),
            None => fmt(c.model),
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            c.id,
            c.source,
            c.protocol,
            c.observed,
            model,
            c.accepted,
            if c.pass { "pass" } else { "FAIL" },
            if c.calibrated_on { "yes" } else { "no" }
        ));
    }
    s.push_str(&format!("\n{}\n", dermasim::DISCLAIMER));
    s
}

/// A plain SVG: each check's model value against its accepted band (value checks) or the two
/// compared values (direction checks).
fn plot(checks: &[Check]) -> String {
    let (w, row, left) = (900.0, 26.0, 300.0);
    let h = 60.0 + row * checks.len() as f64;
    let values: Vec<f64> = checks
        .iter()
        .filter(|c| !c.id.starts_with("phase_"))
        .flat_map(|c| [Some(c.model), c.model_compare].into_iter().flatten())
        .filter(|v| v.is_finite())
        .collect();
    let (lo, hi) = values.iter().fold((0.9f64, 1.1f64), |(a, b), &v| (a.min(v), b.max(v)));
    let x = |v: f64| left + (v - lo) / (hi - lo) * (w - left - 30.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{left}\" y=\"18\">model value (relative to before treatment; 1 = unchanged), band = accepted range</text>\n"
    );
    s.push_str(&format!("<line x1=\"{0}\" x2=\"{0}\" y1=\"30\" y2=\"{1}\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>\n", x(1.0), h - 20.0));
    s.push_str(&format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">1.0</text>\n",
        x(1.0),
        h - 6.0
    ));
    for (i, c) in checks.iter().filter(|c| !c.id.starts_with("phase_")).enumerate() {
        let y = 40.0 + row * i as f64;
        s.push_str(&format!("<text x=\"4\" y=\"{}\">{}</text>\n", y + 4.0, c.id));
        if let Some((a, b)) = c
            .accepted
            .strip_prefix("target ")
            .and_then(|t| t.split_once("band ["))
            .map(|(_, r)| r)
            .or_else(|| c.accepted.strip_prefix("band ["))
            .and_then(|r| r.trim_end_matches(']').split_once(", "))
        {
            if let (Ok(a), Ok(b)) = (a.parse::<f64>(), b.parse::<f64>()) {
                let (a, b) = (a.max(lo), b.min(hi));
                s.push_str(&format!(
                    "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"10\" fill=\"#cde\"/>\n",
                    x(a),
                    y - 5.0,
                    (x(b) - x(a)).max(1.0)
                ));
            }
        }
        if let Some(b) = c.model_compare {
            s.push_str(&format!(
                "<circle cx=\"{}\" cy=\"{y}\" r=\"4\" fill=\"none\" stroke=\"#555\"/>\n",
                x(b.clamp(lo, hi))
            ));
        }
        let color = if c.pass { "#1a7f37" } else { "#cf222e" };
        s.push_str(&format!(
            "<circle cx=\"{}\" cy=\"{y}\" r=\"5\" fill=\"{color}\"/>\n",
            x(c.model.clamp(lo, hi))
        ));
    }
    s.push_str("</svg>\n");
    s
}

pub fn validate(args: ValidateArgs) -> Result<bool> {
    let set = ParameterSet::default_set();
    let checks = validation::validate(&set)?;
    let all = checks.iter().all(|c| c.pass);
    if let Some(dir) = &args.report {
        let mut folder = RunFolder::create(dir)?;
        folder.write(
            "validation.json",
            "validation",
            "every check: source, protocol, observed, model value, accepted band, result",
            serde_json::to_string_pretty(&checks)?.as_bytes(),
        )?;
        folder.write(
            "validation.md",
            "report",
            "the checks as a Markdown table",
            markdown(&checks, &set).as_bytes(),
        )?;
        folder.write(
            "validation.svg",
            "plot",
            "model values against the accepted bands (filled: model; ring: compared scenario)",
            plot(&checks).as_bytes(),
        )?;
        let manifest = Manifest {
            program: "dermasim".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            created_utc: dermasim_io::utc_now(),
            command: std::env::args().collect(),
            scenario_hash: "validation targets".into(),
            seed: 0,
            fidelity: "1d".into(),
            threads: rayon::current_num_threads(),
            wall_time_s: 0.0,
            parameter_set: set.provenance(),
            files: vec![],
            disclaimer: dermasim::DISCLAIMER.into(),
        };
        let path = folder.commit(manifest)?;
        eprintln!("wrote {}", path.display());
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "parameter_set": set.provenance(), "all_pass": all, "checks": checks })
            )?
        );
    } else {
        println!("parameters: {}\n", set.provenance());
        print!("{}", table(&checks));
        println!("\n{} of {} checks pass", checks.iter().filter(|c| c.pass).count(), checks.len());
    }
    Ok(all)
}

pub fn calibrate(args: CalibrateArgs) -> Result<()> {
    if args.max_iters == 0 {
        bail!("--max-iters: 0 is not allowed; use 1 or more");
    }
    let settings = dermasim_calibrate::Settings {
        max_evaluations: args.max_iters,
        seed: args.seed,
        date: dermasim_io::utc_now()[..10].to_string(),
    };
    eprintln!(
        "fitting {} parameters to the calibration targets ({} iterations at most)...",
        dermasim_calibrate::FREE.len(),
        args.max_iters
    );
    let fit = dermasim_calibrate::calibrate(&settings)?;
    let lit = ParameterSet::literature();
    println!("{:<32} {:>12} {:>12}  range", "parameter", "prior", "fitted");
    for (name, v) in &fit.overlay.values {
        let p = &lit.param[name];
        println!("{name:<32} {:>12.5} {v:>12.5}  [{}, {}]", p.value, p.range[0], p.range[1]);
    }
    println!("\nresiduals (model - target) / half band:");
    for (id, r) in &fit.overlay.calibration.residuals {
        println!("  {id:<32} {r:+.3}");
    }
    let text = format!(
        "# Values fitted by `dermasim calibrate --seed {} --max-iters {}`; applied on top of data/parameters.toml.\n{}",
        args.seed,
        args.max_iters,
        toml::to_string(&fit.overlay).context("serialising the fitted overlay")?
    );
    let tmp = args.out.with_extension("toml.tmp");
    std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &args.out)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    eprintln!("wrote {} ({} iterations)", args.out.display(), fit.evaluations);
    if args.posterior_draws > 0 {
        eprintln!(
            "sampling the posterior: {} Latin-hypercube draws against the calibration targets...",
            args.posterior_draws
        );
        let post = dermasim_calibrate::posterior(args.posterior_draws, args.seed, &settings.date)?;
        let tmp = args.posterior_out.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_string(&post)?)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &args.posterior_out)
            .with_context(|| format!("cannot write {}", args.posterior_out.display()))?;
        println!(
            "\nposterior: {} of {} draws kept, effective sample size {:.1}",
            post.draws.len(),
            post.prior_draws,
            post.effective_size()
        );
        eprintln!("wrote {}", args.posterior_out.display());
    }
    Ok(())
}

//! `dermasim screen` and `dermasim plan`: thin wrappers over dermasim-clinic.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use dermasim_clinic::{render, Clinic, ClinicError, Date, PlanOptions, Profile};

#[derive(Args)]
pub struct ScreenArgs {
    /// Patient profile (TOML, or JSON when it ends in .json); see examples/patients/.
    file: PathBuf,
    /// Print the screening as JSON (`verdict`, `findings`).
    #[arg(long)]
    json: bool,
    /// Assessment date YYYY-MM-DD (default: the profile's `assessment_date`, else today UTC).
    #[arg(long, value_parser = parse_date)]
    date: Option<Date>,
}

#[derive(Args)]
pub struct PlanArgs {
    /// Patient profile (TOML, or JSON when it ends in .json); see examples/patients/.
    file: PathBuf,
    /// Print the report as JSON (`screening`, `plans`, `care_advice`).
    #[arg(long)]
    json: bool,
    /// Also write a Markdown handout to FILE (written whole, or not at all).
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
    /// Assessment date YYYY-MM-DD (default: the profile's `assessment_date`, else today UTC).
    #[arg(long, value_parser = parse_date)]
    date: Option<Date>,
    /// Ensemble members per plan, 2 to 256 (default from data/protocols.toml).
    #[arg(long, value_name = "N")]
    members: Option<usize>,
    /// Also write the forecast chart (collagen with its 5-95 % band, one panel per plan) to
    /// FILE, SVG or PNG by its extension (written whole, or not at all).
    #[arg(long, value_name = "FILE")]
    chart: Option<PathBuf>,
}

fn parse_date(s: &str) -> std::result::Result<Date, String> {
    Date::parse(s)
}

/// Exit status when `plan` refuses because screening says do not treat.
pub const REFUSED: u8 = 3;

fn load(file: &Path) -> Result<Profile> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("{}: cannot read the file", file.display()))?;
    let json = file.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    Ok(dermasim_clinic::parse_profile(&text, json, &file.display().to_string())?)
}

pub fn screen(args: ScreenArgs) -> Result<()> {
    let clinic = Clinic::embedded();
    let profile = load(&args.file)?;
    let screening = clinic.screen(&profile, args.date)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&screening)?);
    } else {
        print!("{}", render::screening_text(&screening, profile.id.as_deref()));
    }
    Ok(())
}

/// `Ok(true)` when a plan was made, `Ok(false)` when screening refused it (already reported).
pub fn plan(args: PlanArgs) -> Result<bool> {
    if let Some(n) = args.members {
        if !(2..=256).contains(&n) {
            anyhow::bail!("--members: {n} is outside the allowed range 2 to 256");
        }
    }
    let png = match &args.chart {
        Some(path) => Some(chart_is_png(path)?),
        None => None,
    };
    let clinic = Clinic::embedded();
    let profile = load(&args.file)?;
    match clinic.plan(&profile, args.date, PlanOptions { members: args.members }) {
        Ok(report) => {
            if let (Some(path), Some(png)) = (&args.chart, png) {
                write_atomically(path, &forecast_chart(&report, png)?)?;
                eprintln!("wrote {}", path.display());
            }
            if let Some(path) = &args.markdown {
                let chart = args.chart.as_deref().map(|c| relative_name(path, c));
                write_atomically(
                    path,
                    render::plan_markdown_with_chart(&report, chart.as_deref()).as_bytes(),
                )?;
                eprintln!("wrote {}", path.display());
            }
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", render::plan_text(&report));
            }
            Ok(true)
        }
        Err(ClinicError::Refused(screening)) => {
            if args.json {
                let out = serde_json::json!({ "screening": screening, "plans": [], "refused": "screening says do not treat", "disclaimer": dermasim::DISCLAIMER });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                print!("{}", render::screening_text(&screening, profile.id.as_deref()));
            }
            eprintln!("error: {}", ClinicError::Refused(screening));
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// Write next to the target, then rename over it: readers see the old file or the new one.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().with_context(|| format!("{}: not a file name", path.display()))?;
    let tmp = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    let result = std::fs::write(&tmp, bytes).and_then(|_| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("{}: cannot write", path.display()))
}

/// `--chart FILE`: PNG for `.png`, SVG for `.svg`; anything else is an error before any work.
fn chart_is_png(path: &Path) -> Result<bool> {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("svg") => Ok(false),
        Some("png") => Ok(true),
        _ => anyhow::bail!("--chart: {} must end in .svg or .png", path.display()),
    }
}

/// The forecast chart of every plan, one panel each.
fn forecast_chart(report: &dermasim_clinic::PlanReport, png: bool) -> Result<Vec<u8>> {
    use dermasim_report::plots::{first_sentence, ForecastChart, ForecastPanel};
    let panels = report
        .plans
        .iter()
        .enumerate()
        .map(|(i, p)| ForecastPanel {
            title: format!(
                "Plan {}: {} ({} at {} mm, {} sessions)",
                i + 1,
                render::plan_heading(p),
                p.device.as_str(),
                p.depth_mm,
                p.sessions
            ),
            session_days: p.session_days.clone(),
            timeline: p.forecast.timeline.clone(),
        })
        .collect();
    let chart = ForecastChart { panels, note: first_sentence(&report.disclaimer).into() };
    let fig = dermasim_report::render(&chart, png)?;
    Ok(match fig.png {
        Some(bytes) => bytes,
        None => fig.svg.into_bytes(),
    })
}

/// `target` as the handout at `from` refers to it: relative to the handout's folder when both
/// folders can be resolved, else as given.
fn relative_name(from: &Path, target: &Path) -> String {
    let dir = |p: &Path| {
        let parent = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::canonicalize(parent).ok()
    };
    let (Some(a), Some(b), Some(name)) = (dir(from), dir(target), target.file_name()) else {
        return target.display().to_string();
    };
    let (a, b): (Vec<_>, Vec<_>) = (a.components().collect(), b.components().collect());
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".into(); a.len() - common];
    parts.extend(b[common..].iter().map(|c| c.as_os_str().to_string_lossy().into_owned()));
    parts.push(name.to_string_lossy().into_owned());
    parts.join("/")
}

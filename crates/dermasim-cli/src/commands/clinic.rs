//! `dermasim screen` and `dermasim plan`: thin wrappers over dermasim-clinic.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use dermasim_app::clinic::PlanOutcome;
use dermasim_clinic::{render, ClinicError, Date};

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

pub fn screen(args: ScreenArgs) -> Result<()> {
    let profile = dermasim_app::clinic::load_profile(&args.file)?;
    let screening = dermasim_app::clinic::screen(&profile, args.date)?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&screening)?);
    } else {
        out!("{}", render::screening_text(&screening, profile.id.as_deref()));
    }
    Ok(())
}

/// `Ok(true)` when a plan was made, `Ok(false)` when screening refused it (already reported).
pub fn plan(args: PlanArgs) -> Result<bool> {
    let png = match &args.chart {
        Some(path) => Some(chart_is_png(path)?),
        None => None,
    };
    let profile = dermasim_app::clinic::load_profile(&args.file)?;
    match dermasim_app::clinic::plan(&profile, args.date, args.members)? {
        PlanOutcome::Planned(report) => {
            if let (Some(path), Some(png)) = (&args.chart, png) {
                let bytes = dermasim_app::clinic::forecast_chart(&report, png)?;
                dermasim_io::write_file(path, &bytes, "--chart")?;
                eprintln!("wrote {}", path.display());
            }
            if let Some(path) = &args.markdown {
                let chart = args.chart.as_deref().map(|c| relative_name(path, c));
                let text = dermasim_app::clinic::handout_markdown(&report, chart.as_deref());
                dermasim_io::write_file(path, text.as_bytes(), "--markdown")?;
                eprintln!("wrote {}", path.display());
            }
            if args.json {
                outln!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                out!("{}", render::plan_text(&report));
            }
            Ok(true)
        }
        PlanOutcome::Refused(screening) => {
            if args.json {
                let out = serde_json::json!({ "screening": screening, "plans": [], "refused": "screening says do not treat", "disclaimer": dermasim::DISCLAIMER });
                outln!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                out!("{}", render::screening_text(&screening, profile.id.as_deref()));
            }
            eprintln!("error: {}", ClinicError::Refused(screening));
            Ok(false)
        }
    }
}

/// `--chart FILE`: PNG for `.png`, SVG for `.svg`; anything else is an error before any work.
fn chart_is_png(path: &Path) -> Result<bool> {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("svg") => Ok(false),
        Some("png") => Ok(true),
        _ => anyhow::bail!("--chart: {} must end in .svg or .png", path.display()),
    }
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

//! Validation against every published target, and calibration of the unsourced parameters.

use std::path::{Path, PathBuf};

use dermasim::ParameterSet;
use dermasim_calibrate::validation::{self, Check};
use dermasim_io::{Manifest, RunFolder, Sink};

use crate::{AppError, VERSION};

/// The result of `validate`.
#[derive(Debug, Clone)]
pub struct Validation {
    /// The parameter set checked.
    pub set: ParameterSet,
    /// Every check, in target order.
    pub checks: Vec<Check>,
}

impl Validation {
    /// Whether every check passes.
    pub fn all_pass(&self) -> bool {
        self.checks.iter().all(|c| c.pass)
    }
}

/// Run every target of `data/targets.toml` as a scenario and compare with the data.
pub fn validate() -> Result<Validation, AppError> {
    let set = ParameterSet::default_set();
    let checks = validation::validate(&set)?;
    Ok(Validation { set, checks })
}

/// Write a validation report folder at `dir` (`flag` names the option in errors): checks as
/// JSON, a Markdown table and an SVG, with a manifest. Same folder rules as a run folder.
pub fn write_report(
    v: &Validation,
    dir: &Path,
    flag: &str,
    command: Vec<String>,
) -> Result<PathBuf, AppError> {
    let mut folder = RunFolder::create(dir, flag)?;
    folder.write(
        "validation.json",
        "validation",
        "every check: source, protocol, observed, model value, accepted band, result",
        crate::run::pretty(&v.checks).as_bytes(),
    )?;
    folder.write(
        "validation.md",
        "report",
        "the checks as a Markdown table",
        markdown(&v.checks, &v.set).as_bytes(),
    )?;
    folder.write(
        "validation.svg",
        "plot",
        "model values against the accepted bands (filled: model; ring: compared scenario)",
        plot(&v.checks).as_bytes(),
    )?;
    let manifest = Manifest {
        program: "dermasim".into(),
        version: VERSION.into(),
        created_utc: dermasim_io::utc_now(),
        command,
        scenario_hash: "validation targets".into(),
        seed: 0,
        fidelity: "1d".into(),
        threads: rayon::current_num_threads(),
        wall_time_s: 0.0,
        parameter_set: v.set.provenance(),
        ensemble_members: None,
        resumed_from_day: None,
        warnings: vec![],
        files: vec![],
        disclaimer: dermasim::DISCLAIMER.into(),
    };
    Ok(folder.commit(manifest)?)
}

/// Settings of a calibration; the defaults are those of the shipped `data/calibrated.toml`
/// and `data/posterior.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrateRequest {
    /// Nelder-Mead iterations.
    pub max_iters: u64,
    /// Seed of the search and of the posterior draws.
    pub seed: u64,
    /// Prior draws for the posterior (0 skips it).
    pub posterior_draws: usize,
}

impl Default for CalibrateRequest {
    fn default() -> Self {
        CalibrateRequest { max_iters: 200, seed: 42, posterior_draws: 4000 }
    }
}

/// What calibration produced, ready to write.
pub struct Calibration {
    /// The fit.
    pub fit: dermasim_calibrate::Fit,
    /// The overlay as the TOML of `data/calibrated.toml`.
    pub overlay_toml: String,
    /// The posterior sample, when drawn.
    pub posterior: Option<dermasim::ensemble::Posterior>,
}

/// Fit the parameters with no published value to the calibration targets, then sample the
/// posterior. Settings weaker than the shipped ones give a set named for its settings, so it is
/// never mistaken for the shipped one.
pub fn calibrate(request: &CalibrateRequest) -> Result<Calibration, AppError> {
    if request.max_iters == 0 {
        return Err(AppError::request("max_iters", "0 is not allowed; use 1 or more"));
    }
    let date = dermasim_io::utc_now()[..10].to_string();
    let settings = dermasim_calibrate::Settings {
        max_evaluations: request.max_iters,
        seed: request.seed,
        date: date.clone(),
    };
    let mut fit = dermasim_calibrate::calibrate(&settings)?;
    let shipped = CalibrateRequest::default();
    if request.max_iters < shipped.max_iters
        || (request.posterior_draws > 0 && request.posterior_draws < shipped.posterior_draws)
    {
        fit.overlay.name = format!(
            "{}-iters{}-draws{}-seed{}",
            fit.overlay.name, request.max_iters, request.posterior_draws, request.seed
        );
    }
    let overlay_toml = format!(
        "# Values fitted by `dermasim calibrate --seed {} --max-iters {} --posterior-draws {}`; applied on top of data/parameters.toml.\n{}",
        request.seed,
        request.max_iters,
        request.posterior_draws,
        toml::to_string(&fit.overlay).map_err(|e| AppError::request("overlay", e.to_string()))?
    );
    let posterior = if request.posterior_draws > 0 {
        Some(dermasim_calibrate::posterior(request.posterior_draws, request.seed, &date)?)
    } else {
        None
    };
    Ok(Calibration { fit, overlay_toml, posterior })
}

fn fmt(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.4}")
    } else {
        "-".into()
    }
}

/// The checks as a text table.
pub fn table(checks: &[Check]) -> String {
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

/// The checks as a Markdown table.
pub fn markdown(checks: &[Check], set: &ParameterSet) -> String {
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
/// A plain SVG of model values against the accepted bands.
pub fn plot(checks: &[Check]) -> String {
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

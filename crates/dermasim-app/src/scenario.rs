//! Loading a scenario the way every front end does: a file (or the built-in default), then
//! `PATH=VALUE` overrides, then the shared switches, then the library's validation.

use std::path::PathBuf;

use dermasim::outputs::OutputKind;
use dermasim::{ParameterSet, Scenario};

use crate::AppError;

/// Where a scenario comes from and what is changed on the way in.
#[derive(Debug, Clone, Default)]
pub struct ScenarioSource {
    /// A TOML or JSON file; the built-in default when `None`.
    pub file: Option<PathBuf>,
    /// `PATH=VALUE` edits of any field (list indices allowed), applied in order.
    pub overrides: Vec<String>,
    /// `0d`, `1d` or `3d`, replacing `simulation.fidelity`.
    pub fidelity: Option<String>,
    /// What the run folder holds (`timeseries_csv,plots_svg`, `all`, `none`), replacing
    /// `outputs.write`.
    pub outputs: Option<String>,
    /// Accept parameter overrides outside their ranges (recorded in the summary).
    pub allow_outside_range: bool,
}

/// Read, override, parse and validate: the scenario exactly as it will run.
pub fn load(source: &ScenarioSource, base: &ParameterSet) -> Result<Scenario, AppError> {
    let mut overrides = source.overrides.clone();
    if let Some(f) = &source.fidelity {
        overrides.push(format!("simulation.fidelity={f}"));
    }
    if source.allow_outside_range {
        overrides.push("allow_outside_range=true".into());
    }
    let mut scenario = dermasim_io::load_scenario(source.file.as_deref(), &overrides, base)?;
    // An SBML inflammation module is read from beside the scenario file, and checked now so
    // a wrong mapping is refused before anything runs.
    crate::inflammation::resolve_path(&mut scenario, source.file.as_deref());
    crate::inflammation::module(&scenario)?;
    if let Some(list) = &source.outputs {
        scenario.outputs.write = Some(parse_outputs(list)?);
    }
    Ok(scenario)
}

/// `a,b,c`, `all` or `none` as output kinds.
pub fn parse_outputs(list: &str) -> Result<Vec<OutputKind>, AppError> {
    match list.trim() {
        "all" => Ok(OutputKind::ALL.to_vec()),
        "none" | "" => Ok(Vec::new()),
        l => l
            .split(',')
            .map(|k| k.trim().parse::<OutputKind>().map_err(|e| AppError::request("outputs", e)))
            .collect(),
    }
}

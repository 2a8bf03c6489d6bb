//! Loading a scenario the way every front end does: a file (or the built-in default), then
//! `PATH=VALUE` overrides, then the shared switches, then the library's validation, once: the
//! result is a [`PreparedFile`] that runs and delivery take without checking it again.

use std::path::PathBuf;

use dermasim::tissue::SiteTable;
use dermasim::ParameterSet;
use dermasim_io::{IoError, OutputKind, PreparedFile};

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

/// Read, override, parse and validate: the scenario exactly as it will run, prepared once.
pub fn load(source: &ScenarioSource, base: &ParameterSet) -> Result<PreparedFile, AppError> {
    let mut overrides = source.overrides.clone();
    if let Some(f) = &source.fidelity {
        overrides.push(format!("simulation.fidelity={f}"));
    }
    if source.allow_outside_range {
        overrides.push("allow_outside_range=true".into());
    }
    let mut file = dermasim_io::read_scenario(source.file.as_deref(), &overrides)?;
    // An SBML inflammation module is read from beside the scenario file (the path resolved
    // before the checks, so the prepared scenario is the one that runs), and loaded now so a
    // wrong mapping is refused before anything runs.
    crate::inflammation::resolve_path(&mut file.scenario, source.file.as_deref());
    let mut prepared = file.prepare(SiteTable::shared(), base).map_err(IoError::from)?;
    crate::inflammation::module(prepared.scenario())?;
    if let Some(list) = &source.outputs {
        prepared.set_write(Some(parse_outputs(list)?));
    }
    Ok(prepared)
}

/// Parse and validate scenario TOML given as text (a browser's editor, say): the same steps
/// as [`load`] for a `.toml` file, so the same field-path errors (`origin` stands where a file
/// name would, in syntax errors).
pub fn load_text(text: &str, origin: &str, base: &ParameterSet) -> Result<PreparedFile, AppError> {
    let tree = dermasim_io::parse_tree(text, false, origin)?;
    let file = dermasim_io::scenario_from_tree(tree).map_err(IoError::from)?;
    Ok(file.prepare(SiteTable::shared(), base).map_err(IoError::from)?)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Text and the same text in a `.toml` file: the same scenario, the same refusals.
    #[test]
    fn text_loads_as_a_toml_file_does() {
        let default = include_str!("../../../examples/default.toml");
        let dir = tempfile::tempdir().unwrap();
        let base = ParameterSet::default_set();
        for text in [
            default.to_string(),
            default.replace("depth_mm = 1.5", "depth_mm = 9.0"),
            default.replace("fitzpatrick = 3", "fitzpatrick = 0"),
            default.replace("kind = \"pen\"", "kind = \"laser\""),
            default.replace("seed = 42", "seed = 42\nextra = 1"),
        ] {
            let file = dir.path().join("s.toml");
            std::fs::write(&file, &text).unwrap();
            let from_file = load(&ScenarioSource { file: Some(file), ..Default::default() }, &base);
            let from_text = load_text(&text, "s.toml", &base);
            match (from_file, from_text) {
                (Ok(a), Ok(b)) => assert_eq!(a.file(), b.file()),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                (a, b) => panic!("file {a:?} but text {b:?}"),
            }
        }
        assert!(load_text(default, "s.toml", &base).is_ok(), "the default scenario loads");
    }
}

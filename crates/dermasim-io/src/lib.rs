//! Scenario files in, run folders out.
//!
//! - [`load_scenario`]: TOML or JSON, `--set PATH=VALUE` overrides, typed parsing whose errors
//!   name the field path, then the library's semantic validation.
//! - [`ScenarioFile`]: the core's scenario plus the file's `[outputs]` ([`Outputs`], which
//!   files a run writes), with the file's canonical JSON, hash and schema.
//! - [`RunFolder`]: writes a run folder atomically (temporary folder, then rename).

pub mod outputs;
mod overrides;
pub mod paths;
mod run_folder;
mod scenario_file;

use std::path::{Path, PathBuf};

use dermasim::tissue::SiteTable;
use dermasim::{FieldError, ParameterSet, Scenario};
use sha2::{Digest, Sha256};

pub use outputs::{OutputKind, Outputs};
pub use overrides::apply_override;
pub use paths::{
    check_folder_target, is_run_folder, temporary_prefix, write_atomic, write_file, FolderTarget,
};
pub use run_folder::{
    replace_in_folder, timeline_columns, timeseries_csv, FileEntry, Manifest, MemorySink,
    RunFolder, Sink,
};
pub use scenario_file::{PreparedFile, ScenarioFile};

/// Errors of reading scenarios and writing outputs. Messages name the file, and the cause
/// follows as the error's source (printed once).
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    /// A file could not be read.
    #[error("{path}: cannot read the file")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not valid TOML or JSON.
    #[error("{path}: not valid {format}: {message}")]
    Syntax {
        /// The file (or the origin of the text).
        path: String,
        /// `TOML` or `JSON`.
        format: &'static str,
        /// The parser's message.
        message: String,
    },
    /// A field of the scenario is wrong.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// A file or folder could not be written.
    #[error("{path}: cannot write")]
    Write {
        /// The target.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// An output path that dermasim will not replace.
    #[error("{flag}: {path} {why}", path = path.display())]
    Refused {
        /// The option that named the path (`--out`, `--markdown`, ...).
        flag: String,
        /// The path.
        path: PathBuf,
        /// What is there and what is allowed.
        why: String,
    },
}

/// Parse scenario text (TOML, or JSON when `json`) into a generic tree.
pub fn parse_tree(text: &str, json: bool, origin: &str) -> Result<serde_json::Value, IoError> {
    if json {
        serde_json::from_str(text).map_err(|e| IoError::Syntax {
            path: origin.into(),
            format: "JSON",
            message: e.to_string(),
        })
    } else {
        let v: toml::Value = toml::from_str(text).map_err(|e| IoError::Syntax {
            path: origin.into(),
            format: "TOML",
            message: e.to_string(),
        })?;
        if let Some(path) = non_finite(&v, String::new()) {
            return Err(IoError::Field(FieldError::new(
                path,
                "nan and inf are not numbers dermasim accepts; give a finite value",
            )));
        }
        Ok(serde_json::to_value(v).expect("TOML values map to JSON"))
    }
}

/// The dotted path of the first `nan` or `inf` in a TOML tree (JSON has neither).
fn non_finite(v: &toml::Value, path: String) -> Option<String> {
    let join = |k: &str| if path.is_empty() { k.to_string() } else { format!("{path}.{k}") };
    match v {
        toml::Value::Float(f) if !f.is_finite() => {
            Some(if path.is_empty() { "scenario".into() } else { path })
        }
        toml::Value::Array(a) => {
            a.iter().enumerate().find_map(|(i, x)| non_finite(x, join(&i.to_string())))
        }
        toml::Value::Table(t) => t.iter().find_map(|(k, x)| non_finite(x, join(k))),
        _ => None,
    }
}

/// Typed scenario file from a tree; errors carry the field path (`device.depth_mm: ...`).
pub fn scenario_from_tree(tree: serde_json::Value) -> Result<ScenarioFile, FieldError> {
    // Devices are tagged by `kind`; serde buffers tagged content and loses the path inside,
    // so each device is checked on its own first.
    if let Some(d) = tree.get("device") {
        check_device(d, "device")?;
    }
    if let Some(sessions) = tree.pointer("/protocol/sessions").and_then(|s| s.as_array()) {
        for (i, s) in sessions.iter().enumerate() {
            if let Some(d) = s.get("device") {
                check_device(d, &format!("protocol.sessions.{i}.device"))?;
            }
        }
    }
    typed(tree, "")
}

fn typed<T: serde::de::DeserializeOwned>(
    tree: serde_json::Value,
    prefix: &str,
) -> Result<T, FieldError> {
    serde_path_to_error::deserialize::<_, T>(tree).map_err(|e| {
        let inner = e.path().to_string();
        let path = match (prefix.is_empty(), inner == "." || inner.is_empty()) {
            (true, true) => "scenario".to_string(),
            (true, false) => inner,
            (false, true) => prefix.to_string(),
            (false, false) => format!("{prefix}.{inner}"),
        };
        FieldError::new(path, e.into_inner().to_string())
    })
}

fn check_device(tree: &serde_json::Value, path: &str) -> Result<(), FieldError> {
    use dermasim::device::{Pen, Roller, Stamp};
    let Some(obj) = tree.as_object() else {
        return Err(FieldError::new(
            path,
            "must be a table with `kind = \"pen\" | \"roller\" | \"stamp\"`",
        ));
    };
    let kind = obj.get("kind").and_then(|k| k.as_str()).ok_or_else(|| {
        FieldError::new(format!("{path}.kind"), "missing; use \"pen\", \"roller\" or \"stamp\"")
    })?;
    let mut inner = obj.clone();
    inner.remove("kind");
    let inner = serde_json::Value::Object(inner);
    match kind {
        "pen" => typed::<Pen>(inner, path).map(drop),
        "roller" => typed::<Roller>(inner, path).map(drop),
        "stamp" => typed::<Stamp>(inner, path).map(drop),
        other => Err(FieldError::new(
            format!("{path}.kind"),
            format!("unknown device `{other}`; use pen, roller or stamp"),
        )),
    }
}

/// Read, override, parse and validate a scenario file. `None` means the built-in default.
pub fn load_scenario(
    file: Option<&Path>,
    overrides: &[String],
    base: &ParameterSet,
) -> Result<PreparedFile, IoError> {
    Ok(read_scenario(file, overrides)?.prepare(SiteTable::shared(), base)?)
}

/// Read, override and parse a scenario file, without the semantic checks (the caller
/// prepares it: [`ScenarioFile::prepare`]). `None` means the built-in default.
pub fn read_scenario(file: Option<&Path>, overrides: &[String]) -> Result<ScenarioFile, IoError> {
    let mut tree = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|source| IoError::Read { path: path.into(), source })?;
            let json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
            parse_tree(&text, json, &path.display().to_string())?
        }
        None => serde_json::to_value(Scenario::default_scenario()).expect("scenario serialises"),
    };
    for o in overrides {
        apply_override(&mut tree, o)?;
    }
    Ok(scenario_from_tree(tree)?)
}

/// SHA-256 of the scenario file's canonical JSON (first 16 hex digits).
pub fn scenario_hash(s: &ScenarioFile) -> String {
    hash_of(&s.canonical_json())
}

/// [`scenario_hash`] of a prepared file.
pub fn prepared_hash(s: &PreparedFile) -> String {
    hash_of(&s.canonical_json())
}

fn hash_of(canonical_json: &str) -> String {
    let digest = Sha256::digest(canonical_json.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// JSON Schema of the scenario file.
pub fn scenario_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(ScenarioFile)).expect("schema serialises")
}

/// Current UTC time as RFC 3339 to the second (`2026-12-01T09:30:00Z`).
pub fn utc_now() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> ParameterSet {
        ParameterSet::default_set()
    }

    #[test]
    fn default_scenario_loads_and_hash_is_stable() {
        let s = load_scenario(None, &[], &base()).unwrap();
        let default = ScenarioFile::default_scenario();
        assert_eq!(prepared_hash(&s), scenario_hash(&default));
        assert_eq!(scenario_hash(&default).len(), 16);
    }

    #[test]
    fn override_changes_a_field_and_is_validated() {
        let s = load_scenario(None, &["patient.age_years=65".into()], &base()).unwrap();
        assert_eq!(s.scenario().patient.age_years, 65.0);
        let e =
            load_scenario(None, &["patient.age_years=7".into()], &base()).unwrap_err().to_string();
        assert!(e.starts_with("patient.age_years:") && e.contains("18"), "{e}");
        let e =
            load_scenario(None, &["device.depth_mm=4.0".into()], &base()).unwrap_err().to_string();
        assert!(e.contains("device.depth_mm") && e.contains("maximum"), "{e}");
        let e =
            load_scenario(None, &["patient.site=elbow".into()], &base()).unwrap_err().to_string();
        assert!(e.contains("patient.site") && e.contains("cheek"), "{e}");
    }

    #[test]
    fn type_errors_name_the_field() {
        let e = load_scenario(None, &["device.needles=\"many\"".into()], &base())
            .unwrap_err()
            .to_string();
        assert!(e.contains("needles"), "{e}");
        let e = load_scenario(None, &["protocol.sessions.1.day=500".into()], &base())
            .unwrap_err()
            .to_string();
        assert!(e.contains("protocol.sessions.1.day") && e.contains("follow-up"), "{e}");
        let e = load_scenario(None, &["simulation.fidelity=2d".into()], &base())
            .unwrap_err()
            .to_string();
        assert!(e.contains("simulation.fidelity"), "{e}");
    }

    #[test]
    fn malformed_files_are_reported_with_their_format() {
        let t = parse_tree("[patient\nsite=", false, "x.toml").unwrap_err().to_string();
        assert!(t.contains("not valid TOML"), "{t}");
        let j = parse_tree("{\"a\":", true, "x.json").unwrap_err().to_string();
        assert!(j.contains("not valid JSON"), "{j}");
    }

    #[test]
    fn utc_now_is_rfc3339() {
        let t = utc_now();
        assert_eq!(t.len(), 20);
        assert!(t.starts_with("20") && t.ends_with('Z'));
    }
}

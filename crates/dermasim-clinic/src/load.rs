//! Profile text (TOML or JSON) to a typed profile; errors name the field path.

use dermasim::FieldError;

use crate::profile::Profile;
use crate::ClinicError;

/// TOML values as JSON, with TOML dates written as their `YYYY-MM-DD` text.
fn toml_to_json(v: toml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        toml::Value::String(s) => J::String(s),
        toml::Value::Integer(i) => J::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f).map(J::Number).unwrap_or(J::Null),
        toml::Value::Boolean(b) => J::Bool(b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(a) => J::Array(a.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => {
            J::Object(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect())
        }
    }
}

/// Parse a profile. `origin` names the file in syntax errors.
pub fn parse_profile(text: &str, json: bool, origin: &str) -> Result<Profile, ClinicError> {
    let tree: serde_json::Value = if json {
        serde_json::from_str(text).map_err(|e| ClinicError::Syntax {
            origin: origin.into(),
            format: "JSON",
            message: e.to_string(),
        })?
    } else {
        let v: toml::Value = toml::from_str(text).map_err(|e| ClinicError::Syntax {
            origin: origin.into(),
            format: "TOML",
            message: e.to_string(),
        })?;
        toml_to_json(v)
    };
    serde_path_to_error::deserialize::<_, Profile>(tree).map_err(|e| {
        // `concerns[0].kind` -> `concerns.0.kind`, the form validation errors use.
        let path = e.path().to_string().replace('[', ".").replace(']', "");
        let path = if path.is_empty() || path == "." { "profile".to_string() } else { path };
        ClinicError::Field(FieldError::new(path, e.into_inner().to_string()))
    })
}

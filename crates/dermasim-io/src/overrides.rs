//! `--set PATH=VALUE`: change one field of the scenario tree before typed parsing.

use dermasim::FieldError;
use serde_json::Value;

/// Parse `VALUE` as JSON (numbers, booleans, quoted strings, arrays, objects), then as a TOML
/// inline value, and fall back to a bare string (`--set patient.site=neck`).
fn parse_value(text: &str) -> Value {
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        return v;
    }
    if let Ok(t) = toml::from_str::<toml::Table>(&format!("v = {text}")) {
        if let Some(v) = t.get("v") {
            return serde_json::to_value(v).expect("TOML maps to JSON");
        }
    }
    Value::String(text.to_string())
}

/// Apply one `PATH=VALUE` to the tree. Array elements are addressed by index
/// (`protocol.sessions.1.day=30`); missing object keys are created, so optional fields can be
/// set; unknown names are then rejected by the typed parse.
pub fn apply_override(tree: &mut Value, spec: &str) -> Result<(), FieldError> {
    let (path, raw) = spec.split_once('=').ok_or_else(|| {
        FieldError::new("--set", format!("`{spec}` is not PATH=VALUE (e.g. patient.age_years=65)"))
    })?;
    let path = path.trim();
    if path.is_empty() {
        return Err(FieldError::new("--set", format!("`{spec}` has an empty path")));
    }
    let value = parse_value(raw.trim());
    let mut node = tree;
    let parts: Vec<&str> = path.split('.').collect();
    for (n, part) in parts.iter().enumerate() {
        let last = n + 1 == parts.len();
        let so_far = parts[..=n].join(".");
        node = match node {
            Value::Array(items) => {
                let i: usize = part.parse().map_err(|_| {
                    FieldError::new(
                        &so_far,
                        format!("`{part}` is not an index into a list of {}", items.len()),
                    )
                })?;
                let len = items.len();
                items.get_mut(i).ok_or_else(|| {
                    FieldError::new(
                        &so_far,
                        format!("index {i} is past the end of a list of {len}"),
                    )
                })?
            }
            Value::Object(map) => {
                if last {
                    map.insert(part.to_string(), Value::Null);
                }
                map.entry(part.to_string()).or_insert_with(|| Value::Object(Default::default()))
            }
            _ => {
                return Err(FieldError::new(
                    &so_far,
                    "cannot set a field inside a value that is not a table",
                ))
            }
        };
        if last {
            *node = value;
            return Ok(());
        }
    }
    unreachable!("path has at least one part")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sets_nested_fields_and_array_items() {
        let mut t = json!({"a": {"b": 1}, "l": [{"d": 1}, {"d": 2}]});
        apply_override(&mut t, "a.b=2.5").unwrap();
        apply_override(&mut t, "l.1.d=7").unwrap();
        apply_override(&mut t, "a.c=neck").unwrap();
        apply_override(&mut t, "a.e=[1, 2]").unwrap();
        assert_eq!(
            t,
            json!({"a": {"b": 2.5, "c": "neck", "e": [1, 2]}, "l": [{"d": 1}, {"d": 7}]})
        );
    }

    #[test]
    fn bad_specs_are_errors() {
        let mut t = json!({"l": [1]});
        assert!(apply_override(&mut t, "nothing").is_err());
        assert!(apply_override(&mut t, "l.3=1").unwrap_err().to_string().contains("past the end"));
        assert!(apply_override(&mut t, "l.x=1").is_err());
    }
}

//! The JSON Schema's `minimum` / `maximum` and the scenario checks come from the same
//! constants (`dermasim::limits`): every bound the schema shows is enforced, naming the field.

use dermasim::tissue::SiteTable;
use dermasim::{ParameterSet, Scenario};
use serde_json::Value;

/// Properties of a schema object that carry bounds: (name, minimum, maximum, is array item).
fn bounded(object: &Value) -> Vec<(String, Option<f64>, Option<f64>, bool)> {
    let mut out = Vec::new();
    for (name, p) in object["properties"].as_object().into_iter().flatten() {
        let (target, item) = if p["items"].is_object() { (&p["items"], true) } else { (p, false) };
        let (lo, hi) = (target["minimum"].as_f64(), target["maximum"].as_f64());
        if lo.is_some() || hi.is_some() {
            out.push((name.clone(), lo, hi, item));
        }
    }
    out
}

fn refused(json: &Value, path: &str) -> Option<String> {
    let scenario: Scenario = match serde_json::from_value(json.clone()) {
        Ok(s) => s,
        // An unsigned count below 0 cannot even be read: refused by the parser.
        Err(e) => return Some(e.to_string()),
    };
    let err = scenario.validate(&SiteTable::embedded(), &ParameterSet::default_set()).err()?;
    assert!(err.path.starts_with(path), "{path}: refusal names `{}`: {}", err.path, err.message);
    Some(err.message)
}

#[test]
fn every_bound_in_the_schema_is_enforced_by_the_checks() {
    let schema = serde_json::to_value(schemars::schema_for!(Scenario)).unwrap();
    let defs = &schema["$defs"];
    let base = serde_json::to_value(Scenario::default_scenario()).unwrap();
    let kind = base["device"]["kind"].as_str().unwrap().to_string();
    let device = defs["Device"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["properties"]["kind"]["const"] == kind.as_str())
        .expect("the default device kind is in the schema");
    let objects = [
        ("patient", &defs["Patient"]),
        ("protocol", &defs["Protocol"]),
        ("simulation", &defs["Simulation"]),
        ("device", device),
    ];
    let mut checked = 0;
    for (key, object) in objects {
        for (name, lo, hi, item) in bounded(object) {
            let path = format!("{key}.{name}");
            for (bound, outside) in
                [(lo, lo.map(|v| v - 1.0 - v.abs())), (hi, hi.map(|v| v + 1.0 + v.abs()))]
            {
                let (Some(bound), Some(outside)) = (bound, outside) else { continue };
                let mut json = base.clone();
                let value = if object["properties"][&name]["type"] == "integer" {
                    Value::from(outside.round() as i64)
                } else {
                    Value::from(outside)
                };
                if item {
                    json[key][&name] = Value::Array(vec![value.clone(), value]);
                } else {
                    json[key][&name] = value;
                }
                assert!(
                    refused(&json, &path).is_some(),
                    "{path} = {outside} is outside the schema's bound {bound} but was accepted"
                );
                checked += 1;
            }
        }
    }
    // Patient (2), protocol (1), simulation (7 fields, 14 bounds) and the pen's fields.
    assert!(checked >= 30, "only {checked} bounds found in the schema");
}

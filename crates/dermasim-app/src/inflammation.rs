//! A scenario's `[inflammation]` table made real: the SBML file read and compiled by
//! `dermasim-sbml`, its mapping checked, and the module handed to the core's simulator
//! (which reads no files). Every refusal names the scenario field it concerns.

use std::path::Path;
use std::sync::Arc;

use dermasim::kinetics::module::{InflammationModule, InflammationSource, INPUTS, ROLES};
use dermasim::{FieldError, Scenario};
use dermasim_sbml::mapping::{InputMap, Mapping, RoleMap};
use dermasim_sbml::skin::SbmlInflammation;
use sha2::{Digest, Sha256};

use crate::AppError;

/// Make a relative `inflammation.sbml` relative to the scenario file's folder (a scenario
/// without a file keeps paths relative to the working directory).
pub fn resolve_path(scenario: &mut Scenario, scenario_file: Option<&Path>) {
    let (Some(src), Some(dir)) =
        (scenario.inflammation.as_mut(), scenario_file.and_then(Path::parent))
    else {
        return;
    };
    // An empty name stays empty, for the scenario's check to refuse by name.
    let named = !src.sbml.trim().is_empty();
    if named && Path::new(&src.sbml).is_relative() && !dir.as_os_str().is_empty() {
        src.sbml = dir.join(&src.sbml).to_string_lossy().into_owned();
    }
}

/// The scenario's inflammation module, when it names one.
pub fn module(scenario: &Scenario) -> Result<Option<Arc<dyn InflammationModule>>, AppError> {
    let Some(src) = &scenario.inflammation else { return Ok(None) };
    Ok(Some(Arc::new(load(src)?)))
}

/// Read, compile and map an SBML inflammation module.
pub fn load(src: &InflammationSource) -> Result<SbmlInflammation, FieldError> {
    let path = Path::new(&src.sbml);
    let text = std::fs::read_to_string(path).map_err(|e| {
        FieldError::new("inflammation.sbml", format!("cannot read `{}`: {e}", path.display()))
    })?;
    let overrides: Vec<(String, f64)> = src.set.iter().map(|(k, &v)| (k.clone(), v)).collect();
    let field_of = |e: &dermasim_sbml::Error| field_for(src, e);
    let model = dermasim_sbml::load(&text, &overrides)
        .map_err(|e| FieldError::new(field_of(&e), format!("`{}`: {e}", path.display())))?;
    let digest: String =
        Sha256::digest(text.as_bytes()).iter().take(8).map(|b| format!("{b:02x}")).collect();
    let name = path.file_name().map_or_else(|| src.sbml.clone(), |n| n.to_string_lossy().into());
    let label = format!(
        "inflammation from SBML model `{}` ({name}, sha256 {digest}...) in place of the built-in Cooper 2015",
        model.document().id
    );
    SbmlInflammation::new(model, &mapping(src), label)
        .map_err(|e| FieldError::new(field_of(&e), e.to_string()))
}

/// The scenario table as a `dermasim-sbml` mapping (the core has checked the quantity names).
fn mapping(src: &InflammationSource) -> Mapping {
    let id = |q: &str| src.map.get(q).cloned().unwrap_or_default();
    Mapping {
        roles: ROLES
            .iter()
            .map(|q| RoleMap { role: q.to_string(), species: id(q), scale: src.scale_of(q) })
            .collect(),
        inputs: INPUTS
            .iter()
            .map(|q| InputMap { quantity: q.to_string(), target: id(q), scale: src.scale_of(q) })
            .collect(),
    }
}

/// The scenario field an SBML error is about: the map entry naming its id, the `set` entry,
/// or the file.
fn field_for(src: &InflammationSource, e: &dermasim_sbml::Error) -> String {
    use dermasim_sbml::Error as E;
    let id = match e {
        E::Mapping { id, .. } | E::Invalid { id, .. } | E::Unsupported { id, .. } => id.as_str(),
        _ => "",
    };
    if let Some((q, _)) = src.map.iter().find(|(q, v)| v.as_str() == id || q.as_str() == id) {
        format!("inflammation.map.{q}")
    } else if src.set.contains_key(id) {
        format!("inflammation.set.{id}")
    } else {
        "inflammation.sbml".into()
    }
}

//! The scenario file: the core's [`Scenario`] plus the `[outputs]` table, which says which
//! files a run writes and so is no business of the core.
//!
//! The file keeps the shape it always had (one table, `outputs` among the scenario's keys), so
//! it is read, written and hashed through a private mirror of `Scenario` with `outputs` in its
//! old place: parse errors (field paths, the list of expected keys, which of several faults is
//! reported), the canonical JSON (and with it every recorded scenario hash) and the JSON Schema
//! are those of the scenario that held `outputs` itself. The mirror destructures `Scenario`
//! without `..`, so a field added to the core does not compile until it is added here.

use std::borrow::Cow;
use std::collections::BTreeMap;

use dermasim::delivery::Topical;
use dermasim::device::Device;
use dermasim::kinetics::module::InflammationSource;
use dermasim::scenario::{Patient, Prepared, Protocol, Simulation};
use dermasim::tissue::SiteTable;
use dermasim::{FieldError, ParameterSet, Scenario};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::outputs::{OutputKind, Outputs};

/// The description of the `outputs` key in the JSON Schema.
const OUTPUTS_DESCRIPTION: &str =
    "What the run folder holds (`dermasim run --outputs` overrides `write`).";

/// A scenario as a file holds it: what the core runs, and which files the run writes.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioFile {
    /// Everything the simulation needs.
    pub scenario: Scenario,
    /// What the run folder holds (`dermasim run --outputs` overrides `write`).
    pub outputs: Outputs,
}

impl From<Scenario> for ScenarioFile {
    /// The scenario with the default `[outputs]` (everything, default snapshot days).
    fn from(scenario: Scenario) -> ScenarioFile {
        ScenarioFile { scenario, outputs: Outputs::default() }
    }
}

impl ScenarioFile {
    /// The built-in default scenario (`examples/default.toml`), default outputs.
    pub fn default_scenario() -> ScenarioFile {
        Scenario::default_scenario().into()
    }

    /// The canonical JSON (keys in the file's order), whose hash every run folder records.
    pub fn canonical_json(&self) -> String {
        canonical_json(&self.scenario, &self.outputs)
    }

    /// The kinds of file a run folder of this scenario gets ([`Outputs::resolved`] at its
    /// fidelity).
    pub fn output_kinds(&self) -> std::collections::BTreeSet<OutputKind> {
        self.outputs.resolved(self.scenario.simulation.fidelity)
    }

    /// Check the scenario and its snapshot days once ([`Scenario::prepare_with_snapshots`]);
    /// the result is what runs take, so nothing checks the file again.
    pub fn prepare(
        self,
        sites: &SiteTable,
        base: &ParameterSet,
    ) -> Result<PreparedFile, FieldError> {
        let prepared =
            self.scenario.prepare_with_snapshots(sites, base, self.outputs.snapshot_request())?;
        Ok(PreparedFile { prepared, outputs: self.outputs })
    }

    /// The same checks as [`ScenarioFile::prepare`], for callers that only check.
    pub fn validate(&self, sites: &SiteTable, base: &ParameterSet) -> Result<(), FieldError> {
        self.scenario.prepare_with_snapshots(sites, base, self.outputs.snapshot_request()).map(drop)
    }
}

/// A scenario file that passed every check: the core's [`Prepared`] scenario (which holds the
/// scenario as checked) and the file's outputs. Only [`ScenarioFile::prepare`] makes one.
#[derive(Debug, Clone)]
pub struct PreparedFile {
    prepared: Prepared,
    outputs: Outputs,
}

impl PreparedFile {
    /// What the simulator, the ensemble and delivery take.
    pub fn prepared(&self) -> &Prepared {
        &self.prepared
    }

    /// The scenario as checked.
    pub fn scenario(&self) -> &Scenario {
        self.prepared.scenario()
    }

    /// The file's `[outputs]`.
    pub fn outputs(&self) -> &Outputs {
        &self.outputs
    }

    /// Replace `outputs.write` (`dermasim run --outputs`): which files are written is not
    /// checked by the core and changes no number, so the preparation stands. The snapshot days,
    /// which the core did check, cannot be changed here.
    pub fn set_write(&mut self, write: Option<Vec<OutputKind>>) {
        self.outputs.write = write;
    }

    /// The file again (a copy), e.g. to write `scenario.json`.
    pub fn file(&self) -> ScenarioFile {
        ScenarioFile { scenario: self.scenario().clone(), outputs: self.outputs.clone() }
    }

    /// The canonical JSON of the file ([`ScenarioFile::canonical_json`]).
    pub fn canonical_json(&self) -> String {
        canonical_json(self.scenario(), &self.outputs)
    }
}

fn canonical_json(scenario: &Scenario, outputs: &Outputs) -> String {
    serde_json::to_string(&FileRef::new(scenario, outputs)).expect("scenario serialises")
}

/// The file's keys in `Scenario`'s declaration order, `outputs` where it always stood; the
/// `skip_serializing_if` rules are the core's.
#[derive(Serialize)]
struct FileRef<'a> {
    #[serde(skip_serializing_if = "is_none")]
    name: &'a Option<String>,
    patient: &'a Patient,
    device: &'a Device,
    protocol: &'a Protocol,
    simulation: &'a Simulation,
    #[serde(skip_serializing_if = "is_empty")]
    parameters: &'a BTreeMap<String, f64>,
    #[serde(skip_serializing_if = "is_none")]
    topical: &'a Option<Topical>,
    #[serde(skip_serializing_if = "is_default")]
    outputs: &'a Outputs,
    #[serde(skip_serializing_if = "is_false")]
    allow_outside_range: &'a bool,
    #[serde(skip_serializing_if = "is_none")]
    inflammation: &'a Option<InflammationSource>,
}

impl<'a> FileRef<'a> {
    fn new(scenario: &'a Scenario, outputs: &'a Outputs) -> FileRef<'a> {
        let Scenario {
            name,
            patient,
            device,
            protocol,
            simulation,
            parameters,
            topical,
            allow_outside_range,
            inflammation,
        } = scenario;
        FileRef {
            name,
            patient,
            device,
            protocol,
            simulation,
            parameters,
            topical,
            outputs,
            allow_outside_range,
            inflammation,
        }
    }
}

fn is_none<T>(v: &&Option<T>) -> bool {
    v.is_none()
}
fn is_empty(v: &&BTreeMap<String, f64>) -> bool {
    v.is_empty()
}
fn is_default(v: &&Outputs) -> bool {
    v.is_default()
}
fn is_false(v: &&bool) -> bool {
    !**v
}

/// The file as parsed: `Scenario`'s keys and defaults with `outputs` in its place, and its
/// name in messages, so serde's messages (expected keys, `expected struct Scenario`) and the
/// order in which faults are found are unchanged.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "struct Scenario")]
struct FileRepr {
    #[serde(default)]
    name: Option<String>,
    patient: Patient,
    device: Device,
    protocol: Protocol,
    #[serde(default)]
    simulation: Simulation,
    #[serde(default)]
    parameters: BTreeMap<String, f64>,
    #[serde(default)]
    topical: Option<Topical>,
    #[serde(default)]
    outputs: Outputs,
    #[serde(default)]
    allow_outside_range: bool,
    #[serde(default)]
    inflammation: Option<InflammationSource>,
}

impl From<FileRepr> for ScenarioFile {
    fn from(r: FileRepr) -> ScenarioFile {
        let FileRepr {
            name,
            patient,
            device,
            protocol,
            simulation,
            parameters,
            topical,
            outputs,
            allow_outside_range,
            inflammation,
        } = r;
        let scenario = Scenario {
            name,
            patient,
            device,
            protocol,
            simulation,
            parameters,
            topical,
            allow_outside_range,
            inflammation,
        };
        ScenarioFile { scenario, outputs }
    }
}

impl Serialize for ScenarioFile {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        FileRef::new(&self.scenario, &self.outputs).serialize(serializer)
    }
}

/// As the file it was prepared from (`scenario.json`).
impl Serialize for PreparedFile {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        FileRef::new(self.scenario(), &self.outputs).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ScenarioFile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ScenarioFile, D::Error> {
        FileRepr::deserialize(deserializer).map(ScenarioFile::from)
    }
}

impl JsonSchema for ScenarioFile {
    fn schema_name() -> Cow<'static, str> {
        Scenario::schema_name()
    }

    /// The core's scenario schema with the `outputs` key added.
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut schema = Scenario::json_schema(generator);
        let mut outputs = generator.subschema_for::<Outputs>();
        outputs.insert("description".into(), OUTPUTS_DESCRIPTION.into());
        schema
            .get_mut("properties")
            .and_then(serde_json::Value::as_object_mut)
            .expect("the scenario schema has properties")
            .insert("outputs".into(), outputs.into());
        schema
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scenario with every optional key set, and outputs that are not the default.
    fn full() -> ScenarioFile {
        let text = include_str!("../../../examples/default.toml");
        let mut tree: serde_json::Value = crate::parse_tree(text, false, "default").unwrap();
        for o in [
            "name=\"full\"",
            "parameters.penetration_efficiency_pen=0.5",
            "allow_outside_range=true",
            "topical={compound=\"caffeine\", concentration_mg_per_ml=10, amount_ul_per_cm2=2, duration_h=8}",
            "inflammation={sbml=\"m.xml\"}",
            "outputs.write=[\"profiles\"]",
            "outputs.snapshot_days=[3, 1]",
        ] {
            crate::apply_override(&mut tree, o).unwrap();
        }
        serde_json::from_value(tree).expect("the full scenario parses")
    }

    #[test]
    fn the_file_round_trips_and_keeps_outputs_in_its_place() {
        let f = full();
        let json = f.canonical_json();
        assert_eq!(serde_json::from_str::<ScenarioFile>(&json).unwrap(), f);
        let keys: Vec<&str> = [
            "name",
            "patient",
            "device",
            "protocol",
            "simulation",
            "parameters",
            "topical",
            "outputs",
            "allow_outside_range",
            "inflammation",
        ]
        .into_iter()
        .filter(|k| !json.contains(&format!("\"{k}\":")))
        .collect();
        assert!(keys.is_empty(), "missing {keys:?} in {json}");
        let at =
            |k: &str| json.find(&format!("\"{k}\":{{")).or_else(|| json.find(&format!("\"{k}\":")));
        assert!(at("topical") < at("outputs") && at("outputs") < at("allow_outside_range"));
    }

    #[test]
    fn default_outputs_add_nothing_to_the_core_s_json() {
        let mut f = full();
        f.outputs = Outputs::default();
        assert_eq!(f.canonical_json(), f.scenario.canonical_json());
    }
}

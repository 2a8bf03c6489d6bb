//! `[outputs]` left the core for `dermasim-io`'s `ScenarioFile`; the file did not change. The
//! schema, scenario hashes and refusals below were recorded with the binary from before the
//! move (commit 3dee03e), so each check fails if the mirror drifts from the old `Scenario`.
//! Re-recorded once since, for a deliberate change of a default: `simulation.dt_max_days` 1 ->
//! 4 (2026-12-06; the schema's default and every hash, which covers the scenario as run).

use dermasim::ParameterSet;
use dermasim_io::{
    load_scenario, parse_tree, prepared_hash, read_scenario, scenario_from_tree, scenario_hash,
    scenario_schema, ScenarioFile,
};

/// `dermasim schema` before the move, byte for byte.
const SCHEMA_BEFORE: &str = include_str!("golden/schema.json");

fn base() -> ParameterSet {
    ParameterSet::default_set()
}

/// The default scenario at 0d (as `dermasim run --fidelity 0d`) with `overrides`.
fn at_0d(overrides: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = overrides.iter().map(|o| o.to_string()).collect();
    all.push("simulation.fidelity=0d".into());
    all
}

#[test]
fn the_schema_is_the_one_recorded_before_outputs_left_the_core() {
    let now = serde_json::to_string_pretty(&scenario_schema()).unwrap() + "\n";
    assert!(now == SCHEMA_BEFORE, "the schema changed:\n{now}");
}

#[test]
fn scenario_hashes_are_those_recorded_before() {
    const ALL: &str = "outputs.write=[\"timeseries_csv\", \"timeseries_parquet\", \"profiles\", \
                       \"parameters\", \"plots_svg\", \"plots_png\", \"report\", \"vti\"]";
    let days = "outputs.snapshot_days=[3, 1.37, 20.5]";
    let cases: [(&[&str], &str); 8] = [
        (&[], "1fca69eab6fb9f47"),
        (&["outputs.write=[]"], "6e0823541b78dfc8"),
        (&["outputs.write=[]", days], "dbabdb4e3de642dd"),
        (&[ALL], "3c9a4ce4a9df7adc"),
        (&[ALL, days], "3ee0ff8097795a8f"),
        (
            &[
                "outputs.write=[\"profiles\", \"timeseries_csv\"]",
                "outputs.snapshot_days=[2.5, 40]",
            ],
            "34bc714ef9956c5b",
        ),
        (
            &["outputs.snapshot_days=[5]", "outputs.write=[\"vti\", \"profiles\"]"],
            "64a6da0dc97ac622",
        ),
        // A key after `outputs`: the mirror keeps `outputs` where `Scenario` had it.
        (
            &["outputs.write=[]", "outputs.snapshot_days=[5]", "allow_outside_range=true"],
            "23f6b4eef86aef3a",
        ),
    ];
    for (overrides, recorded) in cases {
        let file = read_scenario(None, &at_0d(overrides)).unwrap();
        assert_eq!(scenario_hash(&file), recorded, "{overrides:?}");
        let prepared = load_scenario(None, &at_0d(overrides), &base()).unwrap();
        assert_eq!(prepared_hash(&prepared), recorded, "{overrides:?} prepared");
        // `scenario.json` reads back as the same file.
        let json = serde_json::to_string_pretty(&prepared).unwrap();
        let back: ScenarioFile = serde_json::from_str(&json).unwrap();
        assert_eq!(back, file);
    }
}

#[test]
fn refusals_name_the_field_exactly_as_before() {
    let variants = "expected one of `timeseries_csv`, `timeseries_parquet`, `profiles`, \
                    `parameters`, `plots_svg`, `plots_png`, `report`, `vti`";
    let cases: Vec<(&[&str], String)> = vec![
        (
            &["outputs.write=[\"pdf\"]"],
            format!("outputs.write[0]: unknown variant `pdf`, {variants}"),
        ),
        (
            &["outputs.snapshot_days=[1,400]"],
            "outputs.snapshot_days.1: 400 is outside the allowed range 0 to 180 days \
             (0 to protocol.follow_up_days)"
                .into(),
        ),
        (
            &["outputs.foo=1"],
            "outputs.foo: unknown field `foo`, expected `write` or `snapshot_days`".into(),
        ),
        (
            &["foo=1"],
            "foo: unknown field `foo`, expected one of `name`, `patient`, `device`, `protocol`, \
             `simulation`, `parameters`, `topical`, `outputs`, `allow_outside_range`, \
             `inflammation`"
                .into(),
        ),
        (&["outputs=3"], "outputs: invalid type: integer `3`, expected struct Outputs".into()),
        (
            &["outputs.snapshot_days=\"x\""],
            "outputs.snapshot_days: invalid type: string \"x\", expected a sequence".into(),
        ),
        (
            &["outputs.snapshot_days=[1,\"x\"]"],
            "outputs.snapshot_days[1]: invalid type: string \"x\", expected f64".into(),
        ),
        // Keys are read in order, so which of two faults is reported is unchanged too.
        (
            &["outputs.write=[1]", "patient.age_years=\"x\""],
            "outputs.write[0]: invalid type: integer `1`, expected string or map".into(),
        ),
        (
            &["outputs.write=[1]", "device.depth_mm=\"x\""],
            "device.depth_mm: invalid type: string \"x\", expected f64".into(),
        ),
        (
            &["outputs.write=[1]", "zzz=1"],
            "outputs.write[0]: invalid type: integer `1`, expected string or map".into(),
        ),
        // The snapshot days are checked after the protocol and before the simulation.
        (
            &["outputs.snapshot_days=[400]", "simulation.dt_max_days=-1"],
            "outputs.snapshot_days.0: 400 is outside the allowed range 0 to 180 days \
             (0 to protocol.follow_up_days)"
                .into(),
        ),
        (
            &["outputs.snapshot_days=[400]", "protocol.follow_up_days=-1"],
            "protocol.follow_up_days: -1 is outside the allowed range 1 to 3650 days".into(),
        ),
        (
            &["outputs.snapshot_days=[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21]"],
            "outputs.snapshot_days: 21 days; at most 20".into(),
        ),
    ];
    for (overrides, before) in cases {
        let e = load_scenario(None, &at_0d(overrides), &base()).unwrap_err().to_string();
        assert_eq!(e, before, "{overrides:?}");
    }
    for (json, before) in [
        ("\"x\"", "scenario: invalid type: string \"x\", expected struct Scenario"),
        ("[1]", "[0]: invalid type: integer `1`, expected a string"),
        ("{\"patient\":1}", "patient: invalid type: integer `1`, expected struct Patient"),
        ("{}", "scenario: missing field `patient`"),
    ] {
        let tree = parse_tree(json, true, "f.json").unwrap();
        assert_eq!(scenario_from_tree(tree).unwrap_err().to_string(), before, "{json}");
    }
}

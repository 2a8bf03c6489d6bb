//! `dermasim screen` and `dermasim plan` as programs see them: the JSON contract, exit codes,
//! the Markdown handout.

use std::process::{Command, Output};

fn example(name: &str) -> String {
    format!("{}/../../examples/patients/{name}.toml", env!("CARGO_MANIFEST_DIR"))
}

fn dermasim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dermasim")).args(args).output().expect("the binary runs")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("stdout is not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout))
    })
}

fn check_findings(v: &serde_json::Value) {
    for f in v["findings"].as_array().expect("findings") {
        for key in ["rule_id", "severity", "reason", "source"] {
            assert!(f[key].as_str().is_some_and(|s| !s.is_empty()), "finding without {key}: {f}");
        }
    }
}

#[test]
fn screen_json_contract() {
    let out = dermasim(&["screen", &example("active_herpes"), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v = json(&out);
    assert_eq!(v["verdict"], "do not treat");
    check_findings(&v);
    assert_eq!(v["findings"][0]["rule_id"], "active_skin_infection");
    assert_eq!(v["findings"][0]["severity"], "absolute");

    let v = json(&dermasim(&["screen", &example("pregnant"), "--json"]));
    assert_eq!(v["verdict"], "defer");
    let v = json(&dermasim(&["screen", &example("acne_scars_type_iv"), "--json"]));
    assert_eq!(v["verdict"], "go with cautions");
}

#[test]
fn screen_date_override() {
    let before = json(&dermasim(&[
        "screen",
        &example("isotretinoin_recent"),
        "--json",
        "--date",
        "2025-09-28",
    ]));
    let after = json(&dermasim(&[
        "screen",
        &example("isotretinoin_recent"),
        "--json",
        "--date",
        "2025-09-29",
    ]));
    assert_eq!(
        (before["verdict"].as_str(), before["defer_until"].as_str()),
        (Some("defer"), Some("2025-09-29"))
    );
    assert_eq!(after["verdict"], "go");
    let bad = dermasim(&["screen", &example("pregnant"), "--date", "2025-02-30"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn plan_json_contract_and_handout() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("handout.md");
    let out = dermasim(&[
        "plan",
        &example("acne_scars_type_iv"),
        "--json",
        "--members",
        "4",
        "--markdown",
        md.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v = json(&out);
    assert_eq!(v["screening"]["verdict"], "go with cautions");
    check_findings(&v["screening"]);
    let plans = v["plans"].as_array().unwrap();
    assert_eq!(plans.len(), 1);
    let p = &plans[0];
    for key in [
        "concern",
        "site",
        "device",
        "depth_mm",
        "sessions",
        "interval_days",
        "rationale",
        "forecast",
    ] {
        assert!(!p[key].is_null(), "plan without {key}");
    }
    assert_eq!(p["concern"], "acne_scars");
    assert!(p["depth_mm"].as_f64().unwrap() <= 1.0, "cheek, thin skin: at most 1.0 mm");
    let f = &p["forecast"];
    assert!(f["downtime_days"].as_f64().unwrap() > 0.0);
    assert_eq!(f["pih_risk"]["level"], "moderate");
    let timeline = f["timeline"].as_array().unwrap();
    assert!(timeline.len() > 10);
    assert!(
        timeline[5]["collagen_total_rel_p05"].is_f64()
            && timeline[5]["collagen_total_rel_p95"].is_f64(),
        "bands in the timeline"
    );
    assert!(v["disclaimer"].as_str().unwrap().contains("not a medical device"));

    let text = std::fs::read_to_string(&md).unwrap();
    assert!(
        text.starts_with("# Microneedling plan")
            && text.contains("not a medical device")
            && text.contains("| day |")
    );
    let leftovers: Vec<_> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left behind: {leftovers:?}");
}

#[test]
fn plan_refuses_when_screening_says_do_not_treat() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("handout.md");
    let out = dermasim(&[
        "plan",
        &example("active_herpes"),
        "--json",
        "--markdown",
        md.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3));
    let v = json(&out);
    assert_eq!(v["screening"]["verdict"], "do not treat");
    assert_eq!(v["plans"].as_array().unwrap().len(), 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("do not treat"));
    assert!(!md.exists(), "no handout for a refused plan");
}

#[test]
fn bad_profiles_exit_2_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.toml");
    std::fs::write(&path, "age_years = 30\nfitzpatrick = 3\nsetting = \"home\"\n[[concerns]]\nkind = \"texture\"\nsites = [\"elbow\"]\n").unwrap();
    let out = dermasim(&["plan", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("concerns.0.sites.0") && err.contains("elbow"), "{err}");
    assert!(out.stdout.is_empty(), "no partial output");
    let out = dermasim(&["screen", dir.path().join("missing.toml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn human_output_says_what_it_is() {
    let out = dermasim(&["plan", &example("home_roller_1_5mm"), "--members", "2"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("home-use cap") && text.contains("not a medical device"), "{text}");
}

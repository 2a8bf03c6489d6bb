//! `dermasim deliver` and the delivery part of `dermasim run`, through the real binary.

use std::path::PathBuf;
use std::process::{Command, Output};

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

fn dermasim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dermasim")).args(args).output().expect("the binary runs")
}

fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

#[test]
fn deliver_json_follows_the_output_contract() {
    let file = repo("examples/delivery_vitamin_c_pen.toml");
    let r = json(&dermasim(&["deliver", file.to_str().unwrap(), "--json"]));
    assert_eq!(r["compound"], "ascorbic_acid");
    let sessions = r["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 3);
    for s in sessions {
        let dose = s["dermis_dose_ug_per_cm2"].as_f64().unwrap();
        let intact = s["intact_skin_dose_ug_per_cm2"].as_f64().unwrap();
        let ef = s["enhancement_factor"].as_f64().unwrap();
        assert!(dose > intact && intact > 0.0);
        assert!((ef - dose / intact).abs() <= 1e-9 * ef);
        let (t50, t90) =
            (s["channel_t50_h"].as_f64().unwrap(), s["channel_t90_h"].as_f64().unwrap());
        assert!(0.0 < t50 && t50 < t90);
        let profiles = s["profile"].as_array().unwrap();
        assert!(!profiles.is_empty());
        for p in profiles {
            let depth = p["depth_um"].as_array().unwrap();
            let conc = p["concentration_ug_per_ml"].as_array().unwrap();
            assert_eq!(depth.len(), conc.len());
            assert!(conc.iter().all(|c| c.as_f64().unwrap() >= 0.0));
        }
        let m = &s["mass_balance"];
        let sum = m["on_surface_ug_per_cm2"].as_f64().unwrap()
            + m["in_skin_ug_per_cm2"].as_f64().unwrap()
            + m["cleared_ug_per_cm2"].as_f64().unwrap();
        let applied = m["applied_ug_per_cm2"].as_f64().unwrap();
        assert!((sum - applied).abs() <= 1e-6 * applied);
    }
    assert!(r["disclaimer"].as_str().unwrap().contains("not a medical device"));
}

#[test]
fn set_overrides_reach_the_topical_section() {
    let file = repo("examples/delivery_vitamin_c_pen.toml");
    let dose = |extra: &[&str]| {
        let mut args = vec!["deliver", file.to_str().unwrap(), "--json"];
        args.extend_from_slice(extra);
        json(&dermasim(&args))["sessions"][0]["dermis_dose_ug_per_cm2"].as_f64().unwrap()
    };
    assert!(dose(&["--set", "topical.occlusion=true"]) > dose(&[]));
}

#[test]
fn bad_topical_input_is_an_error_naming_the_field() {
    let file = repo("examples/delivery_vitamin_c_pen.toml");
    for (set, field) in [
        ("topical.compound=snake_oil", "topical.compound"),
        ("topical.amount_ul_per_cm2=-3", "topical.amount_ul_per_cm2"),
        ("topical.start_h=-1", "topical.start_h"),
    ] {
        let out = dermasim(&["deliver", file.to_str().unwrap(), "--json", "--set", set]);
        assert_eq!(out.status.code(), Some(2), "{set}");
        assert!(out.stdout.is_empty(), "no partial output for {set}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("error: ") && err.contains(field), "{set}: {err}");
    }
    // A scenario without a topical section has nothing to deliver.
    let out = dermasim(&["deliver", repo("examples/default.toml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("topical"));
}

#[test]
fn run_includes_delivery_only_with_a_topical_section() {
    let with = json(&dermasim(&[
        "run",
        repo("examples/delivery_hyaluronic_home_roller.toml").to_str().unwrap(),
        "--json",
        "--fidelity",
        "0d",
    ]));
    assert_eq!(with["delivery"]["compound"], "hyaluronic_acid_50kda");
    assert_eq!(with["delivery"]["sessions"].as_array().unwrap().len(), 3);
    let without = json(&dermasim(&[
        "run",
        repo("examples/default.toml").to_str().unwrap(),
        "--json",
        "--fidelity",
        "0d",
    ]));
    assert!(without.get("delivery").is_none());
}

#[test]
fn compounds_lists_the_library() {
    let out = dermasim(&["compounds", "--json"]);
    let table = json(&out);
    let ids: Vec<&str> =
        table["compound"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"hyaluronic_acid_1mda") && ids.contains(&"egf"));
}

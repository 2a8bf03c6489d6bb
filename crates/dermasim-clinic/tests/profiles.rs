//! Malformed or incomplete profiles get errors that name the field.

mod common;

use dermasim_clinic::{parse_profile, Clinic, ClinicError};

const GOOD: &str = r#"
assessment_date = 2025-06-02
age_years = 30
fitzpatrick = 3
setting = "professional"

[[concerns]]
kind = "fine_lines"
sites = ["forehead"]
"#;

/// The error path and message for a profile (parse, then validation).
fn error_of(text: &str) -> (String, String) {
    let clinic = Clinic::embedded();
    let e = match parse_profile(text, false, "test.toml") {
        Ok(p) => clinic.screen(&p, None).expect_err("profile should be rejected"),
        Err(e) => e,
    };
    match e {
        ClinicError::Field(f) => (f.path, f.message),
        other => panic!("expected a field error, got {other}"),
    }
}

fn with(extra: &str) -> String {
    format!("{GOOD}\n{extra}")
}

#[test]
fn the_good_profile_passes() {
    let p = parse_profile(GOOD, false, "test.toml").unwrap();
    Clinic::embedded().screen(&p, None).unwrap();
}

#[test]
fn unknown_site_is_named_with_the_known_ones() {
    let (path, msg) =
        error_of(&GOOD.replace(r#"sites = ["forehead"]"#, r#"sites = ["forehead", "elbow"]"#));
    assert_eq!(path, "concerns.0.sites.1");
    assert!(msg.contains("elbow") && msg.contains("cheek"), "{msg}");
}

#[test]
fn unknown_concern_lists_the_allowed_ones() {
    let (path, msg) = error_of(&GOOD.replace("fine_lines", "crows_feet"));
    assert_eq!(path, "concerns.0.kind");
    assert!(msg.contains("crows_feet") && msg.contains("acne_scars"), "{msg}");
}

#[test]
fn stop_date_before_start_date() {
    let (path, msg) = error_of(&with(
        "[[medications]]\nname = \"isotretinoin\"\nstart = 2025-03-01\nstop = 2025-01-01\n",
    ));
    assert_eq!(path, "medications.0.stop");
    assert!(msg.contains("before the start date"), "{msg}");
}

#[test]
fn age_out_of_range() {
    for age in ["16", "101", "-3"] {
        let (path, msg) = error_of(&GOOD.replace("age_years = 30", &format!("age_years = {age}")));
        assert_eq!(path, "age_years");
        assert!(msg.contains("18 to 100"), "{msg}");
    }
}

#[test]
fn missing_and_unknown_fields() {
    let (path, msg) = error_of(&GOOD.replace("age_years = 30\n", ""));
    assert_eq!(path, "profile");
    assert!(msg.contains("age_years"), "{msg}");
    let (path, msg) =
        error_of(&GOOD.replace("[[concerns]]\nkind = \"fine_lines\"\nsites = [\"forehead\"]", ""));
    assert!(path == "profile" && msg.contains("concerns"), "{path}: {msg}");
    let (_, msg) = error_of(&with("smoker = true"));
    assert!(msg.contains("smoker"), "{msg}");
}

#[test]
fn bad_values_name_their_field() {
    let cases: &[(&str, &str, &str)] = &[
        (&GOOD.replace("fitzpatrick = 3", "fitzpatrick = 7"), "fitzpatrick", "1 to 6"),
        (&GOOD.replace("\"professional\"", "\"spa\""), "setting", "home"),
        (
            &GOOD.replace("kind = \"fine_lines\"", "kind = \"acne_scars\""),
            "concerns.0.scar_type",
            "rolling",
        ),
        (
            &GOOD
                .replace("kind = \"fine_lines\"", "kind = \"fine_lines\"\nscar_type = \"rolling\""),
            "concerns.0.scar_type",
            "only acne_scars",
        ),
        (&GOOD.replace("sites = [\"forehead\"]", "sites = []"), "concerns.0.sites", "at least one"),
        (
            &GOOD.replace(
                "sites = [\"forehead\"]",
                "sites = [\"forehead\"]\nrequested_depth_mm = 4.0",
            ),
            "concerns.0.requested_depth_mm",
            "3",
        ),
        (&with("[[medications]]\nname = \"isotretinion\"\n"), "medications.0.name", "isotretinoin"),
        (
            &with("[[medications]]\nname = \"isotretinoin\"\nstop = \"2025-02-30\"\n"),
            "medications.0.stop",
            "not a calendar date",
        ),
        (
            &with("[[medications]]\nname = \"isotretinoin\"\nstop = \"last spring\"\n"),
            "medications.0.stop",
            "YYYY-MM-DD",
        ),
        (
            &with("[[conditions]]\nname = \"keloid\"\nstatus = \"sometimes\"\n"),
            "conditions.0.status",
            "active",
        ),
        (
            &with("[[conditions]]\nname = \"cold_sores\"\nstatus = \"active\"\n"),
            "conditions.0.name",
            "herpes_simplex",
        ),
        (
            &with("[[procedures]]\nname = \"chemical_peel\"\ndate = 2025-07-01\n"),
            "procedures.0.date",
            "after the assessment date",
        ),
        (
            &with(
                "[[procedures]]\nname = \"chemical_peel\"\ndate = 2025-05-01\nsites = [\"knee\"]\n",
            ),
            "procedures.0.sites.0",
            "knee",
        ),
        (
            &GOOD.replace("fitzpatrick = 3", "fitzpatrick = 3\nsex = \"male\"\npregnant = true"),
            "pregnant",
            "male",
        ),
    ];
    for (text, want_path, want_msg) in cases {
        let (path, msg) = error_of(text);
        assert_eq!(&path, want_path, "{msg}");
        assert!(msg.contains(want_msg), "{path}: {msg} (wanted `{want_msg}`)");
    }
}

#[test]
fn syntax_errors_name_the_file() {
    let e = parse_profile("age_years = = 3", false, "broken.toml").unwrap_err();
    assert!(
        matches!(e, ClinicError::Syntax { .. }) && e.to_string().starts_with("broken.toml"),
        "{e}"
    );
}

#[test]
fn json_profiles_and_toml_dates_read_the_same() {
    let toml = parse_profile(
        &with("[[medications]]\nname = \"isotretinoin\"\nstop = 2025-01-01\n"),
        false,
        "a.toml",
    )
    .unwrap();
    let quoted = parse_profile(
        &with("[[medications]]\nname = \"isotretinoin\"\nstop = \"2025-01-01\"\n"),
        false,
        "b.toml",
    )
    .unwrap();
    assert_eq!(toml, quoted);
    let json = serde_json::to_string(&toml).unwrap();
    assert_eq!(parse_profile(&json, true, "c.json").unwrap(), toml);
}

#[test]
fn every_example_profile_is_valid() {
    let clinic = Clinic::embedded();
    for name in [
        "acne_scars_type_iv",
        "fine_lines_laxity_55",
        "isotretinoin_recent",
        "pregnant",
        "active_herpes",
        "home_roller_1_5mm",
    ] {
        let p = common::example(name);
        assert!(
            p.assessment_date.is_some(),
            "{name} fixes its assessment date so the example is reproducible"
        );
        clinic.screen(&p, None).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

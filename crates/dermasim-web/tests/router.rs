//! Router tests: the whole HTTP surface through `tower::ServiceExt::oneshot` against a
//! temp-file SQLite database.

mod common;

use axum::http::{header, StatusCode};
use common::*;
use dermasim_web::{App, Config};

#[test]
fn every_page_needs_a_session() {
    run(every_page_needs_a_session_body())
}

async fn every_page_needs_a_session_body() {
    let env = env().await;
    let u = user(&env, "pat", "practitioner", None).await;
    let id = patient(&env, &u, "Ann Example", "").await;
    for uri in [
        "/patients",
        "/patients/new",
        &format!("/patients/{id}"),
        &format!("/patients/{id}/edit"),
        "/plans/1",
        "/plans/1/chart.svg",
        "/audit",
        "/account",
        &format!("/patients/{id}/notes/new"),
        &format!("/patients/{id}/export.zip"),
        "/notes/1",
        "/runs/1",
        "/runs/1/events",
        "/runs/1/chart.svg",
        "/runs/1/export.zip",
        "/photos/1",
        "/consent-templates",
        "/follow-ups",
    ] {
        let r = send(&env, "GET", uri, None, None).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{uri}");
        assert_eq!(r.location(), "/login", "{uri}");
    }
    for uri in [
        "/patients",
        &format!("/patients/{id}"),
        &format!("/patients/{id}/screenings"),
        &format!("/patients/{id}/plans"),
        "/logout",
        "/account/password",
        &format!("/patients/{id}/notes"),
        "/notes/1",
        "/notes/1/sign",
        "/notes/1/amend",
        "/notes/1/adverse-events",
        &format!("/patients/{id}/runs"),
        "/runs/1/cancel",
        &format!("/patients/{id}/consents"),
        &format!("/patients/{id}/photos"),
        "/consent-templates",
        "/users/1/enable",
        "/users/1/reset-password",
        "/workspace/scenarios/1/delete",
    ] {
        let r = send(&env, "POST", uri, None, Some(&[("csrf", "x")])).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{uri}");
    }
    // A made-up session cookie is no session.
    let r = send(&env, "GET", "/patients", Some("dermasim_session=0123"), None).await;
    assert_eq!(r.location(), "/login");
}

#[test]
fn csrf_is_required_on_every_post() {
    run(csrf_is_required_on_every_post_body())
}

async fn csrf_is_required_on_every_post_body() {
    let env = env().await;
    let u = user(&env, "pat", "practitioner", None).await;
    let id = patient(&env, &u, "Ann Example", "").await;
    for uri in [
        "/patients",
        &format!("/patients/{id}"),
        &format!("/patients/{id}/screenings"),
        &format!("/patients/{id}/plans"),
        "/logout",
        "/account/password",
        &format!("/patients/{id}/notes"),
        "/notes/1",
        "/notes/1/sign",
        "/notes/1/amend",
        "/notes/1/adverse-events",
        &format!("/patients/{id}/runs"),
        "/runs/1/cancel",
        &format!("/patients/{id}/consents"),
        &format!("/patients/{id}/photos"),
        "/consent-templates",
        "/users/1/enable",
        "/users/1/reset-password",
        "/workspace/scenarios/1/delete",
    ] {
        let none = send(&env, "POST", uri, Some(&u.cookie), Some(&[("full_name", "X")])).await;
        assert_eq!(none.status, StatusCode::FORBIDDEN, "{uri} without a token");
        let wrong =
            send(&env, "POST", uri, Some(&u.cookie), Some(&[("csrf", "0000"), ("full_name", "X")]))
                .await;
        assert_eq!(wrong.status, StatusCode::FORBIDDEN, "{uri} with a wrong token");
    }
    assert_eq!(count(&env, "SELECT COUNT(*) FROM patients").await, 1);
    for table in
        ["session_notes", "runs", "consents", "consent_templates", "photos", "adverse_events"]
    {
        assert_eq!(count(&env, &format!("SELECT COUNT(*) FROM {table}")).await, 0, "{table}");
    }
    // The login form: its token must match its cookie.
    let r = send(
        &env,
        "POST",
        "/login",
        None,
        Some(&[("csrf", "abc"), ("username", "pat"), ("password", "x")]),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[test]
fn cookies_and_security_headers() {
    run(cookies_and_security_headers_body())
}

async fn cookies_and_security_headers_body() {
    let env = env().await;
    let password = env.app.create_user("pat", "practitioner", None).unwrap();
    let r = login(&env, "pat", &password).await;
    let cookie = r
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("dermasim_session="))
        .unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(!cookie.contains("Secure"), "no TLS here");
    for (h, v) in [
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
    ] {
        assert_eq!(r.headers.get(h).unwrap(), v);
    }
    let csp = r.headers.get("content-security-policy").unwrap().to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert!(csp.contains("connect-src 'self'"), "the run page's event stream needs it");
    // Behind TLS the cookie is Secure.
    let env2 = env_with(Config { secure_cookies: true, ..Config::default() });
    let page = send(&env2, "GET", "/login", None, None).await;
    let c = page.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
    assert!(c.contains("; Secure"), "{c}");
    // The vendored htmx is served.
    let js = send(&env, "GET", "/static/htmx.min.js", None, None).await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(js.body.contains("htmx"));
}

#[test]
fn first_password_must_be_changed() {
    run(first_password_must_be_changed_body())
}

async fn first_password_must_be_changed_body() {
    let env = env().await;
    let password = env.app.bootstrap().unwrap().expect("a first administrator");
    assert!(env.app.bootstrap().unwrap().is_none(), "only once");
    let r = login(&env, "admin", &password).await;
    let cookie = set_cookie(&r, "dermasim_session").unwrap();
    let r = send(&env, "GET", "/patients", Some(&cookie), None).await;
    assert_eq!(r.location(), "/account");
    let page = send(&env, "GET", "/account", Some(&cookie), None).await;
    let csrf = hidden_csrf(&page.body);
    let short = send(
        &env,
        "POST",
        "/account/password",
        Some(&cookie),
        Some(&[("csrf", &csrf), ("current", &password), ("new", "short"), ("repeat", "short")]),
    )
    .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    let new = "a much longer passphrase";
    let ok = send(
        &env,
        "POST",
        "/account/password",
        Some(&cookie),
        Some(&[("csrf", &csrf), ("current", &password), ("new", new), ("repeat", new)]),
    )
    .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert_eq!(send(&env, "GET", "/patients", Some(&cookie), None).await.status, StatusCode::OK);
    // The old password no longer works, the new one does.
    assert_eq!(login(&env, "admin", &password).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(login(&env, "admin", new).await.status, StatusCode::SEE_OTHER);
    // Logout ends the session.
    let out = send(&env, "POST", "/logout", Some(&cookie), Some(&[("csrf", &csrf)])).await;
    assert_eq!(out.location(), "/login");
    assert_eq!(send(&env, "GET", "/patients", Some(&cookie), None).await.location(), "/login");
}

#[test]
fn login_locks_after_repeated_failures() {
    run(login_locks_after_repeated_failures_body())
}

async fn login_locks_after_repeated_failures_body() {
    let env = env().await;
    let password = env.app.create_user("pat", "practitioner", None).unwrap();
    for _ in 0..dermasim_web::MAX_FAILED_LOGINS {
        assert_eq!(login(&env, "pat", "wrong password").await.status, StatusCode::UNAUTHORIZED);
    }
    let r = login(&env, "pat", &password).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "locked even with the right password");
    assert!(set_cookie(&r, "dermasim_session").is_none());
    assert_eq!(count(&env, "SELECT COUNT(*) FROM audit WHERE action = 'locked'").await, 1);
    assert_eq!(
        count(&env, "SELECT COUNT(*) FROM audit WHERE action = 'login_refused_locked'").await,
        1
    );
}

#[test]
fn roles_reception_and_researcher() {
    run(roles_reception_and_researcher_body())
}

async fn roles_reception_and_researcher_body() {
    let env = env().await;
    let pr = user(&env, "pat", "practitioner", None).await;
    let id = patient(&env, &pr, "Ann Example", "SECRET-NOTE keloid worry").await;
    let r = post(&env, &pr, &format!("/patients/{id}/plans"), &[("members", "2")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let plan = r.location().to_string();

    let rec = user(&env, "desk", "reception", None).await;
    let page = get(&env, &rec, &format!("/patients/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Ann Example"));
    assert!(!page.body.contains("SECRET-NOTE"), "reception reads no clinical notes");
    assert!(!page.body.contains("rolling"), "nor the clinical profile");
    let edit = get(&env, &rec, &format!("/patients/{id}/edit")).await;
    assert!(!edit.body.contains("SECRET-NOTE"));
    assert_eq!(get(&env, &rec, &plan).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        post(&env, &rec, &format!("/patients/{id}/screenings"), &[("kind", "intake")]).await.status,
        StatusCode::FORBIDDEN
    );
    // Reception changes the phone; the clinical notes stay as they were.
    let r = post(
        &env,
        &rec,
        &format!("/patients/{id}"),
        &[("full_name", "Ann Example"), ("phone", "0123"), ("version", "1")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let notes: String = env
        .app
        .connection()
        .query_row("SELECT clinical_notes FROM patients WHERE id = ?1", [id], |r| r.get(0))
        .unwrap();
    assert_eq!(notes, "SECRET-NOTE keloid worry");

    let res = user(&env, "lab", "researcher", None).await;
    let list = get(&env, &res, "/patients").await;
    assert!(!list.body.contains("Ann Example") && !list.body.contains("1997-03-04"));
    assert!(list.body.contains(&format!("P-{id:06}")));
    let page = get(&env, &res, &format!("/patients/{id}")).await;
    assert!(
        !page.body.contains("Ann Example")
            && !page.body.contains("1997-03-04")
            && !page.body.contains("0123")
    );
    assert!(!page.body.contains("SECRET-NOTE"), "free text may hold names");
    assert!(!page.body.contains("example-acne-scars-iv"), "nor the profile's own id");
    assert!(page.body.contains("Fitzpatrick 4"));
    let p = get(&env, &res, &plan).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(!p.body.contains("Ann Example") && !p.body.contains("example-acne-scars-iv"));
    assert_eq!(
        post(&env, &res, "/patients", &[("full_name", "X")]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(get(&env, &res, "/audit").await.status, StatusCode::FORBIDDEN);
}

#[test]
fn clinics_are_isolated() {
    run(clinics_are_isolated_body())
}

async fn clinics_are_isolated_body() {
    let env = env().await;
    let a = user(&env, "a", "practitioner", Some("North")).await;
    let b = user(&env, "b", "administrator", Some("South")).await;
    let id = patient(&env, &a, "Ann North", "").await;
    let r = post(&env, &a, &format!("/patients/{id}/plans"), &[("members", "2")]).await;
    let plan = r.location().to_string();
    for uri in [
        format!("/patients/{id}"),
        format!("/patients/{id}/edit"),
        plan.clone(),
        format!("{plan}/chart.svg"),
        "/patients/999999".into(),
    ] {
        assert_eq!(get(&env, &b, &uri).await.status, StatusCode::NOT_FOUND, "{uri}");
    }
    for uri in [
        format!("/patients/{id}"),
        format!("/patients/{id}/screenings"),
        format!("/patients/{id}/plans"),
    ] {
        let r = post(
            &env,
            &b,
            &uri,
            &[("full_name", "Taken over"), ("version", "1"), ("kind", "intake"), ("members", "2")],
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}");
    }
    assert!(!get(&env, &b, "/patients").await.body.contains("Ann North"));
    assert!(!get(&env, &b, "/audit").await.body.contains("Ann North"));
    let name: String = env
        .app
        .connection()
        .query_row("SELECT full_name FROM patients WHERE id = ?1", [id], |r| r.get(0))
        .unwrap();
    assert_eq!(name, "Ann North");
}

#[test]
fn hostile_text_is_stored_and_shown_inert() {
    run(hostile_text_is_stored_and_shown_inert_body())
}

async fn hostile_text_is_stored_and_shown_inert_body() {
    let env = env().await;
    let u = user(&env, "pat", "practitioner", None).await;
    let name = "Robert'); DROP TABLE patients;-- <script>alert(1)</script>";
    let notes = "<img src=x onerror=alert(2)> \" ' & </textarea><b>";
    let id = patient(&env, &u, name, notes).await;
    let stored: (String, String) = env
        .app
        .connection()
        .query_row("SELECT full_name, clinical_notes FROM patients WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(stored, (name.to_string(), notes.to_string()), "stored exactly");
    for uri in ["/patients".to_string(), format!("/patients/{id}"), format!("/patients/{id}/edit")]
    {
        let page = get(&env, &u, &uri).await;
        assert!(!page.body.contains("<script>alert"), "{uri}");
        assert!(!page.body.contains("<img src=x"), "{uri}");
        assert!(!page.body.contains("</textarea><b>"), "{uri}");
        assert!(page.body.contains(&escaped("<script>alert(1)</script>")), "{uri}");
    }
    assert!(get(&env, &u, &format!("/patients/{id}")).await.body.contains(&escaped(notes)));
}

#[test]
fn stale_version_is_a_conflict() {
    run(stale_version_is_a_conflict_body())
}

async fn stale_version_is_a_conflict_body() {
    let env = env().await;
    let u = user(&env, "pat", "practitioner", None).await;
    let v = user(&env, "val", "practitioner", None).await;
    let id = patient(&env, &u, "Ann Example", "").await;
    let uri = format!("/patients/{id}");
    let first = post(
        &env,
        &u,
        &uri,
        &[("full_name", "Ann First"), ("profile_toml", PROFILE), ("version", "1")],
    )
    .await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    let second = post(
        &env,
        &v,
        &uri,
        &[("full_name", "Ann Second"), ("profile_toml", PROFILE), ("version", "1")],
    )
    .await;
    assert_eq!(second.status, StatusCode::CONFLICT);
    let (name, version): (String, i64) = env
        .app
        .connection()
        .query_row("SELECT full_name, version FROM patients WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((name.as_str(), version), ("Ann First", 2));
    assert_eq!(count(&env, "SELECT COUNT(*) FROM audit WHERE action = 'update_conflict'").await, 1);
}

#[test]
fn profile_errors_are_the_cli_messages() {
    run(profile_errors_are_the_cli_messages_body())
}

async fn profile_errors_are_the_cli_messages_body() {
    let env = env().await;
    let u = user(&env, "pat", "practitioner", None).await;
    let bad = PROFILE.replace("age_years = 28", "age_years = 17");
    let expected = dermasim_app::clinic::screen(
        &dermasim_clinic::parse_profile(&bad, false, "profile").unwrap(),
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(expected.starts_with("age_years: 17 is outside"), "{expected}");
    let r = post(&env, &u, "/patients", &[("full_name", "Young"), ("profile_toml", &bad)]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains(&escaped(&expected)), "{}", r.body);
    let syntax =
        post(&env, &u, "/patients", &[("full_name", "Young"), ("profile_toml", "age_years = ")])
            .await;
    assert_eq!(syntax.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(syntax.body.contains("profile: not valid TOML"));
    let dob =
        post(&env, &u, "/patients", &[("full_name", "Young"), ("date_of_birth", "2999-01-01")])
            .await;
    assert_eq!(dob.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM patients").await, 0);
}

#[test]
fn screening_plan_chart_and_audit() {
    run(screening_plan_chart_and_audit_body())
}

async fn screening_plan_chart_and_audit_body() {
    let env = env().await;
    let u = user(&env, "pat", "practitioner", None).await;
    let id = patient(&env, &u, "Ann Example", "").await;
    let r = post(
        &env,
        &u,
        &format!("/patients/{id}/screenings"),
        &[("kind", "intake"), ("date", "2025-06-02")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = post(
        &env,
        &u,
        &format!("/patients/{id}/screenings"),
        &[("kind", "pre_session"), ("date", "2025-07-01")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let expected = dermasim_app::clinic::screen(
        &dermasim_clinic::parse_profile(PROFILE, false, "p").unwrap(),
        None,
    )
    .unwrap();
    let rows: Vec<(String, String, String)> = {
        let c = env.app.connection();
        let mut st =
            c.prepare("SELECT kind, assessment_date, verdict FROM screenings ORDER BY id").unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    };
    assert_eq!(rows[0], ("intake".into(), "2025-06-02".into(), expected.verdict.as_str().into()));
    assert_eq!(rows[1].0, "pre_session");
    let page = get(&env, &u, &format!("/patients/{id}")).await;
    assert!(page.body.contains(expected.verdict.as_str()));
    assert!(page.body.contains(&escaped(&expected.findings[0].reason)));

    let r = post(&env, &u, &format!("/patients/{id}/plans"), &[("members", "2")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let plan = get(&env, &u, r.location()).await;
    assert_eq!(plan.status, StatusCode::OK);
    assert!(plan.body.contains(&escaped(dermasim::DISCLAIMER)), "the disclaimer is on the page");
    assert!(plan.body.contains("chart.svg"));
    let chart = get(&env, &u, &format!("{}/chart.svg", r.location())).await;
    assert_eq!(chart.headers.get(header::CONTENT_TYPE).unwrap(), "image/svg+xml");
    assert!(chart.body.contains("<svg") && chart.body.contains("5-95"), "the band is labelled");
    let bad = post(&env, &u, &format!("/patients/{id}/plans"), &[("members", "1")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("members: 1 is outside the allowed range 2 to 256"));

    // Who did what, in order; the trail refuses changes.
    let actions: Vec<String> = {
        let c = env.app.connection();
        let mut st = c
            .prepare("SELECT action, entity FROM audit WHERE user_id = (SELECT id FROM users WHERE username = 'pat') AND entity <> 'user' AND entity <> 'patients' ORDER BY id")
            .unwrap();
        st.query_map([], |r| Ok(format!("{} {}", r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    };
    assert_eq!(
        actions,
        [
            "create patient",
            "create screening",
            "create screening",
            "view patient",
            "create plan",
            "view plan"
        ]
    );
    assert!(env.app.connection().execute("UPDATE audit SET action = 'nothing'", []).is_err());
    assert!(env.app.connection().execute("DELETE FROM audit", []).is_err());
}

#[test]
fn reopening_keeps_records_and_schema() {
    run(reopening_keeps_records_and_schema_body())
}

async fn reopening_keeps_records_and_schema_body() {
    let db = TestDb::new("keep.db");
    {
        let app = db.open(Config::default());
        app.create_user("pat", "practitioner", None).unwrap();
    }
    let app = db.open(Config::default());
    let c = app.connection();
    let n: i64 = c.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 1);
    let folder = if db.is_postgres() {
        // PostgreSQL enforces foreign keys always; the table schema_version records migrations.
        "/migrations/postgres"
    } else {
        let mode: String = c.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = c.query_row("PRAGMA foreign_keys", [], |r| r.get(0)).unwrap();
        assert_eq!(fk, 1);
        "/migrations"
    };
    let missing_user = c.execute(
        "INSERT INTO patients (clinic_id, full_name, created_by, created_at, updated_at)
         VALUES (1, 'x', 999, 'now', 'now')",
        [],
    );
    assert!(missing_user.is_err(), "foreign keys are enforced");
    let version = dermasim_web::db::schema_version(&c).unwrap();
    // Every migration file is applied, once; both engines have the same migrations.
    let sql_files = |folder: &str| {
        std::fs::read_dir(format!("{}{folder}", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "sql"))
            .count()
    };
    assert_eq!(version, sql_files(folder) as i64);
    assert_eq!(sql_files("/migrations"), sql_files("/migrations/postgres"));
    drop(c);
    assert!(app.create_user("pat", "practitioner", None).is_err(), "names are unique");
    assert!(app.create_user("x", "boss", None).is_err(), "roles are the four");
}

#[test]
fn the_profile_is_entered_in_form_fields() {
    run(the_profile_is_entered_in_form_fields_body())
}

/// The structured profile fields, named by their paths in the profile.
fn profile_fields<'a>(age: &'a str, kind: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("full_name", "Bea Fields"),
        ("age_years", age),
        ("sex", "female"),
        ("fitzpatrick", "4"),
        ("skin", "thin"),
        ("setting", "professional"),
        ("concerns.0.kind", kind),
        ("concerns.0.scar_type", "rolling"),
        ("concerns.0.sites", "cheek"),
        ("concerns.1.kind", ""),
        ("conditions.0.name", "inflammatory_acne"),
        ("conditions.0.status", "past"),
        ("medications.0.name", "isotretinoin"),
        ("medications.0.start", "2025-01-10"),
        ("medications.0.stop", "2025-06-01"),
        ("profile_toml", ""),
    ]
}

async fn the_profile_is_entered_in_form_fields_body() {
    let env = env().await;
    let u = user(&env, "pat", "practitioner", None).await;
    let r = post(&env, &u, "/patients", &profile_fields("28", "acne_scars")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let id: i64 = r.location().trim_start_matches("/patients/").parse().unwrap();
    let toml: String = env
        .app
        .connection()
        .query_row("SELECT profile_toml FROM patients WHERE id = ?1", [id], |r| r.get(0))
        .unwrap();
    // Stored as TOML that `dermasim screen` reads, holding what the fields said.
    let p = dermasim_clinic::parse_profile(&toml, false, "profile").unwrap();
    assert_eq!((p.age_years, p.fitzpatrick, p.concerns.len()), (28.0, 4, 1));
    assert_eq!(p.concerns[0].sites, ["cheek"]);
    assert_eq!(p.medications[0].name, "isotretinoin");
    assert_eq!(p.conditions[0].name, "inflammatory_acne");
    // The edit form shows the fields filled from the record, and screening works on it.
    let edit = get(&env, &u, &format!("/patients/{id}/edit")).await;
    assert!(edit.body.contains("name=\"concerns.0.sites\" value=\"cheek\""), "{}", edit.body);
    assert!(edit.body.contains("name=\"medications.0.stop\" value=\"2025-06-01\""));
    // The name fields suggest the names the screening rules know (their vocabulary).
    let rules = dermasim_clinic::RuleSet::embedded();
    for (list, field, names) in [
        ("known-conditions", "conditions.0.name", &rules.vocabulary.conditions),
        ("known-medications", "medications.0.name", &rules.vocabulary.medications),
        ("known-procedures", "procedures.0.name", &rules.vocabulary.procedures),
    ] {
        for page in [&edit.body, &get(&env, &u, "/patients/new").await.body] {
            assert!(page.contains(&format!("<datalist id=\"{list}\">")), "{list}");
            assert!(
                page.contains(&format!("name=\"{field}\""))
                    && page.contains(&format!("list=\"{list}\""))
            );
            for n in names {
                assert!(page.contains(&format!("<option value=\"{n}\">")), "{list}: {n}");
            }
        }
    }
    let r = post(
        &env,
        &u,
        &format!("/patients/{id}/screenings"),
        &[("kind", "intake"), ("date", "2026-11-01")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    // Refusals are the CLI's messages, naming the field's path; the form comes back filled.
    let r = post(&env, &u, "/patients", &profile_fields("28", "acne_scar")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("concerns.0.kind:"), "{}", r.body);
    assert!(r.body.contains("name=\"medications.0.start\" value=\"2025-01-10\""), "refilled");
    let r = post(&env, &u, "/patients", &profile_fields("17", "acne_scars")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("age_years: 17 is outside the allowed range 18 to 100 years"),
        "{}",
        r.body
    );
    assert_eq!(count(&env, "SELECT COUNT(*) FROM patients").await, 1);
}

#[test]
fn a_database_url_other_than_postgres_is_refused_and_creates_nothing() {
    for url in ["mysql://x/y", "sqlite://clinic.db", "https://example.org/db"] {
        let before: Vec<_> =
            std::fs::read_dir(".").unwrap().map(|e| e.unwrap().file_name()).collect();
        let e = App::open(std::path::Path::new(url), Config::default()).err().expect("refused");
        let msg = e.to_string();
        assert!(msg.starts_with("--db: `") && msg.contains("Nothing was created"), "{msg}");
        assert!(msg.contains("only PostgreSQL URLs"), "{msg}");
        let after: Vec<_> =
            std::fs::read_dir(".").unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(before, after, "{url}: something was created");
    }
}

#[test]
fn postgres_urls_are_read_as_postgres_and_a_dead_server_is_a_clear_error() {
    use dermasim_web::Store;
    for url in ["postgres://user:secret@db.example/clinic", "POSTGRESQL://db.example/clinic"] {
        assert_eq!(
            Store::parse(std::path::Path::new(url)).unwrap(),
            Store::Postgres(url.to_string())
        );
    }
    assert_eq!(
        Store::parse(std::path::Path::new("records/clinic.db")).unwrap(),
        Store::Sqlite("records/clinic.db".into())
    );
    assert_eq!(
        Store::Postgres("postgres://ana:secret@db.example:5433/clinic".into()).shown(),
        "postgres://ana:***@db.example:5433/clinic"
    );
    // Nothing listens on port 1: the connection is refused, an error naming --db without the
    // password, never a panic.
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    let config = Config { photo_dir: Some(photos.clone()), ..Config::default() };
    let url = "postgres://ana:secret@127.0.0.1:1/clinic?connect_timeout=5";
    let e = App::open(std::path::Path::new(url), config).err().expect("refused");
    let msg = e.to_string();
    assert!(
        msg.starts_with("--db: cannot connect to the PostgreSQL server postgres://ana:***@"),
        "{msg}"
    );
    assert!(!msg.contains("secret"), "{msg}");
}

#[test]
fn an_unwritable_photo_folder_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the folder should be: no folder can be made there, whoever runs the test.
    let blocked = dir.path().join("blocked");
    std::fs::write(&blocked, b"a file").unwrap();
    let config = Config { photo_dir: Some(blocked.join("photos")), ..Config::default() };
    let e = App::open(&dir.path().join("t.db"), config.clone()).err().expect("refused");
    assert!(e.to_string().starts_with("--photos: cannot write photos to "), "{e}");
    let url = "postgres://ana@127.0.0.1:1/clinic";
    let e = App::open(std::path::Path::new(url), config).err().expect("refused");
    assert!(e.to_string().starts_with("--photos: "), "checked before connecting: {e}");
}

//! The research workspace (scenario editor, runs, comparison) and account management, through
//! the router: roles, CSRF, clinic isolation, escaping, the CLI's messages, audit rows.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::*;

const DEFAULT: &str = include_str!("../../../examples/default.toml");

/// The default scenario at 0d with a short follow-up (fast), with the pen at `depth`.
fn quick(depth: &str) -> String {
    DEFAULT
        .replace("fidelity = \"1d\"", "fidelity = \"0d\"")
        .replace("follow_up_days = 180", "follow_up_days = 90")
        .replace("depth_mm = 1.5", &format!("depth_mm = {depth}"))
}

/// What `dermasim run --scenario FILE` says about `text` (through `dermasim_app`, as the CLI).
fn cli_error(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.toml");
    std::fs::write(&file, text).unwrap();
    let source = dermasim_app::scenario::ScenarioSource { file: Some(file), ..Default::default() };
    dermasim_app::scenario::load(&source, &dermasim::ParameterSet::default_set())
        .expect_err("the CLI refuses it")
        .to_string()
}

async fn save(env: &Env, u: &User, name: &str, toml: &str) -> i64 {
    let r = post(env, u, "/workspace/scenarios", &[("name", name), ("toml", toml)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let loc = r.location().trim_start_matches("/workspace/scenarios/");
    loc.split('?').next().unwrap().parse().unwrap()
}

async fn run_of(env: &Env, u: &User, scenario: i64, ensemble: &str) -> i64 {
    let r =
        post(env, u, &format!("/workspace/scenarios/{scenario}/runs"), &[("ensemble", ensemble)])
            .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    r.location().trim_start_matches("/runs/").parse().unwrap()
}

#[test]
fn only_researchers_and_administrators_use_the_workspace() {
    run(async {
        let env = env().await;
        let admin = user(&env, "ada", "administrator", None).await;
        let lab = user(&env, "lab", "researcher", None).await;
        let doc = user(&env, "doc", "practitioner", None).await;
        let desk = user(&env, "desk", "reception", None).await;
        for u in [&admin, &lab] {
            let r = get(&env, u, "/workspace").await;
            assert_eq!(r.status, StatusCode::OK);
            assert!(r.body.contains("href=\"/workspace\""), "the menu links the workspace");
            let new = get(&env, u, "/workspace/scenarios/new").await;
            assert_eq!(new.status, StatusCode::OK);
            // Prefilled with the built-in default scenario, comments included.
            assert!(new.body.contains(&escaped(DEFAULT)), "the editor holds the default scenario");
        }
        for u in [&doc, &desk] {
            for uri in ["/workspace", "/workspace/scenarios/new", "/workspace/runs"] {
                assert_eq!(get(&env, u, uri).await.status, StatusCode::FORBIDDEN, "{uri}");
            }
            let r =
                post(&env, u, "/workspace/scenarios", &[("name", "x"), ("toml", DEFAULT)]).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN);
            assert!(!get(&env, u, "/patients").await.body.contains("href=\"/workspace\""));
        }
        assert_eq!(count(&env, "SELECT COUNT(*) FROM scenarios").await, 0);
    });
}

#[test]
fn the_editor_shows_the_cli_message_and_saves_nothing_on_error() {
    run(async {
        let env = env().await;
        let lab = user(&env, "lab", "researcher", None).await;
        let bad = [
            DEFAULT.replace("depth_mm = 1.5", "depth_mm = 9.0"),
            DEFAULT.replace("fitzpatrick = 3", "fitzpatrick = 8"),
            DEFAULT.replace("kind = \"pen\"", "kind = \"laser\""),
            DEFAULT.replace("seed = 42", "seed = 42\nunknown_knob = 1"),
        ];
        for text in &bad {
            let expected = cli_error(text);
            let r =
                post(&env, &lab, "/workspace/scenarios", &[("name", "Deep"), ("toml", text)]).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{expected}");
            assert!(r.body.contains("id=\"scenario-error\""));
            assert!(r.body.contains(&escaped(&expected)), "not the CLI's message `{expected}`");
            // The form comes back as sent.
            assert!(r.body.contains(&escaped(text)));
        }
        let r = post(&env, &lab, "/workspace/scenarios", &[("name", " "), ("toml", DEFAULT)]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("name: 1 to 100 characters"));
        assert_eq!(count(&env, "SELECT COUNT(*) FROM scenarios").await, 0, "nothing saved");

        // Fixed: saved, audited; the same name twice is refused.
        let id = save(&env, &lab, "Cheek default", DEFAULT).await;
        let page = get(&env, &lab, &format!("/workspace/scenarios/{id}?saved=1")).await;
        assert!(
            page.body.contains("id=\"scenario-saved\"")
                && page.body.contains("Run the saved scenario")
        );
        let again = post(
            &env,
            &lab,
            "/workspace/scenarios",
            &[("name", "Cheek default"), ("toml", DEFAULT)],
        )
        .await;
        assert_eq!(again.status, StatusCode::CONFLICT);
        assert_eq!(count(&env, "SELECT COUNT(*) FROM scenarios").await, 1);
        assert_eq!(
            count(&env, &format!("SELECT COUNT(*) FROM audit WHERE action = 'create' AND entity = 'scenario' AND entity_id = {id}")).await,
            1
        );
        // An edit with an error leaves the saved text alone.
        let bad = DEFAULT.replace("depth_mm = 1.5", "depth_mm = 9.0");
        let r = post(
            &env,
            &lab,
            &format!("/workspace/scenarios/{id}"),
            &[("name", "Cheek default"), ("toml", &bad)],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let stored: String = env
            .app
            .connection()
            .query_row("SELECT toml FROM scenarios WHERE id = ?1", [id], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, DEFAULT);
    });
}

#[test]
fn csrf_escaping_and_clinic_isolation() {
    run(async {
        let env = env().await;
        let lab = user(&env, "lab", "researcher", None).await;
        let other = user(&env, "north", "researcher", Some("North site")).await;
        // No token: 403 and nothing saved.
        let r = send(
            &env,
            "POST",
            "/workspace/scenarios",
            Some(&lab.cookie),
            Some(&[("name", "x"), ("toml", DEFAULT)]),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(count(&env, "SELECT COUNT(*) FROM scenarios").await, 0);

        let evil = "<script>alert(1)</script> & 'quoted'";
        let toml = quick("1.0").replace(
            "name = \"Cheek, pen 1.5 mm, 3 sessions 4 weeks apart\"",
            &format!("name = \"{evil}\""),
        );
        let id = save(&env, &lab, evil, &toml).await;
        let index = get(&env, &lab, "/workspace").await;
        assert!(index.body.contains(&escaped(evil)) && !index.body.contains(evil));
        let rid = run_of(&env, &lab, id, "").await;
        assert_eq!(
            dermasim_web::wait_finished(&env.app, rid, Duration::from_secs(120)).as_deref(),
            Some("done")
        );
        let runs = get(&env, &lab, "/workspace/runs").await;
        assert!(runs.body.contains(&escaped(evil)) && !runs.body.contains("<script>alert"));

        // Another clinic: every id is 404, its lists do not show ours.
        for uri in [
            format!("/workspace/scenarios/{id}"),
            format!("/runs/{rid}"),
            format!("/workspace/compare?a={rid}&b={rid}"),
            format!("/workspace/compare.svg?a={rid}&b={rid}"),
        ] {
            assert_eq!(get(&env, &other, &uri).await.status, StatusCode::NOT_FOUND, "{uri}");
        }
        for uri in [
            format!("/workspace/scenarios/{id}"),
            format!("/workspace/scenarios/{id}/runs"),
            format!("/runs/{rid}/cancel"),
        ] {
            let r = post(&env, &other, &uri, &[("name", "x"), ("toml", DEFAULT), ("ensemble", "")])
                .await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}");
        }
        assert!(!get(&env, &other, "/workspace").await.body.contains("alert"));
        assert!(!get(&env, &other, "/workspace/runs").await.body.contains(&format!("Run {rid}")));
    });
}

#[test]
fn runs_report_and_two_compared_on_one_chart() {
    run(async {
        let env = env().await;
        let lab = user(&env, "lab", "researcher", None).await;
        let doc = user(&env, "doc", "practitioner", None).await;
        let shallow = save(
            &env,
            &lab,
            "Shallow pen",
            &quick("0.5").replace("Cheek, pen 1.5 mm, 3 sessions 4 weeks apart", "Shallow pen"),
        )
        .await;
        let deep = save(
            &env,
            &lab,
            "Deep pen",
            &quick("2.0").replace("Cheek, pen 1.5 mm, 3 sessions 4 weeks apart", "Deep pen"),
        )
        .await;
        let bad =
            post(&env, &lab, &format!("/workspace/scenarios/{shallow}/runs"), &[("ensemble", "1")])
                .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.body.contains("ensemble: `1` is outside the allowed range 2 to 256"));
        let a = run_of(&env, &lab, shallow, "").await;
        let b = run_of(&env, &lab, deep, "4").await;
        for id in [a, b] {
            assert_eq!(
                dermasim_web::wait_finished(&env.app, id, Duration::from_secs(180)).as_deref(),
                Some("done")
            );
        }
        // The report page: every endpoint of the summary, and the chart.
        let page = get(&env, &lab, &format!("/runs/{a}")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.body.contains("id=\"run-endpoints\"")
                && page.body.contains("collagen_total_rel_end")
        );
        assert!(page.body.contains(&format!("/workspace/scenarios/{shallow}")));
        let summary: String = env
            .app
            .connection()
            .query_row("SELECT summary_json FROM runs WHERE id = ?1", [a], |r| r.get(0))
            .unwrap();
        let s: dermasim::Summary = serde_json::from_str(&summary).unwrap();
        assert!(page.body.contains(&format!("{:.4}", s.endpoints.collagen_total_rel_end)));

        // The comparison: both runs on one SVG, the ensemble with its band.
        let cmp = get(&env, &lab, &format!("/workspace/compare?a={a}&b={b}")).await;
        assert_eq!(cmp.status, StatusCode::OK);
        assert!(cmp.body.contains(&format!("/workspace/compare.svg?a={a}&amp;b={b}")));
        assert!(
            cmp.body.contains(&format!("Run {a}: Shallow pen"))
                && cmp.body.contains(&format!("Run {b}: Deep pen"))
        );
        let svg = get(&env, &lab, &format!("/workspace/compare.svg?a={a}&b={b}")).await;
        assert_eq!(svg.status, StatusCode::OK);
        assert_eq!(svg.svg_count(), 1, "one chart");
        for label in [
            format!("Run {a}: Shallow pen: central run"),
            format!("Run {b}: Deep pen: central run"),
            format!("Run {b}: Deep pen: 5-95 %"),
        ] {
            assert!(svg.body.contains(&label), "no `{label}` in the chart");
        }
        assert!(
            !svg.body.contains(&format!("Run {a}: Shallow pen: 5-95 %")),
            "a single run has no band"
        );
        // Deeper needling, more collagen at the end (the model's dose response).
        let end = |id: i64| -> f64 {
            let j: String = env
                .app
                .connection()
                .query_row("SELECT summary_json FROM runs WHERE id = ?1", [id], |r| r.get(0))
                .unwrap();
            serde_json::from_str::<dermasim::Summary>(&j).unwrap().endpoints.collagen_total_rel_end
        };
        assert!(end(b) > end(a), "deep {} vs shallow {}", end(b), end(a));
        assert_eq!(count(&env, "SELECT COUNT(*) FROM audit WHERE entity = 'comparison'").await, 1);
        // Practitioners have no workspace: no comparison, no cancelling a workspace run.
        assert_eq!(
            get(&env, &doc, &format!("/workspace/compare?a={a}&b={b}")).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            post(&env, &doc, &format!("/runs/{a}/cancel"), &[]).await.status,
            StatusCode::FORBIDDEN
        );

        // Cancel: a long run stops, its row says so; a cancelled run does not compare.
        let long = save(
            &env,
            &lab,
            "Long",
            &DEFAULT.replace("follow_up_days = 180", "follow_up_days = 3650"),
        )
        .await;
        let c = run_of(&env, &lab, long, "64").await;
        let r = post(&env, &lab, &format!("/runs/{c}/cancel"), &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert_eq!(
            dermasim_web::wait_finished(&env.app, c, Duration::from_secs(120)).as_deref(),
            Some("cancelled")
        );
        assert_eq!(
            get(&env, &lab, &format!("/workspace/compare?a={a}&b={c}")).await.status,
            StatusCode::CONFLICT
        );
    });
}

trait SvgCount {
    fn svg_count(&self) -> usize;
}

impl SvgCount for Resp {
    fn svg_count(&self) -> usize {
        self.body.matches("<svg").count()
    }
}

#[test]
fn administrators_manage_the_clinics_accounts() {
    run(async {
        let env = env().await;
        let admin = user(&env, "ada", "administrator", None).await;
        let doc = user(&env, "doc", "practitioner", None).await;
        let north = user(&env, "northadmin", "administrator", Some("North site")).await;
        for u in [&doc] {
            assert_eq!(get(&env, u, "/users").await.status, StatusCode::FORBIDDEN);
            assert_eq!(
                post(&env, u, "/users", &[("username", "x"), ("role", "reception")]).await.status,
                StatusCode::FORBIDDEN
            );
        }
        let list = get(&env, &admin, "/users").await;
        assert_eq!(list.status, StatusCode::OK);
        assert!(
            list.body.contains(">doc<") && !list.body.contains("northadmin"),
            "only this clinic's accounts"
        );
        assert!(get(&env, &admin, "/patients").await.body.contains("href=\"/users\""));

        // Refusals name the field and save nothing.
        let before = count(&env, "SELECT COUNT(*) FROM users").await;
        let r =
            post(&env, &admin, "/users", &[("username", "new one"), ("role", "reception")]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("username: 1 to 64 characters without spaces"));
        let r =
            post(&env, &admin, "/users", &[("username", "newone"), ("role", "superuser")]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("role: unknown role `superuser`"));
        let r = post(&env, &admin, "/users", &[("username", "doc"), ("role", "reception")]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("username: `doc` exists already"));
        let r = send(
            &env,
            "POST",
            "/users",
            Some(&admin.cookie),
            Some(&[("username", "x"), ("role", "reception")]),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "no CSRF token");
        assert_eq!(count(&env, "SELECT COUNT(*) FROM users").await, before);

        // Created: the password is shown once, works once, must be changed; audited as the admin's.
        let evil = "<b>lab2</b>";
        let r = post(&env, &admin, "/users", &[("username", evil), ("role", "researcher")]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(r.body.contains(&escaped(evil)) && !r.body.contains(evil));
        let at = r.body.find("id=\"one-time-password\">").unwrap() + 23;
        let password = r.body[at..].split('<').next().unwrap().to_string();
        assert!(password.len() >= 12, "{password}");
        assert!(!get(&env, &admin, "/users").await.body.contains(&password), "shown once");
        let signed = login(&env, evil, &password).await;
        assert_eq!(signed.status, StatusCode::SEE_OTHER);
        let cookie = set_cookie(&signed, "dermasim_session").unwrap();
        let page = send(&env, "GET", "/workspace", Some(&cookie), None).await;
        assert_eq!(page.location(), "/account", "the one-time password is changed first");
        let admin_id: i64 = env
            .app
            .connection()
            .query_row("SELECT id FROM users WHERE username = 'ada'", [], |r| r.get(0))
            .unwrap();
        let new_id: i64 = env
            .app
            .connection()
            .query_row("SELECT id FROM users WHERE username = ?1", [evil], |r| r.get(0))
            .unwrap();
        assert_eq!(
            count(&env, &format!("SELECT COUNT(*) FROM audit WHERE action = 'create' AND entity = 'user' AND entity_id = {new_id} AND user_id = {admin_id}")).await,
            1
        );

        // Disabled: the open session ends, sign-in is refused; audited. Not oneself; not another clinic's.
        let doc_id: i64 = env
            .app
            .connection()
            .query_row("SELECT id FROM users WHERE username = 'doc'", [], |r| r.get(0))
            .unwrap();
        let north_id: i64 = env
            .app
            .connection()
            .query_row("SELECT id FROM users WHERE username = 'northadmin'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            post(&env, &admin, &format!("/users/{north_id}/disable"), &[]).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            post(&env, &north, &format!("/users/{doc_id}/disable"), &[]).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            post(&env, &admin, &format!("/users/{admin_id}/disable"), &[]).await.status,
            StatusCode::CONFLICT
        );
        assert_eq!(
            send(&env, "POST", &format!("/users/{doc_id}/disable"), Some(&admin.cookie), None)
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(get(&env, &doc, "/patients").await.status, StatusCode::OK);
        let r = post(&env, &admin, &format!("/users/{doc_id}/disable"), &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(get(&env, &doc, "/patients").await.location(), "/login", "signed out");
        assert!(get(&env, &admin, "/users").await.body.contains("disabled"));
        assert_eq!(
            count(&env, &format!("SELECT COUNT(*) FROM audit WHERE action = 'disable' AND entity_id = {doc_id} AND user_id = {admin_id}")).await,
            1
        );
    });
}

/// The one-time password shown on an answer (`id="one-time-password"`).
fn shown_password(body: &str) -> String {
    let at = body.find("id=\"one-time-password\">").expect("a one-time password shown") + 23;
    body[at..].split('<').next().unwrap().to_string()
}

fn user_id(env: &Env, name: &str) -> i64 {
    env.app
        .connection()
        .query_row("SELECT id FROM users WHERE username = ?1", [name], |r| r.get(0))
        .unwrap()
}

#[test]
fn administrators_enable_accounts_again_and_reset_passwords() {
    run(async {
        let env = env().await;
        let admin = user(&env, "ada", "administrator", None).await;
        let north = user(&env, "northadmin", "administrator", Some("North site")).await;
        let doc = user(&env, "doc", "practitioner", None).await;
        let old_password = env.app.create_user("rita", "reception", None).unwrap();
        let (admin_id, doc_id, rita_id, north_id) = (
            user_id(&env, "ada"),
            user_id(&env, "doc"),
            user_id(&env, "rita"),
            user_id(&env, "northadmin"),
        );
        let audit_rows = |action: &str, id: i64| {
            format!("SELECT COUNT(*) FROM audit WHERE action = '{action}' AND entity = 'user' AND entity_id = {id} AND user_id = {admin_id}")
        };

        // Only administrators; CSRF; another clinic's account 404; one's own 409. Nothing changes.
        for (path, action) in [("enable", "enable"), ("reset-password", "reset_password")] {
            let uri = format!("/users/{rita_id}/{path}");
            assert_eq!(post(&env, &doc, &uri, &[]).await.status, StatusCode::FORBIDDEN, "{uri}");
            assert_eq!(
                send(&env, "POST", &uri, Some(&admin.cookie), None).await.status,
                StatusCode::FORBIDDEN,
                "{uri} without the CSRF token"
            );
            assert_eq!(post(&env, &north, &uri, &[]).await.status, StatusCode::NOT_FOUND, "{uri}");
            let own = format!("/users/{admin_id}/{path}");
            assert_eq!(post(&env, &admin, &own, &[]).await.status, StatusCode::CONFLICT, "{own}");
            let other = format!("/users/{north_id}/{path}");
            assert_eq!(post(&env, &admin, &other, &[]).await.status, StatusCode::NOT_FOUND);
            assert_eq!(count(&env, &audit_rows(action, rita_id)).await, 0);
        }

        // Disabled, then enabled again from the list: it signs in again; audited.
        assert_eq!(
            post(&env, &admin, &format!("/users/{rita_id}/disable"), &[]).await.status,
            StatusCode::SEE_OTHER
        );
        assert_eq!(login(&env, "rita", &old_password).await.status, StatusCode::UNAUTHORIZED);
        let list = get(&env, &admin, "/users").await;
        assert!(
            list.body.contains(&format!("action=\"/users/{rita_id}/enable\"")),
            "{}",
            list.body
        );
        assert!(
            !list.body.contains(&format!("action=\"/users/{doc_id}/enable\"")),
            "doc is active"
        );
        let r = post(&env, &admin, &format!("/users/{rita_id}/enable"), &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert_eq!(login(&env, "rita", &old_password).await.status, StatusCode::SEE_OTHER);
        assert_eq!(count(&env, &audit_rows("enable", rita_id)).await, 1);
        let list = get(&env, &admin, "/users").await;
        assert!(list.body.contains(&format!("action=\"/users/{rita_id}/disable\"")));

        // Reset: a new one-time password shown once; the old one stops working, the open
        // session ends, the new one must be changed at the next sign-in; audited.
        assert_eq!(get(&env, &doc, "/patients").await.status, StatusCode::OK);
        let r = post(&env, &admin, &format!("/users/{doc_id}/reset-password"), &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let fresh = shown_password(&r.body);
        assert!(fresh.len() >= 12, "{fresh}");
        assert!(!get(&env, &admin, "/users").await.body.contains(&fresh), "shown once");
        let stored: String = env
            .app
            .connection()
            .query_row("SELECT password_hash FROM users WHERE id = ?1", [doc_id], |r| r.get(0))
            .unwrap();
        assert!(stored.starts_with("$argon2id$") && !stored.contains(&fresh), "hashed, not kept");
        assert_eq!(get(&env, &doc, "/patients").await.location(), "/login", "session ended");
        let signed = login(&env, "doc", &fresh).await;
        assert_eq!(signed.status, StatusCode::SEE_OTHER);
        let cookie = set_cookie(&signed, "dermasim_session").unwrap();
        let page = send(&env, "GET", "/patients", Some(&cookie), None).await;
        assert_eq!(page.location(), "/account", "the reset password is changed first");
        assert_eq!(count(&env, &audit_rows("reset_password", doc_id)).await, 1);

        // A reset lifts a lockout: locked after failed sign-ins, then reset, it signs in.
        for _ in 0..dermasim_web::MAX_FAILED_LOGINS {
            login(&env, "rita", "wrong").await;
        }
        assert_eq!(login(&env, "rita", &old_password).await.status, StatusCode::TOO_MANY_REQUESTS);
        let r = post(&env, &admin, &format!("/users/{rita_id}/reset-password"), &[]).await;
        let fresh = shown_password(&r.body);
        assert_eq!(login(&env, "rita", &old_password).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(login(&env, "rita", &fresh).await.status, StatusCode::SEE_OTHER);
    });
}

#[test]
fn deleting_a_saved_scenario_keeps_its_runs() {
    run(async {
        let env = env().await;
        let lab = user(&env, "lab", "researcher", None).await;
        let doc = user(&env, "doc", "practitioner", None).await;
        let far = user(&env, "far", "researcher", Some("North site")).await;
        let id = save(&env, &lab, "Shallow", &quick("0.5")).await;
        let rid = run_of(&env, &lab, id, "").await;
        assert_eq!(
            dermasim_web::wait_finished(&env.app, rid, Duration::from_secs(120)).as_deref(),
            Some("done")
        );
        let uri = format!("/workspace/scenarios/{id}/delete");
        let page = get(&env, &lab, &format!("/workspace/scenarios/{id}")).await;
        assert!(page.body.contains(&format!("action=\"{uri}\"")), "the editor offers deletion");

        // Refused without the CSRF token, to other roles and to another clinic; nothing goes.
        let r = send(&env, "POST", &uri, Some(&lab.cookie), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "no CSRF token");
        assert_eq!(post(&env, &doc, &uri, &[]).await.status, StatusCode::FORBIDDEN);
        assert_eq!(post(&env, &far, &uri, &[]).await.status, StatusCode::NOT_FOUND);
        let live = "SELECT COUNT(*) FROM scenarios WHERE deleted_at IS NULL";
        assert_eq!(count(&env, live).await, 1);

        // Deleted: gone from the list and its pages (404), audited; its text is cleared.
        let r = post(&env, &lab, &uri, &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert_eq!(count(&env, live).await, 0);
        assert!(!get(&env, &lab, "/workspace").await.body.contains("Shallow"));
        let scenario = format!("/workspace/scenarios/{id}");
        assert_eq!(get(&env, &lab, &scenario).await.status, StatusCode::NOT_FOUND);
        let renamed = post(&env, &lab, &scenario, &[("name", "x"), ("toml", DEFAULT)]).await;
        assert_eq!(renamed.status, StatusCode::NOT_FOUND);
        let again = post(&env, &lab, &format!("{scenario}/runs"), &[("ensemble", "")]).await;
        assert_eq!(again.status, StatusCode::NOT_FOUND);
        assert_eq!(post(&env, &lab, &uri, &[]).await.status, StatusCode::NOT_FOUND, "twice");
        let text: String = env
            .app
            .connection()
            .query_row("SELECT toml FROM scenarios WHERE id = ?1", [id], |r| r.get(0))
            .unwrap();
        assert_eq!(text, "");
        let lab_id = user_id(&env, "lab");
        assert_eq!(
            count(&env, &format!("SELECT COUNT(*) FROM audit WHERE action = 'delete' AND entity = 'scenario' AND entity_id = {id} AND user_id = {lab_id} AND detail = 'Shallow'")).await,
            1
        );

        // Its run keeps its record: listed, its page and report, its scenario as run, a comparison.
        let runs = get(&env, &lab, "/workspace/runs").await;
        assert!(
            runs.body.contains(&format!("/runs/{rid}")) && runs.body.contains("Shallow (deleted")
        );
        let page = get(&env, &lab, &format!("/runs/{rid}")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("id=\"scenario-deleted\""), "{}", page.body);
        assert!(
            !page.body.contains(&format!("href=\"/workspace/scenarios/{id}\"")),
            "no dead link"
        );
        let as_run: String = env
            .app
            .connection()
            .query_row("SELECT scenario_json FROM runs WHERE id = ?1", [rid], |r| r.get(0))
            .unwrap();
        assert!(as_run.contains("0.5"), "{as_run}");
        let cmp = get(&env, &lab, &format!("/workspace/compare?a={rid}&b={rid}")).await;
        assert_eq!(cmp.status, StatusCode::OK);

        // The name is free again.
        save(&env, &lab, "Shallow", &quick("0.5")).await;
        assert_eq!(count(&env, live).await, 1);
    });
}

//! Router tests of the clinical records: session notes (sign, lock, amendments, version
//! checks, roles) and simulations from the record (the background queue, progress events,
//! cancel, restart).

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::*;
use http_body_util::BodyExt;
use tower::ServiceExt;

/// The first frame of a (possibly endless) event stream.
async fn first_event(env: &Env, u: &User, uri: &str) -> String {
    let req =
        Request::builder().uri(uri).header(header::COOKIE, &u.cookie).body(Body::empty()).unwrap();
    let resp = env.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body();
    let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
        .await
        .expect("an event within 10 s")
        .expect("a frame")
        .expect("no body error");
    String::from_utf8_lossy(frame.data_ref().expect("data")).into_owned()
}

/// A session-note form: one pen session on `date` at the cheek (and the forehead when `two`).
fn note_fields<'a>(date: &'a str, cheek_depth: &'a str, two: bool) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("session_date", date),
        ("device", "pen"),
        ("device_model", "SkinPen Precision"),
        ("device_serial", "SP-001234"),
        ("cartridge_lot", "LOT-77"),
        ("cartridge_expiry", "2027-06-30"),
        ("area_site_0", "cheek"),
        ("area_depth_0", cheek_depth),
        ("area_passes_0", "3"),
        ("topical_product_0", "hyaluronic serum"),
        ("topical_batch_0", "HA-2291"),
        ("endpoint", "pinpoint_bleeding"),
        ("reactions", "mild erythema, settled in 20 minutes"),
    ];
    if two {
        f.extend([("area_site_1", "forehead"), ("area_depth_1", "0.5"), ("area_passes_1", "2")]);
    }
    f
}

/// Record a note; returns its id.
async fn note(env: &Env, u: &User, patient: i64, fields: &[(&str, &str)]) -> i64 {
    let r = post(env, u, &format!("/patients/{patient}/notes"), fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    r.location().trim_start_matches("/notes/").parse().unwrap()
}

fn note_json(env: &Env, id: i64) -> String {
    env.app
        .connection()
        .query_row("SELECT note_json FROM session_notes WHERE id = ?1", [id], |r| r.get(0))
        .unwrap()
}

#[test]
fn notes_are_signed_locked_and_amended() {
    run(notes_are_signed_locked_and_amended_body())
}

async fn notes_are_signed_locked_and_amended_body() {
    let env = env().await;
    let u = user(&env, "pat", "practitioner", None).await;
    let other = user(&env, "sam", "practitioner", None).await;
    let pid = patient(&env, &u, "Ann Example", "").await;
    let id = note(&env, &u, pid, &note_fields("2026-03-02", "1.5", true)).await;

    let page = get(&env, &u, &format!("/notes/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    for text in [
        "SP-001234",
        "LOT-77",
        "HA-2291",
        "pinpoint bleeding",
        "forehead",
        "1.5 mm",
        "Draft, version 1",
    ] {
        assert!(page.body.contains(text), "{text} missing");
    }
    let listed = get(&env, &u, &format!("/patients/{pid}")).await;
    assert!(listed.body.contains(&format!("/notes/{id}")) && listed.body.contains("draft"));

    // Two editors opened version 1; the first save wins, the second is refused, not merged.
    let mut first = note_fields("2026-03-02", "1.25", true);
    first.push(("version", "1"));
    let r = post(&env, &u, &format!("/notes/{id}"), &first).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let saved = note_json(&env, id);
    let mut second = note_fields("2026-03-02", "2.0", true);
    second.push(("version", "1"));
    let r = post(&env, &other, &format!("/notes/{id}"), &second).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("Someone else changed this note"), "{}", r.body);
    assert_eq!(note_json(&env, id), saved, "a stale save wrote something");
    assert!(saved.contains("1.25"));

    // Signing checks the version too: signing version 1 (now stale) is refused.
    assert_eq!(screened(&env, &u, pid, "2026-03-02").await, "go with cautions");
    let r = post(&env, &u, &format!("/notes/{id}/sign"), &[("version", "1")]).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = post(&env, &u, &format!("/notes/{id}/sign"), &[("version", "2")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = get(&env, &u, &format!("/notes/{id}")).await;
    assert!(page.body.contains("Signed by pat"), "{}", page.body);

    // Locked: the form refuses, and so does the database itself.
    let mut edit = note_fields("2026-03-02", "0.5", true);
    edit.push(("version", "2"));
    let r = post(&env, &u, &format!("/notes/{id}"), &edit).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("signed and locked"));
    let direct = env
        .app
        .connection()
        .execute("UPDATE session_notes SET note_json = '{}' WHERE id = ?1", [id]);
    assert!(direct.unwrap_err().to_string().contains("locked"));
    assert_eq!(note_json(&env, id), saved);

    // An amendment keeps the original visible.
    let mut amend = note_fields("2026-03-02", "1.0", true);
    amend.extend([("seen", "0"), ("reason", "depth was misread from the dial")]);
    let r = post(&env, &u, &format!("/notes/{id}/amend"), &amend).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = get(&env, &u, &format!("/notes/{id}")).await;
    assert!(page.body.contains("Original note") && page.body.contains("1.25 mm"));
    assert!(page.body.contains("Amendment 1 by pat") && page.body.contains("1 mm"));
    assert!(page.body.contains("depth was misread from the dial"));
    // A second amendment made from the same (now stale) view is refused.
    let mut again = note_fields("2026-03-02", "0.75", true);
    again.extend([("seen", "0"), ("reason", "another view")]);
    let r = post(&env, &other, &format!("/notes/{id}/amend"), &again).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM note_amendments").await, 1);
    let direct = env.app.connection().execute("DELETE FROM note_amendments", []);
    assert!(direct.is_err(), "amendments must be append-only");
    // An amendment cannot move the session to another date.
    let mut moved = note_fields("2026-03-09", "1.0", true);
    moved.extend([("seen", "1"), ("reason", "move")]);
    let r = post(&env, &u, &format!("/notes/{id}/amend"), &moved).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    for action in [
        "create",
        "update",
        "update_refused_stale",
        "sign_refused_stale",
        "sign",
        "amend",
        "amend_refused_stale",
        "view",
    ] {
        let n = count(
            &env,
            &format!(
                "SELECT COUNT(*) FROM audit WHERE entity = 'session_note' AND action = '{action}'"
            ),
        )
        .await;
        assert!(n >= 1, "no audit row for {action}");
    }
}

#[test]
fn note_fields_are_checked_with_clear_messages() {
    run(note_fields_are_checked_with_clear_messages_body())
}

async fn note_fields_are_checked_with_clear_messages_body() {
    let env = env().await;
    let u = user(&env, "pat", "practitioner", None).await;
    let pid = patient(&env, &u, "Ann Example", "").await;
    let uri = format!("/patients/{pid}/notes");
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            note_fields("2026-03-02", "2.6", false),
            "area_depth_0: 2.6 is outside the allowed range 0.1 to 2.5 mm for a pen",
        ),
        (note_fields("2026-03-02", "abc", false), "area_depth_0: `abc` is not a number (mm)"),
        (note_fields("2999-01-01", "1.0", false), "session_date: 2999-01-01 is in the future"),
        (note_fields("2026-02-30", "1.0", false), "session_date: `2026-02-30` is not a date"),
    ];
    for (fields, message) in cases {
        let r = post(&env, &u, &uri, &fields).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{message}");
        assert!(r.body.contains(&escaped(message)), "{message}: {}", r.body);
    }
    let with = |name: &'static str, value: &'static str| {
        let mut f: Vec<(&str, &str)> = note_fields("2026-03-02", "1.0", false)
            .into_iter()
            .filter(|(k, _)| *k != name)
            .collect();
        f.push((name, value));
        f
    };
    let cases = [
        (with("area_site_0", "eyelid"), "area_site_0: unknown site `eyelid`; known sites:"),
        (with("area_site_0", ""), "area_site_0: at least one treated area is needed"),
        (
            with("area_passes_0", "0"),
            "area_passes_0: 0 is outside the allowed range 1 to 20 for a pen",
        ),
        (with("device", "laser"), "device: `laser` is not a device; use pen or roller"),
        (with("device_serial", ""), "device_serial: required"),
        (
            with("topical_batch_0", ""),
            "topical_batch_0: a topical needs both its product and its batch",
        ),
        (with("endpoint", "pain"), "endpoint: `pain` is not an endpoint"),
    ];
    for (fields, message) in cases {
        let r = post(&env, &u, &uri, &fields).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{message}");
        assert!(r.body.contains(&escaped(message)), "{message}: {}", r.body);
        // The refused form comes back filled in.
        assert!(r.body.contains("LOT-77") || message.starts_with("device_serial"), "{message}");
    }
    // A roller allows longer needles (3.0 mm) and more passes (50).
    let mut roller = with("device", "roller");
    roller.retain(|(k, _)| *k != "area_depth_0");
    roller.push(("area_depth_0", "2.75"));
    note(&env, &u, pid, &roller).await;
    assert_eq!(
        count(&env, "SELECT COUNT(*) FROM session_notes").await,
        1,
        "refused forms saved nothing"
    );
}

#[test]
fn notes_respect_roles_and_clinics() {
    run(notes_respect_roles_and_clinics_body())
}

async fn notes_respect_roles_and_clinics_body() {
    let env = env().await;
    let u = user(&env, "pat", "practitioner", None).await;
    let desk = user(&env, "desk", "reception", None).await;
    let lab = user(&env, "lab", "researcher", None).await;
    let far = user(&env, "far", "practitioner", Some("North site")).await;
    let pid = patient(&env, &u, "Ann Example", "").await;
    let hostile = "<script>alert(1)</script>'; DROP TABLE session_notes; --";
    let mut f = note_fields("2026-03-02", "1.5", false);
    f.retain(|(k, _)| *k != "reactions");
    f.push(("reactions", hostile));
    let id = note(&env, &u, pid, &f).await;
    let page = get(&env, &u, &format!("/notes/{id}")).await;
    assert!(page.body.contains(&escaped(hostile)) && !page.body.contains("<script>alert"));
    assert!(note_json(&env, id).contains(hostile), "stored byte for byte");

    // Reception: no notes at all.
    let r = get(&env, &desk, &format!("/notes/{id}")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = get(&env, &desk, &format!("/patients/{pid}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body.contains("Session notes") && !r.body.contains("SP-001234"));
    let r = post(
        &env,
        &desk,
        &format!("/patients/{pid}/notes"),
        &note_fields("2026-03-02", "1.0", false),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = post(&env, &desk, &format!("/notes/{id}/sign"), &[("version", "1")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Researcher: the structured note, no name, no free text, no writing.
    let r = get(&env, &lab, &format!("/notes/{id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("1.5 mm") && r.body.contains(&format!("P-{pid:06}")));
    assert!(!r.body.contains("Ann Example") && !r.body.contains("alert(1)"));
    let r = post(&env, &lab, &format!("/notes/{id}/sign"), &[("version", "1")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Another clinic: as if the note did not exist.
    for uri in [format!("/notes/{id}"), format!("/patients/{pid}/notes/new")] {
        assert_eq!(get(&env, &far, &uri).await.status, StatusCode::NOT_FOUND, "{uri}");
    }
    let r = post(&env, &far, &format!("/notes/{id}/sign"), &[("version", "1")]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = post(
        &env,
        &far,
        &format!("/patients/{pid}/notes"),
        &note_fields("2026-03-02", "1.0", false),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        count(&env, "SELECT COUNT(*) FROM session_notes WHERE signed_at IS NOT NULL").await,
        0
    );
}

/// Two signed pen sessions four weeks apart at the cheek (1.5 then 1.0 mm).
async fn signed_sessions(env: &Env, u: &User, pid: i64) {
    for (date, depth) in [("2026-03-02", "1.5"), ("2026-03-30", "1.0")] {
        screened(env, u, pid, date).await;
        let id = note(env, u, pid, &note_fields(date, depth, true)).await;
        let r = post(env, u, &format!("/notes/{id}/sign"), &[("version", "1")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
    }
}

async fn start_run(env: &Env, u: &User, pid: i64, fidelity: &str, ensemble: &str) -> Resp {
    post(
        env,
        u,
        &format!("/patients/{pid}/runs"),
        &[
            ("site", "cheek"),
            ("fidelity", fidelity),
            ("ensemble", ensemble),
            ("follow_up_days", "90"),
        ],
    )
    .await
}

fn run_id(r: &Resp) -> i64 {
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    r.location().trim_start_matches("/runs/").parse().unwrap()
}

#[test]
fn recorded_sessions_become_a_simulation() {
    run(recorded_sessions_become_a_simulation_body())
}

async fn recorded_sessions_become_a_simulation_body() {
    let env = env().await;
    let u = user(&env, "pat", "practitioner", None).await;
    let pid = patient(&env, &u, "Ann Example", "").await;
    // A draft is not a record yet: nothing to simulate.
    note(&env, &u, pid, &note_fields("2026-02-02", "1.5", false)).await;
    let r = start_run(&env, &u, pid, "0d", "").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("no signed session note treats `cheek`"), "{}", r.body);
    signed_sessions(&env, &u, pid).await;
    let r = start_run(&env, &u, pid, "0d", "1").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("ensemble: `1` is outside the allowed range 2 to 256"));

    let id = run_id(&start_run(&env, &u, pid, "0d", "").await);
    assert_eq!(
        dermasim_web::wait_finished(&env.app, id, Duration::from_secs(120)).as_deref(),
        Some("done")
    );
    // The scenario is the record: day 0 and day 28, each session's own depth and passes.
    let json: String = env
        .app
        .connection()
        .query_row("SELECT scenario_json FROM runs WHERE id = ?1", [id], |r| r.get(0))
        .unwrap();
    let s: dermasim::Scenario = serde_json::from_str(&json).unwrap();
    let days: Vec<f64> = s.protocol.sessions.iter().map(|x| x.day).collect();
    assert_eq!(days, [0.0, 28.0]);
    assert_eq!(s.protocol.follow_up_days, 28.0 + 90.0);
    assert_eq!(s.patient.site, "cheek");
    assert_eq!(s.patient.age_years, 28.0);
    assert_eq!(s.patient.fitzpatrick, 4);
    let depth = |i: usize| match s.session_device(i) {
        dermasim::device::Device::Pen(p) => (p.depth_mm, p.passes),
        other => panic!("a pen was recorded, got {other:?}"),
    };
    assert_eq!(depth(0), (1.5, 3));
    assert_eq!(depth(1), (1.0, 3));
    assert!(!json.contains("Ann Example"), "the run carries no name");

    let page = get(&env, &u, &format!("/runs/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("done 100 %")
            && page.body.contains("/runs/{id}/chart.svg".replace("{id}", &id.to_string()).as_str())
    );
    assert!(page.body.contains("total collagen"));
    let chart = get(&env, &u, &format!("/runs/{id}/chart.svg")).await;
    assert_eq!(chart.status, StatusCode::OK);
    assert_eq!(chart.headers["content-type"], "image/svg+xml");
    assert!(chart.body.contains("<svg") && chart.body.contains("Recorded sessions at cheek"));
    // The finished run's event stream says so at once and ends.
    let events = get(&env, &u, &format!("/runs/{id}/events")).await;
    assert_eq!(events.headers["content-type"], "text/event-stream");
    assert!(
        events.body.contains("event: end") && events.body.contains("\"status\":\"done\""),
        "{}",
        events.body
    );
    // The patient page lists it.
    let p = get(&env, &u, &format!("/patients/{pid}")).await;
    assert!(p.body.contains(&format!("/runs/{id}")));

    // The run as a zip: manifest, scenario, summary, chart.
    let (status, headers, z) = get_bytes(&env, &u, &format!("/runs/{id}/export.zip")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/zip");
    let files = unzip(&z);
    let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(names, ["manifest.json", "scenario.json", "summary.json", "chart.svg"]);
    let back: dermasim::Scenario = serde_json::from_slice(&files[1].1).unwrap();
    assert_eq!(back, s, "the exported scenario is the one run");
    let summary: dermasim::Summary = serde_json::from_slice(&files[2].1).unwrap();
    assert_eq!(summary.sessions.len(), 2);

    // Roles and clinics.
    let desk = user(&env, "desk", "reception", None).await;
    let far = user(&env, "far", "practitioner", Some("North site")).await;
    assert_eq!(get(&env, &desk, &format!("/runs/{id}")).await.status, StatusCode::FORBIDDEN);
    assert_eq!(get(&env, &far, &format!("/runs/{id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&env, &far, &format!("/runs/{id}/events")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(start_run(&env, &desk, pid, "0d", "").await.status, StatusCode::FORBIDDEN);
    assert_eq!(start_run(&env, &far, pid, "0d", "").await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        get_bytes(&env, &far, &format!("/runs/{id}/export.zip")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get_bytes(&env, &desk, &format!("/runs/{id}/export.zip")).await.0,
        StatusCode::FORBIDDEN
    );
}

#[test]
fn runs_can_be_cancelled_and_the_queue_is_bounded() {
    run(runs_can_be_cancelled_and_the_queue_is_bounded_body())
}

async fn runs_can_be_cancelled_and_the_queue_is_bounded_body() {
    let env = env().await;
    let u = user(&env, "pat", "practitioner", None).await;
    let pid = patient(&env, &u, "Ann Example", "").await;
    signed_sessions(&env, &u, pid).await;
    // Long runs (3d): the workers take RUN_WORKERS, the queue holds its capacity,
    // and one more is refused with 503 (a busy worker may already have taken one from the
    // queue, so up to one extra run may be accepted before the refusal).
    let mut ids = Vec::new();
    let mut refused = None;
    for _ in 0..dermasim_web::RUN_WORKERS + dermasim_web::RUN_QUEUE_CAPACITY + 2 {
        let r = start_run(&env, &u, pid, "3d", "").await;
        if r.status == StatusCode::SERVICE_UNAVAILABLE {
            refused = Some(r);
            break;
        }
        ids.push(run_id(&r));
    }
    let refused = refused.expect("the queue refused a run");
    assert!(refused.body.contains("the simulation queue is full"));
    assert!(ids.len() >= dermasim_web::RUN_QUEUE_CAPACITY);
    // Live progress while running: the event stream's first event is progress, not end.
    // Cancel every one; each ends cancelled (queued ones never start, running ones stop).
    for id in &ids {
        let r = post(&env, &u, &format!("/runs/{id}/cancel"), &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }
    for id in &ids {
        let s = dermasim_web::wait_finished(&env.app, *id, Duration::from_secs(120));
        assert_eq!(s.as_deref(), Some("cancelled"), "run {id}");
    }
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) FROM runs WHERE status = 'cancelled' AND summary_json IS NULL"
        )
        .await,
        ids.len() as i64
    );
    // Cancelling a finished run is a conflict, not a silent success.
    let r = post(&env, &u, &format!("/runs/{}/cancel", ids[0]), &[]).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
}

#[test]
fn progress_is_live_and_a_restart_marks_runs_interrupted() {
    run(progress_is_live_and_a_restart_marks_runs_interrupted_body())
}

async fn progress_is_live_and_a_restart_marks_runs_interrupted_body() {
    let env = env().await;
    let u = user(&env, "pat", "practitioner", None).await;
    let pid = patient(&env, &u, "Ann Example", "").await;
    signed_sessions(&env, &u, pid).await;
    let id = run_id(&start_run(&env, &u, pid, "3d", "").await);
    // Wait until the worker has it, then read the event stream's first event through the
    // router (a running run's stream goes on, so read one frame only).
    let started = std::time::Instant::now();
    while count(&env, &format!("SELECT COUNT(*) FROM runs WHERE id = {id} AND status = 'running'"))
        .await
        == 0
    {
        assert!(started.elapsed() < Duration::from_secs(60), "the run never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let first = first_event(&env, &u, &format!("/runs/{id}/events")).await;
    assert!(
        first.starts_with("event: progress") && first.contains("\"status\":\"running\""),
        "{first}"
    );
    let page = get(&env, &u, &format!("/runs/{id}")).await;
    assert!(page.body.contains("data-events=\"/runs/") && page.body.contains("Cancel"));

    // A restart while it runs: the new server marks it interrupted, not running forever.
    let reopened = env.db.open(dermasim_web::Config::default());
    // Opening alone (as `--create-user` does beside a running server) changes nothing.
    let still: String = reopened
        .connection()
        .query_row("SELECT status FROM runs WHERE id = ?1", [id], |r| r.get(0))
        .unwrap();
    assert_eq!(still, "running");
    // What `serve` does before it listens.
    assert_eq!(reopened.recover_interrupted_runs().unwrap(), 1);
    let (status, message): (String, String) = reopened
        .connection()
        .query_row("SELECT status, message FROM runs WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(status, "interrupted");
    assert!(message.contains("the server stopped"));
    // The old process's worker is still going in this test; stop it.
    post(&env, &u, &format!("/runs/{id}/cancel"), &[]).await;
}

#[test]
fn follow_ups_and_adverse_events() {
    run(follow_ups_and_adverse_events_body())
}

async fn follow_ups_and_adverse_events_body() {
    let env = env().await;
    let u = user(&env, "pat", "practitioner", None).await;
    let desk = user(&env, "desk", "reception", None).await;
    let lab = user(&env, "lab", "researcher", None).await;
    let pid = patient(&env, &u, "Ann Example", "").await;
    let r = post(
        &env,
        &u,
        &format!("/patients/{pid}/plans"),
        &[("date", "2026-03-01"), ("members", "2")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // The plan's own numbers for the cheek, as stored.
    let json: String =
        env.app.connection().query_row("SELECT report_json FROM plans", [], |r| r.get(0)).unwrap();
    let report: dermasim_clinic::PlanReport = serde_json::from_str(&json).unwrap();
    let plan = report.plans.iter().find(|p| p.site == "cheek").expect("a cheek plan");
    let first: jiff::civil::Date = plan
        .first_session_not_before
        .as_ref()
        .map(|d| d.to_string())
        .unwrap_or_else(|| report.assessment_date.to_string())
        .parse()
        .unwrap();
    let page = get(&env, &u, "/follow-ups").await;
    assert!(page.body.contains(&format!("<td>{first}</td>")), "first session due: {}", page.body);
    assert!(
        page.body.contains("Ann Example") && page.body.contains(&format!("0 of {}", plan.sessions))
    );

    let id = note(&env, &u, pid, &note_fields("2026-03-02", "1.5", false)).await;
    // A draft does not count as a session done.
    assert!(get(&env, &u, "/follow-ups").await.body.contains(&format!("0 of {}", plan.sessions)));
    screened(&env, &u, pid, "2026-03-02").await;
    assert_eq!(
        post(&env, &u, &format!("/notes/{id}/sign"), &[("version", "1")]).await.status,
        StatusCode::SEE_OTHER
    );
    let due = jiff::civil::date(2026, 3, 2)
        .checked_add(jiff::Span::new().days(plan.interval_days as i64))
        .unwrap();
    let page = get(&env, &u, "/follow-ups").await;
    assert!(
        page.body.contains(&format!("<td>{due}</td>")) && page.body.contains("overdue"),
        "{}",
        page.body
    );
    assert!(page.body.contains(&format!("1 of {}", plan.sessions)));
    let p = get(&env, &u, &format!("/patients/{pid}")).await;
    assert!(p.body.contains(&format!("next {due}")), "{}", p.body);
    assert_eq!(get(&env, &desk, "/follow-ups").await.status, StatusCode::FORBIDDEN);
    assert_eq!(get(&env, &lab, "/follow-ups").await.status, StatusCode::FORBIDDEN);

    // Adverse events against the session, "none" included.
    let uri = format!("/notes/{id}/adverse-events");
    let event = |kind: &'static str,
                 severity: &'static str,
                 onset: &'static str,
                 text: &'static str| {
        vec![("kind", kind), ("severity", severity), ("onset_date", onset), ("description", text)]
    };
    let refused = [
        (
            event("infection", "none", "2026-03-04", ""),
            "severity: `none`; an event needs mild, moderate or severe",
        ),
        (
            event("infection", "mild", "2026-03-01", ""),
            "onset_date: 2026-03-01 is before the session (2026-03-02)",
        ),
        (event("none", "mild", "", ""), "severity: `none` goes with the event `none`"),
        (
            event("other", "mild", "2026-03-04", ""),
            "description: describe an event of kind `other`",
        ),
        (event("burn", "mild", "2026-03-04", ""), "kind: `burn` is not an adverse event kind"),
    ];
    for (fields, message) in refused {
        let r = post(&env, &u, &uri, &fields).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{message}");
        assert!(r.body.contains(&escaped(message)), "{message}: {}", r.body);
    }
    assert_eq!(
        post(&env, &u, &uri, &event("none", "none", "", "")).await.status,
        StatusCode::SEE_OTHER
    );
    let r = post(
        &env,
        &u,
        &uri,
        &event("infection", "moderate", "2026-03-05", "pustules at the left cheek"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = get(&env, &u, &format!("/notes/{id}")).await;
    assert!(
        page.body.contains("infection, moderate · onset 2026-03-05 · pustules at the left cheek"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<li class=\"adverse\">none · onset -"));
    let r = get(&env, &lab, &format!("/notes/{id}")).await;
    assert!(r.body.contains("infection, moderate") && !r.body.contains("pustules"));
    assert_eq!(
        post(&env, &lab, &uri, &event("none", "none", "", "")).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(&env, &desk, &uri, &event("none", "none", "", "")).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(count(&env, "SELECT COUNT(*) FROM adverse_events").await, 2);
    assert!(env.app.connection().execute("DELETE FROM adverse_events", []).is_err());
}

/// The signing columns of note `id`: screening id, override reason, signed or not.
fn signing(env: &Env, id: i64) -> (Option<i64>, Option<String>, bool) {
    env.app
        .connection()
        .query_row(
            "SELECT screening_id, screening_override, signed_at IS NOT NULL FROM session_notes WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
}

#[test]
fn a_note_is_signed_only_after_a_screening_that_allows_treatment() {
    run(async {
        let env = env().await;
        let u = user(&env, "pat", "practitioner", None).await;
        let lab = user(&env, "lab", "researcher", None).await;
        let pid = patient(&env, &u, "Ann Example", "").await;
        let id = note(&env, &u, pid, &note_fields("2026-03-02", "1.5", false)).await;
        let sign = format!("/notes/{id}/sign");
        let refused = |action: &'static str| {
            format!("SELECT COUNT(*) FROM audit WHERE action = '{action}' AND entity = 'session_note' AND entity_id = {id}")
        };

        // No screening at all, then one on another day: refused (409), the message names the
        // field and the date; nothing signed; each refusal audited.
        let page = get(&env, &u, &format!("/notes/{id}")).await;
        assert!(page.body.contains("name=\"screening_override\""), "the override field is offered");
        assert!(page.body.contains("there is no screening of this patient on 2026-03-02"));
        let r = post(&env, &u, &sign, &[("version", "1")]).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
        assert!(r
            .body
            .contains("screening_override: there is no screening of this patient on 2026-03-02"));
        screened(&env, &u, pid, "2026-03-01").await;
        let r = post(&env, &u, &sign, &[("version", "1"), ("screening_override", "  ")]).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "a blank reason is no reason");
        assert_eq!(signing(&env, id), (None, None, false));
        assert_eq!(count(&env, &refused("sign_refused_unscreened")).await, 2);

        // A screening of that day allowing treatment: signed on it, and the note says so.
        let verdict = screened(&env, &u, pid, "2026-03-02").await;
        assert_eq!(verdict, "go with cautions");
        let sid: i64 = env
            .app
            .connection()
            .query_row("SELECT MAX(id) FROM screenings", [], |r| r.get(0))
            .unwrap();
        let page = get(&env, &u, &format!("/notes/{id}")).await;
        assert!(!page.body.contains("name=\"screening_override\""), "no override needed");
        let r = post(&env, &u, &sign, &[("version", "1")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert_eq!(signing(&env, id), (Some(sid), None, true));
        let page = get(&env, &u, &format!("/notes/{id}")).await;
        assert!(page.body.contains(&format!("Signed on screening {sid}")), "{}", page.body);
        assert_eq!(
            count(&env, &format!("SELECT COUNT(*) FROM audit WHERE action = 'sign' AND entity_id = {id} AND detail = 'version 1; screening {sid}'")).await,
            1
        );

        // The latest screening of the day counts: a later "defer" outvotes an earlier "go".
        let later = note(&env, &u, pid, &note_fields("2026-03-30", "1.0", false)).await;
        screened(&env, &u, pid, "2026-03-30").await;
        env.app
            .connection()
            .execute(
                "INSERT INTO screenings (patient_id, clinic_id, kind, assessment_date, verdict, result_json, created_by, created_at)
                 SELECT patient_id, clinic_id, kind, assessment_date, 'defer', result_json, created_by, created_at
                 FROM screenings WHERE id = (SELECT MAX(id) FROM screenings)",
                [],
            )
            .unwrap();
        let r = post(&env, &u, &format!("/notes/{later}/sign"), &[("version", "1")]).await;
        assert_eq!(r.status, StatusCode::CONFLICT);
        assert!(r.body.contains("says `defer`"), "{}", r.body);

        // A patient screened "do not treat" (pregnant) on the day: refused without a reason;
        // with one (too long refused, naming the field), signed with the reason stored.
        let pregnant = include_str!("../../../examples/patients/pregnant.toml");
        let r = post(
            &env,
            &u,
            "/patients",
            &[("full_name", "Bea Example"), ("profile_toml", pregnant), ("clinical_notes", "")],
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let bea: i64 = r.location().trim_start_matches("/patients/").parse().unwrap();
        let verdict = screened(&env, &u, bea, "2026-04-01").await;
        assert!(verdict == "do not treat" || verdict == "defer", "{verdict}");
        let nid = note(&env, &u, bea, &note_fields("2026-04-01", "0.5", false)).await;
        let bea_sign = format!("/notes/{nid}/sign");
        let r = post(&env, &u, &bea_sign, &[("version", "1")]).await;
        assert_eq!(r.status, StatusCode::CONFLICT);
        assert!(r.body.contains(&format!("says `{verdict}`")), "{}", r.body);
        let long = "x".repeat(501);
        let r = post(&env, &u, &bea_sign, &[("version", "1"), ("screening_override", &long)]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.contains("screening_override: 501 characters; at most 500"), "{}", r.body);
        assert_eq!(signing(&env, nid), (None, None, false));
        let reason = "<i>post-partum</i>, obstetrician's letter on file";
        let r =
            post(&env, &u, &bea_sign, &[("version", "1"), ("screening_override", reason)]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert_eq!(signing(&env, nid), (None, Some(reason.to_string()), true));
        let page = get(&env, &u, &format!("/notes/{nid}")).await;
        assert!(page.body.contains(&escaped(reason)) && !page.body.contains(reason), "shown inert");
        let page = get(&env, &lab, &format!("/notes/{nid}")).await;
        assert!(
            !page.body.contains("obstetrician") && page.body.contains("Signed without a screening")
        );
        assert_eq!(
            count(&env, &format!("SELECT COUNT(*) FROM audit WHERE action = 'sign' AND entity_id = {nid} AND detail LIKE '%screening override%'")).await,
            1
        );
        // Stored with the note, so locked with it.
        let changed = env
            .app
            .connection()
            .execute("UPDATE session_notes SET screening_override = 'edited' WHERE id = ?1", [nid]);
        assert!(changed.is_err(), "a signed note's override is locked");
    });
}

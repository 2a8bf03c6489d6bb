//! From record to simulation: a patient's signed session notes become a scenario, which runs
//! through `dermasim_app::run::run` on a fixed pool of worker threads fed by a bounded queue
//! (never on the request threads). Progress is kept in memory for the live view (server-sent
//! events) and written to the database about once a second, so a reloaded page finds it; a
//! restart marks what was queued or running as interrupted.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::db::{params, OptionalExtension};
use axum::extract::{Form, Path, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use dermasim::Scenario;
use dermasim_app::ScenarioFile;
use dermasim_app::{CancelFlag, Observer, Progress};
use serde::Deserialize;

use crate::auth::Auth;
use crate::db::{self, now_text};
use crate::notes::{patient_notes, NoteRow};
use crate::pages::{bad_request, esc, hidden_csrf, layout, load_patient, pseudonym, Fail, Page};
use crate::App;

/// Worker threads running simulations at once.
pub const RUN_WORKERS: usize = 2;
/// Runs that may wait for a worker; one more is refused (503) until one starts.
pub const RUN_QUEUE_CAPACITY: usize = 8;
/// How often a running run's progress is written to the database.
const PERSIST_EVERY: Duration = Duration::from_secs(1);
/// How often the live view is sent an update.
const SSE_TICK: Duration = Duration::from_millis(100);

/// What a running or queued run shares with the request threads.
#[derive(Default)]
struct Live {
    cancel: CancelFlag,
    /// Fraction done, as `f64` bits.
    progress: AtomicU64,
}

/// The queue and its workers.
pub(crate) struct Queue {
    sender: SyncSender<i64>,
    live: Mutex<HashMap<i64, Arc<Live>>>,
}

impl Queue {
    fn live(&self, id: i64) -> Option<Arc<Live>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner()).get(&id).cloned()
    }
}

/// Mark runs left queued or running by an earlier server process as interrupted; returns
/// how many. Called by [`crate::serve`] before it listens (not by [`App::open`], so that
/// `--create-user` beside a running server leaves that server's runs alone).
pub(crate) fn mark_interrupted(conn: &crate::db::Db) -> crate::db::DbResult<usize> {
    conn.execute(
        "UPDATE runs SET status = 'interrupted', finished_at = ?1,
         message = 'the server stopped while this run was queued or running; start it again'
         WHERE status IN ('queued', 'running')",
        [now_text()],
    )
}

/// Start the worker threads (idle until a run is queued).
pub(crate) fn start(db: &Arc<Mutex<crate::db::Db>>) -> Arc<Queue> {
    let (sender, receiver) = std::sync::mpsc::sync_channel(RUN_QUEUE_CAPACITY);
    let queue = Arc::new(Queue { sender, live: Mutex::new(HashMap::new()) });
    let receiver = Arc::new(Mutex::new(receiver));
    for i in 0..RUN_WORKERS {
        let (db, queue, receiver) = (db.clone(), queue.clone(), receiver.clone());
        std::thread::Builder::new()
            .name(format!("dermasim-run-{i}"))
            .spawn(move || worker(&db, &queue, &receiver))
            .expect("a worker thread starts");
    }
    queue
}

fn worker(db: &Mutex<crate::db::Db>, queue: &Queue, receiver: &Mutex<Receiver<i64>>) {
    let conn = || db.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let next = receiver.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok(id) = next else { return };
        let live = queue.live(id).unwrap_or_default();
        let claimed = conn().execute(
            "UPDATE runs SET status = 'running', started_at = ?1 WHERE id = ?2 AND status = 'queued'",
            params![now_text(), id],
        );
        // Cancelled while it waited (or the row is gone): nothing to do.
        if !matches!(claimed, Ok(1)) {
            queue.live.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
            continue;
        }
        let outcome = execute(db, id, &live);
        let now = now_text();
        let write = match outcome {
            Ok((summary, chart)) => conn().execute(
                "UPDATE runs SET status = 'done', progress = 1, summary_json = ?1, chart_svg = ?2, finished_at = ?3 WHERE id = ?4",
                params![summary, chart, now, id],
            ),
            Err(e) if e.is_cancelled() => conn().execute(
                "UPDATE runs SET status = 'cancelled', message = 'cancelled by a user', finished_at = ?1 WHERE id = ?2",
                params![now, id],
            ),
            Err(e) => conn().execute(
                "UPDATE runs SET status = 'failed', message = ?1, finished_at = ?2 WHERE id = ?3",
                params![e.to_string(), now, id],
            ),
        };
        if let Err(e) = write {
            eprintln!("dermasim serve: run {id}: could not store its result: {e}");
        }
        queue.live.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    }
}

/// Watches a run: progress into [`Live`] (and the database about once a second), cancel from it.
struct Watch<'a> {
    db: &'a Mutex<crate::db::Db>,
    id: i64,
    /// Ensemble members after the central run, if any.
    members: Option<usize>,
    live: &'a Live,
    last_persist: Mutex<Instant>,
}

impl Observer for Watch<'_> {
    fn progress(&self, p: Progress) {
        // An ensemble runs the central run first, then its members: one bar over both, each
        // run an equal share, so the bar never goes back.
        let runs = 1.0 + self.members.unwrap_or(0) as f64;
        let f = match p {
            Progress::Day { day, end } if end > 0.0 => day / end / runs,
            Progress::Members { done, total } if total > 0 => (1.0 + done as f64) / runs,
            _ => return,
        };
        let f = f.clamp(0.0, 1.0);
        self.live.progress.store(f.to_bits(), Ordering::Relaxed);
        let mut last = self.last_persist.lock().unwrap_or_else(|e| e.into_inner());
        if last.elapsed() >= PERSIST_EVERY {
            *last = Instant::now();
            drop(last);
            let conn = self.db.lock().unwrap_or_else(|e| e.into_inner());
            let _ =
                conn.execute("UPDATE runs SET progress = ?1 WHERE id = ?2", params![f, self.id]);
        }
    }

    fn cancelled(&self) -> bool {
        self.live.cancel.is_cancelled()
    }
}

/// Run `id`: its scenario through `dermasim-app`, then the chart. Returns the summary JSON and
/// the chart SVG.
fn execute(
    db: &Mutex<crate::db::Db>,
    id: i64,
    live: &Live,
) -> Result<(String, String), dermasim_app::AppError> {
    let bad = |e: String| dermasim_app::AppError::request("run", e);
    let (json, ensemble): (String, Option<i64>) = db
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .query_row("SELECT scenario_json, ensemble FROM runs WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .map_err(|e| bad(e.to_string()))?;
    let scenario: ScenarioFile = serde_json::from_str(&json).map_err(|e| bad(e.to_string()))?;
    let mut request = dermasim_app::run::RunRequest::new(scenario);
    request.ensemble = ensemble.map(|n| n as usize);
    request.command = vec!["dermasim serve".into(), format!("run {id}")];
    let watch =
        Watch { db, id, members: request.ensemble, live, last_persist: Mutex::new(Instant::now()) };
    // A panic in the model must not take the worker down with it: record it as a failure.
    let report = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        dermasim_app::run::run(&request, &watch)
    }))
    .map_err(|_| bad("the simulation stopped with an internal error".into()))??;
    let summary = serde_json::to_string(&report.summary).map_err(|e| bad(e.to_string()))?;
    let chart = chart(&report.scenario.scenario, &report.summary).map_err(bad)?;
    Ok((summary, chart))
}

/// The run's collagen forecast (with its 5-95 % band when it was an ensemble): the same chart
/// as a plan's forecast.
fn chart(scenario: &Scenario, summary: &dermasim::Summary) -> Result<String, String> {
    use dermasim_report::plots::{first_sentence, ForecastChart, ForecastPanel};
    let panel = ForecastPanel {
        // The record's scenarios are named "Recorded sessions at SITE"; a workspace's by its user.
        title: format!(
            "{} ({} sessions, {})",
            scenario.name.clone().unwrap_or_else(|| format!("Scenario at {}", summary.site)),
            scenario.protocol.sessions.len(),
            summary.fidelity
        ),
        session_days: scenario.protocol.sessions.iter().map(|s| s.day).collect(),
        timeline: summary.timeline.clone(),
    };
    let chart =
        ForecastChart { panels: vec![panel], note: first_sentence(dermasim::DISCLAIMER).into() };
    dermasim_report::render(&chart, false).map(|f| f.svg).map_err(|e| e.to_string())
}

/// The scenario of a patient's signed sessions at `site`: day 0 is the first such session;
/// each session keeps the device, depth and passes recorded for that area (amendments
/// applied). Errors name the form field.
pub(crate) fn scenario_from_record(
    profile: &dermasim_clinic::Profile,
    notes: &[NoteRow],
    site: &str,
    fidelity: dermasim::Fidelity,
    follow_up_days: f64,
) -> Result<Scenario, String> {
    let mut sessions: Vec<(jiff::civil::Date, serde_json::Value)> = Vec::new();
    for n in notes.iter().filter(|n| n.signed.is_some()) {
        let note = n.current();
        let Some(area) = note.areas.iter().find(|a| a.site == site) else { continue };
        let date: jiff::civil::Date =
            n.session_date.parse().map_err(|_| format!("note {}: bad session date", n.id))?;
        let device = if note.device == "pen" {
            serde_json::json!({"kind": "pen", "depth_mm": area.depth_mm, "passes": area.passes})
        } else {
            serde_json::json!({"kind": "roller", "needle_length_mm": area.depth_mm, "passes": area.passes})
        };
        sessions.push((date, device));
    }
    let Some(first) = sessions.first().map(|s| s.0) else {
        return Err(format!(
            "site: no signed session note treats `{site}`; sign the notes to simulate first"
        ));
    };
    let mut list = Vec::new();
    let mut last_day = 0.0;
    for (date, device) in &sessions {
        let day = first.until(*date).map_err(|e| e.to_string())?.get_days() as f64;
        if day <= last_day && !list.is_empty() {
            // Two notes on one day at one area are one session (the later note wins).
            list.pop();
        }
        last_day = day;
        list.push(serde_json::json!({"day": day, "device": device}));
    }
    if !(1.0..=3650.0).contains(&follow_up_days) {
        return Err(format!(
            "follow_up_days: {follow_up_days} is outside the allowed range 1 to 3650 days"
        ));
    }
    let value = serde_json::json!({
        "name": format!("Recorded sessions at {site}"),
        "patient": {
            "site": site,
            "age_years": profile.age_years,
            "sex": profile.sex,
            "fitzpatrick": profile.fitzpatrick,
        },
        "device": sessions[0].1,
        "protocol": { "sessions": list, "follow_up_days": last_day + follow_up_days },
        "simulation": { "fidelity": fidelity.as_str() },
    });
    let scenario: Scenario = serde_json::from_value(value).map_err(|e| e.to_string())?;
    scenario
        .validate(dermasim::tissue::SiteTable::shared(), &dermasim::ParameterSet::default_set())
        .map_err(|e| e.to_string())?;
    Ok(scenario)
}

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/patients/{id}/runs", post(start_run))
        .route("/runs/{id}", get(run_page))
        .route("/runs/{id}/events", get(run_events))
        .route("/runs/{id}/cancel", post(cancel_run))
        .route("/runs/{id}/chart.svg", get(run_chart))
}

/// The patient page's section: start a run from the signed notes, and the runs so far.
pub(crate) fn section(
    app: &App,
    a: &Auth,
    patient_id: i64,
    notes: &[NoteRow],
) -> Result<String, Fail> {
    let mut b = String::from("<h2 id=\"runs\">Simulations of the recorded sessions</h2>");
    let mut sites: Vec<&str> = Vec::new();
    for n in notes.iter().filter(|n| n.signed.is_some()) {
        for x in &n.current().areas {
            if !sites.contains(&x.site.as_str()) {
                sites.push(&x.site);
            }
        }
    }
    if a.role.edits_clinical() && !sites.is_empty() {
        let options: String =
            sites.iter().map(|s| format!("<option value=\"{0}\">{0}</option>", esc(s))).collect();
        b += &format!(
            "<form method=\"post\" action=\"/patients/{patient_id}/runs\">{}\
             <label>Area <select name=\"site\">{options}</select></label>\
             <label>Fidelity <select name=\"fidelity\"><option value=\"1d\">1d</option>\
             <option value=\"0d\">0d</option><option value=\"3d\">3d</option></select></label>\
             <label>Ensemble members (blank: a single run; 2 to 256) <input name=\"ensemble\" inputmode=\"numeric\" size=\"4\"></label>\
             <label>Follow-up after the last session (days) <input name=\"follow_up_days\" value=\"180\" size=\"5\"></label>\
             <button>Simulate the recorded sessions</button></form>",
            hidden_csrf(a)
        );
    } else if sites.is_empty() {
        b += "<p>Sign a session note to simulate it.</p>";
    }
    let rows: Vec<(i64, String, String, f64, String)> = app.db(|c| {
        let mut st = c.prepare(
            "SELECT id, site, status, progress, created_at FROM runs
             WHERE patient_id = ?1 AND clinic_id = ?2 ORDER BY id DESC",
        )?;
        let rows = st.query_map([patient_id, a.clinic_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?;
        rows.collect()
    })?;
    b += "<ul>";
    for (id, site, status, progress, at) in &rows {
        b += &format!(
            "<li><a href=\"/runs/{id}\">Run {id}: {}</a> · {} ({:.0} %) · {}</li>",
            esc(site),
            esc(status),
            progress * 100.0,
            esc(at)
        );
    }
    b += "</ul>";
    Ok(b)
}

#[derive(Deserialize)]
struct RunForm {
    #[serde(default)]
    site: String,
    #[serde(default)]
    fidelity: String,
    #[serde(default)]
    ensemble: String,
    #[serde(default)]
    follow_up_days: String,
}

async fn start_run(
    State(app): State<App>,
    a: Auth,
    Path(pid): Path<i64>,
    Form(f): Form<RunForm>,
) -> Page {
    let p = load_patient(&app, &a, pid)?;
    if !a.role.edits_clinical() {
        return Err(Fail::Forbidden("Your role cannot start simulations from records.".into()));
    }
    let profile = dermasim_clinic::parse_profile(&p.profile_toml, false, "profile")
        .map_err(|e| Fail::Conflict(format!("The recorded profile is not usable: {e}")))?;
    let fidelity: dermasim::Fidelity = match f.fidelity.trim().parse() {
        Ok(x) => x,
        Err(e) => return Ok(bad_request(&a, &format!("fidelity: {e}"))),
    };
    let ensemble = match f.ensemble.trim() {
        "" => None,
        s => match s.parse::<i64>() {
            Ok(n) if (2..=256).contains(&n) => Some(n),
            _ => {
                return Ok(bad_request(
                    &a,
                    &format!("ensemble: `{s}` is outside the allowed range 2 to 256 members"),
                ))
            }
        },
    };
    let follow: f64 = match f.follow_up_days.trim().parse() {
        Ok(x) => x,
        Err(_) => return Ok(bad_request(&a, "follow_up_days: a number of days, 1 to 3650")),
    };
    let notes = patient_notes(&app, &a, pid)?;
    let scenario = match scenario_from_record(&profile, &notes, f.site.trim(), fidelity, follow) {
        Ok(s) => s,
        Err(e) => return Ok(bad_request(&a, &e)),
    };
    let origin = RunOrigin::Patient(pid);
    enqueue(&app, &a, origin, f.site.trim(), &scenario.into(), ensemble)
}

/// Where a run came from: a patient's record, or a saved scenario of the research workspace.
#[derive(Clone, Copy)]
pub(crate) enum RunOrigin {
    Patient(i64),
    Scenario(i64),
}

/// Insert the run's row and hand its id to the workers; 503 when the queue is full. Answers
/// with a redirect to the run's page.
pub(crate) fn enqueue(
    app: &App,
    a: &Auth,
    origin: RunOrigin,
    site: &str,
    scenario: &ScenarioFile,
    ensemble: Option<i64>,
) -> Page {
    let json = serde_json::to_string(scenario).map_err(|e| Fail::Internal(e.to_string()))?;
    let (patient_id, scenario_id, detail) = match origin {
        RunOrigin::Patient(p) => (Some(p), None, format!("patient {p}")),
        RunOrigin::Scenario(s) => (None, Some(s), format!("scenario {s}")),
    };
    let id = app.db(|c| {
        let id = c.insert_returning_id(
            "INSERT INTO runs (clinic_id, patient_id, scenario_id, site, scenario_json, ensemble, status, created_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', ?7, ?8)",
            params![a.clinic_id, patient_id, scenario_id, site, json, ensemble, a.user_id, now_text()],
        )?;
        db::audit(c, Some(a.user_id), Some(a.clinic_id), "create", "run", Some(id), &detail)?;
        Ok(id)
    })?;
    let queue = &app.runs;
    queue.live.lock().unwrap_or_else(|e| e.into_inner()).insert(id, Arc::default());
    if let Err(e) = queue.sender.try_send(id) {
        queue.live.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
        let why = match e {
            TrySendError::Full(_) => format!(
                "the simulation queue is full ({RUN_QUEUE_CAPACITY} runs waiting); try again when one has started"
            ),
            TrySendError::Disconnected(_) => "the simulation workers have stopped".into(),
        };
        app.db(|c| {
            c.execute(
                "UPDATE runs SET status = 'failed', message = ?1, finished_at = ?2 WHERE id = ?3",
                params![why, now_text(), id],
            )
        })?;
        let body = format!("<h1>Not started</h1><p class=\"error\">{}</p>", esc(&why));
        return Ok((StatusCode::SERVICE_UNAVAILABLE, layout(Some(a), "Not started", &body))
            .into_response());
    }
    Ok(Redirect::to(&format!("/runs/{id}")).into_response())
}

struct RunRow {
    patient_id: Option<i64>,
    scenario_id: Option<i64>,
    /// The workspace scenario it ran was deleted since (the run keeps its own copy).
    scenario_deleted: bool,
    site: String,
    status: String,
    progress: f64,
    message: String,
    summary_json: Option<String>,
    has_chart: bool,
}

fn load_run(app: &App, a: &Auth, id: i64) -> Result<RunRow, Fail> {
    let row = app.db(|c| {
        c.query_row(
            "SELECT r.patient_id, r.site, r.status, r.progress, r.message, r.summary_json,
                    r.chart_svg IS NOT NULL, r.scenario_id, s.deleted_at IS NOT NULL
             FROM runs r LEFT JOIN scenarios s ON s.id = r.scenario_id
             WHERE r.id = ?1 AND r.clinic_id = ?2",
            [id, a.clinic_id],
            |r| {
                Ok(RunRow {
                    patient_id: r.get(0)?,
                    site: r.get(1)?,
                    status: r.get(2)?,
                    progress: r.get(3)?,
                    message: r.get(4)?,
                    summary_json: r.get(5)?,
                    has_chart: r.get(6)?,
                    scenario_id: r.get(7)?,
                    scenario_deleted: r.get::<_, Option<bool>>(8)?.unwrap_or(false),
                })
            },
        )
        .optional()
    })?;
    let row = row.ok_or(Fail::NotFound)?;
    if !a.role.reads_clinical() {
        return Err(Fail::Forbidden("Your role cannot read clinical records.".into()));
    }
    Ok(row)
}

fn finished(status: &str) -> bool {
    !matches!(status, "queued" | "running")
}

/// Progress now: the live value while running, else the stored one.
fn progress_now(app: &App, id: i64, stored: f64) -> f64 {
    app.runs.live(id).map(|l| f64::from_bits(l.progress.load(Ordering::Relaxed))).unwrap_or(stored)
}

async fn run_page(State(app): State<App>, a: Auth, Path(id): Path<i64>) -> Page {
    let r = load_run(&app, &a, id)?;
    app.audit(Some(&a), "view", "run", Some(id), "")?;
    let back = match r.patient_id {
        Some(p) => format!(
            "<p><a href=\"/patients/{p}#runs\">Back to {}</a></p>",
            esc(if a.role.sees_names() { format!("patient {p}") } else { pseudonym(p) })
        ),
        None => match r.scenario_id {
            Some(_) if r.scenario_deleted => {
                "<p id=\"scenario-deleted\">Its saved scenario was deleted; \
                 this run keeps the scenario it ran (in its zip). \
                 <a href=\"/workspace/runs\">All workspace runs</a></p>"
                    .to_string()
            }
            Some(sid) => format!(
                "<p><a href=\"/workspace/scenarios/{sid}\">Back to the scenario</a> · \
                 <a href=\"/workspace/runs\">All workspace runs</a></p>"
            ),
            None => String::new(),
        },
    };
    let pct = progress_now(&app, id, r.progress) * 100.0;
    let mut b = format!(
        "<h1>Simulation {id}: {}</h1>{back}<div id=\"run-live\" data-events=\"/runs/{id}/events\" data-finished=\"{}\">\
         <progress id=\"run-progress\" max=\"100\" value=\"{pct:.0}\">{pct:.0} %</progress> \
         <span id=\"run-status\">{} {pct:.0} %</span></div>",
        esc(&r.site),
        finished(&r.status),
        esc(&r.status)
    );
    if !r.message.is_empty() {
        b += &format!("<p class=\"error\">{}</p>", esc(&r.message));
    }
    if !finished(&r.status) {
        b += &format!(
            "<form method=\"post\" action=\"/runs/{id}/cancel\">{}<button>Cancel</button></form>\
             <noscript><p>The page shows live progress with JavaScript; without it, reload.</p></noscript>",
            hidden_csrf(&a)
        );
    }
    if let Some(json) = &r.summary_json {
        if let Ok(s) = serde_json::from_str::<dermasim::Summary>(json) {
            b += &format!(
                "<p>At day {} (end of follow-up): total collagen {:.3}, collagen I {:.3}, elastin {:.3}, \
                 epidermis {:.3} (relative to before treatment).</p>",
                s.endpoints.t_end_day,
                s.endpoints.collagen_total_rel_end,
                s.endpoints.collagen_i_rel_end,
                s.endpoints.elastin_rel_end,
                s.endpoints.epidermis_thickness_rel_end
            );
            if r.scenario_id.is_some() {
                b += &crate::workspace::endpoints_table(&s);
            }
        }
    }
    if finished(&r.status) {
        b += &format!("<p><a href=\"/runs/{id}/export.zip\" download>Download the run (scenario, summary, chart; zip)</a></p>");
    }
    if r.has_chart {
        b += &format!(
            "<img class=\"chart\" id=\"run-chart\" src=\"/runs/{id}/chart.svg\" \
             alt=\"Simulated total collagen over time for the recorded sessions\">"
        );
    }
    b += &format!(
        "<p class=\"disclaimer\">{}</p><script src=\"/static/run.js\" defer></script>",
        esc(dermasim::DISCLAIMER)
    );
    Ok(layout(Some(&a), "Simulation", &b).into_response())
}

/// Server-sent events: `progress` every tick while the run is queued or running, then `end`.
async fn run_events(
    State(app): State<App>,
    a: Auth,
    Path(id): Path<i64>,
) -> Result<Response, Fail> {
    load_run(&app, &a, id)?;
    let clinic = a.clinic_id;
    let stream =
        futures_util::stream::unfold((app, false, true), move |(app, ended, first)| async move {
            if ended {
                return None;
            }
            if !first {
                tokio::time::sleep(SSE_TICK).await;
            }
            let row: Option<(String, f64, String)> = app
                .db(|c| {
                    c.query_row(
                    "SELECT status, progress, message FROM runs WHERE id = ?1 AND clinic_id = ?2",
                    [id, clinic],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
                })
                .ok()
                .flatten();
            let (status, stored, message): (String, f64, String) =
                row.unwrap_or_else(|| ("failed".into(), 0.0, "the run is gone".into()));
            let done = finished(&status);
            let pct = if status == "done" { 100.0 } else { progress_now(&app, id, stored) * 100.0 };
            let data = serde_json::json!({"status": status, "percent": pct, "message": message})
                .to_string();
            let event = Event::default().event(if done { "end" } else { "progress" }).data(data);
            Some((Ok::<_, Infallible>(event), (app, done, false)))
        });
    let mut resp = Sse::new(stream).keep_alive(KeepAlive::default()).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    Ok(resp)
}

async fn cancel_run(State(app): State<App>, a: Auth, Path(id): Path<i64>) -> Page {
    let r = load_run(&app, &a, id)?;
    // A workspace run is the workspace's (researchers, administrators); a record's run is
    // the clinical staff's.
    let may = match r.scenario_id {
        Some(_) => crate::workspace::uses_workspace(a.role),
        None => a.role.edits_clinical(),
    };
    if !may {
        return Err(Fail::Forbidden("Your role cannot cancel this simulation.".into()));
    }
    let live = app.runs.live(id);
    // Finished in the database is finished, even while its worker is still letting go of the
    // run's live entry (that window made the cancel of a just-finished run look accepted).
    if finished(&r.status) {
        return Err(Fail::Conflict(format!(
            "This run is {} already; nothing to cancel.",
            r.status
        )));
    }
    // Queued: it never starts (the worker claims only queued rows). Running: the model stops
    // within one step.
    app.db(|c| {
        c.execute(
            "UPDATE runs SET status = 'cancelled', message = 'cancelled by a user', finished_at = ?1
             WHERE id = ?2 AND status = 'queued'",
            params![now_text(), id],
        )?;
        db::audit(c, Some(a.user_id), Some(a.clinic_id), "cancel", "run", Some(id), "")
    })?;
    if let Some(live) = live {
        live.cancel.cancel();
    }
    Ok(Redirect::to(&format!("/runs/{id}")).into_response())
}

async fn run_chart(State(app): State<App>, a: Auth, Path(id): Path<i64>) -> Page {
    load_run(&app, &a, id)?;
    let chart: Option<String> = app.db(|c| {
        c.query_row(
            "SELECT chart_svg FROM runs WHERE id = ?1 AND clinic_id = ?2",
            [id, a.clinic_id],
            |r| r.get(0),
        )
    })?;
    let chart = chart.ok_or(Fail::NotFound)?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], chart).into_response())
}

/// Wait until run `id` has finished (tests and tools; polls the database).
pub fn wait_finished(app: &App, id: i64, timeout: Duration) -> Option<String> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        let status: Option<String> = app
            .connection()
            .query_row("SELECT status FROM runs WHERE id = ?1", [id], |r| r.get(0))
            .optional()
            .ok()
            .flatten();
        if let Some(s) = status.filter(|s| finished(s)) {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(members: Option<usize>, p: Progress) -> f64 {
        let db = Mutex::new(crate::db::Db::Sqlite(rusqlite::Connection::open_in_memory().unwrap()));
        let live = Live::default();
        let watch = Watch {
            db: &db,
            id: 1,
            members,
            live: &live,
            last_persist: Mutex::new(Instant::now()),
        };
        watch.progress(p);
        f64::from_bits(live.progress.load(Ordering::Relaxed))
    }

    #[test]
    fn one_bar_over_the_central_run_and_the_members() {
        assert_eq!(bar(None, Progress::Day { day: 50.0, end: 100.0 }), 0.5);
        // Central run plus 3 members: four equal shares; the bar never goes back.
        assert_eq!(bar(Some(3), Progress::Day { day: 50.0, end: 100.0 }), 0.125);
        assert_eq!(bar(Some(3), Progress::Day { day: 100.0, end: 100.0 }), 0.25);
        assert_eq!(bar(Some(3), Progress::Members { done: 0, total: 3 }), 0.25);
        assert_eq!(bar(Some(3), Progress::Members { done: 3, total: 3 }), 1.0);
        assert_eq!(bar(None, Progress::Stage("writing outputs")), 0.0, "stages leave the bar");
    }
}

//! The research workspace (researchers and administrators): named scenarios per clinic edited
//! as TOML and checked by `dermasim_app::scenario::load_text` (the CLI's schema, steps and
//! field-path messages), run through the background queue, listed, and compared two at a time
//! on one chart (`dermasim_report::plots::CompareChart`). No patient data appears here.

use crate::db::{params, OptionalExtension};
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use dermasim::{ParameterSet, Summary};
use dermasim_app::ScenarioFile;
use serde::Deserialize;

use crate::auth::{Auth, Role};
use crate::db::{self, now_text};
use crate::pages::{esc, hidden_csrf, layout, Fail, Page};
use crate::runs::{enqueue, RunOrigin};
use crate::App;

/// The editor's starting text: the built-in default scenario, with its comments.
const DEFAULT_TOML: &str = include_str!("../../../examples/default.toml");
/// Longest scenario name accepted.
const MAX_NAME: usize = 100;

/// Whether `role` works in the research workspace.
pub(crate) fn uses_workspace(role: Role) -> bool {
    matches!(role, Role::Administrator | Role::Researcher)
}

fn require(a: &Auth) -> Result<(), Fail> {
    if uses_workspace(a.role) {
        Ok(())
    } else {
        Err(Fail::Forbidden("The research workspace is for researchers and administrators.".into()))
    }
}

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/workspace", get(index))
        .route("/workspace/scenarios", post(create))
        .route("/workspace/scenarios/new", get(new_scenario))
        .route("/workspace/scenarios/{id}", get(edit).post(update))
        .route("/workspace/scenarios/{id}/runs", post(start))
        .route("/workspace/scenarios/{id}/delete", post(delete))
        .route("/workspace/runs", get(runs_list))
        .route("/workspace/compare", get(compare))
        .route("/workspace/compare.svg", get(compare_chart))
}

/// The scenario as the CLI would load it from a `.toml` file: the same messages.
fn check(text: &str) -> Result<ScenarioFile, String> {
    dermasim_app::scenario::load_text(text, "scenario", &ParameterSet::default_set())
        .map(|prepared| prepared.file())
        .map_err(|e| e.to_string())
}

fn check_name(name: &str) -> Result<&str, String> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > MAX_NAME {
        return Err(format!("name: 1 to {MAX_NAME} characters (it has {})", n.chars().count()));
    }
    Ok(n)
}

/// The editor: name, TOML, and (for a saved scenario) the run form.
fn editor(
    a: &Auth,
    status: StatusCode,
    id: Option<i64>,
    name: &str,
    toml: &str,
    error: Option<&str>,
    saved: bool,
) -> Response {
    let action = match id {
        Some(id) => format!("/workspace/scenarios/{id}"),
        None => "/workspace/scenarios".into(),
    };
    let mut b = format!(
        "<h1>{}</h1><p><a href=\"/workspace\">Back to the workspace</a></p>",
        if id.is_some() { "Scenario" } else { "New scenario" }
    );
    if let Some(e) = error {
        b += &format!(
            "<p class=\"error\" id=\"scenario-error\" role=\"alert\">{}</p><p>Nothing was saved.</p>",
            esc(e)
        );
    } else if saved {
        b += "<p id=\"scenario-saved\">Saved; checked by the same validation as <code>dermasim run</code>.</p>";
    }
    b += &format!(
        "<form method=\"post\" action=\"{action}\">{csrf}\
         <label>Name <input name=\"name\" value=\"{name}\" required maxlength=\"{MAX_NAME}\"></label>\
         <label>Scenario (TOML, the format of <code>dermasim run --scenario</code>)\
         <textarea name=\"toml\" rows=\"30\" cols=\"90\" spellcheck=\"false\">{toml}</textarea></label>\
         <button>Check and save</button></form>",
        csrf = hidden_csrf(a),
        name = esc(name),
        toml = esc(toml)
    );
    if let (Some(id), None) = (id, error) {
        b += &format!(
            "<h2>Run it</h2><form method=\"post\" action=\"/workspace/scenarios/{id}/runs\">{csrf}\
             <label>Ensemble members (blank: a single run; 2 to 256) \
             <input name=\"ensemble\" inputmode=\"numeric\" size=\"4\"></label>\
             <button>Run the saved scenario</button></form>\
             <h2>Delete it</h2><form method=\"post\" action=\"/workspace/scenarios/{id}/delete\">{csrf}\
             <p>The runs started from it keep their record (each holds the scenario as it ran).</p>\
             <button>Delete the saved scenario</button></form>",
            csrf = hidden_csrf(a)
        );
    }
    (status, layout(Some(a), "Scenario", &b)).into_response()
}

async fn index(State(app): State<App>, a: Auth) -> Page {
    require(&a)?;
    let rows: Vec<(i64, String, String)> = app.db(|c| {
        let mut st = c.prepare(
            "SELECT id, name, updated_at FROM scenarios
             WHERE clinic_id = ?1 AND deleted_at IS NULL ORDER BY name",
        )?;
        let rows = st.query_map([a.clinic_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect()
    })?;
    let mut b = String::from(
        "<h1>Research workspace</h1><p><a href=\"/workspace/scenarios/new\">New scenario</a> · \
         <a href=\"/workspace/runs\">Runs, and compare two</a></p><h2>Saved scenarios</h2><ul id=\"scenarios\">",
    );
    for (id, name, at) in &rows {
        b += &format!(
            "<li><a href=\"/workspace/scenarios/{id}\">{}</a> · saved {}</li>",
            esc(name),
            esc(at)
        );
    }
    if rows.is_empty() {
        b += "<li>None yet.</li>";
    }
    b += "</ul>";
    Ok(layout(Some(&a), "Research workspace", &b).into_response())
}

async fn new_scenario(a: Auth) -> Page {
    require(&a)?;
    Ok(editor(&a, StatusCode::OK, None, "", DEFAULT_TOML, None, false))
}

#[derive(Deserialize)]
struct ScenarioForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    toml: String,
}

/// Validate a form: the name, then the scenario; the message names the field.
fn validate(f: &ScenarioForm) -> Result<(), String> {
    check_name(&f.name)?;
    check(&f.toml).map(drop)
}

fn unique_violation(e: &crate::db::DbError) -> bool {
    e.is_unique_violation()
}

async fn create(State(app): State<App>, a: Auth, Form(f): Form<ScenarioForm>) -> Page {
    require(&a)?;
    let refused = StatusCode::UNPROCESSABLE_ENTITY;
    if let Err(e) = validate(&f) {
        return Ok(editor(&a, refused, None, &f.name, &f.toml, Some(&e), false));
    }
    let name = f.name.trim();
    let res = app.db(|c| {
        let now = now_text();
        let r = c.insert_returning_id(
            "INSERT INTO scenarios (clinic_id, name, toml, created_by, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            params![a.clinic_id, name, f.toml, a.user_id, now],
        );
        match r {
            Ok(id) => {
                db::audit(
                    c,
                    Some(a.user_id),
                    Some(a.clinic_id),
                    "create",
                    "scenario",
                    Some(id),
                    name,
                )?;
                Ok(Some(id))
            }
            Err(e) if unique_violation(&e) => Ok(None),
            Err(e) => Err(e),
        }
    })?;
    match res {
        Some(id) => Ok(Redirect::to(&format!("/workspace/scenarios/{id}?saved=1")).into_response()),
        None => {
            let msg = format!("name: a scenario named `{name}` exists already in this clinic");
            Ok(editor(&a, StatusCode::CONFLICT, None, &f.name, &f.toml, Some(&msg), false))
        }
    }
}

/// A saved scenario of the user's clinic (404 for another clinic's id or a deleted one, like a
/// missing one).
fn load(app: &App, a: &Auth, id: i64) -> Result<(String, String), Fail> {
    app.db(|c| {
        c.query_row(
            "SELECT name, toml FROM scenarios WHERE id = ?1 AND clinic_id = ?2 AND deleted_at IS NULL",
            [id, a.clinic_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
    })?
    .ok_or(Fail::NotFound)
}

#[derive(Deserialize)]
struct SavedQuery {
    #[serde(default)]
    saved: Option<String>,
}

async fn edit(
    State(app): State<App>,
    a: Auth,
    Path(id): Path<i64>,
    Query(q): Query<SavedQuery>,
) -> Page {
    require(&a)?;
    let (name, toml) = load(&app, &a, id)?;
    app.audit(Some(&a), "view", "scenario", Some(id), "")?;
    Ok(editor(&a, StatusCode::OK, Some(id), &name, &toml, None, q.saved.is_some()))
}

async fn update(
    State(app): State<App>,
    a: Auth,
    Path(id): Path<i64>,
    Form(f): Form<ScenarioForm>,
) -> Page {
    require(&a)?;
    load(&app, &a, id)?;
    if let Err(e) = validate(&f) {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(editor(&a, status, Some(id), &f.name, &f.toml, Some(&e), false));
    }
    let name = f.name.trim();
    let res = app.db(|c| {
        let r = c.execute(
            "UPDATE scenarios SET name = ?1, toml = ?2, updated_at = ?3
             WHERE id = ?4 AND clinic_id = ?5 AND deleted_at IS NULL",
            params![name, f.toml, now_text(), id, a.clinic_id],
        );
        match r {
            Ok(_) => {
                db::audit(
                    c,
                    Some(a.user_id),
                    Some(a.clinic_id),
                    "update",
                    "scenario",
                    Some(id),
                    name,
                )?;
                Ok(true)
            }
            Err(e) if unique_violation(&e) => Ok(false),
            Err(e) => Err(e),
        }
    })?;
    if !res {
        let msg = format!("name: a scenario named `{name}` exists already in this clinic");
        return Ok(editor(&a, StatusCode::CONFLICT, Some(id), &f.name, &f.toml, Some(&msg), false));
    }
    Ok(Redirect::to(&format!("/workspace/scenarios/{id}?saved=1")).into_response())
}

async fn delete(State(app): State<App>, a: Auth, Path(id): Path<i64>) -> Page {
    require(&a)?;
    let (name, _) = load(&app, &a, id)?;
    app.db(|c| {
        let now = now_text();
        // Not a DELETE: the runs started from it point at the row and keep their label. Its
        // text goes; its name is marked deleted, which frees the name for a new scenario.
        c.execute(
            "UPDATE scenarios SET deleted_at = ?1, toml = '', name = name || ' (deleted ' || ?1 || ')'
             WHERE id = ?2 AND clinic_id = ?3 AND deleted_at IS NULL",
            params![now, id, a.clinic_id],
        )?;
        db::audit(c, Some(a.user_id), Some(a.clinic_id), "delete", "scenario", Some(id), &name)
    })?;
    Ok(Redirect::to("/workspace").into_response())
}

#[derive(Deserialize)]
struct RunForm {
    #[serde(default)]
    ensemble: String,
}

async fn start(
    State(app): State<App>,
    a: Auth,
    Path(id): Path<i64>,
    Form(f): Form<RunForm>,
) -> Page {
    require(&a)?;
    let (name, toml) = load(&app, &a, id)?;
    let ensemble = match f.ensemble.trim() {
        "" => None,
        s => match s.parse::<i64>() {
            Ok(n) if (2..=256).contains(&n) => Some(n),
            _ => {
                let msg = format!("ensemble: `{s}` is outside the allowed range 2 to 256 members");
                return Ok(crate::pages::bad_request(&a, &msg));
            }
        },
    };
    // Saved text was valid when saved; checked again, since the library may have moved on.
    let mut scenario = match check(&toml) {
        Ok(s) => s,
        Err(e) => return Ok(crate::pages::bad_request(&a, &e)),
    };
    if scenario.scenario.name.is_none() {
        scenario.scenario.name = Some(name);
    }
    let site = scenario.scenario.patient.site.clone();
    enqueue(&app, &a, RunOrigin::Scenario(id), &site, &scenario, ensemble)
}

/// A workspace-visible run: id, label, status, summary JSON.
struct RunItem {
    id: i64,
    label: String,
    status: String,
    progress: f64,
    created_at: String,
    summary_json: Option<String>,
}

/// "Run 12: NAME", NAME the saved scenario's name (two runs of one scenario differ by id).
fn run_label(id: i64, saved_name: &str) -> String {
    format!("Run {id}: {saved_name}")
}

async fn runs_list(State(app): State<App>, a: Auth) -> Page {
    require(&a)?;
    let rows: Vec<RunItem> = app.db(|c| {
        let mut st = c.prepare(
            "SELECT r.id, s.name, r.status, r.progress, r.created_at
             FROM runs r JOIN scenarios s ON s.id = r.scenario_id
             WHERE r.clinic_id = ?1 ORDER BY r.id DESC LIMIT 200",
        )?;
        let rows = st.query_map([a.clinic_id], |r| {
            let id: i64 = r.get(0)?;
            let json: String = r.get(1)?;
            Ok(RunItem {
                id,
                label: run_label(id, &json),
                status: r.get(2)?,
                progress: r.get(3)?,
                created_at: r.get(4)?,
                summary_json: None,
            })
        })?;
        rows.collect()
    })?;
    let mut b = String::from(
        "<h1>Workspace runs</h1><p><a href=\"/workspace\">Back to the workspace</a></p>\
         <table id=\"workspace-runs\"><tr><th>Run</th><th>Status</th><th>Started</th></tr>",
    );
    let mut options = String::new();
    for r in &rows {
        b += &format!(
            "<tr><td><a href=\"/runs/{id}\">{label}</a></td><td>{status} ({pct:.0} %)</td><td>{at}</td></tr>",
            id = r.id,
            label = esc(&r.label),
            status = esc(&r.status),
            pct = r.progress * 100.0,
            at = esc(&r.created_at)
        );
        if r.status == "done" {
            options += &format!("<option value=\"{}\">{}</option>", r.id, esc(&r.label));
        }
    }
    b += "</table>";
    b += &format!(
        "<h2>Compare two finished runs</h2><form method=\"get\" action=\"/workspace/compare\">\
         <label>First <select name=\"a\">{options}</select></label>\
         <label>Second <select name=\"b\">{options}</select></label>\
         <button>Compare on one chart</button></form>"
    );
    Ok(layout(Some(&a), "Workspace runs", &b).into_response())
}

#[derive(Deserialize)]
struct Pair {
    a: i64,
    b: i64,
}

/// A finished run of the user's clinic with its summary (404 for another clinic's id; 409 when
/// it has no summary yet).
fn finished_run(app: &App, a: &Auth, id: i64) -> Result<(RunItem, Summary), Fail> {
    let item = app.db(|c| {
        c.query_row(
            "SELECT r.id, s.name, r.status, r.progress, r.created_at, r.summary_json
             FROM runs r JOIN scenarios s ON s.id = r.scenario_id
             WHERE r.id = ?1 AND r.clinic_id = ?2",
            [id, a.clinic_id],
            |r| {
                let json: String = r.get(1)?;
                Ok(RunItem {
                    id,
                    label: run_label(id, &json),
                    status: r.get(2)?,
                    progress: r.get(3)?,
                    created_at: r.get(4)?,
                    summary_json: r.get(5)?,
                })
            },
        )
        .optional()
    })?;
    let item = item.ok_or(Fail::NotFound)?;
    let summary = item
        .summary_json
        .as_deref()
        .and_then(|j| serde_json::from_str::<Summary>(j).ok())
        .ok_or_else(|| {
            Fail::Conflict(format!("Run {id} is {}; only finished runs compare.", item.status))
        })?;
    Ok((item, summary))
}

fn pair(app: &App, a: &Auth, p: &Pair) -> Result<[(RunItem, Summary); 2], Fail> {
    Ok([finished_run(app, a, p.a)?, finished_run(app, a, p.b)?])
}

async fn compare(State(app): State<App>, a: Auth, Query(p): Query<Pair>) -> Page {
    require(&a)?;
    let runs = pair(&app, &a, &p)?;
    app.audit(Some(&a), "view", "comparison", None, &format!("runs {} and {}", p.a, p.b))?;
    let mut b = format!(
        "<h1>Two runs compared</h1><p><a href=\"/workspace/runs\">Back to the runs</a></p>\
         <img class=\"chart\" id=\"compare-chart\" src=\"/workspace/compare.svg?a={}&amp;b={}\" \
         alt=\"Total collagen of both runs over time on one chart\">\
         <table id=\"compare-endpoints\"><tr><th>Endpoint</th><th><a href=\"/runs/{}\">{}</a></th><th><a href=\"/runs/{}\">{}</a></th></tr>",
        p.a,
        p.b,
        runs[0].0.id,
        esc(&runs[0].0.label),
        runs[1].0.id,
        esc(&runs[1].0.label)
    );
    let first = endpoint_rows(&runs[0].1);
    let second = endpoint_rows(&runs[1].1);
    for ((k, x), (_, y)) in first.iter().zip(&second) {
        b += &format!("<tr><td>{}</td><td>{}</td><td>{}</td></tr>", esc(k), esc(x), esc(y));
    }
    b += &format!("</table><p class=\"disclaimer\">{}</p>", esc(dermasim::DISCLAIMER));
    Ok(layout(Some(&a), "Compare runs", &b).into_response())
}

async fn compare_chart(State(app): State<App>, a: Auth, Query(p): Query<Pair>) -> Page {
    use dermasim_report::plots::{first_sentence, CompareChart, CompareSeries};
    require(&a)?;
    let runs = pair(&app, &a, &p)?;
    let chart = CompareChart {
        series: runs
            .iter()
            .map(|(item, s)| CompareSeries {
                label: item.label.clone(),
                timeline: s.timeline.clone(),
            })
            .collect(),
        note: first_sentence(dermasim::DISCLAIMER).into(),
    };
    let svg = dermasim_report::render(&chart, false).map_err(|e| Fail::Internal(e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg.svg).into_response())
}

/// The summary's endpoints as (name, value) rows, by name (the names of `summary.json` in a
/// run folder).
fn endpoint_rows(s: &Summary) -> Vec<(String, String)> {
    let value = serde_json::to_value(&s.endpoints).unwrap_or_default();
    let Some(map) = value.as_object() else { return Vec::new() };
    map.iter()
        .map(|(k, v)| {
            // Days are whole numbers; ratios get four decimals.
            let shown = match (v.as_i64(), v.as_f64()) {
                (Some(n), _) => n.to_string(),
                (None, Some(x)) => format!("{x:.4}"),
                _ => v.to_string(),
            };
            (k.clone(), shown)
        })
        .collect()
}

/// A run report's table of every endpoint of its summary.
pub(crate) fn endpoints_table(s: &Summary) -> String {
    let mut b = String::from(
        "<h2>Summary endpoints</h2><table id=\"run-endpoints\"><tr><th>Endpoint</th><th>Value</th></tr>",
    );
    for (k, v) in endpoint_rows(s) {
        b += &format!("<tr><td>{}</td><td>{}</td></tr>", esc(k), esc(v));
    }
    b + "</table>"
}

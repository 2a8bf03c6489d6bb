//! Exports: a patient's complete record as JSON with their photos (a subject access request),
//! and a simulation run as a zip of its scenario, summary and chart. Both are audited.

use crate::db::Db;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use crate::auth::Auth;
use crate::notes::patient_notes;
use crate::pages::{load_patient, Fail, Page};
use crate::zip::{self, Entry};
use crate::App;

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/patients/{id}/export.zip", get(patient_export))
        .route("/runs/{id}/export.zip", get(run_export))
}

/// Rows of `sql` (parameters: the id and the clinic) as JSON objects named by `cols`; a
/// column whose name ends in `_json` is parsed and stored without the suffix.
fn rows(c: &Db, sql: &str, id: i64, clinic: i64, cols: &[&str]) -> crate::db::DbResult<Vec<Value>> {
    let mut st = c.prepare(sql)?;
    let rows = st.query_map([id, clinic], |r| {
        let mut o = serde_json::Map::new();
        for (i, name) in cols.iter().enumerate() {
            let v: crate::db::Value = r.get(i)?;
            let v = match v {
                crate::db::Value::Null => Value::Null,
                crate::db::Value::Int(n) => json!(n),
                crate::db::Value::Real(x) => json!(x),
                crate::db::Value::Text(t) => match name.strip_suffix("_json") {
                    Some(_) => serde_json::from_str(&t).unwrap_or(Value::String(t)),
                    None => Value::String(t),
                },
                crate::db::Value::Blob(_) => Value::Null,
            };
            o.insert(name.trim_end_matches("_json").to_string(), v);
        }
        Ok(Value::Object(o))
    })?;
    rows.collect()
}

fn attachment(name: &str, body: Vec<u8>) -> axum::response::Response {
    (
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        body,
    )
        .into_response()
}

async fn patient_export(State(app): State<App>, a: Auth, Path(id): Path<i64>) -> Page {
    let p = load_patient(&app, &a, id)?;
    if !a.role.edits_clinical() {
        return Err(Fail::Forbidden(
            "Only practitioners and administrators export a whole record.".into(),
        ));
    }
    let notes = patient_notes(&app, &a, id)?;
    let clinic = a.clinic_id;
    let (screenings, plans, consents, photos, runs, adverse) = app.db(|c| {
        Ok((
            rows(c, "SELECT kind, assessment_date, verdict, result_json, created_at FROM screenings WHERE patient_id = ?1 AND clinic_id = ?2 ORDER BY id",
                 id, clinic, &["kind", "assessment_date", "verdict", "result_json", "created_at"])?,
            rows(c, "SELECT id, assessment_date, outcome, report_json, created_at FROM plans WHERE patient_id = ?1 AND clinic_id = ?2 ORDER BY id",
                 id, clinic, &["id", "assessment_date", "outcome", "report_json", "created_at"])?,
            rows(c, "SELECT t.kind, t.version, t.title, t.body, c.granted, u.username, c.taken_at FROM consents c
                     JOIN consent_templates t ON t.id = c.template_id JOIN users u ON u.id = c.taken_by
                     WHERE c.patient_id = ?1 AND c.clinic_id = ?2 ORDER BY c.id",
                 id, clinic, &["kind", "template_version", "title", "text", "granted", "taken_by", "taken_at"])?,
            rows(c, "SELECT id, area, stage, taken_on, mime, sha256, bytes FROM photos WHERE patient_id = ?1 AND clinic_id = ?2 ORDER BY id",
                 id, clinic, &["id", "area", "stage", "taken_on", "mime", "sha256", "bytes"])?,
            rows(c, "SELECT id, site, status, message, scenario_json, summary_json, created_at FROM runs WHERE patient_id = ?1 AND clinic_id = ?2 ORDER BY id",
                 id, clinic, &["id", "site", "status", "message", "scenario_json", "summary_json", "created_at"])?,
            rows(c, "SELECT e.note_id, e.kind, e.severity, e.onset_date, e.description, e.created_at FROM adverse_events e
                     JOIN session_notes n ON n.id = e.note_id WHERE n.patient_id = ?1 AND e.clinic_id = ?2 ORDER BY e.id",
                 id, clinic, &["session_note", "kind", "severity", "onset_date", "description", "recorded_at"])?,
        ))
    })?;
    let notes: Vec<Value> = notes
        .iter()
        .map(|n| {
            json!({
                "id": n.id,
                "session_date": n.session_date,
                "version": n.version,
                "note": n.note,
                "signed_at": n.signed.as_ref().map(|s| &s.0),
                "signed_by": n.signed.as_ref().map(|s| &s.1),
                "amendments": n.amendments.iter().map(|(at, who, reason, note)| json!({
                    "at": at, "by": who, "reason": reason, "note": note
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut entries = Vec::new();
    let mut photo_files = Vec::new();
    for ph in &photos {
        let (pid, sha, mime) = (ph["id"].as_i64(), ph["sha256"].as_str(), ph["mime"].as_str());
        let (Some(pid), Some(sha), Some(mime)) = (pid, sha, mime) else { continue };
        let ext = if mime == "image/png" { "png" } else { "jpg" };
        let data = std::fs::read(app.photo_dir.join(format!("{sha}.{ext}"))).map_err(|e| {
            Fail::Internal(format!("photo {pid} is missing from the photo folder: {e}"))
        })?;
        let name = format!("photos/{pid}-{}.{ext}", &sha[..16.min(sha.len())]);
        photo_files.push(json!({"id": pid, "file": name}));
        entries.push(Entry { name, data });
    }
    let record = json!({
        "program": "dermasim",
        "version": dermasim_app::VERSION,
        "exported_at": crate::db::now_text(),
        "exported_by": a.username,
        "patient": {
            "id": id,
            "full_name": p.full_name,
            "date_of_birth": p.date_of_birth,
            "phone": p.phone,
            "clinical_profile_toml": p.profile_toml,
            "clinical_notes": p.clinical_notes,
            "version": p.version,
            "updated_at": p.updated_at,
        },
        "screenings": screenings,
        "plans": plans,
        "session_notes": notes,
        "adverse_events": adverse,
        "consents": consents,
        "photos": photos,
        "photo_files": photo_files,
        "simulation_runs": runs,
    });
    let json = serde_json::to_vec_pretty(&record).map_err(|e| Fail::Internal(e.to_string()))?;
    entries.insert(0, Entry { name: "record.json".into(), data: json });
    app.audit(Some(&a), "export", "patient", Some(id), &format!("{} photos", photo_files.len()))?;
    Ok(attachment(&format!("patient-{id}.zip"), zip::write(&entries)))
}

async fn run_export(State(app): State<App>, a: Auth, Path(id): Path<i64>) -> Page {
    /// status, site, scenario, summary, chart, created.
    type RunRow = (String, String, String, Option<String>, Option<String>, String);
    let row: Option<RunRow> = app.db(|c| {
        use crate::db::OptionalExtension;
        c.query_row(
            "SELECT status, site, scenario_json, summary_json, chart_svg, created_at FROM runs WHERE id = ?1 AND clinic_id = ?2",
            [id, a.clinic_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .optional()
    })?;
    let (status, site, scenario, summary, chart, created) = row.ok_or(Fail::NotFound)?;
    if !a.role.reads_clinical() {
        return Err(Fail::Forbidden("Your role cannot read clinical records.".into()));
    }
    let pretty = |v: &str| {
        serde_json::from_str::<Value>(v)
            .and_then(|v| serde_json::to_vec_pretty(&v))
            .unwrap_or_else(|_| v.as_bytes().to_vec())
    };
    let mut entries = vec![Entry { name: "scenario.json".into(), data: pretty(&scenario) }];
    if let Some(s) = summary {
        entries.push(Entry { name: "summary.json".into(), data: pretty(&s) });
    }
    if let Some(c) = chart {
        entries.push(Entry { name: "chart.svg".into(), data: c.into_bytes() });
    }
    let files: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    let manifest = json!({
        "program": "dermasim", "version": dermasim_app::VERSION, "run": id, "site": site,
        "status": status, "created_at": created, "exported_at": crate::db::now_text(),
        "files": files,
    });
    let manifest =
        serde_json::to_vec_pretty(&manifest).map_err(|e| Fail::Internal(e.to_string()))?;
    entries.insert(0, Entry { name: "manifest.json".into(), data: manifest });
    app.audit(Some(&a), "export", "run", Some(id), "")?;
    Ok(attachment(&format!("run-{id}.zip"), zip::write(&entries)))
}

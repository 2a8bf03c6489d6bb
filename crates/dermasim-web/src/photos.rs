//! Clinical photos: uploaded per area and stage (before, progress, after), checked by their
//! content (PNG or JPEG magic bytes, size, a path-free file name), stripped of metadata (PNG
//! re-encoded from its pixels; JPEG without its APP1-APP15 and comment segments, where EXIF, GPS
//! and camera data live), stored outside the database in the photo folder under their SHA-256,
//! and shown side by side. Uploading needs the patient's photo consent.

use std::path::{Path as FsPath, PathBuf};

use crate::db::{params, OptionalExtension};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use sha2::{Digest, Sha256};

use crate::auth::Auth;
use crate::db::{self, now_text};
use crate::pages::{esc, hidden_csrf, layout, load_patient, Fail, Page};
use crate::App;

/// Largest photo accepted, bytes.
pub const MAX_PHOTO_BYTES: usize = 8 * 1024 * 1024;
/// Largest image side, pixels (a decompression bomb stops here).
const MAX_SIDE: u32 = 12_000;
const STAGES: [&str; 3] = ["before", "progress", "after"];

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/patients/{id}/photos", post(upload))
        .route("/photos/{id}", get(photo_file))
}

/// Photos identify a person: practitioners and administrators only.
fn may_see(a: &Auth) -> Result<(), Fail> {
    if a.role.reads_clinical() && a.role.sees_names() {
        Ok(())
    } else {
        Err(Fail::Forbidden("Your role cannot see or add clinical photos.".into()))
    }
}

/// Why an upload is refused: the status and a message naming the field.
fn refuse(a: &Auth, status: StatusCode, msg: &str) -> Response {
    let body = format!("<h1>Photo not saved</h1><p class=\"error\">{}</p>", esc(msg));
    (status, layout(Some(a), "Photo not saved", &body)).into_response()
}

/// The photo folder of the database at `db`: `NAME.photos` beside it.
pub(crate) fn folder_for(db: &FsPath) -> PathBuf {
    let name = db.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    db.with_file_name(format!("{name}.photos"))
}

/// A file name that is a plain name: no folder part, no `..`, no control characters.
fn plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.contains(['/', '\\'])
        && !name.contains("..")
        && !name.chars().any(|c| c.is_control())
}

/// The image without its metadata, and its type; an error when it is neither PNG nor JPEG.
pub(crate) fn clean_image(data: &[u8]) -> Result<(Vec<u8>, &'static str), String> {
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        return reencode_png(data).map(|d| (d, "image/png"));
    }
    if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return strip_jpeg(data).map(|d| (d, "image/jpeg"));
    }
    Err("file: not a PNG or JPEG image (checked by its content, not its name)".into())
}

/// Decode to pixels and encode again: only the image data survives (no text, EXIF, ICC or
/// time chunks).
fn reencode_png(data: &[u8]) -> Result<Vec<u8>, String> {
    let bad = |e: String| format!("file: not a readable PNG image ({e})");
    let mut decoder = png::Decoder::new(std::io::Cursor::new(data));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().map_err(|e| bad(e.to_string()))?;
    let (w, h) = (reader.info().width, reader.info().height);
    if w > MAX_SIDE || h > MAX_SIDE {
        return Err(format!("file: {w} x {h} pixels; at most {MAX_SIDE} on each side"));
    }
    let size = reader.output_buffer_size().ok_or_else(|| bad("too large".into()))?;
    let mut buf = vec![0; size];
    let info = reader.next_frame(&mut buf).map_err(|e| bad(e.to_string()))?;
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, info.width, info.height);
    encoder.set_color(info.color_type);
    encoder.set_depth(info.bit_depth);
    let mut writer = encoder.write_header().map_err(|e| bad(e.to_string()))?;
    writer.write_image_data(&buf[..info.buffer_size()]).map_err(|e| bad(e.to_string()))?;
    writer.finish().map_err(|e| bad(e.to_string()))?;
    Ok(out)
}

/// Copy a JPEG without APP1-APP15 (EXIF, XMP, maker notes) and comment segments; everything
/// from the start of the scan on is image data and is kept as is.
fn strip_jpeg(data: &[u8]) -> Result<Vec<u8>, String> {
    let bad = |why: &str| format!("file: not a readable JPEG image ({why})");
    let mut out = vec![0xFF, 0xD8];
    let mut at = 2;
    loop {
        if at + 4 > data.len() || data[at] != 0xFF {
            return Err(bad("a segment is cut short"));
        }
        let marker = data[at + 1];
        if marker == 0xDA {
            out.extend_from_slice(&data[at..]);
            return Ok(out);
        }
        let len = u16::from_be_bytes([data[at + 2], data[at + 3]]) as usize;
        if len < 2 || at + 2 + len > data.len() {
            return Err(bad("a segment's length is wrong"));
        }
        let drop = (0xE1..=0xEF).contains(&marker) || marker == 0xFE;
        if !drop {
            out.extend_from_slice(&data[at..at + 2 + len]);
        }
        at += 2 + len;
    }
}

struct Upload {
    file: Vec<u8>,
    filename: String,
    area: String,
    stage: String,
    taken_on: String,
}

fn read_form(headers: &HeaderMap, body: &[u8]) -> Result<Upload, (StatusCode, String)> {
    let unprocessable = |m: String| (StatusCode::UNPROCESSABLE_ENTITY, m);
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let boundary = crate::multipart::boundary(ct)
        .ok_or_else(|| unprocessable("send the photo form as multipart/form-data".into()))?;
    let parts = crate::multipart::parse(body, &boundary).map_err(unprocessable)?;
    let text = |n: &str| {
        parts
            .iter()
            .find(|p| p.name == n)
            .map(|p| String::from_utf8_lossy(&p.data).trim().to_string())
            .unwrap_or_default()
    };
    let file = parts
        .iter()
        .find(|p| p.name == "file")
        .ok_or_else(|| unprocessable("file: choose a photo to upload".into()))?;
    let filename = file.filename.clone().unwrap_or_default();
    if !plain_file_name(&filename) {
        return Err(unprocessable(format!(
            "file: the file name `{filename}` holds a path or is empty; send a plain file name"
        )));
    }
    if file.data.is_empty() {
        return Err(unprocessable("file: the file is empty".into()));
    }
    if file.data.len() > MAX_PHOTO_BYTES {
        return Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("file: {} bytes; at most {} MiB", file.data.len(), MAX_PHOTO_BYTES >> 20),
        ));
    }
    Ok(Upload {
        file: file.data.clone(),
        filename,
        area: text("area"),
        stage: text("stage"),
        taken_on: text("taken_on"),
    })
}

/// Write `bytes` as `dir/NAME` through a temporary file and a rename (a reader never sees half
/// a photo); an existing file of that name has the same content (the name is its SHA-256).
fn store(dir: &FsPath, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(name);
    if path.exists() {
        return Ok(());
    }
    let tmp = dir.join(format!(".{name}.part"));
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)
}

fn extension(mime: &str) -> &'static str {
    if mime == "image/png" {
        "png"
    } else {
        "jpg"
    }
}

async fn upload(
    State(app): State<App>,
    a: Auth,
    Path(pid): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    load_patient(&app, &a, pid)?;
    may_see(&a)?;
    let u = match read_form(&headers, &body) {
        Ok(u) => u,
        Err((status, m)) => return Ok(refuse(&a, status, &m)),
    };
    let sites = dermasim::tissue::SiteTable::embedded();
    if let Err(e) = sites.require(&u.area, "area") {
        return Ok(refuse(&a, StatusCode::UNPROCESSABLE_ENTITY, &e.to_string()));
    }
    if !STAGES.contains(&u.stage.as_str()) {
        let m = format!("stage: `{}`; use before, progress or after", u.stage);
        return Ok(refuse(&a, StatusCode::UNPROCESSABLE_ENTITY, &m));
    }
    let taken: Result<jiff::civil::Date, _> = u.taken_on.parse();
    let taken = match taken {
        Ok(d) if d <= jiff::Zoned::now().date() => d,
        Ok(d) => {
            return Ok(refuse(
                &a,
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!("taken_on: {d} is in the future"),
            ))
        }
        Err(_) => {
            let m = format!("taken_on: `{}` is not a date (YYYY-MM-DD)", u.taken_on);
            return Ok(refuse(&a, StatusCode::UNPROCESSABLE_ENTITY, &m));
        }
    };
    if !crate::consent::granted(&app, a.clinic_id, pid, "photo")? {
        return Err(Fail::Conflict(
            "The patient has not granted photo consent; record it first (Consent, on the patient's page).".into(),
        ));
    }
    let file = u.file;
    let cleaned = tokio::task::spawn_blocking(move || clean_image(&file))
        .await
        .map_err(|e| Fail::Internal(e.to_string()))?;
    let (bytes, mime) = match cleaned {
        Ok(x) => x,
        Err(m) => return Ok(refuse(&a, StatusCode::UNSUPPORTED_MEDIA_TYPE, &m)),
    };
    let sha: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    let name = format!("{sha}.{}", extension(mime));
    let dir = app.photo_dir.clone();
    let stored = bytes.clone();
    tokio::task::spawn_blocking(move || store(&dir, &name, &stored))
        .await
        .map_err(|e| Fail::Internal(e.to_string()))?
        .map_err(|e| Fail::Internal(format!("the photo could not be stored: {e}")))?;
    app.db(|c| {
        let id = c.insert_returning_id(
            "INSERT INTO photos (patient_id, clinic_id, area, stage, taken_on, mime, sha256, bytes, created_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![pid, a.clinic_id, u.area, u.stage, taken.to_string(), mime, sha, bytes.len() as i64, a.user_id, now_text()],
        )?;
        let detail = format!("patient {pid}: {} {} ({} as sent)", u.area, u.stage, u.filename);
        db::audit(c, Some(a.user_id), Some(a.clinic_id), "create", "photo", Some(id), &detail)
    })?;
    Ok(Redirect::to(&format!("/patients/{pid}#photos")).into_response())
}

async fn photo_file(State(app): State<App>, a: Auth, Path(id): Path<i64>) -> Page {
    let row: Option<(String, String)> = app.db(|c| {
        c.query_row(
            "SELECT mime, sha256 FROM photos WHERE id = ?1 AND clinic_id = ?2",
            [id, a.clinic_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
    })?;
    let (mime, sha) = row.ok_or(Fail::NotFound)?;
    may_see(&a)?;
    let path = app.photo_dir.join(format!("{sha}.{}", extension(&mime)));
    let bytes = tokio::task::spawn_blocking(move || std::fs::read(path))
        .await
        .map_err(|e| Fail::Internal(e.to_string()))?
        .map_err(|e| Fail::Internal(format!("photo {id} is missing from the photo folder: {e}")))?;
    let actual: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    if actual != sha {
        return Err(Fail::Internal(format!("photo {id} does not match its recorded SHA-256")));
    }
    app.audit(Some(&a), "view", "photo", Some(id), "")?;
    Ok(([(header::CONTENT_TYPE, mime)], bytes).into_response())
}

/// The patient page's section: the upload form and the photos, one row per area with the
/// stages side by side.
pub(crate) fn section(app: &App, a: &Auth, patient_id: i64) -> Result<String, Fail> {
    if may_see(a).is_err() {
        return Ok(String::new());
    }
    let rows: Vec<(i64, String, String, String, String)> = app.db(|c| {
        let mut st = c.prepare(
            "SELECT id, area, stage, taken_on, sha256 FROM photos WHERE patient_id = ?1 AND clinic_id = ?2
             ORDER BY area, taken_on, id",
        )?;
        let rows = st.query_map([patient_id, a.clinic_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?;
        rows.collect()
    })?;
    let sites = dermasim::tissue::SiteTable::embedded();
    let options: String = sites
        .site
        .iter()
        .map(|s| {
            format!("<option value=\"{}\">{} ({})</option>", esc(&s.id), esc(&s.name), esc(&s.id))
        })
        .collect();
    let mut b = format!(
        "<h2 id=\"photos\">Photos</h2><form method=\"post\" action=\"/patients/{patient_id}/photos\" enctype=\"multipart/form-data\">{}\
         <label>Photo (PNG or JPEG, up to {} MiB; metadata is removed) <input type=\"file\" name=\"file\" accept=\"image/png,image/jpeg\" required></label>\
         <label>Area <select name=\"area\">{options}</select></label>\
         <label>Stage <select name=\"stage\"><option>before</option><option>progress</option><option>after</option></select></label>\
         <label>Taken on <input type=\"date\" name=\"taken_on\" value=\"{}\" required></label>\
         <button>Upload</button></form>",
        hidden_csrf(a),
        MAX_PHOTO_BYTES >> 20,
        jiff::Zoned::now().date()
    );
    let mut areas: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    areas.dedup();
    for area in areas {
        b += &format!("<h3>{}</h3><div class=\"photos\">", esc(area));
        for (id, _, stage, on, sha) in rows.iter().filter(|r| r.1 == area) {
            b += &format!(
                "<figure><img src=\"/photos/{id}\" alt=\"{} {} photo of {}\"><figcaption>{} · {} · SHA-256 {}…</figcaption></figure>",
                esc(stage),
                esc(on),
                esc(area),
                esc(stage),
                esc(on),
                esc(&sha[..12.min(sha.len())])
            );
        }
        b += "</div>";
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_metadata_segments_are_dropped() {
        // SOI, APP0 (kept), APP1 "Exif" (dropped), COM (dropped), SOS + data.
        let mut j = vec![0xFF, 0xD8];
        j.extend([0xFF, 0xE0, 0x00, 0x06, b'J', b'F', b'I', b'F']);
        j.extend([0xFF, 0xE1, 0x00, 0x08, b'E', b'x', b'i', b'f', b'G', b'P']);
        j.extend([0xFF, 0xFE, 0x00, 0x05, b'c', b'a', b'm']);
        j.extend([0xFF, 0xDA, 0x00, 0x02, 1, 2, 3, 0xFF, 0xD9]);
        let out = strip_jpeg(&j).unwrap();
        assert!(out.windows(4).any(|w| w == b"JFIF"));
        assert!(!out.windows(4).any(|w| w == b"Exif") && !out.windows(3).any(|w| w == b"cam"));
        assert!(out.ends_with(&[0xFF, 0xDA, 0x00, 0x02, 1, 2, 3, 0xFF, 0xD9]));
        assert!(strip_jpeg(&[0xFF, 0xD8, 0xFF, 0xE1, 0x40, 0x00]).is_err(), "a cut segment");
    }

    #[test]
    fn file_names_with_paths_are_refused() {
        for bad in ["../a.png", "a/b.png", "c:\\x.png", "", "a\0.png", ".."] {
            assert!(!plain_file_name(bad), "{bad:?}");
        }
        assert!(plain_file_name("cheek before.png"));
    }
}

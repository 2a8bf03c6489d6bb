//! Router tests of consent (versioned templates, who took it and when, photo apart from
//! marketing) and photos (checked by content, size and name; metadata stripped; SHA-256;
//! roles and clinics).

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::*;
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use tower::ServiceExt;

async fn template(env: &Env, admin: &User, kind: &str, title: &str) -> i64 {
    let r = post(
        env,
        admin,
        "/consent-templates",
        &[("kind", kind), ("title", title), ("body", "I agree to ...")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    env.app
        .connection()
        .query_row("SELECT MAX(id) FROM consent_templates", [], |r| r.get(0))
        .unwrap()
}

async fn consent(env: &Env, u: &User, pid: i64, template: i64, decision: &str) -> Resp {
    post(
        env,
        u,
        &format!("/patients/{pid}/consents"),
        &[("template_id", &template.to_string()), ("decision", decision)],
    )
    .await
}

#[test]
fn consent_is_versioned_and_kinds_are_separate() {
    run(consent_is_versioned_and_kinds_are_separate_body())
}

async fn consent_is_versioned_and_kinds_are_separate_body() {
    let env = env().await;
    let admin = user(&env, "boss", "administrator", None).await;
    let u = user(&env, "pat", "practitioner", None).await;
    let lab = user(&env, "lab", "researcher", None).await;
    let far = user(&env, "far", "practitioner", Some("North site")).await;
    assert_eq!(get(&env, &u, "/consent-templates").await.status, StatusCode::FORBIDDEN);
    let r =
        post(&env, &u, "/consent-templates", &[("kind", "photo"), ("title", "x"), ("body", "y")])
            .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = post(
        &env,
        &admin,
        "/consent-templates",
        &[("kind", "tattoo"), ("title", "x"), ("body", "y")],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("kind: `tattoo`; use treatment, photo or marketing"));

    let photo_v1 = template(&env, &admin, "photo", "Clinical photographs").await;
    template(&env, &admin, "marketing", "Marketing").await;
    let pid = patient(&env, &u, "Ann Example", "").await;
    let page = get(&env, &u, &format!("/patients/{pid}")).await;
    assert!(page.body.contains("Clinical photographs (version 1)"));
    let r = consent(&env, &u, pid, photo_v1, "granted").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = get(&env, &u, &format!("/patients/{pid}")).await;
    assert!(page.body.contains("<td class=\"consent-photo\">granted</td>"), "{}", page.body);
    // Photo consent is not marketing consent.
    assert!(page.body.contains("<td class=\"consent-marketing\">not asked</td>"));
    let (version, who, at): (i64, String, String) = env
        .app
        .connection()
        .query_row(
            "SELECT t.version, u.username, c.taken_at FROM consents c JOIN consent_templates t ON t.id = c.template_id
             JOIN users u ON u.id = c.taken_by",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((version, who.as_str()), (1, "pat"));
    assert!(at.parse::<jiff::Timestamp>().is_ok(), "{at}");

    // A new text is version 2; a form still showing version 1 is refused.
    let photo_v2 = template(&env, &admin, "photo", "Clinical photographs (revised)").await;
    let r = consent(&env, &u, pid, photo_v1, "declined").await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("A newer version of the photo consent exists"));
    let r = consent(&env, &u, pid, photo_v2, "declined").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = get(&env, &u, &format!("/patients/{pid}")).await;
    assert!(page.body.contains("<td class=\"consent-photo\">declined</td>"), "a withdrawal counts");
    let templates = get(&env, &admin, "/consent-templates").await;
    assert!(templates.body.contains("photo v1") && templates.body.contains("photo v2"));

    // Append-only; researchers and other clinics are kept out.
    assert!(env.app.connection().execute("DELETE FROM consents", []).is_err());
    assert!(env.app.connection().execute("UPDATE consent_templates SET body = 'x'", []).is_err());
    assert_eq!(consent(&env, &lab, pid, photo_v2, "granted").await.status, StatusCode::FORBIDDEN);
    assert_eq!(consent(&env, &far, pid, photo_v2, "granted").await.status, StatusCode::NOT_FOUND);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM consents").await, 2);
    assert_eq!(count(&env, "SELECT COUNT(*) FROM audit WHERE entity = 'consent'").await, 2);
}

/// A 3 x 2 RGB PNG carrying a text chunk (the kind of metadata that must go).
fn png_with_metadata() -> (Vec<u8>, Vec<u8>) {
    let pixels: Vec<u8> = (0..18).map(|i| (i * 13) as u8).collect();
    let mut out = Vec::new();
    let mut e = png::Encoder::new(&mut out, 3, 2);
    e.set_color(png::ColorType::Rgb);
    e.set_depth(png::BitDepth::Eight);
    e.add_text_chunk("Author".into(), "Secret Camera GPS 51.5N".into()).unwrap();
    let mut w = e.write_header().unwrap();
    w.write_image_data(&pixels).unwrap();
    w.finish().unwrap();
    (out, pixels)
}

fn multipart(csrf: Option<&str>, filename: &str, file: &[u8], stage: &str) -> (String, Vec<u8>) {
    let b = "dermasimTestBoundary";
    let mut body = Vec::new();
    let mut field = |name: &str, value: &str| {
        body.extend(
            format!("--{b}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .bytes(),
        );
    };
    if let Some(c) = csrf {
        field("csrf", c);
    }
    field("area", "cheek");
    field("stage", stage);
    field("taken_on", "2026-03-02");
    body.extend(
        format!("--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: image/png\r\n\r\n")
            .bytes(),
    );
    body.extend_from_slice(file);
    body.extend(format!("\r\n--{b}--\r\n").bytes());
    (format!("multipart/form-data; boundary={b}"), body)
}

async fn upload(env: &Env, u: &User, pid: i64, csrf: bool, filename: &str, file: &[u8]) -> Resp {
    let (ct, body) = multipart(csrf.then_some(u.csrf.as_str()), filename, file, "before");
    let req = Request::builder()
        .method("POST")
        .uri(format!("/patients/{pid}/photos"))
        .header(header::COOKIE, &u.cookie)
        .header(header::CONTENT_TYPE, ct)
        .body(Body::from(body))
        .unwrap();
    let resp = env.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Resp { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
}

async fn raw_get(env: &Env, u: &User, uri: &str) -> (StatusCode, Vec<u8>) {
    let req =
        Request::builder().uri(uri).header(header::COOKIE, &u.cookie).body(Body::empty()).unwrap();
    let resp = env.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    (status, resp.into_body().collect().await.unwrap().to_bytes().to_vec())
}

#[test]
fn photos_are_checked_stripped_and_kept_by_hash() {
    run(photos_are_checked_stripped_and_kept_by_hash_body())
}

async fn photos_are_checked_stripped_and_kept_by_hash_body() {
    let env = env().await;
    let admin = user(&env, "boss", "administrator", None).await;
    let u = user(&env, "pat", "practitioner", None).await;
    let desk = user(&env, "desk", "reception", None).await;
    let lab = user(&env, "lab", "researcher", None).await;
    let far = user(&env, "far", "practitioner", Some("North site")).await;
    let pid = patient(&env, &u, "Ann Example", "").await;
    let (png_file, pixels) = png_with_metadata();

    // No photo consent yet: refused.
    let r = upload(&env, &u, pid, true, "cheek.png", &png_file).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("has not granted photo consent"));
    let t = template(&env, &admin, "photo", "Clinical photographs").await;
    assert_eq!(consent(&env, &u, pid, t, "granted").await.status, StatusCode::SEE_OTHER);

    // Without the form's token: 403, like every other POST.
    assert_eq!(
        upload(&env, &u, pid, false, "cheek.png", &png_file).await.status,
        StatusCode::FORBIDDEN
    );
    // Not an image (whatever its name says), a path in the name, too large.
    let r = upload(&env, &u, pid, true, "cheek.png", b"#!/bin/sh\necho not a photo\n").await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(r.body.contains("not a PNG or JPEG image"));
    for name in ["../../etc/cheek.png", "sub/cheek.png", "..\\cheek.png"] {
        let r = upload(&env, &u, pid, true, name, &png_file).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        assert!(r.body.contains("holds a path"), "{name}");
    }
    let mut big = png_file.clone();
    big.resize(dermasim_web::MAX_PHOTO_BYTES + 1, 0);
    assert_eq!(
        upload(&env, &u, pid, true, "big.png", &big).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let mut huge = png_file.clone();
    huge.resize(dermasim_web::MAX_PHOTO_BYTES + 200 * 1024, 0);
    assert_eq!(
        upload(&env, &u, pid, true, "huge.png", &huge).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(
        count(&env, "SELECT COUNT(*) FROM photos").await,
        0,
        "refused uploads saved nothing"
    );

    // A good one: stored outside the database, without its text chunk, same pixels.
    let r = upload(&env, &u, pid, true, "cheek before.png", &png_file).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (id, sha, bytes): (i64, String, i64) = env
        .app
        .connection()
        .query_row("SELECT id, sha256, bytes FROM photos", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    let stored = std::fs::read(env.app.photo_dir().join(format!("{sha}.png"))).unwrap();
    let digest: String = Sha256::digest(&stored).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(digest, sha);
    assert_eq!(stored.len() as i64, bytes);
    assert!(!stored.windows(13).any(|w| w == b"Secret Camera"), "metadata kept");
    let mut reader = png::Decoder::new(std::io::Cursor::new(&stored)).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(&buf[..info.buffer_size()], pixels.as_slice(), "the image itself is unchanged");

    let (status, served) = raw_get(&env, &u, &format!("/photos/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(served, stored);
    let page = get(&env, &u, &format!("/patients/{pid}")).await;
    assert!(
        page.body.contains(&format!("src=\"/photos/{id}\""))
            && page.body.contains("class=\"photos\"")
    );
    assert_eq!(raw_get(&env, &desk, &format!("/photos/{id}")).await.0, StatusCode::FORBIDDEN);
    assert_eq!(raw_get(&env, &lab, &format!("/photos/{id}")).await.0, StatusCode::FORBIDDEN);
    assert_eq!(raw_get(&env, &far, &format!("/photos/{id}")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        upload(&env, &far, pid, true, "x.png", &png_file).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        upload(&env, &desk, pid, true, "x.png", &png_file).await.status,
        StatusCode::FORBIDDEN
    );

    // Subject access: the whole record as JSON plus the photos, in one zip; audited.
    let (status, _, z) = get_bytes(&env, &u, &format!("/patients/{pid}/export.zip")).await;
    assert_eq!(status, StatusCode::OK);
    let files = unzip(&z);
    assert_eq!(files[0].0, "record.json");
    let record: serde_json::Value = serde_json::from_slice(&files[0].1).unwrap();
    assert_eq!(record["patient"]["full_name"], "Ann Example");
    assert_eq!(record["consents"][0]["kind"], "photo");
    assert_eq!(record["consents"][0]["template_version"], 1);
    assert_eq!(record["photos"][0]["sha256"], sha.as_str());
    let photo = files.iter().find(|f| f.0.starts_with("photos/")).expect("the photo file");
    assert_eq!(photo.1, stored, "the exported photo is the stored one");
    assert_eq!(record["photo_files"][0]["file"], photo.0.as_str());
    assert_eq!(
        count(&env, "SELECT COUNT(*) FROM audit WHERE action = 'export' AND entity = 'patient'")
            .await,
        1
    );
    for who in [&desk, &lab] {
        assert_eq!(
            get_bytes(&env, who, &format!("/patients/{pid}/export.zip")).await.0,
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(
        get_bytes(&env, &far, &format!("/patients/{pid}/export.zip")).await.0,
        StatusCode::NOT_FOUND
    );

    // A JPEG loses its EXIF segment.
    let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x0D]; // APP1: 2 length bytes + 11
    jpeg.extend(b"Exif\0\0GPS!!");
    jpeg.extend([0xFF, 0xDA, 0x00, 0x02, 7, 7, 7, 0xFF, 0xD9]);
    let r = upload(&env, &u, pid, true, "cheek.jpg", &jpeg).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let sha: String = env
        .app
        .connection()
        .query_row("SELECT sha256 FROM photos WHERE mime = 'image/jpeg'", [], |r| r.get(0))
        .unwrap();
    let stored = std::fs::read(env.app.photo_dir().join(format!("{sha}.jpg"))).unwrap();
    assert!(!stored.windows(4).any(|w| w == b"Exif"));
    assert_eq!(stored, [0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 7, 7, 7, 0xFF, 0xD9]);
}

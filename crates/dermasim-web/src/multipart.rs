//! A small `multipart/form-data` reader for the photo upload (the one form that sends a file).
//! It reads a body already held in memory (the request guard bounds its size).

/// One part of the form.
pub(crate) struct Part {
    pub name: String,
    /// The file name as the browser sent it, for file fields.
    pub filename: Option<String>,
    pub data: Vec<u8>,
}

/// The boundary of a `multipart/form-data` content type, or `None` for any other type.
pub(crate) fn boundary(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim().eq_ignore_ascii_case("boundary").then(|| v.trim().trim_matches('"').to_string())
    })
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > hay.len() {
        return None;
    }
    hay[from..].windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

/// A `key="value"` parameter of a header line.
fn param(line: &str, key: &str) -> Option<String> {
    line.split(';').find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim().eq_ignore_ascii_case(key).then(|| v.trim().trim_matches('"').to_string())
    })
}

/// The parts of `body`; an error says what is malformed.
pub(crate) fn parse(body: &[u8], boundary: &str) -> Result<Vec<Part>, String> {
    if boundary.is_empty() || boundary.len() > 200 {
        return Err("the form's boundary is missing or too long".into());
    }
    let delimiter = format!("--{boundary}");
    let next = format!("\r\n--{boundary}");
    let mut at = find(body, delimiter.as_bytes(), 0).ok_or("the form has no parts")?;
    at += delimiter.len();
    let mut parts = Vec::new();
    loop {
        if body[at..].starts_with(b"--") {
            return Ok(parts);
        }
        if !body[at..].starts_with(b"\r\n") {
            return Err("a form part does not start on a new line".into());
        }
        at += 2;
        let head_end = find(body, b"\r\n\r\n", at).ok_or("a form part has no end of headers")?;
        let head = std::str::from_utf8(&body[at..head_end])
            .map_err(|_| "a form part's headers are not text")?;
        let (mut name, mut filename) = (None, None);
        for line in head.split("\r\n") {
            let Some((k, v)) = line.split_once(':') else { continue };
            if k.trim().eq_ignore_ascii_case("content-disposition") {
                name = param(v, "name");
                filename = param(v, "filename");
            }
        }
        let data_start = head_end + 4;
        let data_end =
            find(body, next.as_bytes(), data_start).ok_or("a form part is not closed")?;
        parts.push(Part {
            name: name.ok_or("a form part has no name")?,
            filename,
            data: body[data_start..data_end].to_vec(),
        });
        at = data_end + next.len();
        if parts.len() > 32 {
            return Err("the form has too many parts".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_and_files() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc\r\n--XyZ\r\n\
Content-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n\r\n--XyZ--\r\n";
        let parts = parse(body, "XyZ").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!((parts[0].name.as_str(), parts[0].data.as_slice()), ("csrf", &b"abc"[..]));
        assert_eq!(parts[1].filename.as_deref(), Some("a.png"));
        assert_eq!(parts[1].data, b"\x89PNG\r\n");
        assert_eq!(boundary("multipart/form-data; boundary=XyZ").as_deref(), Some("XyZ"));
        assert_eq!(boundary("application/x-www-form-urlencoded"), None);
    }

    #[test]
    fn refuses_malformed_bodies() {
        assert!(
            parse(b"--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nno end", "b").is_err()
        );
        assert!(parse(b"nothing here", "b").is_err());
        assert!(parse(b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--", "b").is_err());
    }
}

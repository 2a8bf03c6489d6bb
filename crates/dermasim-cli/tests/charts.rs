//! The delivery charts of `dermasim run` and the forecast chart of `dermasim plan --chart`,
//! read back with independent SVG (roxmltree) and PNG (png) readers.

use std::collections::BTreeSet;
use std::io::Cursor;

mod common;
use common::{checked_files_and_manifest as checked_files, dermasim, ok};

fn repo(path: &str) -> String {
    format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))
}

/// All text of a well-formed SVG document, and its declared size.
fn svg_text(svg: &str) -> (String, (u32, u32)) {
    let doc = roxmltree::Document::parse(svg)
        .unwrap_or_else(|e| panic!("SVG is not well-formed XML: {e}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    let size = |a: &str| root.attribute(a).unwrap().parse::<u32>().unwrap();
    let text = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join(" | ");
    (text, (size("width"), size("height")))
}

fn assert_texts(name: &str, text: &str, wanted: &[&str]) {
    for t in wanted {
        assert!(text.contains(t), "{name}: no `{t}` in the SVG text: {text}");
    }
}

/// Width and height of a PNG, after decoding every pixel; it must not be blank.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    let mut reader = png::Decoder::new(Cursor::new(bytes)).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let colours: BTreeSet<&[u8]> = buf[..info.buffer_size()].chunks(3).collect();
    assert!(colours.len() > 20, "PNG nearly blank: {} colours", colours.len());
    (info.width, info.height)
}

const DOSE_FILES: [&str; 4] =
    ["plots/dose.png", "plots/dose.svg", "plots/dose_profile.png", "plots/dose_profile.svg"];

#[test]
fn a_run_with_a_topical_writes_dose_charts_listed_in_the_manifest_and_the_report() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    ok(&[
        "run",
        &repo("examples/delivery_vitamin_c_pen.toml"),
        "--out",
        dir.to_str().unwrap(),
        "--outputs",
        "plots_svg,plots_png,report",
    ]);
    let (files, manifest) = checked_files(&dir);
    for f in DOSE_FILES {
        assert!(files.contains(f), "{f} missing: {files:?}");
        let entry = manifest["files"].as_array().unwrap().iter().find(|e| e["path"] == f).unwrap();
        assert_eq!(entry["kind"], "plot");
        assert!(entry["description"].as_str().unwrap().contains("chart"), "{entry}");
    }

    let (text, size) = svg_text(&std::fs::read_to_string(dir.join("plots/dose.svg")).unwrap());
    assert_texts(
        "dose",
        &text,
        &[
            "time after needling (h)",
            "(µg/cm²)",
            "needled skin",
            "intact skin",
            "t50",
            "t90",
            "channels 50 %, 90 % closed",
            "product on the skin",
        ],
    );
    assert_eq!(png_size(&std::fs::read(dir.join("plots/dose.png")).unwrap()), size);
    let (text, size) =
        svg_text(&std::fs::read_to_string(dir.join("plots/dose_profile.svg")).unwrap());
    assert_texts(
        "dose_profile",
        &text,
        &[
            "depth below the surface (µm)",
            "concentration (µg/mL)",
            "1 h after needling",
            "24 h after needling",
            "channel depth",
            "layer boundary",
            "papillary dermis",
        ],
    );
    assert_eq!(png_size(&std::fs::read(dir.join("plots/dose_profile.png")).unwrap()), size);

    // The summary carries what the profile chart draws its layer boundaries from.
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let tops: Vec<f64> = summary["delivery"]["sessions"][0]["layer_tops_um"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["top_um"].as_f64().unwrap())
        .collect();
    assert_eq!(tops.len(), 4);
    assert_eq!(tops[0], 0.0);
    assert!(tops.windows(2).all(|w| w[0] < w[1]), "layers start deeper and deeper: {tops:?}");

    let page = std::fs::read_to_string(dir.join("report.html")).unwrap();
    for id in ["delivery", "fig-dose", "fig-dose_profile"] {
        assert!(page.contains(&format!("id=\"{id}\"")), "{id} missing from the report");
    }
    assert!(
        page.contains("<a href=\"#delivery\">Delivered dose</a>"),
        "the section is in the contents"
    );
    // `dermasim report` rebuilds the same page from the folder, delivery included.
    ok(&["report", dir.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(dir.join("report.html")).unwrap(), page);
    checked_files(&dir);
}

#[test]
fn a_run_without_a_topical_writes_no_dose_charts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    ok(&[
        "run",
        &repo("examples/default.toml"),
        "--out",
        dir.to_str().unwrap(),
        "--outputs",
        "plots_svg,plots_png,report",
    ]);
    let (files, _) = checked_files(&dir);
    assert!(files.contains("plots/timeline.svg"));
    for f in DOSE_FILES {
        assert!(!files.contains(f), "{f} written without a topical");
    }
    assert!(!std::fs::read_to_string(dir.join("report.html")).unwrap().contains("id=\"delivery\""));
}

fn patient(name: &str) -> String {
    repo(&format!("examples/patients/{name}.toml"))
}

#[test]
fn plan_chart_writes_a_forecast_svg_or_png_and_the_handout_refers_to_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (svg, md) = (tmp.path().join("charts/forecast.svg"), tmp.path().join("handout.md"));
    std::fs::create_dir(tmp.path().join("charts")).unwrap();
    let p = patient("acne_scars_type_iv");
    ok(&[
        "plan",
        &p,
        "--members",
        "4",
        "--chart",
        svg.to_str().unwrap(),
        "--markdown",
        md.to_str().unwrap(),
    ]);
    let (text, size) = svg_text(&std::fs::read_to_string(&svg).unwrap());
    let first_sentence = "dermasim is a research and planning aid, not a medical device.";
    assert!(dermasim::DISCLAIMER.starts_with(first_sentence));
    assert_texts(
        "forecast",
        &text,
        &[
            "time after the first session (days)",
            "total collagen (relative, 1 = unchanged)",
            "central run",
            "5-95 % of the ensemble",
            "1 = unchanged",
            "treatment session",
            "S1",
            "S3",
            "Plan 1:",
            "cheek",
            first_sentence,
        ],
    );
    let handout = std::fs::read_to_string(&md).unwrap();
    assert!(
        handout.contains("](charts/forecast.svg)"),
        "the handout links the chart by its relative name"
    );

    let png = tmp.path().join("charts/forecast.png");
    ok(&["plan", &p, "--members", "4", "--chart", png.to_str().unwrap()]);
    assert_eq!(png_size(&std::fs::read(&png).unwrap()), size, "PNG at the SVG's size");
    let left: Vec<_> = std::fs::read_dir(tmp.path().join("charts"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 2, "no temporary files left: {left:?}");
}

#[test]
fn plan_chart_is_not_written_when_the_plan_is_refused_or_the_name_is_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let chart = tmp.path().join("forecast.svg");
    let out = dermasim(&["plan", &patient("active_herpes"), "--chart", chart.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "refused");
    let jpg = tmp.path().join("forecast.jpg");
    let out = dermasim(&[
        "plan",
        &patient("acne_scars_type_iv"),
        "--members",
        "4",
        "--chart",
        jpg.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--chart"));
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0, "nothing written");
}

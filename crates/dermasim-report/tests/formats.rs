//! Every output format read back by an independent reader: Parquet by the arrow reader, `.vti`
//! and SVG by an XML parser, PNG by a PNG decoder; and the run folder's manifest against the
//! files really there, for several output selections.

use std::collections::BTreeSet;
use std::io::Cursor;
use std::path::Path;

use base64::Engine;
use dermasim::kinetics::species::{self as sp, COUNT, NAMES};
use dermasim::tissue::Layer;
use dermasim::{Fidelity, ParameterSet, Scenario, Simulation, Summary};
use dermasim_io::{Manifest, OutputKind, Outputs, RunFolder, ScenarioFile, Sink};
use dermasim_report::plots::{self, Chart};
use dermasim_report::{vtk, Capture, RunData};

/// A 3d case small enough for a test: 4 x 3 voxels of 50 um, coarse depth, 8 days.
fn tiny(fidelity: Fidelity) -> ScenarioFile {
    let mut s = Scenario::default_scenario();
    s.protocol.follow_up_days = 8.0;
    s.protocol.sessions.truncate(1);
    s.simulation.fidelity = fidelity;
    s.simulation.patch_um = [200.0, 150.0];
    s.simulation.dx_um = 50.0;
    s.simulation.dz_um = 100.0;
    let outputs = Outputs { snapshot_days: vec![0.0, 2.0, 8.0], ..Outputs::default() };
    ScenarioFile { scenario: s, outputs }
}

fn run(file: &ScenarioFile, fields: bool) -> (Summary, Capture) {
    let base = ParameterSet::default_set();
    let days = file.outputs.days(&file.scenario.protocol);
    let mut sim = Simulation::with_options(&file.scenario, &base, Capture::options(&days)).unwrap();
    let mut cap = Capture::new(&sim, &days, fields);
    let summary = sim.run(&mut |x| cap.observe(x)).unwrap();
    (summary, cap)
}

fn with_bands(mut s: Summary) -> Summary {
    // Stand-in bands, as the ensemble writes them, so the band columns are exercised.
    for p in &mut s.timeline {
        for (name, v) in p.columns().into_iter().skip(1) {
            p.bands.insert(format!("{name}_p05"), 0.9 * v);
            p.bands.insert(format!("{name}_p95"), 1.1 * v);
        }
    }
    s
}

#[test]
fn parquet_reads_back_with_the_arrow_reader() {
    use arrow_array::{Array, Float64Array};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let (summary, _) = run(&tiny(Fidelity::One), false);
    for s in [summary.clone(), with_bands(summary)] {
        let bytes = dermasim_report::parquet::timeseries_parquet(&s).unwrap();
        let mut file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut file, &bytes).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
        let batches: Vec<_> = reader.map(|b| b.unwrap()).collect();
        let schema = batches[0].schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        // The same columns as the CSV, in the same order.
        let csv = dermasim_io::timeseries_csv(&s);
        assert_eq!(names.join(","), csv.lines().next().unwrap());
        // Every column is a quantity of the observables table or its band.
        assert!(names
            .iter()
            .all(|n| *n == "t_day" || dermasim::OBSERVABLES.iter().any(|o| n.starts_with(o.name))));
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, s.timeline.len());
        for (c, name) in names.iter().enumerate() {
            let mut i = 0;
            for b in &batches {
                let col =
                    b.column(c).as_any().downcast_ref::<Float64Array>().expect("DOUBLE columns");
                assert_eq!(col.null_count(), 0);
                for v in col.values().iter() {
                    assert_eq!(*v, s.timeline[i].get(name).unwrap(), "{name} row {i}");
                    i += 1;
                }
            }
        }
    }
}

/// Decode an inline binary `.vti` array: UInt64 byte count, then little-endian values.
fn decode(array: roxmltree::Node) -> Vec<u8> {
    let raw =
        base64::engine::general_purpose::STANDARD.decode(array.text().unwrap().trim()).unwrap();
    let n = u64::from_le_bytes(raw[..8].try_into().unwrap()) as usize;
    assert_eq!(raw.len(), 8 + n, "header counts the bytes that follow");
    raw[8..].to_vec()
}

#[test]
fn vti_parses_as_image_data_with_the_right_dimensions_spacing_and_arrays() {
    let (_, cap) = run(&tiny(Fidelity::Three), true);
    let g = cap.grid().clone();
    assert_eq!(cap.snapshots.len(), 3);
    let (dz, samples) = vtk::depth_samples(&g);
    let snap = &cap.snapshots[1];
    let text = vtk::vti(&g, cap.reference(), snap);
    let doc = roxmltree::Document::parse(&text).unwrap();
    let root = doc.root_element();
    assert_eq!(root.attribute("type"), Some("ImageData"));
    let image = root.children().find(|n| n.has_tag_name("ImageData")).unwrap();
    let extent: Vec<usize> =
        image.attribute("WholeExtent").unwrap().split(' ').map(|x| x.parse().unwrap()).collect();
    assert_eq!(extent, [0, g.nx, 0, g.ny, 0, samples.len()]);
    let spacing: Vec<f64> =
        image.attribute("Spacing").unwrap().split(' ').map(|x| x.parse().unwrap()).collect();
    assert_eq!(spacing[..2], [50.0, 50.0]);
    assert!((spacing[2] - dz).abs() < 1e-12);
    let origin: Vec<f64> =
        image.attribute("Origin").unwrap().split(' ').map(|x| x.parse().unwrap()).collect();
    let total: f64 = g.hz.iter().sum();
    assert!((origin[2] + total).abs() < 1e-6, "the top of the image is the skin surface");
    let time = doc.descendants().find(|n| n.attribute("Name") == Some("TimeValue")).unwrap();
    assert_eq!(time.text().unwrap().trim().parse::<f64>().unwrap(), snap.t_day);

    let cells = g.nx * g.ny * samples.len();
    let arrays: Vec<roxmltree::Node> = doc
        .descendants()
        .filter(|n| n.has_tag_name("DataArray") && n.parent().unwrap().has_tag_name("CellData"))
        .collect();
    let names: Vec<&str> = arrays.iter().map(|a| a.attribute("Name").unwrap()).collect();
    let mut expected: Vec<&str> = NAMES.to_vec();
    expected.extend(["collagen_total_rel", "layer"]);
    assert_eq!(names, expected);
    let floats = |a: &roxmltree::Node| -> Vec<f32> {
        decode(*a).chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect()
    };
    for a in &arrays[..COUNT + 1] {
        assert_eq!(a.attribute("type"), Some("Float32"));
        assert_eq!(floats(a).len(), cells, "{}", a.attribute("Name").unwrap());
    }
    // VTK order: x fastest, then y, then z from the bottom up; the top sample is depth cell 0.
    let n = floats(&arrays[sp::N]);
    let len = g.len();
    for (m, &k) in samples.iter().enumerate() {
        let vz = samples.len() - 1 - m;
        for j in 0..g.ny {
            for i in 0..g.nx {
                let got = n[(vz * g.ny + j) * g.nx + i];
                assert_eq!(got, snap.fields[sp::N * len + g.idx(k, j, i)]);
            }
        }
    }
    let layer = decode(arrays[COUNT + 1]);
    assert_eq!(layer.len(), cells);
    assert_eq!(layer[0], 3, "bottom: reticular dermis");
    assert_eq!(*layer.last().unwrap(), 0, "top: stratum corneum");
    assert!(layer.windows(2).all(|w| w[1] <= w[0]), "layers never go deeper upwards");
    // Relative collagen is 1 at rest, undefined above the dermis.
    let rest = vtk::vti(&g, cap.reference(), &cap.snapshots[0]);
    let doc0 = roxmltree::Document::parse(&rest).unwrap();
    let rel =
        doc0.descendants().find(|n| n.attribute("Name") == Some("collagen_total_rel")).unwrap();
    for (v, l) in floats(&rel).iter().zip(&layer) {
        if Layer::ALL[*l as usize].is_dermis() {
            assert!((v - 1.0).abs() < 1e-6);
        } else {
            assert!(v.is_nan());
        }
    }

    let files: Vec<(f64, String)> =
        cap.snapshots.iter().map(|s| (s.t_day, vtk::snapshot_name(s.t_day))).collect();
    let pvd = vtk::pvd(&files);
    let doc = roxmltree::Document::parse(&pvd).unwrap();
    let sets: Vec<(f64, &str)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("DataSet"))
        .map(|n| (n.attribute("timestep").unwrap().parse().unwrap(), n.attribute("file").unwrap()))
        .collect();
    assert_eq!(sets, [(0.0, "day_0000.vti"), (2.0, "day_0002.vti"), (8.0, "day_0008.vti")]);
}

fn all_text(svg: &str) -> String {
    let doc = roxmltree::Document::parse(svg)
        .unwrap_or_else(|e| panic!("SVG is not well-formed XML: {e}"));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join(" | ")
}

#[test]
fn charts_are_well_formed_svg_and_png_of_their_size_with_units_and_legends() {
    let s3 = tiny(Fidelity::Three);
    let (summary, cap) = run(&s3, false);
    let summary = with_bands(summary);
    let timeline = plots::TimelineChart { summary: &summary };
    let cells = plots::CellsChart { summary: &summary };
    let profiles = plots::ProfilesChart { profiles: &cap.profiles };
    let section = plots::SectionChart {
        sections: &cap.sections,
        column: "collagen_total_rel",
        label: "total collagen, relative to rest",
    };
    let punctures = plots::PunctureChart {
        scenario: &s3.scenario,
        session: 0,
        channel_radius_um: summary.sessions[0].channel_radius_um,
    };
    // Axis text with units, and legend entries, per chart.
    check_chart(
        &timeline,
        &[
            "time since day 0 (days)",
            "relative to before treatment",
            "collagen I",
            "collagen III",
            "total collagen",
            "elastin",
            "epidermal thickness",
            "treatment session",
            "5-95 %",
            "S1",
        ],
    );
    check_chart(
        &cells,
        &[
            "time since day 0 (days)",
            "(Cooper 2015 units)",
            "neutrophils",
            "macrophages",
            "fibroblasts",
            "treatment session",
            "S1",
        ],
    );
    check_chart(
        &profiles,
        &["depth below the surface (µm)", "day 0", "day 2", "day 8", "layer boundary"],
    );
    check_chart(
        &section,
        &["depth below the surface (µm)", "x (µm)", "day 2", "total collagen, relative to rest"],
    );
    check_chart(&punctures, &["x (µm)", "y (µm)", "needle channel", "Punctures of session 1"]);
}

fn check_chart(chart: &impl Chart, texts: &[&str]) {
    let fig = plots::render(chart, true).unwrap();
    let text = all_text(&fig.svg);
    for t in texts {
        assert!(text.contains(t), "{}: no `{t}` in the SVG text: {text}", fig.name);
    }
    let mut reader = png::Decoder::new(Cursor::new(fig.png.as_ref().unwrap())).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), chart.size(), "{}", fig.name);
    assert_eq!(fig.size, chart.size());
    // Not blank: white background plus drawn lines, text and fills.
    let colours: BTreeSet<&[u8]> = buf[..info.buffer_size()].chunks(3).collect();
    assert!(colours.len() > 20, "{}: only {} colours", fig.name, colours.len());
    // SVG alone (report, plots_svg) draws the same picture without the PNG.
    assert_eq!(plots::render(chart, false).unwrap().svg, fig.svg);
}

/// Write a run folder as the CLI does, for one output selection.
fn write_folder(
    dir: &Path,
    file: &ScenarioFile,
    summary: &Summary,
    cap: &Capture,
    kinds: &BTreeSet<OutputKind>,
) {
    let base = ParameterSet::default_set();
    let mut folder = RunFolder::create(dir, "--out").unwrap();
    folder
        .write(
            "summary.json",
            "summary",
            "run summary",
            serde_json::to_string_pretty(summary).unwrap().as_bytes(),
        )
        .unwrap();
    folder
        .write(
            "scenario.json",
            "scenario",
            "scenario",
            serde_json::to_string_pretty(file).unwrap().as_bytes(),
        )
        .unwrap();
    let s = &file.scenario;
    let set = s.parameter_set(&base).unwrap();
    let run = RunData {
        scenario: file,
        summary,
        parameters: Some(&set),
        profiles: &cap.profiles,
        sections: &cap.sections,
        extra: &[],
    };
    dermasim_report::write_outputs(&mut folder, &run, Some(cap), kinds).unwrap();
    folder
        .commit(Manifest {
            program: "dermasim".into(),
            version: "test".into(),
            created_utc: dermasim_io::utc_now(),
            command: vec![],
            scenario_hash: dermasim_io::scenario_hash(file),
            seed: s.simulation.seed,
            fidelity: s.simulation.fidelity.as_str().into(),
            threads: 1,
            wall_time_s: 0.0,
            parameter_set: summary.parameter_set.clone(),
            ensemble_members: None,
            resumed_from_day: None,
            warnings: vec![],
            files: vec![],
            disclaimer: dermasim::DISCLAIMER.into(),
        })
        .unwrap();
}

/// Every file under `dir`, relative, with `/` separators.
fn files_in(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out
}

/// Manifest paths and the byte counts it gives (the manifest's own entry has none).
fn manifest_of(dir: &Path) -> Vec<(String, u64, String)> {
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["bytes"].as_u64().unwrap(),
                f["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn assert_manifest_matches(dir: &Path) -> BTreeSet<String> {
    let listed = manifest_of(dir);
    let on_disk = files_in(dir);
    let names: BTreeSet<String> = listed.iter().map(|f| f.0.clone()).collect();
    assert_eq!(names.len(), listed.len(), "no file listed twice");
    assert_eq!(names, on_disk, "the manifest lists exactly the folder's files");
    for (path, bytes, kind) in &listed {
        assert!(!kind.is_empty());
        if path != "manifest.json" {
            assert_eq!(*bytes, std::fs::metadata(dir.join(path)).unwrap().len(), "{path}");
        }
    }
    on_disk
}

#[test]
fn fewer_outputs_write_fewer_files_and_the_manifest_always_matches_the_folder() {
    use OutputKind::*;
    let s = tiny(Fidelity::Three);
    let (summary, cap) = run(&s, true);
    let tmp = tempfile::tempdir().unwrap();
    let selections: Vec<Vec<OutputKind>> = vec![
        vec![],
        vec![TimeseriesCsv],
        vec![TimeseriesCsv, TimeseriesParquet, PlotsSvg],
        vec![Report],
        OutputKind::ALL.to_vec(),
    ];
    let mut previous: Option<BTreeSet<String>> = None;
    let mut all = Vec::new();
    for (i, sel) in selections.iter().enumerate() {
        let dir = tmp.path().join(format!("run{i}"));
        let o = Outputs { write: Some(sel.clone()), ..Default::default() };
        let kinds = o.resolved(s.scenario.simulation.fidelity);
        write_folder(&dir, &s, &summary, &cap, &kinds);
        let files = assert_manifest_matches(&dir);
        for fixed in ["manifest.json", "summary.json", "scenario.json"] {
            assert!(files.contains(fixed), "{fixed} is always written");
        }
        if i < 3 {
            if let Some(p) = &previous {
                assert!(p.is_subset(&files) && p.len() < files.len(), "selection {i} adds files");
            }
            previous = Some(files.clone());
        }
        all.push(files);
    }
    assert_eq!(all[0].len(), 3, "no outputs: only the fixed files");
    assert!(all[1].contains("timeseries.csv") && !all[1].contains("timeseries.parquet"));
    // The report brings what it is rebuilt from, and nothing else.
    assert_eq!(
        all[3].iter().map(String::as_str).collect::<Vec<_>>(),
        [
            "manifest.json",
            "parameters.json",
            "profiles.csv",
            "report.html",
            "scenario.json",
            "sections.csv",
            "summary.json"
        ]
    );
    let everything = &all[4];
    assert!(all.iter().all(|f| f.is_subset(everything)));
    for f in [
        "fields/snapshots.pvd",
        "fields/day_0000.vti",
        "fields/day_0002.vti",
        "fields/day_0008.vti",
        "plots/timeline.png",
        "plots/cross_section.svg",
        "timeseries.parquet",
    ] {
        assert!(everything.contains(f), "{f} missing from {everything:?}");
    }
}

#[test]
fn the_report_is_self_contained_and_rebuilt_identically_from_its_folder() {
    let s = tiny(Fidelity::Three);
    let (summary, cap) = run(&s, false);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    write_folder(&dir, &s, &summary, &cap, &[OutputKind::Report].into_iter().collect());
    let first = std::fs::read_to_string(dir.join("report.html")).unwrap();
    for banned in ["http://", "https://", "<script", "<link", "src=", "url(", "@import"] {
        assert!(!first.contains(banned), "the report must not reference `{banned}`");
    }
    assert!(first.contains(dermasim::DISCLAIMER));
    assert!(first.contains(&summary.parameter_set));
    for id in
        ["fig-timeline", "fig-cells", "fig-depth_profiles", "fig-cross_section", "fig-punctures"]
    {
        assert!(first.contains(&format!("id=\"{id}\"")), "{id} missing");
    }
    // Every parameter of the set, with its grade, is in the evidence table.
    let set = s.scenario.parameter_set(&ParameterSet::default_set()).unwrap();
    for name in set.param.keys() {
        assert!(first.contains(&format!("<td>{name}</td>")), "parameter {name} missing");
    }

    std::fs::remove_file(dir.join("report.html")).unwrap();
    dermasim_report::rebuild_report(&dir, &[]).unwrap();
    let rebuilt = std::fs::read_to_string(dir.join("report.html")).unwrap();
    if let Some(i) = rebuilt.bytes().zip(first.bytes()).position(|(a, b)| a != b) {
        panic!(
            "rebuilt report differs at byte {i}: `{}` vs `{}`",
            &rebuilt[i.saturating_sub(200)..(i + 100).min(rebuilt.len())],
            &first[i.saturating_sub(200)..(i + 100).min(first.len())]
        );
    }
    assert_eq!(rebuilt.len(), first.len(), "rebuilt from the folder alone");
    assert_manifest_matches(&dir);

    // Extra sections of later layers join the page.
    let extra = dermasim_report::Section {
        id: "dose".into(),
        title: "Delivered dose".into(),
        html: maud::html! { p { "dose table" } },
        figures: vec![],
    };
    dermasim_report::rebuild_report(&dir, &[extra]).unwrap();
    let page = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(page.contains("<h2>Delivered dose</h2>") && page.contains("href=\"#dose\""));
    assert_manifest_matches(&dir);

    let missing = tmp.path().join("nothing");
    std::fs::create_dir(&missing).unwrap();
    let e = dermasim_report::rebuild_report(&missing, &[]).unwrap_err().to_string();
    assert!(e.contains("manifest.json") && e.contains("run folder"), "{e}");
}

/// `tiny` at 1d with a vitamin C serum after the session, and its delivery report.
fn with_topical() -> (ScenarioFile, Summary) {
    let mut s = tiny(Fidelity::One);
    s.scenario.topical = Some(dermasim::delivery::Topical {
        compound: "ascorbic_acid".into(),
        concentration_mg_per_ml: 150.0,
        amount_ul_per_cm2: 2.0,
        start_h: 0.0,
        duration_h: 8.0,
        occlusion: false,
        skin: Default::default(),
        report_h: Some(24.0),
        profile_hours: Some(vec![1.0, 4.0, 24.0]),
        channel_patency: None,
    });
    let (mut summary, _) = run(&s, false);
    let prepared = s
        .clone()
        .prepare(dermasim::tissue::SiteTable::shared(), &ParameterSet::default_set())
        .unwrap();
    summary.delivery = Some(dermasim::delivery::deliver(prepared.prepared()).unwrap());
    (s, summary)
}

#[test]
fn dose_and_forecast_charts_are_well_formed_with_units_and_legends() {
    let (_, summary) = with_topical();
    let d = summary.delivery.as_ref().unwrap();
    check_chart(
        &plots::DoseChart { delivery: d },
        &[
            "time after needling (h)",
            "delivered to the dermis (µg/cm²)",
            "session 1: needled skin",
            "session 1: intact skin",
            "t50",
            "t90",
            "product on the skin",
        ],
    );
    check_chart(
        &plots::DoseProfileChart { delivery: d },
        &[
            "depth below the surface (µm)",
            "concentration (µg/mL)",
            "1 h after needling",
            "4 h after needling",
            "24 h after needling",
            "channel depth",
            "layer boundary",
            "epidermis",
            "papillary dermis",
        ],
    );

    let banded = with_bands(run(&tiny(Fidelity::Zero), false).0);
    let panel = |title: &str| plots::ForecastPanel {
        title: title.into(),
        session_days: vec![0.0],
        timeline: banded.timeline.clone(),
    };
    let note = plots::first_sentence(dermasim::DISCLAIMER);
    assert!(note.ends_with("not a medical device."), "{note}");
    let one = plots::ForecastChart {
        panels: vec![panel("Plan 1: acne scars at the cheek")],
        note: note.into(),
    };
    let two = plots::ForecastChart {
        panels: vec![
            panel("Plan 1: acne scars at the cheek"),
            panel("Plan 2: fine lines at the forehead"),
        ],
        note: note.into(),
    };
    let texts = [
        "time after the first session (days)",
        "(relative, 1 = unchanged)",
        "central run",
        "5-95 % of the ensemble",
        "1 = unchanged",
        "S1",
        note,
    ];
    check_chart(&one, &[&texts[..], &["Plan 1: acne scars at the cheek"]].concat());
    check_chart(
        &two,
        &[&texts[..], &["Plan 1: acne scars at the cheek", "Plan 2: fine lines at the forehead"]]
            .concat(),
    );
    assert!(two.size().1 > one.size().1, "one panel more, a taller figure");
    assert!(
        plots::render(&plots::ForecastChart { panels: vec![], note: note.into() }, false).is_err(),
        "no plans, no chart"
    );

    // Two runs on one chart (the web app's comparison): each run's line in its own colour and
    // the band only where the run was an ensemble.
    let single = run(&tiny(Fidelity::Zero), false).0;
    let compare = plots::CompareChart {
        series: vec![
            plots::CompareSeries {
                label: "Run 1 ensemble".into(),
                timeline: banded.timeline.clone(),
            },
            plots::CompareSeries {
                label: "Run 2 single".into(),
                timeline: single.timeline.clone(),
            },
        ],
        note: note.into(),
    };
    check_chart(
        &compare,
        &[
            "Run 1 ensemble: central run",
            "Run 1 ensemble: 5-95 %",
            "Run 2 single: central run",
            "1 = unchanged",
            note,
        ],
    );
    let svg = plots::render(&compare, false).unwrap().svg;
    assert!(!all_text(&svg).contains("Run 2 single: 5-95 %"), "a single run has no band");
    for c in [plots::colour(0), plots::colour(1)] {
        let hex = format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2);
        assert!(svg.to_uppercase().contains(&hex), "no line in {hex}");
    }
    assert!(
        plots::render(&plots::CompareChart { series: vec![], note: note.into() }, false).is_err(),
        "no runs, no chart"
    );
}

#[test]
fn delivery_charts_join_the_folder_and_the_report_only_with_a_topical() {
    let (s, summary) = with_topical();
    let (_, cap) = run(&s, false);
    let tmp = tempfile::tempdir().unwrap();
    let dose =
        ["plots/dose.svg", "plots/dose.png", "plots/dose_profile.svg", "plots/dose_profile.png"];
    for (name, summary) in
        [("with", summary.clone()), ("without", Summary { delivery: None, ..summary.clone() })]
    {
        let dir = tmp.path().join(name);
        write_folder(&dir, &s, &summary, &cap, &OutputKind::ALL.iter().copied().collect());
        let files = assert_manifest_matches(&dir);
        let page = std::fs::read_to_string(dir.join("report.html")).unwrap();
        let present = name == "with";
        for f in dose {
            assert_eq!(files.contains(f), present, "{name}: {f}");
        }
        assert_eq!(page.contains("id=\"delivery\""), present);
        assert_eq!(page.contains("id=\"fig-dose_profile\""), present);
        // Rebuilt from the folder alone, delivery part included.
        dermasim_report::rebuild_report(&dir, &[]).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("report.html")).unwrap(), page, "{name}");
        assert_manifest_matches(&dir);
    }
}

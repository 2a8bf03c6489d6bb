pub mod bench;
pub mod clinic;
pub mod cohort;
pub mod deliver;
pub mod evidence;
pub mod model;
pub mod run;
pub mod sbml;
pub mod serve;

use anyhow::{bail, Result};
use dermasim::tissue::SiteTable;

/// Scenarios shipped in `examples/`, embedded so `init` works anywhere.
pub const EXAMPLES: [(&str, &str, &str); 8] = [
    (
        "default",
        "cheek, pen 1.5 mm, 3 sessions 4 weeks apart, 180 days",
        include_str!("../../../../examples/default.toml"),
    ),
    (
        "acne_scars_cheek",
        "acne scars on the cheek: pen 1.5 mm, 3 sessions 4 weeks apart",
        include_str!("../../../../examples/acne_scars_cheek.toml"),
    ),
    (
        "fine_lines_forehead",
        "fine lines on the forehead: pen 0.5 mm",
        include_str!("../../../../examples/fine_lines_forehead.toml"),
    ),
    (
        "home_roller",
        "home roller 0.25 mm on the cheek, weekly",
        include_str!("../../../../examples/home_roller.toml"),
    ),
    (
        "stretch_marks_abdomen",
        "stretch marks on the abdomen: roller 2.0 mm, 5 sessions monthly",
        include_str!("../../../../examples/stretch_marks_abdomen.toml"),
    ),
    (
        "delivery_hyaluronic_home_roller",
        "hyaluronic acid after a 0.25 mm home roller",
        include_str!("../../../../examples/delivery_hyaluronic_home_roller.toml"),
    ),
    (
        "delivery_vitamin_c_pen",
        "vitamin C serum after a 0.5 mm pen",
        include_str!("../../../../examples/delivery_vitamin_c_pen.toml"),
    ),
    (
        "delivery_growth_factor_occluded",
        "growth factors after 1.5 mm under occlusion",
        include_str!("../../../../examples/delivery_growth_factor_occluded.toml"),
    ),
];

pub fn init(example: Option<&str>, list: bool) -> Result<()> {
    if list {
        for (name, what, _) in EXAMPLES {
            outln!("{name:24} {what}");
        }
        return Ok(());
    }
    let name = example.unwrap_or("default");
    match EXAMPLES.iter().find(|(n, _, _)| *n == name) {
        Some((_, _, text)) => {
            out!("{text}");
            Ok(())
        }
        None => {
            let names: Vec<&str> = EXAMPLES.iter().map(|e| e.0).collect();
            bail!("unknown example `{name}`; known: {}", names.join(", "))
        }
    }
}

pub fn report(dir: &std::path::Path) -> Result<()> {
    let path = dermasim_report::rebuild_report(dir, &[])?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

pub fn sites(json: bool) -> Result<()> {
    let table = SiteTable::embedded();
    if json {
        outln!("{}", serde_json::to_string_pretty(&serde_json::json!({ "sites": table.site }))?);
        return Ok(());
    }
    outln!(
        "{:<12} {:>7} {:>7} {:>8} {:>10}  {:<11} grades (SC/epi/dermis)",
        "site",
        "SC um",
        "epi um",
        "dermis",
        "total mm",
        "depth mm"
    );
    for s in &table.site {
        let total = s.stratum_corneum_um.value + s.epidermis_um.value + s.dermis_um.value;
        outln!(
            "{:<12} {:>7.1} {:>7.1} {:>8.0} {:>10.2}  {:<11} {:?}/{:?}/{:?}",
            s.id,
            s.stratum_corneum_um.value,
            s.epidermis_um.value,
            s.dermis_um.value,
            total / 1000.0,
            format!("{}-{}", s.practice_depth_thin_mm.value, s.practice_depth_thick_mm.value),
            s.stratum_corneum_um.grade,
            s.epidermis_um.grade,
            s.dermis_um.grade
        );
    }
    outln!("\ndepth mm: common-practice needle depth for thin-thick skin (grade L). Sources: data/sites.toml, or `dermasim sites --json`.");
    Ok(())
}

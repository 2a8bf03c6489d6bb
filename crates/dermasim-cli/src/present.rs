//! Human-readable output.

use dermasim::Summary;

/// Days shown in the summary table, when the run covers them.
const DAYS: [f64; 12] = [0.0, 1.0, 3.0, 7.0, 14.0, 28.0, 56.0, 84.0, 120.0, 180.0, 270.0, 365.0];

pub fn summary(s: &Summary, wall_s: f64) {
    outln!(
        "dermasim {} | {} | site {} | fidelity {} | seed {}",
        s.version,
        s.scenario_name.as_deref().unwrap_or("scenario"),
        s.site,
        s.fidelity,
        s.seed
    );
    outln!("parameters: {}", s.parameter_set);
    outln!(
        "skin: stratum corneum {:.0} um, epidermis {:.0} um, papillary dermis {:.0} um, reticular dermis {:.0} um",
        s.layers_um.stratum_corneum, s.layers_um.epidermis, s.layers_um.papillary_dermis, s.layers_um.reticular_dermis
    );
    outln!("\nsessions:");
    outln!(
        "  {:>5}  {:<7} {:>10} {:>10} {:>9} {:>8}  bleeding",
        "day",
        "device",
        "punct/cm2",
        "needle um",
        "depth um",
        "dermis%"
    );
    for x in &s.sessions {
        outln!(
            "  {:>5.0}  {:<7} {:>10.0} {:>10.0} {:>9.0} {:>8.2}  {:?}",
            x.day,
            x.device,
            x.punctures_per_cm2,
            x.nominal_depth_um,
            x.effective_depth_um,
            100.0 * x.dermis_injured_fraction,
            x.bleeding
        );
    }
    outln!("\ntimeline (relative to before treatment; 1.00 = unchanged):");
    outln!(
        "  {:>5} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10} {:>10}",
        "day",
        "coll I",
        "coll III",
        "coll tot",
        "elastin",
        "epiderm",
        "fibrobl",
        "neutroph",
        "macroph"
    );
    let end = s.last().t_day;
    let mut shown = Vec::new();
    for d in DAYS.iter().copied().filter(|&d| d <= end).chain([end]) {
        if let Some(p) = s.at(d) {
            if shown.iter().any(|&t: &f64| (t - p.t_day).abs() < 1e-9) {
                continue;
            }
            shown.push(p.t_day);
            outln!(
                "  {:>5.0} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>10.4} {:>10.4}",
                p.t_day,
                p.collagen_i_rel,
                p.collagen_iii_rel,
                p.collagen_total_rel,
                p.elastin_rel,
                p.epidermis_thickness_rel,
                p.fibroblasts_rel,
                p.neutrophils,
                p.macrophages
            );
        }
    }
    let e = &s.endpoints;
    outln!(
        "\npeaks: neutrophils day {:.1}, macrophages day {:.1}, fibroblasts day {:.1}, collagen III day {:.1}",
        e.neutrophil_peak_day, e.macrophage_peak_day, e.fibroblast_peak_day, e.collagen_iii_peak_day
    );
    outln!("computed in {wall_s:.2} s");
    outln!("\nNote: {}", s.disclaimer);
}

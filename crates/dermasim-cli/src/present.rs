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
    // The columns come from the observables table: a new quantity appears here by itself.
    let cols: Vec<&dermasim::Observable> =
        dermasim::OBSERVABLES.iter().filter(|o| !o.short.is_empty()).collect();
    let header: String = cols.iter().map(|o| format!(" {:>w$}", o.short, w = width(o))).collect();
    outln!("  {:>5}{header}", "day");
    let end = s.last().t_day;
    let mut shown = Vec::new();
    for d in DAYS.iter().copied().filter(|&d| d <= end).chain([end]) {
        if let Some(p) = s.at(d) {
            if shown.iter().any(|&t: &f64| (t - p.t_day).abs() < 1e-9) {
                continue;
            }
            shown.push(p.t_day);
            let row: String = cols
                .iter()
                .map(|o| {
                    let v = p.get(o.name).unwrap_or(f64::NAN);
                    format!(" {v:>w$.d$}", w = width(o), d = o.decimals)
                })
                .collect();
            outln!("  {:>5.0}{row}", p.t_day);
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

/// Column width in the CLI table: wide enough for the header and the decimals.
fn width(o: &dermasim::Observable) -> usize {
    (o.decimals + 6).max(o.short.len()).max(8)
}

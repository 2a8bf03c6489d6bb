//! `dermasim deliver FILE`: topical delivery through the channels of each session, and
//! `dermasim compounds`: the compound library.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use dermasim::delivery::{self, CompoundTable, DeliveryReport};
use dermasim::ParameterSet;
use dermasim_app::scenario::ScenarioSource;

#[derive(Args)]
pub struct DeliverArgs {
    /// Scenario file (TOML or JSON) with a `topical` section.
    file: PathBuf,
    /// Print the delivery report as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Override any scenario field for this run: PATH=VALUE (e.g. topical.occlusion=true).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    set: Vec<String>,
}

pub fn run(args: DeliverArgs) -> Result<()> {
    let source = ScenarioSource {
        file: Some(args.file.clone()),
        overrides: args.set.clone(),
        ..ScenarioSource::default()
    };
    let scenario = dermasim_app::scenario::load(&source, &ParameterSet::default_set())?;
    let report = dermasim_app::deliver::deliver(&scenario, &dermasim_app::NoObserver)?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print(&report);
        outln!("\nNote: {}", report.disclaimer);
    }
    Ok(())
}

/// Human-readable delivery section (also printed by `dermasim run`).
pub fn print(r: &DeliveryReport) {
    outln!(
        "topical: {} ({:.0} Da, log Kow {:.2}, intact-skin kp {:.2e} cm/h), {} mg/mL x {} uL/cm2 = {:.4} ug/cm2",
        r.compound_name, r.molecular_weight_da, r.log_kow, r.kp_cm_per_h, r.concentration_mg_per_ml, r.amount_ul_per_cm2, r.applied_ug_per_cm2
    );
    outln!(
        "  on {} h after needling for {} h{}, {} skin; report window {} h; channel patency {}",
        r.start_h,
        r.duration_h,
        if r.occlusion { " under occlusion" } else { "" },
        match r.skin {
            delivery::SkinState::Living => "living",
            delivery::SkinState::Excised => "excised",
        },
        r.report_h,
        r.channel_patency
    );
    outln!(
        "\n  {:>3} {:>5} {:<7} {:>8} {:>9} {:>12} {:>12} {:>10} {:>7} {:>7}",
        "#",
        "day",
        "device",
        "depth um",
        "punct/cm2",
        "dermis ug/cm2",
        "intact ug/cm2",
        "enhance",
        "t50 h",
        "t90 h"
    );
    let hours = |h: Option<f64>| h.map_or("never".to_string(), |h| format!("{h:.1}"));
    for s in &r.sessions {
        outln!(
            "  {:>3} {:>5.0} {:<7} {:>8.0} {:>9.0} {:>12.4e} {:>12.4e} {:>10} {:>7} {:>7}",
            s.session,
            s.day,
            s.device,
            s.effective_depth_um,
            s.punctures_per_cm2,
            s.dermis_dose_ug_per_cm2,
            s.intact_skin_dose_ug_per_cm2,
            s.enhancement_factor.map_or("n/a".to_string(), |e| format!("{e:.3}")),
            hours(s.channel_t50_h),
            hours(s.channel_t90_h)
        );
    }
    if let Some(s) = r.sessions.first() {
        outln!("\n  session 0 over time (h after needling):");
        outln!(
            "  {:>6} {:>13} {:>13} {:>11} {:>8}",
            "t h",
            "dermis ug/cm2",
            "intact ug/cm2",
            "on surface",
            "open"
        );
        for p in &s.dose_timeline {
            outln!(
                "  {:>6.1} {:>13.4e} {:>13.4e} {:>11.4e} {:>8.3}",
                p.t_h,
                p.dermis_dose_ug_per_cm2,
                p.intact_skin_dose_ug_per_cm2,
                p.on_surface_ug_per_cm2,
                p.channels_open_fraction
            );
        }
        outln!("\n  session 0 depth profiles (ug/mL):");
        let depths = [25.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1500.0];
        let mut head = format!("  {:>6}", "t h");
        for d in depths {
            head += &format!(" {:>10}", format!("{d:.0} um"));
        }
        outln!("{head}");
        for p in &s.profile {
            let mut line = format!("  {:>6.1}", p.t_h);
            for d in depths {
                let at = p.depth_um.iter().position(|&z| z >= d);
                line += &match at {
                    Some(k) if d >= p.depth_um[0] => {
                        format!(" {:>10.3e}", p.concentration_ug_per_ml[k])
                    }
                    _ => format!(" {:>10}", "-"),
                };
            }
            outln!("{line}");
        }
        let m = &s.mass_balance;
        outln!(
            "\n  mass balance (session 0, ug/cm2): applied {:.4e} = surface {:.4e} + skin {:.4e} + cleared {:.4e} (largest relative error {:.1e})",
            m.applied_ug_per_cm2, m.on_surface_ug_per_cm2, m.in_skin_ug_per_cm2, m.cleared_ug_per_cm2, m.max_relative_error
        );
    }
    outln!("  dermis dose: {}", r.dermis_dose_definition);
    for n in &r.notes {
        outln!("  note: {n}");
    }
}

/// `dermasim compounds`: the library with values and grades.
pub fn compounds(json: bool) -> Result<()> {
    let table = CompoundTable::embedded();
    if json {
        outln!("{}", serde_json::to_string_pretty(&table)?);
        return Ok(());
    }
    outln!(
        "{:<26} {:>10} {:>8} {:>11} {:>11} {:>10} {:>11}  grades (MW/logK/Dw/Dde/k)",
        "id",
        "MW Da",
        "log Kow",
        "Dw cm2/s",
        "Dde cm2/s",
        "k 1/h",
        "kp cm/h"
    );
    for c in &table.compound {
        outln!(
            "{:<26} {:>10.1} {:>8.2} {:>11.2e} {:>11.2e} {:>10.3} {:>11.2e}  {:?}/{:?}/{:?}/{:?}/{:?}",
            c.id,
            c.molecular_weight_da.value,
            c.log_kow.value,
            c.diffusivity_water_cm2_per_s.value,
            c.diffusivity_dermis_cm2_per_s.value,
            c.dermal_clearance_per_h.value,
            table.model.potts_guy_kp_cm_per_h(c),
            c.molecular_weight_da.grade,
            c.log_kow.grade,
            c.diffusivity_water_cm2_per_s.grade,
            c.diffusivity_dermis_cm2_per_s.grade,
            c.dermal_clearance_per_h.grade
        );
    }
    outln!("\nkp: Potts & Guy 1992 permeability of intact skin. Sources and notes: data/compounds.toml, or `dermasim compounds --json`.");
    Ok(())
}

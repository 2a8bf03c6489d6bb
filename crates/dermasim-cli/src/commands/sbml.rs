//! `dermasim sbml run|info|conformance`: SBML models through the dermasim-sbml importer.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Subcommand;

use super::model::Format;
use dermasim_sbml::doc::RuleKind;
use dermasim_sbml::{Column, Model, Options};

#[derive(Subcommand)]
pub enum SbmlAction {
    /// Import an SBML file (Level 2 or 3) and print its time course.
    Run {
        /// The SBML file.
        file: PathBuf,
        /// End time, in the model's time unit.
        #[arg(long)]
        end: f64,
        /// Output interval.
        #[arg(long)]
        every: f64,
        /// Start time.
        #[arg(long, default_value_t = 0.0)]
        start: f64,
        #[arg(long, value_enum, default_value_t = Format::Csv)]
        format: Format,
        /// Override a parameter, compartment size or species initial value: ID=VALUE.
        #[arg(long = "set", value_name = "ID=VALUE")]
        set: Vec<String>,
        /// Relative tolerance of the integrator.
        #[arg(long, default_value_t = 1e-8)]
        rtol: f64,
        /// Absolute tolerance of the integrator.
        #[arg(long, default_value_t = 1e-12)]
        atol: f64,
    },
    /// Summarise an SBML file: species, parameters, rules, reactions, events, support.
    Info {
        /// The SBML file.
        file: PathBuf,
    },
    /// Run the SBML Test Suite's semantic cases in DIR and print the pass table.
    Conformance {
        /// The suite folder (holding `semantic/`, or the case folders themselves).
        dir: PathBuf,
        /// Replace the table between the conformance markers of this Markdown file.
        #[arg(long, value_name = "FILE")]
        write: Option<PathBuf>,
        /// Print one line per case.
        #[arg(long)]
        verbose: bool,
    },
}

const BEGIN: &str = "<!-- conformance:begin -->";
const END: &str = "<!-- conformance:end -->";

fn read(file: &Path) -> Result<String> {
    std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
}

fn parse_sets(set: &[String]) -> Result<Vec<(String, f64)>> {
    set.iter()
        .map(|s| {
            let (k, v) =
                s.split_once('=').with_context(|| format!("--set: `{s}` is not ID=VALUE"))?;
            let v: f64 =
                v.trim().parse().with_context(|| format!("--set {k}: `{v}` is not a number"))?;
            if !v.is_finite() {
                bail!("--set {k}: {v} is not finite");
            }
            Ok((k.trim().to_string(), v))
        })
        .collect()
}

/// Columns printed by `run`: every species, then parameters and compartments that can change.
fn default_columns(model: &Model) -> Vec<String> {
    let d = model.document();
    let changes = |id: &str| {
        d.rules.iter().any(|r| r.variable == id)
            || d.events.iter().any(|e| e.assignments.iter().any(|(v, _)| v == id))
    };
    let mut cols: Vec<String> = d.species.iter().map(|s| s.id.clone()).collect();
    cols.extend(
        d.parameters.iter().filter(|p| !p.constant || changes(&p.id)).map(|p| p.id.clone()),
    );
    cols.extend(
        d.compartments.iter().filter(|c| !c.constant || changes(&c.id)).map(|c| c.id.clone()),
    );
    cols
}

pub fn run(action: SbmlAction) -> Result<()> {
    match action {
        SbmlAction::Run { file, end, every, start, format, set, rtol, atol } => {
            if !(end.is_finite() && start.is_finite() && end > start) {
                bail!("--end: {end} must be a number after --start ({start})");
            }
            if !(every.is_finite() && every > 0.0 && (end - start) / every <= 1e6) {
                bail!("--every: {every} must be above 0 and give at most 1e6 rows");
            }
            if !(rtol > 0.0 && rtol < 1.0 && atol > 0.0) {
                bail!("--rtol/--atol: must be positive (rtol below 1)");
            }
            let text = read(&file)?;
            let model = dermasim_sbml::load(&text, &parse_sets(&set)?)
                .with_context(|| format!("importing {}", file.display()))?;
            let steps = ((end - start) / every).round().max(1.0) as usize;
            let mut times: Vec<f64> =
                (0..=steps).map(|i| (start + i as f64 * every).min(end)).collect();
            times.dedup();
            if *times.last().unwrap() < end {
                times.push(end);
            }
            let ids = default_columns(&model);
            let cols: Vec<Column> = ids.iter().map(|s| Column::Value(s.clone())).collect();
            let opts = Options { rtol, atol, ..Options::default() };
            let tc = dermasim_sbml::run(&model, start, &times, &cols, opts)?;
            match format {
                Format::Csv => super::model::print_csv(&tc.columns, &tc.rows),
                Format::Json => {
                    let rows = super::model::json_rows(&tc.columns, &tc.rows);
                    let d = model.document();
                    outln!(
                        "{}",
                        serde_json::to_string_pretty(&serde_json::json!({
                            "file": file.display().to_string(),
                            "model": d.id,
                            "name": d.name,
                            "columns": tc.columns,
                            "rows": rows,
                        }))?
                    );
                }
            }
            Ok(())
        }
        SbmlAction::Info { file } => info(&file),
        SbmlAction::Conformance { dir, write, verbose } => {
            let report = dermasim_sbml::conformance::Report::run(&dir, &mut |c| {
                if verbose {
                    let what = match &c.outcome {
                        dermasim_sbml::conformance::Outcome::Passed => "passed".to_string(),
                        dermasim_sbml::conformance::Outcome::Failed(w) => format!("failed: {w}"),
                        dermasim_sbml::conformance::Outcome::Unsupported(w) => {
                            format!("unsupported: {w}")
                        }
                    };
                    eprintln!("{} {what}", c.id);
                }
            })
            .with_context(|| format!("reading {}", dir.display()))?;
            if report.cases.is_empty() {
                bail!("no case folders (NNNNN/) under {}", dir.display());
            }
            let date = dermasim_io::utc_now().chars().take(10).collect::<String>();
            let table = report.markdown(&date);
            match write {
                None => out!("{table}"),
                Some(path) => {
                    let doc = read(&path)?;
                    let (Some(a), Some(b)) = (doc.find(BEGIN), doc.find(END)) else {
                        bail!("{}: no `{BEGIN}` ... `{END}` markers", path.display());
                    };
                    if b < a {
                        bail!("{}: conformance markers out of order", path.display());
                    }
                    let new = format!("{}{BEGIN}\n{table}{}", &doc[..a], &doc[b..]);
                    std::fs::write(&path, new)
                        .with_context(|| format!("writing {}", path.display()))?;
                    let (p, f, u) = report.totals();
                    eprintln!("wrote {}: {p} passed, {f} failed, {u} unsupported", path.display());
                }
            }
            Ok(())
        }
    }
}

/// For a file the importer refuses while reading: what it holds, by element, and why.
fn outline(file: &Path, text: &str, why: &dermasim_sbml::Error) -> Result<()> {
    let xml = roxmltree::Document::parse(text)
        .map_err(|e| anyhow::anyhow!("reading {}: malformed SBML: {e}", file.display()))?;
    let root = xml.root_element();
    outln!(
        "{}: SBML Level {} Version {}",
        file.display(),
        root.attribute("level").unwrap_or("?"),
        root.attribute("version").unwrap_or("?")
    );
    for (list, item) in [
        ("listOfCompartments", "compartment"),
        ("listOfSpecies", "species"),
        ("listOfParameters", "parameter"),
        ("listOfRules", ""),
        ("listOfReactions", "reaction"),
        ("listOfEvents", "event"),
        ("listOfFunctionDefinitions", "functionDefinition"),
    ] {
        let ids: Vec<String> = xml
            .descendants()
            .filter(|n| n.tag_name().name() == list)
            .flat_map(|l| l.children().filter(|c| c.is_element()))
            .filter(|c| item.is_empty() || c.tag_name().name() == item)
            .map(|c| {
                let id = c.attribute("id").or(c.attribute("variable")).unwrap_or("");
                if item.is_empty() {
                    format!("{} {id}", c.tag_name().name())
                } else {
                    id.to_string()
                }
            })
            .collect();
        outln!("{list} ({}): {}", ids.len(), ids.join(", "));
    }
    bail!("not supported: {why}")
}

fn info(file: &Path) -> Result<()> {
    let text = read(file)?;
    let d = match dermasim_sbml::doc::parse(&text) {
        Ok(d) => d,
        Err(e @ dermasim_sbml::Error::Unsupported { .. }) => return outline(file, &text, &e),
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    };
    outln!("{}: SBML Level {} Version {}", file.display(), d.level, d.version);
    outln!(
        "model `{}`{}",
        d.id,
        if d.name.is_empty() { String::new() } else { format!(" ({})", d.name) }
    );
    let fmt = |v: Option<f64>| v.map(|x| format!("{x}")).unwrap_or_else(|| "-".into());
    outln!("\ncompartments ({}):", d.compartments.len());
    for c in &d.compartments {
        outln!(
            "  {:<16} size {} dims {}{}",
            c.id,
            fmt(c.size),
            c.dims,
            if c.constant { "" } else { " (varies)" }
        );
    }
    outln!("\nspecies ({}):", d.species.len());
    for s in &d.species {
        let init = match (s.initial_amount, s.initial_concentration) {
            (Some(a), _) => format!("amount {a}"),
            (None, Some(c)) => format!("concentration {c}"),
            _ => "no initial value".into(),
        };
        let mut flags = Vec::new();
        if s.only_substance {
            flags.push("amount-valued");
        }
        if s.boundary {
            flags.push("boundary");
        }
        if s.constant {
            flags.push("constant");
        }
        outln!("  {:<16} in {} {init} {}", s.id, s.compartment, flags.join(" "));
    }
    outln!("\nparameters ({}):", d.parameters.len());
    for p in &d.parameters {
        outln!("  {:<16} {}{}", p.id, fmt(p.value), if p.constant { "" } else { " (varies)" });
    }
    outln!("\ninitial assignments ({}):", d.initial_assignments.len());
    for (s, _) in &d.initial_assignments {
        outln!("  {s}");
    }
    outln!("\nrules ({}):", d.rules.len());
    for r in &d.rules {
        let k = match r.kind {
            RuleKind::Assignment => "assignment",
            RuleKind::Rate => "rate",
            RuleKind::Algebraic => "algebraic",
        };
        outln!("  {k:<10} {}", r.variable);
    }
    outln!("\nreactions ({}):", d.reactions.len());
    for r in &d.reactions {
        let side = |v: &[dermasim_sbml::doc::SpeciesRef]| {
            let s: Vec<String> = v
                .iter()
                .map(|x| {
                    if x.stoichiometry == 1.0 {
                        x.species.clone()
                    } else {
                        format!("{} {}", x.stoichiometry, x.species)
                    }
                })
                .collect();
            if s.is_empty() {
                "0".to_string()
            } else {
                s.join(" + ")
            }
        };
        outln!(
            "  {:<16} {} -> {}{}",
            r.id,
            side(&r.reactants),
            side(&r.products),
            if r.locals.is_empty() {
                String::new()
            } else {
                format!(" ({} local)", r.locals.len())
            }
        );
    }
    outln!("\nevents ({}):", d.events.len());
    for e in &d.events {
        let targets: Vec<&str> = e.assignments.iter().map(|(v, _)| v.as_str()).collect();
        outln!(
            "  {:<16} sets {}{}{}",
            e.id,
            targets.join(", "),
            if e.persistent { "" } else { " (not persistent)" },
            if e.initial_value { "" } else { " (fires at start if true)" }
        );
    }
    outln!("\nfunction definitions ({}):", d.functions.len());
    for f in &d.functions {
        outln!("  {}({})", f.id, f.args.join(", "));
    }
    match Model::compile(&d) {
        Ok(m) => {
            outln!(
                "\nsupported: yes. {} state(s), {} event(s), analytic Jacobian with {} non-zero entries",
                m.n_states(),
                m.n_events(),
                m.jacobian_nonzeros()
            );
            for w in m.warnings() {
                outln!("note: {w}");
            }
            Ok(())
        }
        Err(e) => bail!("not supported: {e}"),
    }
}

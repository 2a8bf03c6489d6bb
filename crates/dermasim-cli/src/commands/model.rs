use anyhow::{bail, Context, Result};
use clap::{Subcommand, ValueEnum};
use dermasim::models::{self, MODELS};
use dermasim::ode::Tolerance;
use dermasim::ParameterSet;

#[derive(Subcommand)]
pub enum ModelAction {
    /// List the reference models.
    List,
    /// Integrate one model and print its time course.
    Run {
        /// Model name (`dermasim model list`).
        name: String,
        /// Length of the run, days.
        #[arg(long, default_value_t = 20.0)]
        days: f64,
        /// Output interval, days.
        #[arg(long, default_value_t = 0.1)]
        every: f64,
        #[arg(long, value_enum, default_value_t = Format::Csv)]
        format: Format,
        /// Override a parameter or an initial value: NAME=VALUE (e.g. kpn=30, P=0).
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Csv,
    Json,
}

pub fn run(action: ModelAction) -> Result<()> {
    match action {
        ModelAction::List => {
            for m in MODELS {
                outln!(
                    "{:<20} {}\n{:<20} species: {}; source: {}",
                    m.name,
                    m.title,
                    "",
                    m.species.join(", "),
                    m.source
                );
            }
            Ok(())
        }
        ModelAction::Run { name, days, every, format, set } => {
            let info = models::find(&name)?;
            let mut params = ParameterSet::literature();
            let mut initial = Vec::new();
            for s in &set {
                let (k, v) =
                    s.split_once('=').with_context(|| format!("--set: `{s}` is not NAME=VALUE"))?;
                let v: f64 = v
                    .trim()
                    .parse()
                    .with_context(|| format!("--set {k}: `{v}` is not a number"))?;
                let k = k.trim();
                // Waugh-Sherratt parameters are stored with a ws_ prefix.
                let pname = if name == "waugh_sherratt2006" && !k.starts_with("ws_") {
                    format!("ws_{k}")
                } else {
                    k.to_string()
                };
                if info.species.contains(&k) {
                    initial.push((k.to_string(), v));
                } else if params.param.contains_key(&pname) {
                    params.set(&pname, v)?;
                } else {
                    bail!("--set {k}: not a parameter or species of {name}");
                }
            }
            let tc = models::run(&name, &params, &initial, days, every, Tolerance::REFERENCE)?;
            match format {
                Format::Csv => print_csv(&tc.columns, &tc.rows),
                Format::Json => {
                    let rows = json_rows(&tc.columns, &tc.rows);
                    outln!(
                        "{}",
                        serde_json::to_string_pretty(
                            &serde_json::json!({ "model": name, "source": info.source, "rows": rows })
                        )?
                    );
                }
            }
            Ok(())
        }
    }
}

/// A time course as CSV on stdout: a header, then one row per time (`dermasim model run` and
/// `dermasim sbml run`).
pub fn print_csv(columns: &[String], rows: &[Vec<f64>]) {
    outln!("{}", columns.join(","));
    for r in rows {
        let cells: Vec<String> = r.iter().map(|v| format!("{v:.12e}")).collect();
        outln!("{}", cells.join(","));
    }
}

/// A time course as JSON objects, one per time, keyed by column.
pub fn json_rows(columns: &[String], rows: &[Vec<f64>]) -> Vec<serde_json::Value> {
    rows.iter()
        .map(|r| {
            serde_json::Value::Object(
                columns.iter().cloned().zip(r.iter().map(|v| serde_json::json!(v))).collect(),
            )
        })
        .collect()
}

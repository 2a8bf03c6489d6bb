//! The SBML Test Suite's semantic cases: read a case folder (model, settings, expected
//! results, tags), run it at the suite's own tolerances and classify it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::sim::{run, Column, Options};

/// Component tags whose constructs this importer implements.
pub const SUPPORTED_COMPONENTS: &[&str] = &[
    "Compartment",
    "Species",
    "Reaction",
    "Parameter",
    "RateRule",
    "AssignmentRule",
    "AlgebraicRule",
    "InitialAssignment",
    "EventNoDelay",
    "EventWithDelay",
    "EventPriority",
    "CSymbolTime",
    "CSymbolAvogadro",
    "CSymbolRateOf",
    "CSymbolDelay",
    "FunctionDefinition",
    "StoichiometryMath",
];

/// Test tags whose semantics this importer implements.
pub const SUPPORTED_TESTS: &[&str] = &[
    "Amount",
    "Concentration",
    "InitialValueReassigned",
    "NonConstantParameter",
    "NonUnityStoichiometry",
    "NonUnityCompartment",
    "BoundaryCondition",
    "AssignedConstantStoichiometry",
    "AssignedVariableStoichiometry",
    "HasOnlySubstanceUnits",
    "LocalParameters",
    "DefaultValue",
    "ConversionFactors",
    "NonConstantCompartment",
    "ReversibleReaction",
    "UncommonMathML",
    "ConstantSpecies",
    "EventIsPersistent",
    "EventIsNotPersistent",
    "EventT0Firing",
    "EventUsesTriggerTimeValues",
    "EventUsesAssignmentTimeValues",
    "MultiCompartment",
    "0D-Compartment",
    "SpeciesReferenceInMath",
    "NoMathML",
    "L3v2MathML",
    "VolumeConcentrationRates",
    "BoolNumericSwap",
];

/// A case's `-settings.txt`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Settings {
    /// Start time.
    pub start: f64,
    /// Duration.
    pub duration: f64,
    /// Output intervals.
    pub steps: usize,
    /// Variables compared.
    pub variables: Vec<String>,
    /// Absolute tolerance.
    pub absolute: f64,
    /// Relative tolerance.
    pub relative: f64,
    /// Variables reported as amounts.
    pub amount: Vec<String>,
    /// Variables reported as concentrations.
    pub concentration: Vec<String>,
}

impl Settings {
    /// Parse the settings text.
    pub fn parse(text: &str) -> Result<Settings, String> {
        let mut s = Settings::default();
        let list = |v: &str| -> Vec<String> {
            v.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect()
        };
        let num = |k: &str, v: &str| -> Result<f64, String> {
            v.trim().parse::<f64>().map_err(|_| format!("settings: {k}: `{v}` is not a number"))
        };
        for line in text.lines() {
            let Some((k, v)) = line.split_once(':') else { continue };
            match k.trim() {
                "start" => s.start = num(k, v)?,
                "duration" => s.duration = num(k, v)?,
                "steps" => s.steps = num(k, v)? as usize,
                "variables" => s.variables = list(v),
                "absolute" => s.absolute = num(k, v)?,
                "relative" => s.relative = num(k, v)?,
                "amount" => s.amount = list(v),
                "concentration" => s.concentration = list(v),
                _ => {}
            }
        }
        Ok(s)
    }
}

/// Tags from a case's `-model.m` header.
pub fn parse_tags(text: &str) -> (Vec<String>, Vec<String>) {
    let mut comp = Vec::new();
    let mut test = Vec::new();
    for line in text.lines() {
        let list = |v: &str| -> Vec<String> {
            v.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect()
        };
        if let Some(v) = line.trim().strip_prefix("componentTags:") {
            comp = list(v);
        } else if let Some(v) = line.trim().strip_prefix("testTags:") {
            test = list(v);
        }
    }
    (comp, test)
}

/// Expected results: header and rows.
pub fn parse_results(text: &str) -> Result<(Vec<String>, Vec<Vec<f64>>), String> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines
        .next()
        .ok_or("results: empty file")?
        .split(',')
        .map(|s| s.trim().to_string())
        .collect();
    let mut rows = Vec::new();
    for l in lines {
        let row: Result<Vec<f64>, String> = l
            .split(',')
            .map(|s| {
                let s = s.trim();
                match s {
                    "INF" | "inf" | "Infinity" => Ok(f64::INFINITY),
                    "-INF" | "-inf" | "-Infinity" => Ok(f64::NEG_INFINITY),
                    "NaN" | "nan" => Ok(f64::NAN),
                    _ => s.parse::<f64>().map_err(|_| format!("results: `{s}` is not a number")),
                }
            })
            .collect();
        rows.push(row?);
    }
    Ok((header, rows))
}

/// How a case ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Every value within tolerance.
    Passed,
    /// Ran (or was refused although its tags are supported) and did not match.
    Failed(String),
    /// A tag outside the supported set, or no Level 3 Version 2 file.
    Unsupported(String),
}

/// One case's result.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseResult {
    /// Case number (folder name).
    pub id: String,
    /// Component tags.
    pub components: Vec<String>,
    /// Test tags.
    pub tests: Vec<String>,
    /// Outcome.
    pub outcome: Outcome,
}

/// Run the case in `dir` (named like `00001`).
pub fn run_case(dir: &Path) -> CaseResult {
    run_case_with(dir, false)
}

/// [`run_case`]; with `all_tags`, cases with unsupported tags are run too (for exploration).
pub fn run_case_with(dir: &Path, all_tags: bool) -> CaseResult {
    let id = dir.file_name().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
    let read = |suffix: &str| std::fs::read_to_string(dir.join(format!("{id}-{suffix}")));
    let (components, tests) = read("model.m").map(|t| parse_tags(&t)).unwrap_or_default();
    let mut result = CaseResult { id: id.clone(), components, tests, outcome: Outcome::Passed };
    let unsupported: Vec<&String> = result
        .components
        .iter()
        .filter(|t| !SUPPORTED_COMPONENTS.contains(&t.as_str()))
        .chain(result.tests.iter().filter(|t| !SUPPORTED_TESTS.contains(&t.as_str())))
        .collect();
    if !unsupported.is_empty() && !all_tags {
        let names: Vec<&str> = unsupported.iter().map(|s| s.as_str()).collect();
        result.outcome = Outcome::Unsupported(format!("tags {}", names.join(", ")));
        return result;
    }
    let Ok(xml) = read("sbml-l3v2.xml") else {
        result.outcome = Outcome::Unsupported("no L3V2 model file".into());
        return result;
    };
    result.outcome = match std::panic::catch_unwind(|| check(&xml, &read)) {
        Ok(Ok(())) => Outcome::Passed,
        Ok(Err(e)) => Outcome::Failed(e),
        Err(_) => Outcome::Failed("panic".into()),
    };
    result
}

fn check(xml: &str, read: &dyn Fn(&str) -> std::io::Result<String>) -> Result<(), String> {
    let settings = Settings::parse(&read("settings.txt").map_err(|e| format!("settings: {e}"))?)?;
    let (header, expected) =
        parse_results(&read("results.csv").map_err(|e| format!("results: {e}"))?)?;
    let model = crate::load(xml, &[]).map_err(|e| format!("refused: {e}"))?;
    let columns: Vec<Column> = header[1..]
        .iter()
        .map(|v| {
            if settings.amount.contains(v) {
                Column::Amount(v.clone())
            } else if settings.concentration.contains(v) {
                Column::Concentration(v.clone())
            } else {
                Column::Value(v.clone())
            }
        })
        .collect();
    let times: Vec<f64> = expected.iter().map(|r| r[0]).collect();
    let opts = Options {
        rtol: (settings.relative * 1e-4).clamp(1e-12, 1e-8),
        atol: (settings.absolute * 1e-4).clamp(1e-18, 1e-10),
        max_steps: 200_000,
        ..Options::default()
    };
    let got = run(&model, settings.start, &times, &columns, opts).map_err(|e| e.to_string())?;
    for (row_e, row_g) in expected.iter().zip(&got.rows) {
        for k in 1..row_e.len() {
            let (e, g) = (row_e[k], row_g[k]);
            let ok = if e.is_nan() {
                g.is_nan()
            } else if e.is_infinite() {
                e == g
            } else {
                (e - g).abs() <= settings.absolute + settings.relative * e.abs()
            };
            if !ok {
                return Err(format!("{} at t={}: expected {e:e}, got {g:e}", header[k], row_e[0]));
            }
        }
    }
    Ok(())
}

/// Results of a whole suite folder.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    /// One entry per case, in folder order.
    pub cases: Vec<CaseResult>,
}

/// Case folders under `dir` (names of five digits), sorted.
pub fn case_dirs(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .map(|n| n.to_string_lossy().chars().all(|c| c.is_ascii_digit()))
                    .unwrap_or(false)
        })
        .collect();
    v.sort();
    Ok(v)
}

/// Counts per tag: (passed, failed, unsupported).
pub type Counts = (usize, usize, usize);

impl Report {
    /// Run every case under `dir` (which may be the suite root or its `semantic` folder),
    /// calling `progress` after each.
    pub fn run(dir: &Path, progress: &mut dyn FnMut(&CaseResult)) -> std::io::Result<Report> {
        Report::run_with(dir, false, progress)
    }

    /// [`Report::run`], optionally running cases outside the supported tags too.
    pub fn run_with(
        dir: &Path,
        all_tags: bool,
        progress: &mut dyn FnMut(&CaseResult),
    ) -> std::io::Result<Report> {
        let root = if dir.join("semantic").is_dir() { dir.join("semantic") } else { dir.into() };
        let mut cases = Vec::new();
        for d in case_dirs(&root)? {
            let r = run_case_with(&d, all_tags);
            progress(&r);
            cases.push(r);
        }
        Ok(Report { cases })
    }

    /// Totals (passed, failed, unsupported).
    pub fn totals(&self) -> Counts {
        let mut c = (0, 0, 0);
        for r in &self.cases {
            bump(&mut c, &r.outcome);
        }
        c
    }

    /// Counts by component tag and by test tag.
    pub fn by_tag(&self) -> (BTreeMap<String, Counts>, BTreeMap<String, Counts>) {
        let mut comp = BTreeMap::new();
        let mut test = BTreeMap::new();
        for r in &self.cases {
            for t in &r.components {
                bump(comp.entry(t.clone()).or_insert((0, 0, 0)), &r.outcome);
            }
            for t in &r.tests {
                bump(test.entry(t.clone()).or_insert((0, 0, 0)), &r.outcome);
            }
        }
        (comp, test)
    }

    /// The pass table as Markdown (deterministic for the same results; `date` is printed).
    pub fn markdown(&self, date: &str) -> String {
        let (p, f, u) = self.totals();
        let n = self.cases.len();
        let pct = |x: usize| if n == 0 { 0.0 } else { 100.0 * x as f64 / n as f64 };
        let mut s = String::new();
        s.push_str(&format!(
            "Generated {date} by `dermasim sbml conformance` over {n} cases.\n\n\
             | | cases | share |\n|---|---:|---:|\n\
             | passed | {p} | {:.1} % |\n| failed | {f} | {:.1} % |\n| unsupported | {u} | {:.1} % |\n\n",
            pct(p),
            pct(f),
            pct(u)
        ));
        let supported = p + f;
        s.push_str(&format!(
            "Of the {supported} cases whose tags are all in the supported set, {p} pass ({:.1} %).\n\n",
            if supported == 0 { 0.0 } else { 100.0 * p as f64 / supported as f64 }
        ));
        let (comp, test) = self.by_tag();
        for (title, map, sup) in
            [("Component tag", &comp, SUPPORTED_COMPONENTS), ("Test tag", &test, SUPPORTED_TESTS)]
        {
            s.push_str(&format!(
                "| {title} | supported | cases | passed | failed | unsupported |\n|---|---|---:|---:|---:|---:|\n"
            ));
            for (t, (p, f, u)) in map {
                let yes = if sup.contains(&t.as_str()) { "yes" } else { "no" };
                s.push_str(&format!("| {t} | {yes} | {} | {p} | {f} | {u} |\n", p + f + u));
            }
            s.push('\n');
        }
        let failed: Vec<&CaseResult> =
            self.cases.iter().filter(|c| matches!(c.outcome, Outcome::Failed(_))).collect();
        if !failed.is_empty() {
            s.push_str("Failed cases (within the supported tags):\n\n");
            for c in failed {
                if let Outcome::Failed(why) = &c.outcome {
                    let why: String = why.chars().take(160).collect();
                    s.push_str(&format!("- {}: {}\n", c.id, why.replace('\n', " ")));
                }
            }
            s.push('\n');
        }
        s
    }
}

fn bump(c: &mut Counts, o: &Outcome) {
    match o {
        Outcome::Passed => c.0 += 1,
        Outcome::Failed(_) => c.1 += 1,
        Outcome::Unsupported(_) => c.2 += 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_and_tags_parse() {
        let s = Settings::parse(
            "start: 0\nduration: 5\nsteps: 50\nvariables: S1, S2\nabsolute: 1.000000e-007\n\
             relative: 0.0001\namount: S1, S2\nconcentration:\n",
        )
        .unwrap();
        assert_eq!(s.steps, 50);
        assert_eq!(s.variables, vec!["S1", "S2"]);
        assert_eq!(s.absolute, 1e-7);
        assert!(s.concentration.is_empty());
        let (c, t) = parse_tags("componentTags: Compartment, Species \ntestTags:      Amount\n");
        assert_eq!(c, vec!["Compartment", "Species"]);
        assert_eq!(t, vec!["Amount"]);
    }
}

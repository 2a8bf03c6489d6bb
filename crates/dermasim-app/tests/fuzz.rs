//! A bounded mutation fuzzer over the shipped scenarios and patient profiles: thousands of
//! mutated files (values pushed to extremes, wrong types, deleted and unknown keys, truncated
//! and corrupted text) go through the same loading, validation and screening as the front ends.
//! None may panic; every refusal must name what is wrong; whatever loads must build and run.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use dermasim_app::scenario::{self, ScenarioSource};
use dermasim_app::{NoObserver, ParameterSet};

/// Mutations per file: bounded so the test takes seconds.
const PER_FILE: u64 = 250;

/// SplitMix64: a reproducible stream of mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const VALUES: [&str; 16] = [
    "0",
    "-1",
    "1e308",
    "-1e308",
    "nan",
    "inf",
    "1e-320",
    "18446744073709551616",
    "\"text\"",
    "true",
    "[]",
    "{}",
    "[1, 2, 3]",
    "0.5",
    "100000",
    "\"\"",
];

/// One mutation of a TOML text.
fn mutate(text: &str, rng: &mut Rng) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let assignments: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains(" = ") && !l.trim_start().starts_with('#'))
        .map(|(i, _)| i)
        .collect();
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    match rng.below(7) {
        // A value pushed to an extreme or to the wrong type.
        0 | 1 if !assignments.is_empty() => {
            let i = assignments[rng.below(assignments.len())];
            let key = out[i].split(" = ").next().unwrap().to_string();
            out[i] = format!("{key} = {}", VALUES[rng.below(VALUES.len())]);
        }
        // A key deleted.
        2 if !assignments.is_empty() => {
            out.remove(assignments[rng.below(assignments.len())]);
        }
        // An unknown key.
        3 => out.insert(rng.below(out.len() + 1), "surprise = 1".into()),
        // Truncated.
        4 => {
            let cut = rng.below(text.len().max(1));
            let mut end = cut;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            return text[..end].to_string();
        }
        // A corrupted byte.
        5 => {
            let mut bytes = text.as_bytes().to_vec();
            if !bytes.is_empty() {
                let i = rng.below(bytes.len());
                bytes[i] = b"[]{}=\"'#\n,.0x"[rng.below(13)];
            }
            return String::from_utf8_lossy(&bytes).into_owned();
        }
        // A session list that is empty, unordered or huge.
        _ => {
            let lists = [
                "sessions = []",
                "sessions = [{ day = 5 }, { day = 1 }]",
                "sessions = [{ day = -3 }]",
            ];
            if let Some(i) = out.iter().position(|l| l.trim_start().starts_with("sessions")) {
                out[i] = lists[rng.below(lists.len())].into();
            }
        }
    }
    out.join("\n")
}

fn shipped(dir: &str) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| (p.display().to_string(), std::fs::read_to_string(&p).unwrap()))
        .collect()
}

#[test]
fn mutated_scenarios_never_panic_and_refusals_name_a_field() {
    let base = ParameterSet::default_set();
    let tmp = tempfile::tempdir().unwrap();
    let (mut loaded, mut refused) = (0, 0);
    for (name, text) in shipped("examples") {
        let mut rng = Rng(name.len() as u64);
        for k in 0..PER_FILE {
            let case = mutate(&text, &mut rng);
            let path = tmp.path().join("case.toml");
            std::fs::write(&path, &case).unwrap();
            let source = ScenarioSource { file: Some(path), ..Default::default() };
            let result = catch_unwind(AssertUnwindSafe(|| scenario::load(&source, &base)));
            let result = result.unwrap_or_else(|_| panic!("{name} mutation {k} panicked:\n{case}"));
            match result {
                Ok(s) => {
                    loaded += 1;
                    // Whatever loads must build and run (at 0d, the cheap level; a changed
                    // scenario is checked again when the run starts).
                    let mut s = s.file();
                    s.scenario.simulation.fidelity = dermasim::Fidelity::Zero;
                    let run = catch_unwind(AssertUnwindSafe(|| {
                        dermasim_app::run::run(&dermasim_app::run::RunRequest::new(s), &NoObserver)
                    }));
                    let run =
                        run.unwrap_or_else(|_| panic!("{name} mutation {k} run panicked:\n{case}"));
                    if let Err(e) = run {
                        panic!("{name} mutation {k} loaded but did not run: {e}\n{case}");
                    }
                }
                Err(e) => {
                    refused += 1;
                    let m = e.to_string();
                    assert!(m.contains(':') && m.len() > 10, "{name} mutation {k}: vague `{m}`");
                    assert!(!m.contains("NaN") || m.contains("nan"), "{m}");
                }
            }
        }
    }
    assert!(
        loaded > 100 && refused > 100,
        "both sides exercised: {loaded} loaded, {refused} refused"
    );
}

#[test]
fn mutated_patient_profiles_never_panic() {
    let (mut screened, mut refused) = (0, 0);
    for (name, text) in shipped("examples/patients") {
        let mut rng = Rng(7 + name.len() as u64);
        for k in 0..PER_FILE {
            let case = mutate(&text, &mut rng);
            let result = catch_unwind(AssertUnwindSafe(|| {
                let profile = dermasim_clinic::parse_profile(&case, false, "case.toml")?;
                dermasim_app::clinic::screen(&profile, None).map_err(|e| match e {
                    dermasim_app::AppError::Clinic(c) => c,
                    other => panic!("unexpected error kind: {other}"),
                })
            }));
            match result.unwrap_or_else(|_| panic!("{name} mutation {k} panicked:\n{case}")) {
                Ok(_) => screened += 1,
                Err(e) => {
                    refused += 1;
                    let m = e.to_string();
                    assert!(m.contains(':') && m.len() > 10, "{name} mutation {k}: vague `{m}`");
                }
            }
        }
    }
    assert!(screened > 50 && refused > 50, "{screened} screened, {refused} refused");
}

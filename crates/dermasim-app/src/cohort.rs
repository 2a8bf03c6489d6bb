//! Virtual cohorts: a population of members, each run under one or more protocols, written as a
//! Parquet dataset shard by shard.
//!
//! A cohort file (TOML) names the protocols (scenario files plus `PATH=VALUE` edits, the same
//! paths and checks as `dermasim run --set`), the population (a table of profiles, or
//! distributions of any scenario field drawn from the cohort seed), the fidelity and whether the
//! long timeline is written. Member `i`'s draws and seed are addressed by `(seed, i)`
//! ([`dermasim::rng::Stream`]), so any shard reruns bit-identically on any machine, executor or
//! thread count.
//!
//! The dataset (`OUT/`):
//!
//! | path | holds |
//! |---|---|
//! | `manifest.json` | `"program": "dermasim"`, `"kind": "cohort"`, the spec hash, shards, columns |
//! | `members/shard=NNNNN/part.parquet` | one row per member and protocol: draws, seed, endpoints |
//! | `timeline/shard=NNNNN/part.parquet` | the long timeline: member, protocol, then the timeline columns |
//! | `_shards/NNNNN.json` | the shard's completion marker, with the SHA-256 of its files |
//!
//! Each file is written to a temporary sibling and renamed into place, and the marker is written
//! last, so a killed run never leaves a shard that looks complete; a rerun skips shards whose
//! marker and files agree and recomputes the rest. A folder is used only when it is missing,
//! empty, or a cohort folder of the same spec ([`dermasim_io::check_folder_target`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use arrow_array::{
    ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, UInt32Array, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema};
use dermasim::rng::Stream;
use dermasim::tissue::SiteTable;
use dermasim::{ParameterSet, Scenario, Summary};
use dermasim_io::{FolderTarget, IoError, PreparedFile, ScenarioFile};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::run::{self, RunRequest};
use crate::{AppError, Observer, Progress, VERSION};

/// Members allowed in one cohort.
pub const COHORT_MEMBERS: std::ops::RangeInclusive<usize> = 1..=10_000_000;
/// Members per shard allowed.
pub const SHARD_SIZE: std::ops::RangeInclusive<usize> = 1..=100_000;
/// Members per shard when the file does not say.
pub const DEFAULT_SHARD_SIZE: usize = 200;

/// Random stream of member seeds.
const SEED_STREAM: u64 = 0xc0_4027;
/// First random stream of the population draws (one stream per drawn field).
const DRAW_STREAM: u64 = 0xc0_5000;

/// One protocol of a cohort file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtocolSpec {
    /// Name in the results (`protocol` column).
    pub name: String,
    /// Scenario file, relative to the cohort file; the built-in default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<PathBuf>,
    /// `PATH=VALUE` edits, as `dermasim run --set`.
    #[serde(default)]
    pub set: Vec<String>,
}

/// How one field of the population is drawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Distribution {
    /// `{ value = X }`: the same value for everyone.
    Value {
        /// The value.
        value: Value,
    },
    /// `{ uniform = [LOW, HIGH] }`: uniform on `[low, high)`.
    Uniform {
        /// Low and high ends.
        uniform: [f64; 2],
    },
    /// `{ normal = [MEAN, SD], clip = [LOW, HIGH] }`: normal, redrawn until inside `clip` when
    /// given (at most 64 tries, then clamped).
    Normal {
        /// Mean and standard deviation.
        normal: [f64; 2],
        /// Bounds of the accepted draws.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        clip: Option<[f64; 2]>,
    },
    /// `{ choice = [...], weights = [...] }`: one of the options, with optional weights (equal
    /// when absent).
    Choice {
        /// The values.
        choice: Vec<Value>,
        /// Relative weights, one per option.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weights: Option<Vec<f64>>,
    },
}

/// The cohort file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CohortSpec {
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Cohort seed: every member's draws and simulation seed derive from it.
    pub seed: u64,
    /// Members; with a profile table, at most its length (its length when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<usize>,
    /// Members per shard (one task of an executor, one Slurm array element's unit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_size: Option<usize>,
    /// `0d`, `1d` or `3d` for every member (the protocols' own fidelity when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fidelity: Option<String>,
    /// Write the long timeline (`timeline/`); default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline: Option<bool>,
    /// The protocols every member runs (a paired comparison when several).
    pub protocol: Vec<ProtocolSpec>,
    /// Who the members are.
    #[serde(default)]
    pub population: Population,
}

/// The population: distributions keyed by scenario path, or a table of profiles.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Population {
    /// Member `i` is `profile[i]`: scenario paths (nested or dotted keys) to values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profile: Vec<Value>,
    /// Everything else: a distribution per scenario path (nested tables or dotted keys).
    #[serde(flatten)]
    pub draws: serde_json::Map<String, Value>,
}

/// A loaded, checked cohort: every member's scenario is valid.
#[derive(Debug, Clone)]
pub struct Cohort {
    spec: CohortSpec,
    /// Protocol name and its scenario tree (file, then its edits).
    protocols: Vec<(String, Value)>,
    /// Drawn fields in path order.
    draws: Vec<(String, Distribution)>,
    /// Profile table, flattened to `(path, value)` lists.
    profiles: Vec<Vec<(String, Value)>>,
    /// Column of each population path, with its type.
    columns: Vec<(String, ColumnType)>,
    members: usize,
    shard_size: usize,
    hash: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum ColumnType {
    Int,
    Float,
    Text,
}

/// What one shard did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardMarker {
    /// Always `dermasim`.
    pub program: String,
    /// The cohort's spec hash.
    pub spec_hash: String,
    /// Shard index.
    pub shard: usize,
    /// First member and one past the last.
    pub members: [usize; 2],
    /// Rows of the members table (members x protocols).
    pub rows: usize,
    /// Dataset-relative path and SHA-256 of each file of the shard.
    pub files: BTreeMap<String, String>,
}

fn field_err(path: impl Into<String>, message: impl Into<String>) -> AppError {
    AppError::Field(dermasim::FieldError::new(path, message))
}

fn io_other(path: &Path, e: impl std::fmt::Display) -> AppError {
    IoError::Write { path: path.into(), source: std::io::Error::other(e.to_string()) }.into()
}

/// Flatten nested tables into dotted paths; a table that is a distribution is a leaf.
fn flatten(prefix: &str, v: &Value, leaf: &dyn Fn(&Value) -> bool, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(map) if !leaf(v) => {
            for (k, x) in map {
                let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&p, x, leaf, out);
            }
        }
        _ => out.push((prefix.to_string(), v.clone())),
    }
}

fn is_distribution(v: &Value) -> bool {
    v.as_object().is_some_and(|m| {
        ["value", "uniform", "normal", "choice"].iter().any(|k| m.contains_key(*k))
    })
}

fn column_type(values: &[&Value]) -> ColumnType {
    if values.iter().all(|v| v.is_i64() || v.is_u64()) {
        ColumnType::Int
    } else if values.iter().all(|v| v.is_number()) {
        ColumnType::Float
    } else {
        ColumnType::Text
    }
}

impl Cohort {
    /// Read and check a cohort file.
    pub fn load(path: &Path) -> Result<Cohort, AppError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| IoError::Read { path: path.into(), source })?;
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        Cohort::from_toml(&text, &path.display().to_string(), dir)
    }

    /// A cohort from TOML text; scenario files are relative to `dir`.
    pub fn from_toml(text: &str, origin: &str, dir: &Path) -> Result<Cohort, AppError> {
        let tree = dermasim_io::parse_tree(text, false, origin)?;
        let spec: CohortSpec = parse_spec(tree)?;
        Cohort::new(spec, dir)
    }

    /// Read a cohort file for running shards of it on a worker, without building every
    /// member's scenario up front (the driver's [`Cohort::load`] did; each member is still
    /// built and validated when its shard runs). `expected_hash` is the driver's
    /// [`Self::hash`]: a file changed since the driver read it is refused.
    ///
    /// Why: a worker runs a few shards of a large cohort; checking all members in every worker
    /// process costs as much as simulating a shard of 0d members.
    pub fn load_for_worker(path: &Path, expected_hash: &str) -> Result<Cohort, AppError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| IoError::Read { path: path.into(), source })?;
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let tree = dermasim_io::parse_tree(&text, false, &path.display().to_string())?;
        let c = Cohort::build(parse_spec(tree)?, dir, false)?;
        if c.hash != expected_hash {
            return Err(AppError::request(
                "spec",
                format!(
                    "{} changed since the cohort started (spec hash {} here, {expected_hash} \
                     for the driver); rerun the cohort",
                    path.display(),
                    c.hash
                ),
            ));
        }
        Ok(c)
    }

    /// Check `spec` and every member's scenario.
    pub fn new(spec: CohortSpec, dir: &Path) -> Result<Cohort, AppError> {
        Cohort::build(spec, dir, true)
    }

    fn build(spec: CohortSpec, dir: &Path, check_members: bool) -> Result<Cohort, AppError> {
        let base = ParameterSet::default_set();
        if spec.protocol.is_empty() {
            return Err(field_err("protocol", "a cohort needs at least one [[protocol]]"));
        }
        let mut protocols = Vec::new();
        let mut file_texts = Vec::new();
        for (i, p) in spec.protocol.iter().enumerate() {
            if protocols.iter().any(|(n, _): &(String, Value)| *n == p.name) {
                return Err(field_err(
                    format!("protocol.{i}.name"),
                    format!("`{}` is used twice", p.name),
                ));
            }
            let mut tree = match &p.scenario {
                Some(f) => {
                    let path = dir.join(f);
                    let text = std::fs::read_to_string(&path)
                        .map_err(|source| IoError::Read { path: path.clone(), source })?;
                    let json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
                    file_texts.push(text.clone());
                    dermasim_io::parse_tree(&text, json, &path.display().to_string())?
                }
                None => serde_json::to_value(Scenario::default_scenario()).expect("serialises"),
            };
            for o in &p.set {
                dermasim_io::apply_override(&mut tree, o)?;
            }
            protocols.push((p.name.clone(), tree));
        }
        let mut draws = Vec::new();
        let mut flat = Vec::new();
        flatten("", &Value::Object(spec.population.draws.clone()), &is_distribution, &mut flat);
        for (path, v) in flat {
            let d: Distribution = serde_json::from_value(v).map_err(|e| {
                field_err(
                    format!("population.{path}"),
                    format!("{e}; use {{ value = X }}, {{ uniform = [LOW, HIGH] }}, {{ normal = [MEAN, SD], clip = [LOW, HIGH] }} or {{ choice = [...], weights = [...] }}"),
                )
            })?;
            check_distribution(&path, &d)?;
            draws.push((path, d));
        }
        draws.sort_by(|a, b| a.0.cmp(&b.0));
        let mut profiles = Vec::new();
        for p in &spec.population.profile {
            let mut flat = Vec::new();
            flatten("", p, &|_| false, &mut flat);
            flat.sort_by(|a, b| a.0.cmp(&b.0));
            profiles.push(flat);
        }
        let members = match (spec.members, profiles.len()) {
            (Some(m), 0) => m,
            (None, 0) => return Err(field_err("members", "missing; give the number of members")),
            (None, n) => n,
            (Some(m), n) if m <= n => m,
            (Some(m), n) => {
                return Err(field_err(
                    "members",
                    format!("{m} is more than the {n} profiles of population.profile"),
                ))
            }
        };
        if !COHORT_MEMBERS.contains(&members) {
            return Err(field_err(
                "members",
                format!(
                    "{members} is outside {} to {}",
                    COHORT_MEMBERS.start(),
                    COHORT_MEMBERS.end()
                ),
            ));
        }
        let shard_size = spec.shard_size.unwrap_or(DEFAULT_SHARD_SIZE);
        if !SHARD_SIZE.contains(&shard_size) {
            return Err(field_err(
                "shard_size",
                format!("{shard_size} is outside {} to {}", SHARD_SIZE.start(), SHARD_SIZE.end()),
            ));
        }
        // Columns: drawn paths and profile paths, typed by their values.
        let mut names: Vec<String> = draws.iter().map(|(p, _)| p.clone()).collect();
        for p in profiles.iter().take(members) {
            for (k, _) in p {
                if !names.contains(k) {
                    names.push(k.clone());
                }
            }
        }
        names.sort();
        names.dedup();
        let mut cohort = Cohort {
            spec,
            protocols,
            draws,
            profiles,
            columns: Vec::new(),
            members,
            shard_size,
            hash: String::new(),
        };
        let values: Vec<Vec<(String, Value)>> =
            (0..members).map(|i| cohort.population_values(i)).collect();
        cohort.columns = names
            .iter()
            .map(|n| {
                let vs: Vec<&Value> = values
                    .iter()
                    .flat_map(|row| row.iter().filter(|(k, _)| k == n).map(|(_, v)| v))
                    .collect();
                (n.clone(), column_type(&vs))
            })
            .collect();
        // Every member's scenario must load: errors name the member, protocol and field.
        let sites = SiteTable::shared();
        for i in (0..members).filter(|_| check_members) {
            for p in 0..cohort.protocols.len() {
                let s =
                    cohort.scenario_unchecked(i, p).map_err(|e| cohort.member_error(i, p, e))?;
                s.validate(sites, &base).map_err(|e| cohort.member_error(i, p, e.into()))?;
            }
        }
        let ident = serde_json::json!({
            "version": VERSION,
            "spec": cohort.spec,
            "protocols": cohort.protocols,
            "files": file_texts,
        });
        let digest = Sha256::digest(ident.to_string().as_bytes());
        cohort.hash = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        Ok(cohort)
    }

    fn member_error(&self, member: usize, protocol: usize, e: AppError) -> AppError {
        match e {
            AppError::Field(f) => field_err(
                f.path.clone(),
                format!(
                    "{} (member {member}, protocol `{}`)",
                    f.message, self.protocols[protocol].0
                ),
            ),
            AppError::Io(IoError::Field(f)) => field_err(
                f.path.clone(),
                format!(
                    "{} (member {member}, protocol `{}`)",
                    f.message, self.protocols[protocol].0
                ),
            ),
            other => other,
        }
    }

    /// Members in the cohort.
    pub fn members(&self) -> usize {
        self.members
    }

    /// Shards in the cohort.
    pub fn shards(&self) -> usize {
        self.members.div_ceil(self.shard_size)
    }

    /// Members of `shard`: first and one past the last.
    pub fn shard_range(&self, shard: usize) -> std::ops::Range<usize> {
        let start = shard * self.shard_size;
        start..(start + self.shard_size).min(self.members)
    }

    /// Protocol names, in file order.
    pub fn protocols(&self) -> Vec<String> {
        self.protocols.iter().map(|(n, _)| n.clone()).collect()
    }

    /// The spec hash (version, spec, protocol scenarios): a folder resumes only the same hash.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The cohort file as read.
    pub fn spec(&self) -> &CohortSpec {
        &self.spec
    }

    /// Member `i`'s simulation seed.
    pub fn member_seed(&self, member: usize) -> u64 {
        Stream::new(self.spec.seed, SEED_STREAM).u64(member as u64)
    }

    /// Member `i`'s population values (profile or draws), in path order.
    fn population_values(&self, member: usize) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        if let Some(p) = self.profiles.get(member) {
            out.extend(p.iter().cloned());
        }
        for (k, (path, d)) in self.draws.iter().enumerate() {
            if out.iter().any(|(p, _)| p == path) {
                continue;
            }
            let s = Stream::new(self.spec.seed, DRAW_STREAM + k as u64);
            out.push((path.clone(), draw(d, &s, member as u64)));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// The `--set` edits that make member `member` under protocol `protocol` from the
    /// protocol's scenario: `dermasim run PROTOCOL_FILE --set E1 --set E2 ...` (after the
    /// protocol's own `set`) runs exactly this member.
    pub fn member_overrides(&self, member: usize, protocol: usize) -> Vec<String> {
        let _ = protocol;
        let mut o: Vec<String> =
            self.population_values(member).into_iter().map(|(p, v)| format!("{p}={v}")).collect();
        o.push(format!("simulation.seed={}", self.member_seed(member)));
        if let Some(f) = &self.spec.fidelity {
            o.push(format!("simulation.fidelity={f}"));
        }
        o
    }

    fn scenario_unchecked(&self, member: usize, protocol: usize) -> Result<ScenarioFile, AppError> {
        let mut tree = self.protocols[protocol].1.clone();
        for o in self.member_overrides(member, protocol) {
            dermasim_io::apply_override(&mut tree, &o)?;
        }
        Ok(dermasim_io::scenario_from_tree(tree)?)
    }

    /// The validated scenario of `member` under `protocol` (an index into [`Self::protocols`]),
    /// prepared for its run.
    pub fn member_scenario(
        &self,
        member: usize,
        protocol: usize,
    ) -> Result<PreparedFile, AppError> {
        if member >= self.members || protocol >= self.protocols.len() {
            return Err(AppError::request(
                "member",
                format!(
                    "member {member} / protocol {protocol} is outside {} members x {} protocols",
                    self.members,
                    self.protocols.len()
                ),
            ));
        }
        let s = self.scenario_unchecked(member, protocol)?;
        Ok(s.prepare(SiteTable::shared(), &ParameterSet::default_set())?)
    }

    /// The manifest of the dataset (deterministic: no clock, so datasets compare byte for byte).
    pub fn manifest(&self) -> Value {
        serde_json::json!({
            "program": "dermasim",
            "kind": "cohort",
            "version": VERSION,
            "spec_hash": self.hash,
            "name": self.spec.name,
            "seed": self.spec.seed,
            "members": self.members,
            "shard_size": self.shard_size,
            "shards": self.shards(),
            "protocols": self.protocols(),
            "population_columns": self.columns.iter().map(|(n, t)| serde_json::json!({"name": n, "type": t})).collect::<Vec<_>>(),
            "timeline": self.timeline(),
            "layout": {
                "members": "members/shard=NNNNN/part.parquet: one row per member and protocol",
                "timeline": "timeline/shard=NNNNN/part.parquet: member, protocol, then the timeline columns",
                "markers": "_shards/NNNNN.json: written last; a shard without one is incomplete",
            },
            "spec": self.spec,
            "disclaimer": dermasim::DISCLAIMER,
        })
    }

    fn timeline(&self) -> bool {
        self.spec.timeline.unwrap_or(true)
    }

    /// Check the folder `out` (option `flag` in errors), write the manifest when new, and return
    /// the shards still to do. A folder is used when missing, empty, or a cohort of the same
    /// spec; anything else is refused and left alone.
    pub fn prepare(&self, out: &Path, flag: &str) -> Result<Vec<usize>, AppError> {
        match dermasim_io::check_folder_target(out, flag)? {
            FolderTarget::Missing | FolderTarget::Empty => {}
            FolderTarget::RunFolder => {
                let m: Value = std::fs::read_to_string(out.join("manifest.json"))
                    .ok()
                    .and_then(|t| serde_json::from_str(&t).ok())
                    .unwrap_or_default();
                if m.get("kind").and_then(|k| k.as_str()) != Some("cohort") {
                    return Err(IoError::Refused {
                        flag: flag.into(),
                        path: out.into(),
                        why: "is a dermasim run folder, not a cohort; name a new folder".into(),
                    }
                    .into());
                }
                let theirs = m.get("spec_hash").and_then(|h| h.as_str()).unwrap_or_default();
                if theirs != self.hash {
                    return Err(IoError::Refused {
                        flag: flag.into(),
                        path: out.into(),
                        why: format!(
                            "holds another cohort (spec hash {theirs}, this one {}); name a new folder",
                            self.hash
                        ),
                    }
                    .into());
                }
            }
        }
        let manifest = out.join("manifest.json");
        if !manifest.exists() {
            let text = serde_json::to_string_pretty(&self.manifest()).expect("serialises");
            dermasim_io::write_atomic(&manifest, text.as_bytes())?;
        }
        Ok((0..self.shards()).filter(|&s| !self.shard_done(out, s)).collect())
    }

    /// Whether `shard` is complete in `out`: its marker names this spec and its files match.
    pub fn shard_done(&self, out: &Path, shard: usize) -> bool {
        let Ok(text) = std::fs::read_to_string(marker_path(out, shard)) else { return false };
        let Ok(m) = serde_json::from_str::<ShardMarker>(&text) else { return false };
        m.spec_hash == self.hash
            && m.shard == shard
            && m.files
                .iter()
                .all(|(p, h)| std::fs::read(out.join(p)).is_ok_and(|b| sha_hex(&b) == *h))
    }

    /// Run one shard's members (in parallel on the current rayon pool, results in member
    /// order) and write its files, then its marker. `observer` gets `Members` progress and may
    /// cancel; a cancelled or failed shard writes no marker.
    pub fn run_shard(
        &self,
        out: &Path,
        shard: usize,
        observer: &dyn Observer,
    ) -> Result<ShardMarker, AppError> {
        if shard >= self.shards() {
            return Err(AppError::request(
                "shard",
                format!("{shard} is outside 0 to {}", self.shards().saturating_sub(1)),
            ));
        }
        let range = self.shard_range(shard);
        let np = self.protocols.len();
        let jobs: Vec<(usize, usize)> =
            range.clone().flat_map(|i| (0..np).map(move |p| (i, p))).collect();
        let done = AtomicUsize::new(0);
        let total = jobs.len();
        let quiet = CancelOnly(observer);
        let results: Vec<Summary> = jobs
            .par_iter()
            .map(|&(i, p)| {
                let s = self.member_scenario(i, p)?;
                let r = run::run(&RunRequest::prepared(s), &quiet)?;
                let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                observer.progress(Progress::Members { done: d, total });
                Ok(r.summary)
            })
            .collect::<Result<_, AppError>>()?;
        let members = self.members_batch(&jobs, &results)?;
        let name = format!("shard={shard:05}/part.parquet");
        for table in ["members", "timeline"] {
            remove_stale_temporaries(
                &out.join(table).join(format!("shard={shard:05}")),
                ".dermasim-",
            );
        }
        // `_shards/` is shared by every shard (maybe running in other processes), so only this
        // shard's marker's leftovers go.
        let marker_file = marker_path(out, shard);
        if let Some(dir) = marker_file.parent() {
            remove_stale_temporaries(dir, &dermasim_io::temporary_prefix(&marker_file));
        }
        let mut files = BTreeMap::new();
        let mpath = format!("members/{name}");
        let bytes = parquet_bytes(&members, &out.join(&mpath))?;
        dermasim_io::write_atomic(&out.join(&mpath), &bytes)?;
        files.insert(mpath, sha_hex(&bytes));
        if self.timeline() {
            let tl = self.timeline_batch(&jobs, &results)?;
            let tpath = format!("timeline/{name}");
            let bytes = parquet_bytes(&tl, &out.join(&tpath))?;
            dermasim_io::write_atomic(&out.join(&tpath), &bytes)?;
            files.insert(tpath, sha_hex(&bytes));
        }
        let marker = ShardMarker {
            program: "dermasim".into(),
            spec_hash: self.hash.clone(),
            shard,
            members: [range.start, range.end],
            rows: jobs.len(),
            files,
        };
        let text = serde_json::to_string_pretty(&marker).expect("serialises");
        dermasim_io::write_atomic(&marker_path(out, shard), text.as_bytes())?;
        Ok(marker)
    }

    /// Shards complete in `out`, of [`Self::shards`].
    pub fn completed(&self, out: &Path) -> usize {
        (0..self.shards()).filter(|&s| self.shard_done(out, s)).count()
    }

    fn members_batch(
        &self,
        jobs: &[(usize, usize)],
        results: &[Summary],
    ) -> Result<RecordBatch, AppError> {
        let mut fields = vec![
            Field::new("member", DataType::UInt32, false),
            Field::new("protocol", DataType::Utf8, false),
            Field::new("seed", DataType::UInt64, false),
        ];
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(UInt32Array::from_iter_values(jobs.iter().map(|j| j.0 as u32))),
            Arc::new(StringArray::from_iter_values(
                jobs.iter().map(|j| self.protocols[j.1].0.as_str()),
            )),
            Arc::new(UInt64Array::from_iter_values(jobs.iter().map(|j| self.member_seed(j.0)))),
        ];
        let pops: Vec<Vec<(String, Value)>> =
            jobs.iter().map(|j| self.population_values(j.0)).collect();
        for (name, ty) in &self.columns {
            let get = |row: &Vec<(String, Value)>| {
                row.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
            };
            match ty {
                ColumnType::Int => {
                    fields.push(Field::new(name, DataType::Int64, true));
                    cols.push(Arc::new(Int64Array::from(
                        pops.iter().map(|r| get(r).and_then(|v| v.as_i64())).collect::<Vec<_>>(),
                    )));
                }
                ColumnType::Float => {
                    fields.push(Field::new(name, DataType::Float64, true));
                    cols.push(Arc::new(Float64Array::from(
                        pops.iter().map(|r| get(r).and_then(|v| v.as_f64())).collect::<Vec<_>>(),
                    )));
                }
                ColumnType::Text => {
                    fields.push(Field::new(name, DataType::Utf8, true));
                    cols.push(Arc::new(StringArray::from(
                        pops.iter()
                            .map(|r| {
                                get(r).map(|v| {
                                    v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())
                                })
                            })
                            .collect::<Vec<_>>(),
                    )));
                }
            }
        }
        // Endpoints and headline numbers, named as in summary.json.
        let headline = |s: &Summary| -> Vec<(String, f64)> {
            let mut v = vec![
                ("punctures_per_cm2".to_string(), s.punctures_per_cm2),
                ("effective_depth_um".to_string(), s.effective_depth_um),
            ];
            if let Ok(Value::Object(m)) = serde_json::to_value(&s.endpoints) {
                v.extend(m.into_iter().filter_map(|(k, x)| x.as_f64().map(|f| (k, f))));
            }
            v
        };
        let per_row: Vec<Vec<(String, f64)>> = results.iter().map(headline).collect();
        if let Some(first) = per_row.first() {
            for (k, (name, _)) in first.iter().enumerate() {
                fields.push(Field::new(name, DataType::Float64, false));
                cols.push(Arc::new(Float64Array::from_iter_values(per_row.iter().map(|r| r[k].1))));
            }
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)
            .map_err(|e| io_other(Path::new("members"), e))
    }

    fn timeline_batch(
        &self,
        jobs: &[(usize, usize)],
        results: &[Summary],
    ) -> Result<RecordBatch, AppError> {
        let n: Vec<usize> = results.iter().map(|s| s.timeline.len()).collect();
        let member = UInt32Array::from_iter_values(
            jobs.iter().zip(&n).flat_map(|(j, &k)| std::iter::repeat_n(j.0 as u32, k)),
        );
        let protocol = StringArray::from_iter_values(
            jobs.iter()
                .zip(&n)
                .flat_map(|(j, &k)| std::iter::repeat_n(self.protocols[j.1].0.as_str(), k)),
        );
        let mut fields = vec![
            Field::new("member", DataType::UInt32, false),
            Field::new("protocol", DataType::Utf8, false),
        ];
        let mut cols: Vec<ArrayRef> = vec![Arc::new(member), Arc::new(protocol)];
        let names = results.first().map(dermasim_io::timeline_columns).unwrap_or_default();
        let values = crate::tables::column_values(results.iter(), &names);
        for (name, v) in names.iter().zip(values) {
            fields.push(Field::new(name, DataType::Float64, false));
            cols.push(Arc::new(Float64Array::from(v)));
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)
            .map_err(|e| io_other(Path::new("timeline"), e))
    }
}

/// Forwards only cancellation (members report progress as members, not days).
struct CancelOnly<'a>(&'a dyn Observer);

impl Observer for CancelOnly<'_> {
    fn cancelled(&self) -> bool {
        self.0.cancelled()
    }
}

/// Temporary files of writes killed part-way (`PREFIX*.tmp`) in a shard's folder, removed
/// before the shard is rewritten: no reader ever picks them up (dot files), but a finished
/// dataset then holds exactly its files.
fn remove_stale_temporaries(dir: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(prefix) && name.ends_with(".tmp") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

fn marker_path(out: &Path, shard: usize) -> PathBuf {
    out.join("_shards").join(format!("{shard:05}.json"))
}

fn sha_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A spec from a tree, errors naming the field path.
fn parse_spec(tree: Value) -> Result<CohortSpec, AppError> {
    serde_json::from_value::<CohortSpec>(tree.clone()).map_err(|e| {
        // Name the top-level key when serde does not give a path.
        let msg = e.to_string();
        let path =
            ["protocol", "population", "members", "seed", "shard_size", "fidelity", "timeline"]
                .into_iter()
                .find(|k| msg.contains(&format!("`{k}`")))
                .unwrap_or("cohort");
        field_err(path, msg)
    })
}

fn check_distribution(path: &str, d: &Distribution) -> Result<(), AppError> {
    let p = format!("population.{path}");
    match d {
        Distribution::Value { .. } => Ok(()),
        Distribution::Uniform { uniform: [a, b] } if a.is_finite() && b.is_finite() && a <= b => {
            Ok(())
        }
        Distribution::Uniform { .. } => {
            Err(field_err(p, "uniform = [LOW, HIGH] needs finite LOW <= HIGH"))
        }
        Distribution::Normal { normal: [m, s], clip } => {
            if !(m.is_finite() && s.is_finite() && *s >= 0.0) {
                return Err(field_err(p, "normal = [MEAN, SD] needs a finite mean and SD >= 0"));
            }
            if let Some([a, b]) = clip {
                if !(a.is_finite() && b.is_finite() && a <= b) {
                    return Err(field_err(p, "clip = [LOW, HIGH] needs finite LOW <= HIGH"));
                }
            }
            Ok(())
        }
        Distribution::Choice { choice, weights } => {
            if choice.is_empty() {
                return Err(field_err(p, "choice needs at least one value"));
            }
            if let Some(w) = weights {
                if w.len() != choice.len()
                    || w.iter().any(|x| !(x.is_finite() && *x >= 0.0))
                    || w.iter().sum::<f64>() <= 0.0
                {
                    return Err(field_err(
                        p,
                        "weights: one non-negative weight per choice, not all zero",
                    ));
                }
            }
            Ok(())
        }
    }
}

/// Draw member `i`'s value (counters `2i`, `2i+1`, ... of the field's stream).
fn draw(d: &Distribution, s: &Stream, i: u64) -> Value {
    let num = |x: f64| serde_json::Number::from_f64(x).map(Value::Number).unwrap_or(Value::Null);
    match d {
        Distribution::Value { value } => value.clone(),
        Distribution::Uniform { uniform: [a, b] } => num(a + (b - a) * s.uniform(i)),
        Distribution::Normal { normal: [m, sd], clip } => {
            let mut x = *m;
            for k in 0..64u64 {
                let c = (i << 7) | (k << 1);
                let u1 = 1.0 - s.uniform(c);
                let u2 = s.uniform(c | 1);
                x = m + sd * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                match clip {
                    Some([a, b]) if x < *a || x > *b => continue,
                    _ => return num(x),
                }
            }
            let [a, b] = clip.expect("only clipped draws retry");
            num(x.clamp(a, b))
        }
        Distribution::Choice { choice, weights } => {
            let u = s.uniform(i);
            let w: Vec<f64> = weights.clone().unwrap_or_else(|| vec![1.0; choice.len()]);
            let total: f64 = w.iter().sum();
            let mut acc = 0.0;
            for (v, wi) in choice.iter().zip(&w) {
                acc += wi / total;
                if u < acc {
                    return v.clone();
                }
            }
            choice.last().expect("not empty").clone()
        }
    }
}

/// Parquet file bytes of `batch`, zstd compressed (deterministic: same batch, same bytes).
fn parquet_bytes(batch: &RecordBatch, path: &Path) -> Result<Vec<u8>, AppError> {
    use parquet::arrow::ArrowWriter;
    use parquet::basic::{Compression, ZstdLevel};
    use parquet::file::properties::WriterProperties;
    use parquet::schema::types::ColumnPath;
    // Dictionary encoding only for the text columns: the float columns hardly repeat, and
    // a dictionary for them costs encoding time and saves nothing (zstd takes the runs).
    let mut props = WriterProperties::builder()
        // Level 1: at level 3, zstd was about a third of the CPU a 0d shard spends beyond
        // simulating its members (perf samples); level 1 costs less for a slightly larger file.
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("level 1")))
        .set_dictionary_enabled(false);
    for f in batch.schema().fields().iter().filter(|f| f.data_type() == &DataType::Utf8) {
        props = props.set_column_dictionary_enabled(ColumnPath::from(f.name().as_str()), true);
    }
    let props = props.set_created_by(format!("dermasim {VERSION}")).build();
    let mut buf = Vec::new();
    let mut w = ArrowWriter::try_new(&mut buf, batch.schema(), Some(props))
        .map_err(|e| io_other(path, e))?;
    w.write(batch).map_err(|e| io_other(path, e))?;
    w.close().map_err(|e| io_other(path, e))?;
    Ok(buf)
}

/// The timeline of `summary` as an Arrow record batch: the columns of `timeseries.csv`
/// ([`dermasim_io::timeline_columns`]), all `f64`.
pub fn timeline_record_batch(summary: &Summary) -> RecordBatch {
    let names = dermasim_io::timeline_columns(summary);
    let fields: Vec<Field> =
        names.iter().map(|n| Field::new(n, DataType::Float64, false)).collect();
    let cols: Vec<ArrayRef> = crate::tables::column_values(std::iter::once(summary), &names)
        .into_iter()
        .map(|v| Arc::new(Float64Array::from(v)) as ArrayRef)
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).expect("columns of equal length")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"
seed = 7
members = 5
shard_size = 2
fidelity = "0d"
[[protocol]]
name = "deep"
set = ["device.depth_mm=1.5", "protocol.follow_up_days=30", "protocol.sessions=[{day=0}]"]
[[protocol]]
name = "shallow"
set = ["device.depth_mm=0.5", "protocol.follow_up_days=30", "protocol.sessions=[{day=0}]"]
[population]
"patient.age_years" = { normal = [50, 10], clip = [25, 75] }
patient.sex = { choice = ["female", "male"], weights = [3, 1] }
patient.fitzpatrick = { choice = [1, 2, 3, 4, 5, 6] }
"#;

    #[test]
    fn draws_are_addressed_and_members_match_single_runs() {
        let c = Cohort::from_toml(SPEC, "spec", Path::new(".")).unwrap();
        assert_eq!((c.members(), c.shards()), (5, 3));
        assert_eq!(c.shard_range(2), 4..5);
        let again = Cohort::from_toml(SPEC, "spec", Path::new(".")).unwrap();
        assert_eq!(c.member_overrides(3, 0), again.member_overrides(3, 0));
        assert_eq!(c.hash(), again.hash());
        let s = c.member_scenario(3, 0).unwrap();
        assert!((25.0..=75.0).contains(&s.scenario().patient.age_years));
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("cohort");
        assert_eq!(c.prepare(&out, "--out").unwrap(), vec![0, 1, 2]);
        let m = c.run_shard(&out, 1, &crate::NoObserver).unwrap();
        assert_eq!(m.rows, 4);
        assert_eq!(c.prepare(&out, "--out").unwrap(), vec![0, 2]);
        let first = std::fs::read(out.join("members/shard=00001/part.parquet")).unwrap();
        c.run_shard(&out, 1, &crate::NoObserver).unwrap();
        assert_eq!(first, std::fs::read(out.join("members/shard=00001/part.parquet")).unwrap());
        // A damaged file makes the shard incomplete again.
        std::fs::write(out.join("timeline/shard=00001/part.parquet"), b"x").unwrap();
        assert!(!c.shard_done(&out, 1));
    }

    #[test]
    fn bad_specs_and_foreign_folders_are_refused() {
        let e = Cohort::from_toml(&SPEC.replace("[25, 75]", "[5, 10]"), "s", Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(e.contains("patient.age_years") && e.contains("member 0"), "{e}");
        let e =
            Cohort::from_toml(&SPEC.replace("choice = [1,", "choise = [1,"), "s", Path::new("."));
        assert!(e.is_err());
        let c = Cohort::from_toml(SPEC, "spec", Path::new(".")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("thesis.txt"), "x").unwrap();
        assert!(c.prepare(dir.path(), "--out").is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let other =
            Cohort::from_toml(&SPEC.replace("seed = 7", "seed = 8"), "s", Path::new(".")).unwrap();
        let out = dir.path().join("c");
        other.prepare(&out, "--out").unwrap();
        let e = c.prepare(&out, "--out").unwrap_err().to_string();
        assert!(e.contains("another cohort"), "{e}");
    }
}

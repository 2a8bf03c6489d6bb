//! Run folders: written to a temporary sibling folder, then renamed into place, so a failed or
//! interrupted run never leaves a partial folder behind.

use std::path::{Path, PathBuf};

use dermasim::Summary;
use serde::{Deserialize, Serialize};

use crate::paths::{check_folder_target, clean_stale_staging, write_atomic, FolderTarget};
use crate::IoError;

/// One file of a run folder, as listed in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path inside the folder, `/`-separated.
    pub path: String,
    /// What sort of file (`table`, `plot`, `report`, ...).
    pub kind: String,
    /// One line on what it holds.
    pub description: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// `manifest.json`: what produced the folder and what it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always `dermasim`: how a run folder is recognised before it is replaced.
    pub program: String,
    /// Program version.
    pub version: String,
    /// When the run finished (RFC 3339, UTC).
    pub created_utc: String,
    /// The command line (or the front end's description of the request).
    pub command: Vec<String>,
    /// [`crate::scenario_hash`] of `scenario.json`.
    pub scenario_hash: String,
    /// The scenario's seed.
    pub seed: u64,
    /// `0d`, `1d` or `3d`.
    pub fidelity: String,
    /// Worker threads (results do not depend on it).
    pub threads: usize,
    /// Wall-clock time of the run.
    pub wall_time_s: f64,
    /// Provenance of the parameter set.
    pub parameter_set: String,
    /// Ensemble members, when bands were computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ensemble_members: Option<usize>,
    /// Set when the run continued from a checkpoint: depth profiles and snapshots before this
    /// day are missing from the folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_from_day: Option<f64>,
    /// Warnings the run raised (also in the report).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Every file of the folder, this one first.
    pub files: Vec<FileEntry>,
    /// The research-aid disclaimer.
    pub disclaimer: String,
}

/// Where a run's files go: a folder on disk ([`RunFolder`]) or memory ([`MemorySink`]), so a
/// server can stream results and tests need no disk.
pub trait Sink {
    /// Add one file (`name` may hold `/` for a subfolder).
    fn write(
        &mut self,
        name: &str,
        kind: &str,
        description: &str,
        bytes: &[u8],
    ) -> Result<(), IoError>;
    /// Add one file whose bytes `fill` writes piece by piece, for files too large to hold
    /// whole (field snapshots of large patches). The default collects them and calls
    /// [`Sink::write`]; a [`RunFolder`] writes them straight to disk.
    fn write_with(
        &mut self,
        name: &str,
        kind: &str,
        description: &str,
        fill: &mut dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<()>,
    ) -> Result<(), IoError> {
        let mut bytes = Vec::new();
        fill(&mut bytes).map_err(|source| IoError::Write { path: name.into(), source })?;
        self.write(name, kind, description, &bytes)
    }
    /// The files written so far, in write order.
    fn files(&self) -> &[FileEntry];
}

/// A sink that keeps every file in memory.
#[derive(Debug, Default)]
pub struct MemorySink {
    entries: Vec<FileEntry>,
    contents: Vec<Vec<u8>>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> MemorySink {
        MemorySink::default()
    }

    /// The bytes of file `name`, if written.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.entries.iter().position(|e| e.path == name).map(|i| self.contents[i].as_slice())
    }
}

impl Sink for MemorySink {
    fn write(
        &mut self,
        name: &str,
        kind: &str,
        description: &str,
        bytes: &[u8],
    ) -> Result<(), IoError> {
        let entry = FileEntry {
            path: name.into(),
            kind: kind.into(),
            description: description.into(),
            bytes: bytes.len() as u64,
        };
        match self.entries.iter().position(|e| e.path == name) {
            Some(i) => {
                self.entries[i] = entry;
                self.contents[i] = bytes.to_vec();
            }
            None => {
                self.entries.push(entry);
                self.contents.push(bytes.to_vec());
            }
        }
        Ok(())
    }

    fn files(&self) -> &[FileEntry] {
        &self.entries
    }
}

/// A run folder being assembled in a temporary location.
pub struct RunFolder {
    target: PathBuf,
    flag: String,
    staging: PathBuf,
    files: Vec<FileEntry>,
}

impl RunFolder {
    /// Start a run folder at `target` for the option `flag` (named in errors). The target must
    /// be missing, an empty folder or a dermasim run folder ([`check_folder_target`]); the
    /// staging folder is made now, so an unwritable place is reported before any work. Staging
    /// folders of dead runs in the same parent are cleaned.
    pub fn create(target: &Path, flag: &str) -> Result<RunFolder, IoError> {
        check_folder_target(target, flag)?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "run".into());
        let parent =
            target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent)
            .map_err(|source| IoError::Write { path: parent.into(), source })?;
        clean_stale_staging(parent);
        let staging = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        if staging.exists() {
            let _ = std::fs::remove_dir_all(&staging);
        }
        std::fs::create_dir(&staging)
            .map_err(|source| IoError::Write { path: target.into(), source })?;
        Ok(RunFolder { target: target.into(), flag: flag.into(), staging, files: Vec::new() })
    }

    /// Where files go before the commit (for writers that need a path).
    pub fn staging_dir(&self) -> &Path {
        &self.staging
    }

    /// List a file that a writer already put into `staging_dir()`.
    pub fn record(&mut self, name: &str, kind: &str, description: &str) -> Result<(), IoError> {
        let path = self.staging.join(name);
        let bytes =
            std::fs::metadata(&path).map_err(|source| IoError::Write { path, source })?.len();
        self.files.retain(|f| f.path != name);
        self.files.push(FileEntry {
            path: name.into(),
            kind: kind.into(),
            description: description.into(),
            bytes,
        });
        Ok(())
    }

    /// Write the manifest (listing every file plus itself) and move the folder into place,
    /// replacing an empty folder or an older dermasim run folder only once the new one is
    /// complete. Anything else that appeared at the target meanwhile is left alone.
    pub fn commit(mut self, mut manifest: Manifest) -> Result<PathBuf, IoError> {
        self.files.sort_by(|a, b| a.path.cmp(&b.path));
        manifest.files = self.files.clone();
        manifest.files.insert(
            0,
            FileEntry {
                path: "manifest.json".into(),
                kind: "manifest".into(),
                description: "this file: provenance of the run and the list of its files".into(),
                bytes: 0,
            },
        );
        let text = serde_json::to_string_pretty(&manifest).expect("manifest serialises");
        let path = self.staging.join("manifest.json");
        std::fs::write(&path, text).map_err(|source| IoError::Write { path, source })?;
        let state = check_folder_target(&self.target, &self.flag)?;
        let old = self.target.with_file_name(format!(
            ".{}.old-{}",
            self.target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            std::process::id()
        ));
        let had_old = state == FolderTarget::RunFolder;
        if had_old {
            std::fs::rename(&self.target, &old)
                .map_err(|source| IoError::Write { path: self.target.clone(), source })?;
        }
        // Renaming onto an empty folder replaces it in one step.
        if let Err(source) = std::fs::rename(&self.staging, &self.target) {
            if had_old {
                let _ = std::fs::rename(&old, &self.target);
            }
            return Err(IoError::Write { path: self.target.clone(), source });
        }
        if had_old {
            let _ = std::fs::remove_dir_all(&old);
        }
        let target = self.target.clone();
        self.staging = PathBuf::new();
        Ok(target)
    }
}

impl Sink for RunFolder {
    fn write(
        &mut self,
        name: &str,
        kind: &str,
        description: &str,
        bytes: &[u8],
    ) -> Result<(), IoError> {
        self.write_with(name, kind, description, &mut |w| w.write_all(bytes))
    }

    fn write_with(
        &mut self,
        name: &str,
        kind: &str,
        description: &str,
        fill: &mut dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<()>,
    ) -> Result<(), IoError> {
        use std::io::Write;
        let path = self.staging.join(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|source| IoError::Write { path: dir.into(), source })?;
        }
        let error = |source| IoError::Write { path: path.clone(), source };
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).map_err(error)?);
        fill(&mut file).map_err(error)?;
        file.flush().map_err(error)?;
        self.record(name, kind, description)
    }

    fn files(&self) -> &[FileEntry] {
        &self.files
    }
}

impl Drop for RunFolder {
    fn drop(&mut self) {
        // An uncommitted folder is removed: no partial output.
        if !self.staging.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.staging);
        }
    }
}

/// Write (or replace) one file of a committed run folder and its entry in `manifest.json`.
/// Each is written to a temporary sibling and renamed over the old one, so a reader sees the
/// old file or the new one, never a partial one.
pub fn replace_in_folder(
    dir: &Path,
    name: &str,
    kind: &str,
    description: &str,
    bytes: &[u8],
) -> Result<(), IoError> {
    let manifest_path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&manifest_path)
        .map_err(|source| IoError::Read { path: manifest_path.clone(), source })?;
    let mut manifest: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| IoError::Syntax {
            path: manifest_path.display().to_string(),
            format: "JSON",
            message: e.to_string(),
        })?;
    let files = manifest.get_mut("files").and_then(|f| f.as_array_mut()).ok_or_else(|| {
        IoError::Syntax {
            path: manifest_path.display().to_string(),
            format: "manifest",
            message: "no `files` list".into(),
        }
    })?;
    write_atomic(&dir.join(name), bytes)?;
    let entry = FileEntry {
        path: name.into(),
        kind: kind.into(),
        description: description.into(),
        bytes: bytes.len() as u64,
    };
    files.retain(|f| f.get("path").and_then(|p| p.as_str()) != Some(name));
    files.push(serde_json::to_value(entry).expect("entry serialises"));
    // The manifest first, then by path, as `commit` writes it.
    files.sort_by_key(|f| {
        let p = f.get("path").and_then(|p| p.as_str()).unwrap_or_default().to_string();
        (p != "manifest.json", p)
    });
    write_atomic(
        &manifest_path,
        serde_json::to_string_pretty(&manifest).expect("manifest serialises").as_bytes(),
    )
}

/// Column names of the timeline tables (CSV, Parquet): each quantity, units in its name,
/// followed by its ensemble band when there is one.
pub fn timeline_columns(summary: &Summary) -> Vec<String> {
    let Some(first) = summary.timeline.first() else { return Vec::new() };
    let mut names: Vec<String> = Vec::new();
    for (name, _) in first.columns() {
        names.push(name.to_string());
        for suffix in ["_p05", "_p50", "_p95"] {
            let band = format!("{name}{suffix}");
            if first.bands.contains_key(&band) {
                names.push(band);
            }
        }
    }
    names
}

/// The timeline as CSV, units in the column names; ensemble bands follow their columns.
pub fn timeseries_csv(summary: &Summary) -> String {
    let mut out = String::new();
    let names = timeline_columns(summary);
    out.push_str(&names.join(","));
    out.push('\n');
    for p in &summary.timeline {
        let row: Vec<String> =
            names.iter().map(|n| format!("{}", p.get(n).unwrap_or(f64::NAN))).collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            program: "dermasim".into(),
            version: "0".into(),
            created_utc: crate::utc_now(),
            command: vec![],
            scenario_hash: "x".into(),
            seed: 1,
            fidelity: "0d".into(),
            threads: 1,
            wall_time_s: 0.0,
            parameter_set: "p".into(),
            ensemble_members: None,
            resumed_from_day: None,
            warnings: vec![],
            files: vec![],
            disclaimer: String::new(),
        }
    }

    #[test]
    fn dropped_folder_leaves_nothing_and_commit_replaces_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("run");
        {
            let mut f = RunFolder::create(&target, "--out").unwrap();
            f.write("a.txt", "text", "a", b"1").unwrap();
        }
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "uncommitted folder must vanish"
        );
        let mut f = RunFolder::create(&target, "--out").unwrap();
        f.write("a.txt", "text", "a", b"1").unwrap();
        f.commit(manifest()).unwrap();
        let mut f = RunFolder::create(&target, "--out").unwrap();
        f.write("b.txt", "text", "b", b"2").unwrap();
        f.commit(manifest()).unwrap();
        assert!(!target.join("a.txt").exists() && target.join("b.txt").exists());
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(target.join("manifest.json")).unwrap())
                .unwrap();
        let listed: Vec<&str> =
            m["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
        assert_eq!(listed, ["manifest.json", "b.txt"]);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn replacing_a_file_updates_its_manifest_entry() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("run");
        let mut f = RunFolder::create(&target, "--out").unwrap();
        f.write("b.txt", "text", "b", b"2").unwrap();
        f.commit(manifest()).unwrap();
        replace_in_folder(&target, "a.html", "report", "new", b"12345").unwrap();
        replace_in_folder(&target, "b.txt", "text", "b again", b"333").unwrap();
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(target.join("manifest.json")).unwrap())
                .unwrap();
        let files = m["files"].as_array().unwrap();
        let listed: Vec<(&str, u64)> = files
            .iter()
            .map(|f| (f["path"].as_str().unwrap(), f["bytes"].as_u64().unwrap()))
            .collect();
        assert_eq!(listed[1..], [("a.html", 5), ("b.txt", 3)]);
        assert_eq!(listed[0].0, "manifest.json");
        assert_eq!(files[2]["description"], "b again");
        assert_eq!(std::fs::read(target.join("b.txt")).unwrap(), b"333");
        let names: Vec<String> = std::fs::read_dir(&target)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 3, "no temporary files left: {names:?}");
        assert!(replace_in_folder(&dir.path().join("missing"), "x", "k", "d", b"").is_err());
    }
}

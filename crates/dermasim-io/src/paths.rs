//! Where dermasim may write: the one rule for every output path.
//!
//! dermasim never deletes or overwrites what it did not create. A folder target is replaced
//! only when it is missing, an empty directory, or a dermasim run folder (its `manifest.json`
//! says `"program": "dermasim"`). A file target is written through a symlink to the file it
//! names, and straight into a device or pipe, never replaced by a plain file.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::IoError;

/// What a folder target holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderTarget {
    /// Nothing there yet.
    Missing,
    /// An empty directory (kept if the run fails).
    Empty,
    /// An earlier dermasim run folder, replaced once the new one is complete.
    RunFolder,
}

fn refused(flag: &str, path: &Path, why: impl Into<String>) -> IoError {
    IoError::Refused { flag: flag.into(), path: path.into(), why: why.into() }
}

/// Check that `path` may be replaced by a run folder; `flag` names the option in the message.
pub fn check_folder_target(path: &Path, flag: &str) -> Result<FolderTarget, IoError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FolderTarget::Missing),
        Err(source) => return Err(IoError::Write { path: path.into(), source }),
    };
    let ft = meta.file_type();
    if ft.is_symlink() {
        return Err(refused(
            flag,
            path,
            "is a symbolic link; name a new folder or a dermasim run folder",
        ));
    }
    if !ft.is_dir() {
        return Err(refused(
            flag,
            path,
            "exists and is not a folder; name a new folder or a dermasim run folder",
        ));
    }
    let mut entries =
        std::fs::read_dir(path).map_err(|source| IoError::Read { path: path.into(), source })?;
    if entries.next().is_none() {
        return Ok(FolderTarget::Empty);
    }
    if is_run_folder(path) {
        return Ok(FolderTarget::RunFolder);
    }
    Err(refused(
        flag,
        path,
        "is a folder that dermasim did not write (no dermasim manifest.json); dermasim replaces only \
         empty folders and its own run folders",
    ))
}

/// Whether `dir` holds a `manifest.json` written by dermasim.
pub fn is_run_folder(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.join("manifest.json")) else { return false };
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|m| m.get("program").and_then(|p| p.as_str()).map(|p| p == "dermasim"))
        .unwrap_or(false)
}

/// Write a whole file for option `flag`: atomically (temporary sibling, then rename) for a
/// regular or new file, through a symlink to the file it points at, straight into a device or
/// pipe. A folder is refused.
pub fn write_file(path: &Path, bytes: &[u8], flag: &str) -> Result<PathBuf, IoError> {
    let target = match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => match std::fs::canonicalize(path) {
            Ok(resolved) => resolved,
            Err(_) => return Err(refused(flag, path, "is a symbolic link to nothing")),
        },
        _ => path.to_path_buf(),
    };
    match std::fs::metadata(&target) {
        Ok(m) if m.is_dir() => Err(refused(flag, path, "is a folder; name a file")),
        Ok(m) if !m.is_file() => {
            // A device or a pipe: the user meant to write into it.
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .open(&target)
                .map_err(|source| IoError::Write { path: path.into(), source })?;
            f.write_all(bytes).map_err(|source| IoError::Write { path: path.into(), source })?;
            Ok(path.to_path_buf())
        }
        _ => {
            write_atomic(&target, bytes)?;
            Ok(path.to_path_buf())
        }
    }
}

/// Write `bytes` to a temporary sibling of `path`, then rename it over `path`: readers see the
/// old file or the new one, never part of one. The temporary is named
/// [`temporary_prefix`]`(path)` + random + `.tmp`, so what a killed write left of one file can
/// be found and removed without touching other files' writes in progress.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|source| IoError::Write { path: dir.into(), source })?;
    let mut tmp = tempfile::Builder::new()
        .prefix(&temporary_prefix(path))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|source| IoError::Write { path: path.into(), source })?;
    tmp.write_all(bytes).map_err(|source| IoError::Write { path: path.into(), source })?;
    tmp.as_file().sync_all().map_err(|source| IoError::Write { path: path.into(), source })?;
    tmp.persist(path).map_err(|e| IoError::Write { path: path.into(), source: e.error })?;
    Ok(())
}

/// The name prefix of [`write_atomic`]'s temporaries for `path`: `.dermasim-NAME-`.
pub fn temporary_prefix(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    format!(".dermasim-{name}-")
}

/// Remove staging folders (`.NAME.tmp-PID`, `.NAME.old-PID`) left in `parent` by dermasim runs
/// whose process no longer exists. Only folders with that exact shape whose process is gone are
/// touched.
pub fn clean_stale_staging(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = staging_pid(&name) else { continue };
        if pid == std::process::id() || process_alive(pid) {
            continue;
        }
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// The process id in a staging folder name `.NAME.tmp-PID` or `.NAME.old-PID`.
fn staging_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    let (_, pid) = rest.rsplit_once(".tmp-").or_else(|| rest.rsplit_once(".old-"))?;
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        // Without a cheap liveness check elsewhere, never remove another process's folder.
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_folders_files_and_links_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::create_dir(&victim).unwrap();
        std::fs::write(victim.join("thesis.txt"), "x").unwrap();
        let e = check_folder_target(&victim, "--out").unwrap_err().to_string();
        assert!(e.contains("--out") && e.contains("did not write"), "{e}");
        let file = dir.path().join("f.txt");
        std::fs::write(&file, "x").unwrap();
        assert!(check_folder_target(&file, "--out").is_err());
        #[cfg(unix)]
        {
            let link = dir.path().join("link");
            std::os::unix::fs::symlink(dir.path().join("nowhere"), &link).unwrap();
            assert!(check_folder_target(&link, "--out").is_err());
            assert!(check_folder_target(Path::new("/dev/null"), "--out").is_err());
        }
        assert_eq!(
            check_folder_target(&dir.path().join("new"), "--out").unwrap(),
            FolderTarget::Missing
        );
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        assert_eq!(check_folder_target(&empty, "--out").unwrap(), FolderTarget::Empty);
        std::fs::write(empty.join("manifest.json"), r#"{"program":"dermasim"}"#).unwrap();
        assert_eq!(check_folder_target(&empty, "--out").unwrap(), FolderTarget::RunFolder);
        std::fs::write(empty.join("manifest.json"), r#"{"program":"other"}"#).unwrap();
        assert!(check_folder_target(&empty, "--out").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn files_are_written_through_links_and_into_devices() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.md");
        std::fs::write(&real, "old").unwrap();
        let link = dir.path().join("link.md");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_file(&link, b"new", "--markdown").unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
        write_file(Path::new("/dev/null"), b"into the device", "--markdown").unwrap();
        assert!(!std::fs::metadata("/dev/null").unwrap().is_file(), "/dev/null stays a device");
        let e = write_file(dir.path(), b"x", "--chart").unwrap_err().to_string();
        assert!(e.contains("--chart") && e.contains("folder"), "{e}");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 2, "no temporary files left");
    }

    #[test]
    fn only_stale_staging_folders_of_dead_processes_are_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        // PIDs above the kernel's maximum (4194304) cannot be alive.
        for name in [".run.tmp-999999999", ".run.old-999999998", "keep.tmp-999999999", ".x.tmp-abc"]
        {
            std::fs::create_dir(dir.path().join(name)).unwrap();
        }
        let mine = format!(".run.tmp-{}", std::process::id());
        std::fs::create_dir(dir.path().join(&mine)).unwrap();
        clean_stale_staging(dir.path());
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        let mut want = vec![mine, "keep.tmp-999999999".to_string(), ".x.tmp-abc".to_string()];
        want.sort();
        assert_eq!(left, want);
    }
}

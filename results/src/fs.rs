//! The one place ipcbench writes files: result files, `latest.json`, baselines and the report.
//!
//! A file is never opened through a path another user could have prepared: it is written to a
//! fresh temp file in the target directory (`O_CREAT | O_EXCL`, mode 0600, a random name), then
//! renamed over the target. `rename` replaces a symlink sitting at the target with the file; it
//! never follows it. Files are 0600 and directories ipcbench creates are 0700: a run's figures,
//! command line and host facts are the user's own.
//!
//! A directory a file goes into must be one only its user (or root) can change: owned by this
//! user or root, and not writable by others unless its sticky bit keeps them from replacing
//! entries they do not own. Anything else is refused with one line naming the directory, rather
//! than used through a private subdirectory: a user who names `--out DIR` expects the results in
//! `DIR`, and a shared directory is better named outright (e.g. `--out $HOME/ipcbench`).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;

/// Mode of every file ipcbench writes.
pub const FILE_MODE: u32 = 0o600;
/// Mode of every directory ipcbench creates.
pub const DIR_MODE: u32 = 0o700;

/// Why a directory cannot take ipcbench's files.
#[derive(Debug, thiserror::Error)]
pub enum DirError {
    #[error("{path} is owned by another user (uid {uid})")]
    Foreign { path: String, uid: u32 },
    #[error("{path} is writable by other users and has no sticky bit")]
    Open { path: String },
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// Creates `dir` and any missing parents (0700), then checks that it is safe to write into.
pub fn private_dir(dir: &Path) -> Result<(), DirError> {
    let io = |source| DirError::Io { path: dir.display().to_string(), source };
    std::fs::DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir).map_err(io)?;
    check_dir(dir)
}

/// Checks that only this user (or root) can change `dir`'s entries; a symlink to it counts as
/// its own path (its owner must be this user or root too).
pub fn check_dir(dir: &Path) -> Result<(), DirError> {
    let path = dir.display().to_string();
    let io = |source| DirError::Io { path: path.clone(), source };
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    let trusted = |uid: u32| uid == me || uid == 0;
    let link = std::fs::symlink_metadata(dir).map_err(io)?;
    if link.file_type().is_symlink() && !trusted(link.uid()) {
        return Err(DirError::Foreign { path, uid: link.uid() });
    }
    let meta = std::fs::metadata(dir).map_err(io)?;
    if !meta.is_dir() {
        return Err(io(std::io::Error::from(std::io::ErrorKind::NotADirectory)));
    }
    if !trusted(meta.uid()) {
        return Err(DirError::Foreign { path, uid: meta.uid() });
    }
    let mode = meta.permissions().mode();
    if mode & 0o002 != 0 && mode & 0o1000 == 0 {
        return Err(DirError::Open { path });
    }
    Ok(())
}

/// Writes `path` atomically and safely: a fresh temp file (0600) in its directory, filled by
/// `fill`, flushed to disk, then renamed over `path`. A reader (or a crash) never sees half a
/// file, and whatever sat at `path` (a file, a symlink) is replaced, never written through.
pub fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    // tempfile opens with O_CREAT | O_EXCL (and O_CLOEXEC), mode 0600, under a random name.
    let mut tmp = tempfile::Builder::new()
        .prefix(".ipcbench-")
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(FILE_MODE))
        .tempfile_in(dir)?;
    // Buffered: serde writes token by token, and a run file is rewritten after every case.
    let mut w = std::io::BufWriter::with_capacity(1 << 16, tmp.as_file_mut());
    fill(&mut w)?;
    w.flush()?;
    drop(w);
    tmp.as_file().sync_data()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// [`write_atomic`] of a byte string.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic(path, |w| w.write_all(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symlink_at_the_target_is_replaced_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let target = dir.path().join("index.html");
        std::os::unix::fs::symlink(&victim, &target).unwrap();
        write_bytes(&target, b"<html>").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "<html>");
        assert!(!std::fs::symlink_metadata(&target).unwrap().file_type().is_symlink());
        let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, FILE_MODE);
    }

    #[test]
    fn created_directories_are_private_and_open_ones_refused() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a/b");
        private_dir(&sub).unwrap();
        let mode = std::fs::metadata(&sub).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, DIR_MODE);
        std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(check_dir(&sub), Err(DirError::Open { .. })));
        std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o1777)).unwrap();
        check_dir(&sub).unwrap();
    }
}

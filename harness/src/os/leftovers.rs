//! What a runner that no handler could stop (`kill -9`, a crash, power loss) leaves behind, and
//! its removal at the next start.
//!
//! Everything ipcbench creates under a name carries the creating process's pid:
//! `ipcbench[-word]-{pid}-{random}` for temp dirs (in the temp dir, `--dir` and `/dev/shm`) and
//! POSIX shm objects (`/dev/shm`). A System V segment has no name, but the kernel keeps its
//! creator's pid. At start, [`sweep`] removes such objects of this user whose pid is no longer a
//! live process, and System V segments of this user that nobody has attached whose creator was
//! one of those dead runners (ipcbench marks a segment for removal as soon as it is attached, so
//! only a runner killed between `shmget` and that mark leaves one). ipcbench makes no message
//! queues. A pid that is alive again (reused) is left alone: the sweep never guesses.

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A private (0700) temp dir `ipcbench-{pid}-{random}` in `base`, removed on drop; swept by a
/// later start if this process dies without dropping it.
pub fn private_temp_dir(base: &Path, word: &str) -> std::io::Result<tempfile::TempDir> {
    use std::os::unix::fs::PermissionsExt;
    let prefix = match word {
        "" => format!("ipcbench-{}-", std::process::id()),
        w => format!("ipcbench-{w}-{}-", std::process::id()),
    };
    tempfile::Builder::new()
        .prefix(&prefix)
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir_in(base)
}

/// The pid in an ipcbench name (`ipcbench-4242-…`, `ipcbench-msync-4242-…`), if it is one.
pub fn pid_in_name(name: &str) -> Option<i32> {
    let rest = name.strip_prefix("ipcbench-")?;
    let mut parts = rest.split('-');
    for part in parts.by_ref() {
        if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
            // A random part must follow: `ipcbench-4242` alone is not one of ours.
            return parts.next().filter(|r| !r.is_empty()).and(part.parse().ok());
        }
        if !part.bytes().all(|b| b.is_ascii_lowercase()) {
            return None;
        }
    }
    None
}

/// Whether `pid` names a live process (of any user).
fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks; EPERM means it exists but is another user's.
    pid > 0
        && (unsafe { libc::kill(pid, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
}

/// What a sweep removed.
#[derive(Debug, Default)]
pub struct Swept {
    pub dirs: Vec<PathBuf>,
    pub shm_objects: Vec<PathBuf>,
    pub sysv_segments: Vec<i32>,
    /// The dead runners they came from.
    pub pids: BTreeSet<i32>,
}

impl Swept {
    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty() && self.shm_objects.is_empty() && self.sysv_segments.is_empty()
    }
}

impl std::fmt::Display for Swept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pids: Vec<String> = self.pids.iter().map(|p| p.to_string()).collect();
        write!(
            f,
            "removed what ended ipcbench runs left (pid {}): {} temp dir(s), {} /dev/shm \
             object(s), {} System V segment(s)",
            pids.join(", "),
            self.dirs.len(),
            self.shm_objects.len(),
            self.sysv_segments.len()
        )
    }
}

/// Removes the leftovers of dead ipcbench processes of this user in `dirs` (temp dirs and shm
/// objects by name) and among the System V segments.
pub fn sweep(dirs: &[&Path]) -> Swept {
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    let mut swept = Swept::default();
    let mut seen = BTreeSet::new();
    for dir in dirs {
        let Ok(canon) = dir.canonicalize() else { continue };
        if !seen.insert(canon.clone()) {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&canon) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(pid_in_name) else { continue };
            // lstat: a symlink named like ours is never followed.
            let Ok(meta) = entry.path().symlink_metadata() else { continue };
            if meta.uid() != me || pid == std::process::id() as i32 || alive(pid) {
                continue;
            }
            let path = entry.path();
            if meta.is_dir() {
                if std::fs::remove_dir_all(&path).is_ok() {
                    swept.pids.insert(pid);
                    swept.dirs.push(path);
                }
            } else if meta.is_file()
                && canon == Path::new("/dev/shm")
                && std::fs::remove_file(&path).is_ok()
            {
                swept.pids.insert(pid);
                swept.shm_objects.push(path);
            }
        }
    }
    let dead = swept.pids.clone();
    for (id, cpid) in unattached_segments(me) {
        if dead.contains(&cpid) {
            // SAFETY: plain syscall on a segment of ours that nobody has attached.
            if unsafe { libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()) } == 0 {
                swept.sysv_segments.push(id);
            }
        }
    }
    swept
}

/// System V segments of user `uid` with no process attached: (id, creator pid).
fn unattached_segments(uid: u32) -> Vec<(i32, i32)> {
    let Ok(text) = std::fs::read_to_string("/proc/sysvipc/shm") else { return Vec::new() };
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (Some(id), Some(cpid), Some(nattch), Some(owner)) =
        (col("shmid"), col("cpid"), col("nattch"), col("uid"))
    else {
        return Vec::new();
    };
    lines
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let num = |i: usize| f.get(i)?.parse::<i64>().ok();
            (num(owner)? == uid as i64 && num(nattch)? == 0)
                .then(|| Some((num(id)? as i32, num(cpid)? as i32)))
                .flatten()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_are_read_from_our_names_only() {
        assert_eq!(pid_in_name("ipcbench-4242-abcdef"), Some(4242));
        assert_eq!(pid_in_name("ipcbench-msync-77-x1"), Some(77));
        assert_eq!(pid_in_name("ipcbench-4242"), None);
        assert_eq!(pid_in_name("ipcbench-Xy12ab"), None);
        assert_eq!(pid_in_name("other-4242-abc"), None);
    }

    #[test]
    fn a_dead_processs_dir_is_swept_and_a_live_ones_kept() {
        let base = tempfile::tempdir().unwrap();
        let mine = private_temp_dir(base.path(), "").unwrap();
        // A pid that cannot be alive: above the kernel's pid_max.
        let dead = base.path().join("ipcbench-99999999-zz");
        std::fs::create_dir(&dead).unwrap();
        std::fs::write(dead.join("f"), "x").unwrap();
        let swept = sweep(&[base.path()]);
        assert!(!dead.exists());
        assert!(mine.path().exists());
        assert_eq!(swept.dirs.len(), 1);
        assert!(swept.to_string().contains("99999999"), "{swept}");
    }
}

//! What a runner that no handler could stop (`kill -9`, a crash, power loss) leaves behind, and
//! its removal at the next start.
//!
//! Everything ipcbench creates under a name carries the creating process's pid:
//! `ipcbench[-word]-{pid}-{random}` for temp dirs (in the temp dir, `--dir` and `/dev/shm`) and
//! POSIX shm objects (`/dev/shm`). A System V segment has no name, but the kernel keeps its
//! creator's pid. At start, [`sweep`] removes such objects of this user whose pid is no longer a
//! live process, and System V segments of this user that nobody has attached whose creator was
//! one of those dead runners (ipcbench marks a segment for removal as soon as it is attached, so
//! only a runner killed between `shmget` and that mark leaves one).
//!
//! Message queues: a POSIX queue is named like a shm object; it is found in `/dev/mqueue` where
//! that is mounted, and, since it often is not (containers), through a marker file
//! `<queue name>.mqueue` that the runner writes into its private temp dir before it creates the
//! queue: a dead runner's dir is read for markers before it is removed. A System V queue has no
//! name: its key carries [`MSG_KEY_MARK`] and the creator's pid ([`MSG_KEY_PID_MASK`]). FIFOs and
//! iceoryx2's files live in private temp dirs and `/dev/shm` names of the same form.
//!
//! A pid that is alive again (reused) is left alone: the sweep never guesses.

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Set in the key of every System V message queue ipcbench makes (bit 30; bit 31 clear keeps
/// keys positive).
pub const MSG_KEY_MARK: i32 = 0x4000_0000;
/// The creator's pid in such a key: the low 22 bits (Linux pids stay below 2^22).
pub const MSG_KEY_PID_MASK: i32 = 0x003f_ffff;
/// A marker `<name>.mqueue` in a runner's private dir: its POSIX queue `/<name>` (see above).
pub const MQUEUE_MARKER_EXT: &str = "mqueue";

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
    /// POSIX message queue names (`/ipcbench-…`).
    pub mqueues: Vec<String>,
    /// System V message queue ids.
    pub msg_queues: Vec<i32>,
    /// The dead runners they came from.
    pub pids: BTreeSet<i32>,
}

impl Swept {
    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty()
            && self.shm_objects.is_empty()
            && self.sysv_segments.is_empty()
            && self.mqueues.is_empty()
            && self.msg_queues.is_empty()
    }
}

impl std::fmt::Display for Swept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pids: Vec<String> = self.pids.iter().map(|p| p.to_string()).collect();
        write!(
            f,
            "removed what ended ipcbench runs left (pid {}): {} temp dir(s), {} /dev/shm \
             object(s), {} System V segment(s), {} POSIX message queue(s), {} System V message \
             queue(s)",
            pids.join(", "),
            self.dirs.len(),
            self.shm_objects.len(),
            self.sysv_segments.len(),
            self.mqueues.len(),
            self.msg_queues.len()
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
                for name in marked_mqueues(&path) {
                    if unlink_mqueue(&name) {
                        swept.pids.insert(pid);
                        swept.mqueues.push(name);
                    }
                }
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
    // Queues /dev/mqueue shows (where mounted) that no marker named.
    if let Ok(entries) = std::fs::read_dir("/dev/mqueue") {
        for entry in entries.flatten() {
            let Some(name) = entry.file_name().to_str().map(str::to_string) else { continue };
            let Some(pid) = pid_in_name(&name) else { continue };
            let Ok(meta) = entry.path().symlink_metadata() else { continue };
            if meta.uid() != me || pid == std::process::id() as i32 || alive(pid) {
                continue;
            }
            let name = format!("/{name}");
            if unlink_mqueue(&name) {
                swept.pids.insert(pid);
                swept.mqueues.push(name);
            }
        }
    }
    for (id, pid) in marked_msg_queues(me) {
        if pid != std::process::id() as i32 && !alive(pid) {
            // SAFETY: plain syscall on a queue of ours whose creator is dead.
            if unsafe { libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()) } == 0 {
                swept.pids.insert(pid);
                swept.msg_queues.push(id);
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

/// The POSIX queues a dead runner's private dir has markers for (`/name`), at most two levels
/// down (a pair's own dir inside the run's).
fn marked_mqueues(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    let mut dirs = vec![(dir.to_path_buf(), 0)];
    while let Some((d, depth)) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let (path, Ok(kind)) = (e.path(), e.file_type()) else { continue };
            if kind.is_dir() && depth < 2 {
                dirs.push((path, depth + 1));
            } else if kind.is_file() && path.extension().is_some_and(|x| x == MQUEUE_MARKER_EXT) {
                let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
                if pid_in_name(stem).is_some() {
                    names.push(format!("/{stem}"));
                }
            }
        }
    }
    names
}

/// `mq_unlink(name)`; whether a queue was removed.
fn unlink_mqueue(name: &str) -> bool {
    let Ok(c) = std::ffi::CString::new(name) else { return false };
    // SAFETY: a valid NUL-terminated name.
    unsafe { libc::mq_unlink(c.as_ptr()) == 0 }
}

/// System V message queues of user `uid` whose key is ipcbench's: (id, creator pid).
fn marked_msg_queues(uid: u32) -> Vec<(i32, i32)> {
    let Ok(text) = std::fs::read_to_string("/proc/sysvipc/msg") else { return Vec::new() };
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (Some(key), Some(id), Some(owner)) = (col("key"), col("msqid"), col("uid")) else {
        return Vec::new();
    };
    lines
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let num = |i: usize| f.get(i)?.parse::<i64>().ok();
            let k = num(key)? as i32;
            (num(owner)? == uid as i64 && k & !(0xff << 22) & !MSG_KEY_PID_MASK == MSG_KEY_MARK)
                .then(|| Some((num(id)? as i32, k & MSG_KEY_PID_MASK)))
                .flatten()
        })
        .collect()
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

    /// A pid that was a process of ours and is gone now.
    /// A sweep removes what every dead runner left, system-wide (System V queues are not in
    /// any directory): two tests sweeping at once would take each other's planted leftovers.
    /// The tests that sweep take turns.
    static SWEEPS: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn one_sweep_at_a_time() -> std::sync::MutexGuard<'static, ()> {
        SWEEPS.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn dead_pid() -> i32 {
        let mut c = crate::os::process::Child::fork(|| 0).unwrap();
        c.wait().unwrap();
        c.pid()
    }

    #[test]
    fn a_dead_runners_message_queues_are_swept() {
        let _turn = one_sweep_at_a_time();
        let dead = dead_pid();
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join(format!("ipcbench-{dead}-zz"));
        std::fs::create_dir(&dir).unwrap();
        // A POSIX queue with its marker in the dead runner's dir, as posix-mq leaves them.
        let name = format!("ipcbench-{dead}-{:x}-a", crate::os::clock::now_ns());
        std::fs::write(dir.join(format!("{name}.{MQUEUE_MARKER_EXT}")), "").unwrap();
        let c = std::ffi::CString::new(format!("/{name}")).unwrap();
        // SAFETY: valid name; no attributes (the host's defaults).
        let q = unsafe {
            libc::mq_open(c.as_ptr(), libc::O_CREAT | libc::O_EXCL | libc::O_RDWR, 0o600, 0)
        };
        assert!(q >= 0, "mq_open: {}", std::io::Error::last_os_error());
        // SAFETY: our descriptor.
        unsafe { libc::mq_close(q) };
        // A System V queue whose key names the dead runner, as sysv-msg makes them.
        let key = MSG_KEY_MARK | (0x5a << 22) | (dead & MSG_KEY_PID_MASK);
        // SAFETY: plain syscall.
        let id = unsafe { libc::msgget(key, libc::IPC_CREAT | libc::IPC_EXCL | 0o600) };
        assert!(id >= 0, "msgget: {}", std::io::Error::last_os_error());

        let swept = sweep(&[base.path()]);
        assert_eq!(swept.mqueues, vec![format!("/{name}")]);
        assert!(swept.msg_queues.contains(&id), "{swept:?}");
        assert!(!dir.exists());
        // SAFETY: plain syscalls probing what the sweep removed.
        unsafe {
            assert_eq!(libc::mq_open(c.as_ptr(), libc::O_RDWR), -1, "the queue is gone");
            let mut ds: libc::msqid_ds = std::mem::zeroed();
            assert_eq!(libc::msgctl(id, libc::IPC_STAT, &mut ds), -1, "the SysV queue is gone");
        }
        assert!(swept.to_string().contains("1 POSIX message queue(s)"), "{swept}");
    }

    #[test]
    fn a_live_runners_message_queue_is_kept() {
        let _turn = one_sweep_at_a_time();
        // This process is alive: a queue keyed with its pid stays.
        let me = std::process::id() as i32;
        let key = MSG_KEY_MARK | (0x5b << 22) | (me & MSG_KEY_PID_MASK);
        // SAFETY: plain syscalls on a queue this test makes and removes.
        let id = unsafe { libc::msgget(key, libc::IPC_CREAT | libc::IPC_EXCL | 0o600) };
        assert!(id >= 0, "msgget: {}", std::io::Error::last_os_error());
        let swept = sweep(&[]);
        let kept = !swept.msg_queues.contains(&id);
        unsafe { libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
        assert!(kept, "a live runner's queue was swept");
    }

    #[test]
    fn a_dead_processs_dir_is_swept_and_a_live_ones_kept() {
        let _turn = one_sweep_at_a_time();
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

//! Helpers shared by the tests that drive the built binary as a user would.
#![allow(dead_code)]

use serde_json::Value;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

/// How long a command that measures (a scenario, `ab`, a shell or `script` around one) may run
/// before it is taken for hung, killed and the test failed with what it printed. A guard against
/// a hang, so that CI (5400 s in all) fails with a diagnosis instead of running into its
/// wall-clock limit; not a speed limit: most runs here take seconds, a minute or two at most on
/// a loaded 2-CPU host. A longer run passes its own limit (`run_into_within`).
pub const RUN_LIMIT: Duration = Duration::from_secs(20 * 60);

/// The same guard for a command that measures nothing (`list`, `--help`, `compare`, `export`,
/// `report`, a refusal of bad input, a tool's `--version`), which takes well under a second.
pub const QUICK_LIMIT: Duration = Duration::from_secs(2 * 60);

/// How long stdout and stderr may stay open once the child has exited (a process it left behind
/// may hold them) before what was read so far is taken as all of it.
const DRAIN_GRACE: Duration = Duration::from_secs(5);

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ipcbench"))
}

/// `cmd.output()` with a bound: stdin null, stdout and stderr piped (as `output()` has them;
/// a caller that wants other stdio spawns the child itself and calls [`wait_within`]). Panics if
/// the command cannot start, or runs past `limit` (it is then killed, see [`wait_within`]).
pub fn output_within(cmd: &mut Command, limit: Duration) -> Output {
    try_output_within(cmd, limit).unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"))
}

/// [`output_within`], for a command that may not be there: the error to start it is returned.
pub fn try_output_within(cmd: &mut Command, limit: Duration) -> std::io::Result<Output> {
    let child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    Ok(wait_within(child, &format!("{cmd:?}"), limit))
}

/// Waits for a spawned `child` (`what` names it in a panic) for at most `limit`, reading its
/// stdout and stderr, where piped, on threads of their own meanwhile, and returns them. Past
/// `limit` the child and every process below it are killed (SIGKILL), the child is reaped, and
/// this panics with `what` and the stderr read so far. A pipe still open 5 s after the child
/// exited (held by a process it left) gives what was read from it by then.
pub fn wait_within(mut child: Child, what: &str, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    let stdout = Drain::start(child.stdout.take());
    let stderr = Drain::start(child.stderr.take());
    let mut pause = Duration::from_millis(1);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap_or_else(|e| panic!("{what}: {e}")) {
            break status;
        }
        let now = Instant::now();
        if now >= deadline {
            kill_tree(&mut child);
            let status = child.wait().map_or_else(|e| e.to_string(), |s| s.to_string());
            let err = stderr.finish(Instant::now() + DRAIN_GRACE, what, "stderr");
            let tail = String::from_utf8_lossy(&err[err.len().saturating_sub(64 * 1024)..]);
            panic!(
                "{what} did not exit within {limit:?} (taken for hung): killed with its \
                 descendants (SIGKILL), {status}; stderr so far ({} bytes, at most the last \
                 64 KiB shown):\n{tail}",
                err.len()
            );
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    let grace = Instant::now() + DRAIN_GRACE;
    Output {
        status,
        stdout: stdout.finish(grace, what, "stdout"),
        stderr: stderr.finish(grace, what, "stderr"),
    }
}

/// A pipe read to its end on a thread of its own, into a buffer readable before the end.
struct Drain {
    read: Arc<Mutex<Vec<u8>>>,
    /// Disconnected once the pipe is read to its end (at once where there is no pipe).
    done: mpsc::Receiver<()>,
}

impl Drain {
    fn start(pipe: Option<impl Read + Send + 'static>) -> Drain {
        let read = Arc::new(Mutex::new(Vec::new()));
        let (tx, done) = mpsc::channel::<()>();
        if let Some(mut pipe) = pipe {
            let read = Arc::clone(&read);
            std::thread::spawn(move || {
                let _tx = tx;
                let mut chunk = vec![0; 64 * 1024];
                loop {
                    match pipe.read(&mut chunk) {
                        Ok(0) => break,
                        Ok(n) => read
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .extend_from_slice(&chunk[..n]),
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
            });
        }
        Drain { read, done }
    }

    /// All that was read once the pipe is read to its end, or what was read by `deadline`.
    fn finish(self, deadline: Instant, what: &str, name: &str) -> Vec<u8> {
        let wait = deadline.saturating_duration_since(Instant::now());
        if let Err(mpsc::RecvTimeoutError::Timeout) = self.done.recv_timeout(wait) {
            eprintln!(
                "note: the {name} of {what} is still open {DRAIN_GRACE:?} after it exited (a \
                 process it left holds it): what was read so far is taken"
            );
        }
        std::mem::take(&mut *self.read.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// SIGKILLs `child` and every process below it: all stopped first (twice, to catch one forked
/// meanwhile), so that none forks or is reparented away while the tree is read.
fn kill_tree(child: &mut Child) {
    let root = child.id();
    let mut tree = vec![root];
    for _ in 0..2 {
        for p in descendants(root) {
            if !tree.contains(&p) {
                tree.push(p);
            }
        }
        for &p in &tree {
            // SAFETY: a signal to a process this test started or one below it.
            unsafe { libc::kill(p as i32, libc::SIGSTOP) };
        }
    }
    for &p in &tree[1..] {
        // SAFETY: as above.
        unsafe { libc::kill(p as i32, libc::SIGKILL) };
    }
    let _ = child.kill();
}

/// Every process below `root` (children, their children, …), from /proc.
fn descendants(root: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { continue };
        // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
        let rest = &stat[stat.rfind(')').unwrap_or(0) + 1..];
        if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok()) {
            parent_of.push((pid, ppid));
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        let children: Vec<u32> = parent_of
            .iter()
            .filter(|&&(c, pp)| pp == p && !tree.contains(&c))
            .map(|&(c, _)| c)
            .collect();
        tree.extend(children);
        i += 1;
    }
    tree.remove(0);
    tree
}

/// Runs ipcbench with `args`, results into `out`; returns the output and the parsed latest.json.
/// A run past [`RUN_LIMIT`] is taken for hung: killed, and the test fails.
pub fn run_into(out: &Path, args: &[&str]) -> (Output, Option<Value>) {
    run_into_within(out, args, RUN_LIMIT)
}

/// [`run_into`] with a limit of its own, for a run longer than most.
pub fn run_into_within(out: &Path, args: &[&str], limit: Duration) -> (Output, Option<Value>) {
    let o = output_within(bin().args(args).arg("--out").arg(out), limit);
    let latest = std::fs::read_to_string(out.join("latest.json")).ok();
    (o, latest.map(|s| serde_json::from_str(&s).expect("latest.json is JSON")))
}

pub fn cases(run: &Value) -> Vec<Value> {
    run["cases"].as_array().cloned().unwrap_or_default()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// What runner `pid` left in /dev/shm (POSIX names and private dirs carry its pid), in System V
/// shared memory (segments it created), among POSIX message queues (names carry its pid) and
/// System V message queues (keys carry its pid). Scoped to one runner, so that other runs on the
/// machine do not disturb the count. FIFOs live in the run's `--dir`, which callers check.
pub fn left_by(pid: u32) -> Vec<String> {
    let tag = format!("-{pid}-");
    let mut left: Vec<String> = std::fs::read_dir("/dev/shm")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with("ipcbench") && n.contains(&tag))
                .map(|n| format!("/dev/shm/{n}"))
                .collect()
        })
        .unwrap_or_default();
    // key shmid perms size cpid lpid …
    let table = std::fs::read_to_string("/proc/sysvipc/shm").unwrap_or_default();
    left.extend(
        table
            .lines()
            .skip(1)
            .filter(|l| l.split_whitespace().nth(4) == Some(pid.to_string().as_str()))
            .map(|l| format!("SysV segment {}", l.split_whitespace().nth(1).unwrap_or("?"))),
    );
    // iceoryx2's root directory per case (harness/src/transport/iceoryx2.rs).
    left.extend(
        std::fs::read_dir(std::env::temp_dir())
            .map(|d| {
                d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter(|n| n.starts_with(&format!("ipcbench-{pid}-")))
                    .map(|n| format!("iceoryx2 root {n}"))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default(),
    );
    left.extend(
        mqueue_names()
            .into_iter()
            .filter(|n| n.starts_with("ipcbench") && n.contains(&tag))
            .map(|n| format!("POSIX message queue /{n}")),
    );
    // key msqid perms cbytes qnum …: ipcbench's keys carry bit 30 and the runner's pid in the
    // low 22 bits (harness/src/transport/sysv_msg.rs).
    let table = std::fs::read_to_string("/proc/sysvipc/msg").unwrap_or_default();
    left.extend(
        table
            .lines()
            .skip(1)
            .filter(|l| {
                let key: i64 =
                    l.split_whitespace().next().and_then(|k| k.parse().ok()).unwrap_or(0);
                key & 0xc000_0000 == 0x4000_0000 && key & 0x3f_ffff == i64::from(pid)
            })
            .map(|l| format!("SysV message queue {}", l.split_whitespace().nth(1).unwrap_or("?"))),
    );
    left
}

/// The names of the POSIX message queues of this IPC namespace, or none (with a warning) where
/// they cannot be listed (see [`try_mqueue_names`]): a caller that needs them listed to show
/// anything asks [`try_mqueue_names`] first.
pub fn mqueue_names() -> Vec<String> {
    try_mqueue_names().unwrap_or_else(|why| {
        eprintln!("warning: POSIX message queues not checked: {why}");
        Vec::new()
    })
}

/// The names of the POSIX message queues of this IPC namespace: from /dev/mqueue, or where it
/// is not mounted, from a private mount of the mqueue filesystem (needs `unshare -m`, as root).
/// `Err` says why neither works on this host.
pub fn try_mqueue_names() -> Result<Vec<String>, String> {
    let list = |d: &Path| -> Option<Vec<String>> {
        Some(
            std::fs::read_dir(d)
                .ok()?
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect(),
        )
    };
    if let Some(names) = list(Path::new("/dev/mqueue")) {
        return Ok(names);
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let o = try_output_within(
        Command::new("unshare").args([
            "-m",
            "sh",
            "-c",
            &format!("mount -t mqueue none {d} && ls -1 {d}"),
        ]),
        QUICK_LIMIT,
    );
    match o {
        Ok(o) if o.status.success() => {
            Ok(String::from_utf8_lossy(&o.stdout).lines().map(str::to_string).collect())
        }
        Ok(o) => Err(format!(
            "/dev/mqueue is not mounted, and a private mount of the mqueue filesystem failed \
             (`unshare -m` and `mount` need root): {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!("/dev/mqueue is not mounted, and `unshare` cannot start: {e}")),
    }
}

/// Asserts runner `pid` left nothing in /dev/shm or SysV shared memory.
pub fn assert_nothing_left(pid: u32) {
    let left = left_by(pid);
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Live processes running the ipcbench binary (runners, forked children, spawned workers).
pub fn ipcbench_processes() -> Vec<u32> {
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_ipcbench")).unwrap();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().filter_map(|e| e.ok()) {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        // Zombies have no exe link; they are not running.
        if std::fs::read_link(e.path().join("exe")).ok().as_deref() == Some(exe.as_path()) {
            out.push(pid);
        }
    }
    out
}

/// Children of `pid` that run the ipcbench binary (workers, not `git` and the like).
pub fn children_of(pid: u32) -> Vec<u32> {
    let ours = ipcbench_processes();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().filter_map(|e| e.ok()) {
        let Ok(child) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { continue };
        // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
        let rest = &stat[stat.rfind(')').unwrap_or(0) + 1..];
        if rest.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok()) == Some(pid)
            && ours.contains(&child)
        {
            out.push(child);
        }
    }
    out
}

/// Taken shared by a test that starts writeback itself (an fsync), alone by each attempt of
/// [`unless_written_back`]: the tests of one binary run side by side, and their own fsyncs must
/// not pass for the host's writeback.
static WRITEBACK: RwLock<()> = RwLock::new(());

/// Held while a test starts page writeback (fsync, msync(MS_SYNC)): see [`unless_written_back`].
pub fn writes_back() -> RwLockReadGuard<'static, ()> {
    WRITEBACK.read().unwrap_or_else(|e| e.into_inner())
}

/// The host's writes, from /proc/vmstat: pages written back since boot (`nr_written`), KiB
/// written to block devices since boot (`pgpgout`: summed over the CPUs when read, so exact,
/// where `nr_written` may lag by a CPU's batch unless folded first, which needs root), and
/// pages under writeback now (`nr_writeback`).
fn vmstat_writeback() -> Option<Writes> {
    // Best effort: folds the CPUs' batched counts (root only; else nr_written may lag).
    let _ = std::fs::write("/proc/sys/vm/stat_refresh", "1");
    let vmstat = std::fs::read_to_string("/proc/vmstat").ok()?;
    let field = |name: &str| -> Option<u64> {
        vmstat.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
    };
    Some(Writes {
        pages: field("nr_written")?,
        kib: field("pgpgout")?,
        now: field("nr_writeback")?,
    })
}

/// See [`vmstat_writeback`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Writes {
    pages: u64,
    kib: u64,
    now: u64,
}

impl Writes {
    /// What was written from `self` to `later`, and what was under writeback then.
    fn until(self, later: Writes) -> Writes {
        Writes {
            pages: later.pages.saturating_sub(self.pages),
            kib: later.kib.saturating_sub(self.kib),
            now: later.now,
        }
    }
    fn quiet(self) -> bool {
        self == Writes { pages: 0, kib: 0, now: 0 }
    }
}

impl std::fmt::Display for Writes {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "{} page(s) written back, {} KiB written to block devices, {} page(s) under \
             writeback at the end",
            self.pages, self.kib, self.now
        )
    }
}

/// Attempts of [`unless_written_back`].
pub const WRITEBACK_ATTEMPTS: usize = 3;

/// Whether writeback on filesystem `fs` zeroes the bytes past end-of-file in a file's last
/// page (in the page cache), as the seed article's second listing shows: ext4, xfs and btrfs do
/// on every writeback of that page; tmpfs has no writeback. None: not known here (FUSE, ZFS,
/// NFS, overlay, whose upper filesystem decides, …).
pub fn zeroes_past_eof(fs: &str) -> Option<bool> {
    match fs {
        "ext2" | "ext3" | "ext4" | "xfs" | "btrfs" => Some(true),
        "tmpfs" | "ramfs" => Some(false),
        _ => None,
    }
}

/// A dirty page of a 40-byte file in the system temp dir (where the tests' private dirs are),
/// written whole through a shared mapping: on a filesystem that zeroes past end-of-file on
/// writeback ([`zeroes_past_eof`]) its bytes past 40 read as zeros once the host wrote it back.
struct Canary {
    map: memmap2::MmapMut,
    _dir: tempfile::TempDir,
}

impl Canary {
    fn new() -> std::io::Result<Canary> {
        let dir = tempfile::tempdir()?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(dir.path().join("canary"))?;
        file.set_len(40)?;
        // SAFETY: a private file of ours; its first page, which holds end-of-file.
        let mut map = unsafe { memmap2::MmapOptions::new().len(4096).map_mut(&file) }?;
        map.fill(0xa5);
        Ok(Canary { map, _dir: dir })
    }

    /// Whether it was written back: its bytes past end-of-file zeroed.
    fn written_back(&self) -> bool {
        self.map[40..].iter().any(|b| *b != 0xa5)
    }
}

/// For a check whose expected outcome needs a dirty page to stay unwritten for a moment (bytes
/// a mapping put past end-of-file stay in the page cache until writeback zeroes them): runs
/// `attempt` alone among this binary's tests ([`writes_back`]) beside a canary, a page dirtied
/// the same way just before it in the same temp dir, never flushed by the test.
///
/// Gives the outcome when it is `expected`, or when the host wrote back nothing meanwhile: the
/// canary kept its bytes (where writeback would have zeroed them, see [`zeroes_past_eof`]; on
/// another filesystem, no page of the host was written back: `nr_written`, `pgpgout`,
/// `nr_writeback` in /proc/vmstat). Then the precondition held and the caller's assertion
/// judges the code — a check that flushed its own page fails it. An unexpected outcome while
/// the host wrote back (background writeback under memory pressure, a global `sync`) proves
/// nothing: tried again, up to [`WRITEBACK_ATTEMPTS`] times, then `None` with the reason
/// printed (the caller skips the claim).
pub fn unless_written_back<T: std::fmt::Debug>(
    what: &str,
    mut attempt: impl FnMut() -> T,
    expected: impl Fn(&T) -> bool,
) -> Option<T> {
    let mut busy = Vec::new();
    for k in 1..=WRITEBACK_ATTEMPTS {
        let alone = WRITEBACK.write().unwrap_or_else(|e| e.into_inner());
        let canary = Canary::new().unwrap_or_else(|e| panic!("a canary page in the temp dir: {e}"));
        let before = vmstat_writeback();
        let outcome = attempt();
        let after = vmstat_writeback();
        let canary_written = canary.written_back();
        drop(alone);
        if expected(&outcome) {
            return Some(outcome);
        }
        let fs = ipcbench_scenarios::sysinfo::filesystem_of(&std::env::temp_dir());
        let host = match zeroes_past_eof(&fs) {
            Some(_) if !canary_written => return Some(outcome), // the host wrote back nothing
            Some(_) => format!(
                "the host wrote back a page dirtied just before it (a canary in the temp dir, \
                 on {fs}) while it ran"
            ),
            None => match (before, after) {
                (Some(b), Some(a)) if b.until(a).quiet() => return Some(outcome),
                (Some(b), Some(a)) => format!("on {fs}, while it ran: {}", b.until(a)),
                _ => format!(
                    "on {fs} (not known to zero bytes past end-of-file on writeback), and \
                     /proc/vmstat (nr_written, pgpgout, nr_writeback) cannot be read"
                ),
            },
        };
        eprintln!("note: {what}: attempt {k}: {outcome:?}; {host}");
        busy.push(host);
    }
    println!(
        "SKIPPED {what}: its page may have been written back by the host before it was read, \
         in each of {WRITEBACK_ATTEMPTS} attempts ({}): nothing to judge on this host now",
        busy.join("; ")
    );
    None
}

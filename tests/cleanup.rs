//! Nothing is left behind — no /dev/shm name, SysV segment, temp file or process — after a normal
//! run, a run whose worker is killed or hangs, and an interrupted run. Serial: these tests count
//! processes and objects machine-wide.

mod common;
use common::*;
use std::sync::Mutex;
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());

/// Live ipcbench processes before the run.
struct Snapshot {
    procs: Vec<u32>,
}

fn snapshot() -> Snapshot {
    Snapshot { procs: ipcbench_processes() }
}

impl Snapshot {
    /// Processes of this binary that were not there before (others may end meanwhile).
    fn new_processes(&self) -> Vec<u32> {
        ipcbench_processes().into_iter().filter(|p| !self.procs.contains(p)).collect()
    }
}

/// Runner `pid` has left no shared-memory object, segment, process or file in `work`.
fn assert_clean(pid: u32, before: &Snapshot, work: &std::path::Path) {
    // The kernel may still be reaping: poll for a while, as long as a loaded host needs.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !before.new_processes().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(before.new_processes(), Vec::<u32>::new(), "ipcbench processes left");
    assert_nothing_left(pid);
    let left: Vec<_> =
        std::fs::read_dir(work).unwrap().filter_map(|e| e.ok()).map(|e| e.path()).collect();
    assert!(left.is_empty(), "temp files left in --dir: {left:?}");
}

const MAPPED: &str =
    "file-mmap,posix-shm,sysv-shm,memfd,file-rw,unix-socket,fifo,posix-mq,sysv-msg,udp,unix-dgram,\
     iceoryx2";

#[test]
fn a_normal_run_leaves_nothing() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (out, work) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let before = snapshot();
    let mut cmd = bin();
    cmd.args([
        "scenario",
        "pingpong",
        "--transport",
        MAPPED,
        "--size",
        "64",
        "--iterations",
        "100",
    ])
    .args(["--dir", work.path().to_str().unwrap(), "--out", out.path().to_str().unwrap()])
    .arg("--no-report")
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    let o = wait_within(child, &format!("{cmd:?}"), RUN_LIMIT);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_clean(pid, &before, work.path());
}

/// Starts a long run, waits for its first worker, does `act` to the runner and that worker.
fn disturb(
    args: &[&str],
    act: impl FnOnce(u32, u32, &std::path::Path),
) -> (std::process::Output, serde_json::Value, Snapshot, tempfile::TempDir, u32) {
    let (out, work) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let before = snapshot();
    let mut cmd = bin();
    cmd.args(args)
        .args([
            "--dir",
            work.path().to_str().unwrap(),
            "--out",
            out.path().to_str().unwrap(),
            "--no-report",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    let runner = child.id();
    // Wait for the run to be measuring, then act on the worker of the pair running now (a case
    // runs several pairs in turn). The runner may briefly have other children, such as a
    // `git rev-parse` that is still this binary for the microseconds before it execs: a worker
    // is a child of this binary seen twice in a row, 20 ms apart.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = None;
    let worker = loop {
        let now = children_of(runner).first().copied();
        if let Some(w) = now.filter(|_| now == last) {
            break w;
        }
        last = now;
        assert!(Instant::now() < deadline, "no worker appeared");
        std::thread::sleep(Duration::from_millis(20));
    };
    act(runner, worker, out.path());
    // The runner's exit, however `act` brought it about (a failed case, a signal).
    let o = wait_within(child, &format!("{cmd:?}"), RUN_LIMIT);
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("latest.json")).unwrap())
            .unwrap();
    (o, run, before, work, runner)
}

/// Cases saved so far in the run file under `out/runs/` (written after every case).
fn saved_cases(out: &std::path::Path) -> usize {
    let Ok(dir) = std::fs::read_dir(out.join("runs")) else { return 0 };
    dir.filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .map(|run| cases(&run).len())
        .max()
        .unwrap_or(0)
}

fn signal(pid: u32, sig: i32) {
    extern "C" {
        fn kill(pid: i32, sig: i32) -> i32;
    }
    // SAFETY: sending a signal to a process we started.
    unsafe { kill(pid as i32, sig) };
}

#[test]
fn a_killed_worker_fails_its_case_and_the_run_goes_on() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for (transport, process, wait) in [
        ("posix-shm", "fork", "spin"),
        ("sysv-shm", "spawn", "spin"),
        ("pipe", "spawn", "block"),
        ("memfd", "spawn", "eventfd"),
        ("posix-shm", "fork", "condvar"),
        ("fifo", "spawn", "block"),
        ("posix-mq", "fork", "block"),
        ("sysv-msg", "spawn", "block"),
        ("unix-dgram", "fork", "block"),
        ("iceoryx2", "fork", "spin"),
        ("iceoryx2", "spawn", "iox2-event"),
    ] {
        let (o, run, before, work, runner) = disturb(
            &[
                "scenario",
                "pingpong",
                "--transport",
                transport,
                "--process",
                process,
                "--wait",
                wait,
                "--size",
                "64,128",
                "--duration",
                "2s",
            ],
            // Stopped first, so that the kill lands on a worker that is surely mid-case.
            |runner, worker, _| signal(stop_a_worker(runner, worker), 9),
        );
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let cases = cases(&run);
        assert_eq!(cases.len(), 2, "the run went on to the next case");
        let err = cases[0]["error"].as_str().unwrap_or_default();
        assert!(err.contains("SIGKILL") || err.contains("closed"), "{transport}: {err}");
        assert!(cases[1].get("error").is_none(), "{}", cases[1]["error"]);
        assert_clean(runner, &before, work.path());
    }
}

/// A process's state letter (`T` stopped, `Z` zombie, …), or `None` once it is gone.
fn state_of(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..].split_whitespace().next()?.chars().next()
}

/// Stops (SIGSTOP) a worker of `runner` for good: `worker` may be ending its trial as the
/// signal comes (a zombie ignores it, and the next trial's worker would run on and the case
/// pass), so until one is seen stopped, the runner's current worker is stopped again. Returns
/// the one stopped.
fn stop_a_worker(runner: u32, mut worker: u32) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        signal(worker, 19); // SIGSTOP
                            // Stopping is asynchronous: wait until the state says stopped, or that it ended.
        while matches!(state_of(worker), Some(c) if c != 'T' && c != 't' && c != 'Z') {
            assert!(Instant::now() < deadline, "worker {worker} never stopped");
            std::thread::sleep(Duration::from_millis(5));
        }
        if matches!(state_of(worker), Some('T' | 't')) {
            return worker;
        }
        // It ended before the signal took: the runner's next worker, once there.
        worker = loop {
            assert!(Instant::now() < deadline, "no next worker appeared");
            if let Some(&w) = children_of(runner).iter().find(|&&w| w != worker) {
                break w;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
    }
}

#[test]
fn a_hung_worker_fails_its_case() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for (transport, wait) in [
        ("memfd", "futex"),
        ("posix-shm", "condvar"),
        ("posix-mq", "block"),
        ("sysv-msg", "block"),
        ("fifo", "block"),
        ("iceoryx2", "iox2-event"),
    ] {
        let (o, run, before, work, runner) = disturb(
            &[
                "scenario",
                "pingpong",
                "--transport",
                transport,
                "--process",
                "fork",
                "--wait",
                wait,
                "--size",
                "64",
                "--duration",
                "5s",
                "--timeout",
                "1",
            ],
            |runner, worker, _| {
                stop_a_worker(runner, worker);
            },
        );
        assert_eq!(o.status.code(), Some(1), "{transport}: {}", stderr(&o));
        let err = cases(&run)[0]["error"].as_str().unwrap_or_default().to_string();
        assert!(err.contains("hangs"), "{transport}: error was: {err}; stderr: {}", stderr(&o));
        assert_clean(runner, &before, work.path());
    }
    // A flood's sleeping waits: the ring's reader (the worker) stopped, whatever it held.
    for wait in ["condvar", "eventfd"] {
        let (o, run, before, work, runner) = disturb(
            &[
                "scenario",
                "stream",
                "--transport",
                "posix-shm",
                "--process",
                "fork",
                "--wait",
                wait,
                "--size",
                "64",
                "--duration",
                "5s",
                "--timeout",
                "1",
            ],
            |runner, worker, _| {
                stop_a_worker(runner, worker);
            },
        );
        assert_eq!(o.status.code(), Some(1), "stream {wait}: {}", stderr(&o));
        let err = cases(&run)[0]["error"].as_str().unwrap_or_default().to_string();
        assert!(err.contains("hangs"), "stream {wait}: error was: {err}");
        assert_clean(runner, &before, work.path());
    }
}

/// Ctrl-C as the process sees it: exit 130, the file marked, nothing left behind. Which cases
/// are kept, dropped or never started is the runner's logic, tested with mock cases beside it
/// (`scenarios/src/runner/tests.rs`).
#[test]
fn an_interrupted_run_keeps_what_it_measured() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (o, run, before, work, runner) = disturb(
        &[
            "scenario",
            "pingpong",
            "--transport",
            "posix-shm,sysv-shm,file-mmap,posix-mq,sysv-msg,fifo,iceoryx2",
            "--size",
            "64,128,256,512",
            "--duration",
            "250ms",
        ],
        |runner, _, out| {
            // Interrupt once a case has been measured and saved, however long that takes here.
            let deadline = Instant::now() + Duration::from_secs(120);
            while saved_cases(out) == 0 {
                assert!(Instant::now() < deadline, "no case was saved");
                std::thread::sleep(Duration::from_millis(20));
            }
            signal(runner, 2) // SIGINT
        },
    );
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    assert!(run["run"]["interrupted"].is_string(), "{}", run["run"]);
    let kept = cases(&run);
    assert!(!kept.is_empty() && kept.len() < 24, "kept {}", kept.len());
    assert!(
        kept.iter().all(|c| c.get("error").is_none()),
        "an interrupted case is not kept as a failure"
    );
    assert_clean(runner, &before, work.path());
}

/// `ab` stopped by a signal sent to it alone (as `timeout` or a CI runner does): it passes the
/// signal on to the invocation running, exits 128 + the signal and leaves nothing behind — no
/// process, no temp directory (it made one under $TMPDIR, here a private one).
#[test]
fn an_interrupted_ab_leaves_nothing() {
    use std::io::BufRead as _;
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (dir, tmp) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_ipcbench"));
    let (old, new) = (dir.path().join("old"), dir.path().join("new"));
    // Links, not copies: the invocations then count among this binary's processes.
    std::os::unix::fs::symlink(exe, &old).unwrap();
    std::os::unix::fs::symlink(exe, &new).unwrap();
    for sig in [15, 2] {
        let before = snapshot();
        let mut cmd = bin();
        cmd.arg("ab")
            .args([&old, &new])
            .args(["floor", "--filter", "floor/clock", "--quick", "--pairs", "1000"])
            .env("TMPDIR", tmp.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let pid = child.id();
        // Once the first pair is judged, an invocation of the second is running or about to.
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let first = lines.next().expect("ab printed nothing").unwrap();
        assert!(first.starts_with("pair 1/1000 "), "{first}");
        signal(pid, sig);
        let rest: Vec<String> = lines.map_while(Result::ok).collect();
        let o = wait_within(child, &format!("{cmd:?}"), RUN_LIMIT);
        assert_eq!(o.status.code(), Some(128 + sig), "{}", rest.join("\n"));
        assert!(rest.iter().any(|l| l.starts_with("interrupted: ")), "{}", rest.join("\n"));
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains("the A/B run was interrupted"), "{out}");
        assert_clean(pid, &before, tmp.path());
    }
}

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
    procs: usize,
}

fn snapshot() -> Snapshot {
    Snapshot { procs: ipcbench_processes().len() }
}

/// Runner `pid` has left no shared-memory object, segment, process or file in `work`.
fn assert_clean(pid: u32, before: &Snapshot, work: &std::path::Path) {
    // Give the kernel a moment to finish reaping.
    let deadline = Instant::now() + Duration::from_secs(3);
    while ipcbench_processes().len() != before.procs && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(ipcbench_processes().len(), before.procs, "ipcbench processes");
    assert_nothing_left(pid);
    let left: Vec<_> =
        std::fs::read_dir(work).unwrap().filter_map(|e| e.ok()).map(|e| e.path()).collect();
    assert!(left.is_empty(), "temp files left in --dir: {left:?}");
}

const MAPPED: &str = "file-mmap,posix-shm,sysv-shm,memfd,file-rw,unix-socket";

#[test]
fn a_normal_run_leaves_nothing() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (out, work) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let before = snapshot();
    let child = bin()
        .args([
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
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_clean(pid, &before, work.path());
}

/// Starts a long run, waits for its first worker, does `act` to the runner, that worker and
/// the results directory.
fn disturb(
    args: &[&str],
    act: impl FnOnce(u32, u32, &std::path::Path),
) -> (std::process::Output, serde_json::Value, Snapshot, tempfile::TempDir, u32) {
    let (out, work) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let before = snapshot();
    let mut child = bin()
        .args(args)
        .args([
            "--dir",
            work.path().to_str().unwrap(),
            "--out",
            out.path().to_str().unwrap(),
            "--no-report",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let runner = child.id();
    // Wait for the run to be measuring (the runner may briefly have other children, such as a
    // `git rev-parse` that is still this binary before it execs), then act on the worker of the
    // pair running now: a case runs several pairs in turn.
    let deadline = Instant::now() + Duration::from_secs(20);
    while children_of(runner).is_empty() {
        assert!(Instant::now() < deadline, "no worker appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let worker = loop {
        if let Some(w) = children_of(runner).first() {
            break *w;
        }
        assert!(Instant::now() < deadline, "no worker appeared");
        std::thread::sleep(Duration::from_millis(5));
    };
    act(runner, worker, out.path());
    let o = wait_output(&mut child);
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("latest.json")).unwrap())
            .unwrap();
    (o, run, before, work, runner)
}

fn wait_output(child: &mut std::process::Child) -> std::process::Output {
    use std::io::Read;
    let mut o =
        std::process::Output { status: child.wait().unwrap(), stdout: vec![], stderr: vec![] };
    child.stdout.take().unwrap().read_to_end(&mut o.stdout).unwrap();
    child.stderr.take().unwrap().read_to_end(&mut o.stderr).unwrap();
    o
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
    for (transport, process) in [("posix-shm", "fork"), ("sysv-shm", "spawn"), ("pipe", "spawn")] {
        let (o, run, before, work, runner) = disturb(
            &[
                "scenario",
                "pingpong",
                "--transport",
                transport,
                "--process",
                process,
                "--wait",
                if transport == "pipe" { "block" } else { "spin" },
                "--size",
                "64,128",
                "--duration",
                "2s",
            ],
            |_, worker, _| signal(worker, 9),
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

#[test]
fn a_hung_worker_fails_its_case() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (o, run, before, work, runner) = disturb(
        &[
            "scenario",
            "pingpong",
            "--transport",
            "memfd",
            "--process",
            "fork",
            "--wait",
            "futex",
            "--size",
            "64",
            "--duration",
            "5s",
            "--timeout",
            "1",
        ],
        |_, worker, _| signal(worker, 19), // SIGSTOP
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = cases(&run)[0]["error"].as_str().unwrap_or_default().to_string();
    assert!(err.contains("hangs"), "error was: {err}; stderr: {}", stderr(&o));
    assert_clean(runner, &before, work.path());
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
            "posix-shm,sysv-shm,file-mmap",
            "--size",
            "64,128,256,512",
            "--duration",
            "250ms",
        ],
        |runner, _, out| {
            // Interrupt once the first case is on disk (the runner writes the file after every
            // case, never before the first), so there is something to keep.
            let latest = out.join("latest.json");
            let deadline = Instant::now() + Duration::from_secs(60);
            while !latest.exists() {
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

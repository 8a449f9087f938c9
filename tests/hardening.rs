//! Issue 10, row by row, as an adversary (or bad luck) would try it: files written through
//! links, a full /dev/shm, a truncated mapping, a stranger on the TCP port, signals, `kill -9`,
//! limits, closed stdout. Serial: these tests count processes and objects machine-wide.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// stderr is one line (clap's usage errors aside, ours are one line).
fn one_line(o: &Output) -> String {
    let e = stderr(o);
    assert_eq!(e.trim_end().lines().count(), 1, "not one line: {e}");
    assert!(!e.contains("panicked"), "{e}");
    e
}

const QUICK_PIPE: [&str; 10] = [
    "scenario",
    "pingpong",
    "--transport",
    "pipe",
    "--process",
    "fork",
    "--size",
    "64",
    "--iterations",
    "200",
];

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// Row 1: a symlink planted at a report or result path is replaced, never written through;
/// files are 0600, made directories 0700; an open or foreign --out is refused.
#[test]
fn files_are_never_written_through_a_planted_link() {
    let _g = serial();
    let home = tempfile::tempdir().unwrap();
    let victim = home.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let out = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(out.path().join("report")).unwrap();
    for planted in ["report/index.html", "latest.json"] {
        std::os::unix::fs::symlink(&victim, out.path().join(planted)).unwrap();
    }
    let (o, run) = run_into(out.path(), &QUICK_PIPE);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(run.is_some());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    for f in ["report/index.html", "latest.json"] {
        let p = out.path().join(f);
        assert!(!std::fs::symlink_metadata(&p).unwrap().file_type().is_symlink(), "{f}");
        assert_eq!(mode(&p), 0o600, "{f}");
    }
    for e in std::fs::read_dir(out.path().join("report")).unwrap() {
        assert_eq!(mode(&e.unwrap().path()), 0o600);
    }
    assert_eq!(mode(&out.path().join("runs")), 0o700);

    // Writable by all, no sticky bit: refused, one line, exit 2, nothing written.
    let open = tempfile::tempdir().unwrap();
    std::fs::set_permissions(open.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let (o, run) = run_into(open.path(), &QUICK_PIPE);
    assert_eq!(o.status.code(), Some(2));
    assert!(one_line(&o).contains("writable by other users"));
    assert!(run.is_none());
    let o = output_within(bin().args(["report", "--out"]).arg(open.path()), QUICK_LIMIT);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    // Another user's directory (root can make one with chown).
    if !is_root() {
        eprintln!("skipped: another user's --out needs root to make one");
        return;
    }
    let theirs = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(theirs.path(), Some(65534), Some(65534)).unwrap();
    let (o, _) = run_into(theirs.path(), &QUICK_PIPE);
    assert_eq!(o.status.code(), Some(2));
    assert!(one_line(&o).contains("owned by another user"));
}

/// Runs `script` (sh) as root in a private mount namespace with a `size` tmpfs on /dev/shm, or
/// None (with the reason printed) where the host does not allow it.
fn in_small_shm(size: &str, script: &str) -> Option<Output> {
    let probe = try_output_within(
        Command::new("unshare")
            .args(["-m", "sh", "-c"])
            .arg(format!("mount -t tmpfs -o size={size} tmpfs /dev/shm")),
        QUICK_LIMIT,
    );
    if !is_root() || !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: a private tmpfs on /dev/shm needs root and `unshare -m` here");
        return None;
    }
    let o = output_within(
        Command::new("unshare")
            .args(["-m", "sh", "-c"])
            .arg(format!("mount -t tmpfs -o size={size} tmpfs /dev/shm && {script}")),
        RUN_LIMIT,
    );
    Some(o)
}

/// Row 2: a full /dev/shm is one clear error per case, the run goes on, nothing is left.
#[test]
fn a_full_dev_shm_fails_its_cases_not_the_run() {
    let _g = serial();
    let out = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_ipcbench");
    let script = format!(
        "{bin} scenario pingpong --quick --transport posix-shm,file-mmap,pipe --process fork,spawn \
         --size 1M --dir /dev/shm --no-report --out {}; echo \"status=$?\"; \
         echo left=$(ls -A /dev/shm)",
        out.path().display()
    );
    let Some(o) = in_small_shm("1m", &script) else { return };
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("status=1\n"), "{text}\n{}", stderr(&o));
    assert!(text.contains("left=\n"), "{text}");
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("latest.json")).unwrap())
            .unwrap();
    assert_eq!(run["run"]["complete"], true);
    for c in cases(&run) {
        let id = c["id"].as_str().unwrap();
        let err = c["error"].as_str().unwrap_or_default();
        if id.contains("/pipe/") {
            assert!(err.is_empty(), "{id}: {err}");
        } else {
            assert!(err.contains("cannot reserve") && err.contains("No space"), "{id}: {err}");
        }
    }
}

/// Row 2, where a fault still arrives: the mapped file truncated under a running case. Both
/// the forked and the spawned peer: the case fails with SIGBUS named, nobody dies of it.
#[test]
fn a_truncated_mapping_is_the_cases_error() {
    let _g = serial();
    for process in ["fork", "spawn"] {
        let (out, work) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut cmd = bin();
        cmd.args(["scenario", "pingpong", "--transport", "file-mmap", "--process", process])
            .args(["--wait", "spin", "--size", "64", "--duration", "5s", "--no-report"])
            .arg("--dir")
            .arg(work.path())
            .arg("--out")
            .arg(out.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let child = cmd.spawn().unwrap();
        let pid = child.id();
        let file = wait_for(|| {
            let dir = std::fs::read_dir(work.path()).ok()?.next()?.ok()?.path();
            let f = std::fs::read_dir(dir)
                .ok()?
                .flatten()
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "map"))?;
            // Truncate once the pair is exchanging records (the file has been touched).
            (!children_of(pid).is_empty()).then_some(f)
        });
        std::fs::OpenOptions::new().write(true).open(&file).unwrap().set_len(0).unwrap();
        let o = wait_within(child, &format!("{cmd:?}"), RUN_LIMIT);
        assert_eq!(o.status.code(), Some(1), "{process}: {}", stderr(&o));
        let run = latest(out.path());
        let err = cases(&run)[0]["error"].as_str().unwrap_or_default().to_string();
        assert!(err.contains("SIGBUS"), "{process}: {err}");
        assert_nothing_left(pid);
        assert_eq!(std::fs::read_dir(work.path()).unwrap().count(), 0, "work dir left");
    }
}

fn latest(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("latest.json")).unwrap()).unwrap()
}

/// Polls `f` until it gives a value (at most a minute: a loaded host is slow, never wrong).
fn wait_for<T>(mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Loopback ports in LISTEN state now.
fn listening_ports() -> Vec<u16> {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (addr, port) = f.get(1)?.split_once(':')?;
            (addr == "0100007F" && f.get(3) == Some(&"0A"))
                .then(|| u16::from_str_radix(port, 16).ok())?
        })
        .collect()
}

/// Row 3: a stranger connecting to every new listening port first is dropped; every case still
/// pairs with its real peer and passes.
#[test]
fn a_stranger_on_the_tcp_port_is_not_the_peer() {
    let _g = serial();
    let out = tempfile::tempdir().unwrap();
    let before = listening_ports();
    let mut cmd = bin();
    cmd.args(["scenario", "pingpong", "--transport", "tcp", "--process", "fork,spawn"])
        .args(["--size", "64,128", "--iterations", "200", "--no-report", "--out"])
        .arg(out.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + RUN_LIMIT;
    let mut seen = before.clone();
    let mut strangers = Vec::new();
    // Until the run ends, or its time is up: `wait_within` below then kills it and fails.
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        for port in listening_ports() {
            if !seen.contains(&port) {
                seen.push(port);
                if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                    use std::io::Write;
                    let _ = s.write_all(b"forged hello, 16");
                    strangers.push(s);
                }
            }
        }
        std::thread::yield_now();
    }
    let o =
        wait_within(child, &format!("{cmd:?}"), deadline.saturating_duration_since(Instant::now()));
    assert!(o.status.success(), "{}", stderr(&o));
    let run = latest(out.path());
    assert_eq!(cases(&run).len(), 4);
    assert!(cases(&run).iter().all(|c| c.get("error").is_none()), "{run}");
    eprintln!("{} strangers connected first and were dropped", strangers.len());
}

fn signal(pid: u32, sig: i32) {
    // SAFETY: a signal to a process this test started.
    unsafe { libc::kill(pid as i32, sig) };
}

/// Starts a pipe run whose cases last, waits until its worker runs; returns the child and its
/// command line (to name it in [`wait_within`]'s panic).
fn long_run(out: &Path, work: &Path, transport: &str) -> (std::process::Child, String) {
    let mut cmd = bin();
    cmd.args(["scenario", "pingpong", "--transport", transport, "--process", "fork"])
        .args(["--size", "64,128", "--duration", "5s", "--no-report", "--out"])
        .arg(out)
        .arg("--dir")
        .arg(work)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    wait_for(|| (!children_of(pid).is_empty()).then_some(()));
    (child, format!("{cmd:?}"))
}

/// Row 6: SIGHUP, SIGQUIT and SIGTERM are Ctrl-C: exit 128+n, the file marked interrupted
/// (and not complete), nothing left.
#[test]
fn hangup_quit_and_term_stop_a_run_cleanly() {
    let _g = serial();
    for (sig, name) in
        [(libc::SIGHUP, "SIGHUP"), (libc::SIGQUIT, "SIGQUIT"), (libc::SIGTERM, "SIGTERM")]
    {
        let (out, work) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (child, what) = long_run(out.path(), work.path(), "pipe");
        let pid = child.id();
        signal(pid, sig);
        let o = wait_within(child, &what, RUN_LIMIT);
        assert_eq!(o.status.code(), Some(128 + sig), "{name}: {}", stderr(&o));
        let run = latest(out.path());
        assert_eq!(run["run"]["interrupted"], format!("interrupted by {name}"));
        assert_eq!(run["run"]["complete"], false);
        wait_for(|| children_of(pid).is_empty().then_some(()));
        assert_nothing_left(pid);
        assert_eq!(std::fs::read_dir(work.path()).unwrap().count(), 0, "{name}: work dir left");
    }
}

/// Row 7: `kill -9` leaves a file that does not claim to be complete, and the next start
/// removes the dead runner's temp dir and /dev/shm object, saying so on one line.
#[test]
fn the_next_start_sweeps_what_a_killed_runner_left() {
    let _g = serial();
    // Killed during its second case, once the first is on disk, while it holds its object.
    let (out, work, pid, left_dir) =
        killed_while_holding("posix-shm", true, |pid, _| !left_by(pid).is_empty());
    assert_eq!(mode(&left_dir), 0o700, "the private work dir is private");
    let cut_short = latest(out.path());
    assert_eq!(cases(&cut_short).len(), 1);
    assert_eq!(cut_short["run"]["complete"], false, "a file cut short does not look complete");

    let (o, _) = run_into(
        out.path(),
        &[&QUICK_PIPE[..], &["--dir", work.path().to_str().unwrap()]].concat(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let line = stderr(&o)
        .lines()
        .find(|l| l.contains("removed what ended ipcbench runs left"))
        .unwrap_or_default()
        .to_string();
    assert!(line.contains(&pid.to_string()) && line.contains("1 temp dir"), "{}", stderr(&o));
    assert_nothing_left(pid);
    assert!(!left_dir.exists());
}

/// Issue 12: what a runner killed outright leaves of each message and library transport —
/// POSIX and System V message queues, FIFOs (in its private dir), iceoryx2's root dir and
/// /dev/shm files — is removed by the next start.
#[test]
fn the_next_start_sweeps_a_killed_runners_queues_fifos_and_iceoryx2_files() {
    let _g = serial();
    for transport in ["posix-mq", "sysv-msg", "fifo", "iceoryx2"] {
        if transport == "posix-mq" {
            // What a runner leaves among POSIX message queues is seen only by listing them.
            if let Err(why) = try_mqueue_names() {
                println!(
                    "SKIPPED posix-mq: the queues a killed runner leaves cannot be listed on \
                     this host ({why}), so neither what it left nor their removal can be shown"
                );
                continue;
            }
        }
        let (out, work, pid, left_dir) = killed_while_holding(transport, false, |pid, dir| {
            if transport == "fifo" {
                has_fifo(dir)
            } else {
                !left_by(pid).is_empty()
            }
        });
        let (o, _) = run_into(
            out.path(),
            &[&QUICK_PIPE[..], &["--dir", work.path().to_str().unwrap()]].concat(),
        );
        assert!(o.status.success(), "{transport}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("removed what ended ipcbench runs left"),
            "{transport}: {}",
            stderr(&o)
        );
        assert_nothing_left(pid);
        assert!(!left_dir.exists(), "{transport}: the private dir (and its FIFOs) is gone");
    }
}

/// A long run of `transport` killed outright (SIGKILL) while `holds(pid, its private dir)` —
/// what it left — is true (and, with `after_first`, once its first case is on disk); its out
/// dir, work dir, pid and private dir. A pair's objects live only while a trial runs, so a kill
/// can land between two trials, when the runner holds nothing: such a try shows nothing about
/// the sweep and is made again (a host that never lets one land fails the test).
fn killed_while_holding(
    transport: &str,
    after_first: bool,
    holds: impl Fn(u32, &Path) -> bool,
) -> (tempfile::TempDir, tempfile::TempDir, u32, std::path::PathBuf) {
    for _ in 0..5 {
        let (out, work) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (child, what) = long_run(out.path(), work.path(), transport);
        let pid = child.id();
        let left_dir = std::fs::read_dir(work.path()).unwrap().next().unwrap().unwrap().path();
        if after_first {
            wait_for(|| out.path().join("latest.json").exists().then_some(()));
        }
        wait_for(|| (!children_of(pid).is_empty() && holds(pid, &left_dir)).then_some(()));
        signal(pid, libc::SIGKILL);
        wait_within(child, &what, RUN_LIMIT);
        wait_for(|| children_of(pid).is_empty().then_some(()));
        if holds(pid, &left_dir) {
            return (out, work, pid, left_dir);
        }
        // The kill landed between trials: the next start sweeps the dir it left; try again.
        println!("{transport}: killed between two trials, nothing held; trying again");
        let _ = run_into(
            out.path(),
            &[&QUICK_PIPE[..], &["--dir", work.path().to_str().unwrap()]].concat(),
        );
    }
    panic!("{transport}: a killed runner never left its objects in 5 tries (else no test)");
}

/// Whether a FIFO lies in `dir` or a dir below it.
fn has_fifo(dir: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::read_dir(dir).into_iter().flatten().flatten().any(|e| match e.file_type() {
        Ok(t) if t.is_dir() => has_fifo(&e.path()),
        Ok(t) => t.is_fifo(),
        Err(_) => false,
    })
}

/// Rows 8 and 9: limits are checked up front, one line, exit 2.
#[test]
fn limits_have_a_floor_and_a_ceiling() {
    let out = tempfile::tempdir().unwrap();
    for (flag, value, says) in [
        ("--duration", "1ns", "from 10ms to 1h"),
        ("--duration", "2h", "from 10ms to 1h"),
        ("--iterations", "18446744073709551615", "1 to 1000000000"),
        ("--iterations", "0", "1 to 1000000000"),
    ] {
        let (o, run) = run_into(out.path(), &["scenario", "msync", flag, value]);
        assert_eq!(o.status.code(), Some(2), "{flag} {value}");
        assert!(one_line(&o).contains(says), "{flag} {value}: {}", stderr(&o));
        assert!(run.is_none());
    }
    for bad in ["pipe:NaN", "pipe:inf", "pipe:-50", "posix-shm:1e9"] {
        let o = output_within(bin().args(QUICK_PIPE).env("IPCBENCH_SLOWDOWN", bad), RUN_LIMIT);
        assert_eq!(o.status.code(), Some(2), "{bad}");
        assert!(one_line(&o).contains("IPCBENCH_SLOWDOWN"));
    }
}

/// Row 10: repeated filter values are one value; ids are unique in the run.
#[test]
fn repeated_filter_values_make_one_case() {
    let _g = serial();
    let out = tempfile::tempdir().unwrap();
    let args = [&QUICK_PIPE[..2], &["--transport", "pipe,pipe", "--size", "64,64"]].concat();
    let args = [&args[..], &["--process", "fork,fork", "--iterations", "200"]].concat();
    let (o, run) = run_into(out.path(), &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let ids: Vec<String> =
        cases(&run.unwrap()).iter().map(|c| c["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids, ["pingpong/pipe/fork/block/64"]);
}

/// Row 11: a full or closed stdout ends the command quietly, non-zero, no panic.
#[test]
fn a_full_or_closed_stdout_is_not_a_panic() {
    let _g = serial();
    let out = tempfile::tempdir().unwrap();
    let (o, _) = run_into(out.path(), &QUICK_PIPE);
    assert!(o.status.success(), "{}", stderr(&o));
    let file = out.path().join("latest.json");
    let f = file.to_str().unwrap();
    let full = || std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    for args in [
        vec!["list"],
        vec!["compare", f, f],
        vec!["export", f, "--format", "bencher"],
        [&QUICK_PIPE[..], &["--out", out.path().to_str().unwrap()]].concat(),
    ] {
        // As `output()` would have it, stdout aside.
        let mut cmd = bin();
        cmd.args(&args).stdin(Stdio::null()).stdout(full()).stderr(Stdio::piped());
        let o = wait_within(cmd.spawn().unwrap(), &format!("{cmd:?}"), RUN_LIMIT);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        // A scenario's progress (one `[i/n] <case id> …` line per case off a terminal) comes
        // first; then one line of error.
        let e = stderr(&o);
        let rest: Vec<&str> = e.lines().filter(|l| !is_progress_line(l)).collect();
        assert_eq!(rest.len(), 1, "{args:?}: not one line: {e}");
        assert!(rest[0].contains("No space left") && !e.contains("panicked"), "{args:?}: {e}");
    }
    // `list | head -1`: the pipe closes early; no panic, no message. The read end is closed
    // before the child starts, so its first write meets the closed pipe whatever the timing
    // (closed after the start, a listing that fits the pipe's buffer could be written whole
    // first, and the run succeed).
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let child = bin().arg("list").stdout(writer).stderr(Stdio::piped()).spawn().unwrap();
    let o = wait_within(child, "ipcbench list (stdout closed)", QUICK_LIMIT);
    assert!(!o.status.success());
    assert_eq!(stderr(&o), "");
}

/// A progress line as the runner prints it when stderr is not a terminal: `[3/12] <case id> …`.
fn is_progress_line(l: &str) -> bool {
    l.strip_prefix('[').and_then(|r| r.split_once("] ")).is_some_and(|(n, _)| {
        n.split_once('/').is_some_and(|(a, b)| a.parse::<u64>().is_ok() && b.parse::<u64>().is_ok())
    })
}

/// Row 12: the small ones.
#[test]
fn small_ones() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let o = output_within(Command::new("mkfifo").arg(&fifo), QUICK_LIMIT);
    assert!(o.status.success(), "{}", stderr(&o));
    for (path, says) in [
        (fifo.to_str().unwrap(), "is a FIFO"),
        ("/dev/zero", "is a character device"),
        ("/proc/self/status", "/proc or /sys file"),
        ("/no/such/file", "does not exist"),
    ] {
        let o = output_within(bin().args(["seed", "reader", path]), QUICK_LIMIT);
        assert_eq!(o.status.code(), Some(2), "{path}");
        assert!(one_line(&o).contains(says), "{path}: {}", stderr(&o));
    }
    let o = output_within(bin().args(["list", "--process", "x"]), QUICK_LIMIT);
    assert!(one_line(&o).contains("valid processes are"));
    let o =
        output_within(bin().args(["scenario", "pingpong", "--dir", "/no/such/dir"]), QUICK_LIMIT);
    assert_eq!(o.status.code(), Some(2));
    assert!(one_line(&o).contains("does not exist"));

    let _g = serial();
    let (o, _) =
        run_into(dir.path(), &["scenario", "msync", "--quick", "--size", "4K", "--no-report"]);
    let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    assert!(!all.contains("not pinned"), "{all}");
}

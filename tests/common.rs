//! Helpers shared by the tests that drive the built binary as a user would.
#![allow(dead_code)]

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ipcbench"))
}

/// Runs ipcbench with `args`, results into `out`; returns the output and the parsed latest.json.
pub fn run_into(out: &Path, args: &[&str]) -> (Output, Option<Value>) {
    let o = bin().args(args).arg("--out").arg(out).output().expect("ipcbench runs");
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

/// The names of the POSIX message queues of this IPC namespace: from /dev/mqueue, or where it
/// is not mounted, from a private mount of the mqueue filesystem (needs `unshare -m`, as root).
pub fn mqueue_names() -> Vec<String> {
    let list = |d: &Path| -> Option<Vec<String>> {
        Some(
            std::fs::read_dir(d)
                .ok()?
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect(),
        )
    };
    if let Some(names) = list(Path::new("/dev/mqueue")) {
        return names;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let o = Command::new("unshare")
        .args(["-m", "sh", "-c", &format!("mount -t mqueue none {d} && ls -1 {d}")])
        .output();
    match o {
        Ok(o) if o.status.success() => {
            String::from_utf8_lossy(&o.stdout).lines().map(str::to_string).collect()
        }
        _ => {
            eprintln!("warning: cannot list POSIX message queues (no /dev/mqueue, no unshare -m)");
            Vec::new()
        }
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

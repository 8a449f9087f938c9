//! `pingpong --durable` really flushes: every record a durable link sends dirties its page
//! anew, which the kernel counts in /proc/thread-self/io `write_bytes` — a page left dirty (no
//! flush between sends) is counted once. Per thread, not per process: the tests of this binary
//! run side by side in one process and must not count each other's I/O.

use ipcbench_harness::os::futex::Wait;
use ipcbench_harness::os::watch::Watch;
use ipcbench_harness::patterns::link::{pingpong_link_with, pingpong_region_len, Side};
use ipcbench_harness::patterns::pingpong::{initiator, PingpongSpec};
use ipcbench_harness::patterns::worker::{run_pair, Job, PairOptions, Process};
use ipcbench_harness::transport::{mechanism, CreateOptions, Transport};
use std::path::{Path, PathBuf};
use std::time::Duration;

const ROUND_TRIPS: u64 = 40;

/// Bytes this thread has dirtied in the page cache of files that are written back.
fn write_bytes() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/thread-self/io").ok()?;
    io.lines().find_map(|l| l.strip_prefix("write_bytes:")?.trim().parse().ok())
}

/// Whether `dir` is on a filesystem with writeback (tmpfs has none: nothing to count).
fn has_writeback(dir: &Path) -> bool {
    let out = std::process::Command::new("stat").args(["-f", "-c", "%T"]).arg(dir).output();
    !matches!(out, Ok(o) if String::from_utf8_lossy(&o.stdout).trim() == "tmpfs")
}

/// Bytes the initiator's side dirtied over a ping-pong of ROUND_TRIPS.
fn dirtied(t: Transport, wait: Wait, durable: bool, dir: &Path) -> u64 {
    let spec = PingpongSpec {
        size: 64,
        warmup: 2,
        warmup_ns: 0,
        iterations: ROUND_TRIPS,
        max_duration_ns: 0,
        slowdown_pct: 0.0,
        fault: None,
        durable,
    };
    let len = if t.is_mapped() { pingpong_region_len(64) } else { 64 << 10 };
    let pair = PairOptions {
        transport: t,
        process: Process::Fork,
        wait,
        len,
        dir: dir.to_path_buf(),
        exe: PathBuf::new(),
        peer_cpu: None,
        timeout: Duration::from_secs(20),
    };
    let before = write_bytes().expect("/proc/thread-self/io");
    let (mine, _) = run_pair(&pair, &Job::Pingpong(spec.clone()), |medium, watch| {
        let mut link = pingpong_link_with(medium, Side::Initiator, 64, wait, durable)?;
        initiator(link.as_mut(), &spec, watch)
    })
    .unwrap();
    assert!(mine.integrity.ok(), "{t} durable={durable}: {:?}", mine.integrity);
    assert_eq!(mine.measured, ROUND_TRIPS);
    write_bytes().unwrap() - before
}

fn check(t: Transport, wait: Wait) {
    // The build's own temp dir: on the project's disk, where the system temp dir may be tmpfs.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    if write_bytes().is_none() || !has_writeback(dir.path()) {
        eprintln!(
            "SKIPPED {t}: no /proc/thread-self/io, or {} is on tmpfs (no writeback to count)",
            dir.path().display()
        );
        return;
    }
    let plain = dirtied(t, wait, false, dir.path());
    let durable = dirtied(t, wait, true, dir.path());
    // Durable: each send re-dirties a flushed page. Not always one this thread dirties: where
    // both mailboxes share a page, the peer's reply may have dirtied it (charged to the peer)
    // before its own flush ends. Half the sends is far above what plain sends dirty (one page,
    // plus any the kernel's writeback cleaned meanwhile) and below what durable sends always do.
    let sends = ROUND_TRIPS + 2;
    assert!(durable >= sends / 2 * 4096, "{t}: durable sends dirtied only {durable} bytes");
    // Plain sends dirty the mailbox's page again only when the kernel's own writeback cleaned
    // it meanwhile, which a busy host makes more frequent: compare with the durable figure.
    assert!(plain < durable / 2, "{t}: plain sends dirtied {plain} bytes, durable {durable}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "files left behind");
}

#[test]
fn durable_file_mmap_msyncs_every_record() {
    check(Transport::FileMmap, Wait::Futex);
}

#[test]
fn durable_file_rw_fdatasyncs_every_record() {
    check(Transport::FileRw, Wait::Block);
}

#[test]
fn durable_is_refused_without_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut setup = mechanism(Transport::Pipe)
        .create(&CreateOptions {
            len: 4096,
            dir: dir.path().to_path_buf(),
            record: 64,
            wait: Wait::Block,
        })
        .unwrap();
    let medium = setup.local(&mut Watch::new(Duration::from_secs(1))).unwrap();
    let err = pingpong_link_with(medium, Side::Initiator, 64, Wait::Block, true).err().unwrap();
    assert!(err.to_string().contains("file-rw"), "{err}");
}

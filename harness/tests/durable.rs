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

/// Whether `dir` is on tmpfs or ramfs: no writeback, nothing to count.
fn in_memory(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).unwrap();
    // SAFETY: statfs fills the struct it is given; a NUL-terminated path.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(path.as_ptr(), &mut fs) } != 0 {
        return false;
    }
    // TMPFS_MAGIC, RAMFS_MAGIC (linux/magic.h); f_type's width differs between targets.
    [0x0102_1994, 0x8584_58f6].contains(&(fs.f_type as i64 & 0xffff_ffff))
}

/// The host's writes so far, from /proc/vmstat: pages written back (`nr_written`) and KiB
/// written to block devices (`pgpgout`, exact when read), and pages under writeback now.
fn host_writes() -> Option<(u64, u64, u64)> {
    // Best effort (root only): folds the CPUs' batched counts, so that nr_written is current.
    let _ = std::fs::write("/proc/sys/vm/stat_refresh", "1");
    let vmstat = std::fs::read_to_string("/proc/vmstat").ok()?;
    let field = |name: &str| -> Option<u64> {
        vmstat.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
    };
    Some((field("nr_written")?, field("pgpgout")?, field("nr_writeback")?))
}

/// The two checks run one at a time: the durable run's flushes are writes of the host that the
/// other's plain run must not see.
static ALONE: std::sync::Mutex<()> = std::sync::Mutex::new(());

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
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    // The build's own temp dir: on the project's disk, where the system temp dir may be tmpfs.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    if write_bytes().is_none() || in_memory(dir.path()) {
        println!(
            "SKIPPED {t}: no /proc/thread-self/io, or {} is on tmpfs (no writeback to count)",
            dir.path().display()
        );
        return;
    }
    let before = host_writes();
    let plain = dirtied(t, wait, false, dir.path());
    let host = before
        .zip(host_writes())
        .map(|((w0, k0, _), (w1, k1, now))| (w1.saturating_sub(w0), k1.saturating_sub(k0), now));
    let durable = dirtied(t, wait, true, dir.path());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "files left behind");
    if durable == 0 {
        println!(
            "SKIPPED {t}: {} counts no write_bytes for this thread's writes (/proc/thread-self/io; \
             ZFS, FUSE and some container filesystems do not): nothing to compare",
            dir.path().display()
        );
        return;
    }
    // Durable: each send re-dirties a flushed page. Not always one this thread dirties: where
    // both mailboxes share a page, the peer's reply may have dirtied it (charged to the peer)
    // before its own flush ends. Half the sends' pages is below what durable sends always do.
    let sends = ROUND_TRIPS + 2;
    assert!(durable >= sends / 2 * 4096, "{t}: durable sends dirtied only {durable} bytes");
    // Plain sends dirty the mailbox's page once, and again only when writeback cleaned it
    // meanwhile: nothing of this test flushes then, so only the host's writeback (a flusher
    // under memory pressure, a `sync`) can, as often as it likes. Without it, a few pages at
    // most, far below what half the durable sends dirty; with it, nothing to judge.
    if plain >= durable / 2 {
        match host {
            Some((0, 0, 0)) => {}
            Some((pages, kib, now)) => {
                println!(
                    "SKIPPED {t}: plain sends dirtied {plain} bytes (durable {durable}) while the \
                     host wrote back {pages} page(s) and {kib} KiB ({now} page(s) under \
                     writeback at the end), cleaning the mailbox's page meanwhile: nothing to judge"
                );
                return;
            }
            None => {
                println!(
                    "SKIPPED {t}: plain sends dirtied {plain} bytes (durable {durable}), and \
                     /proc/vmstat cannot tell whether the host's writeback cleaned the page \
                     meanwhile: nothing to judge"
                );
                return;
            }
        }
    }
    assert!(plain < durable / 2, "{t}: plain sends dirtied {plain} bytes, durable {durable}");
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

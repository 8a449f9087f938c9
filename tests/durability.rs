//! Scenarios `msync`, `mapping` and `seed`, and `pingpong --durable`, run as a user runs them:
//! a case for every method, size and filesystem (or a recorded reason to skip it), and nothing
//! left behind in /dev/shm, System V shared memory or the directory given with --dir.

mod common;
use common::{
    assert_nothing_left, output_within, unless_written_back, wait_within, writes_back, QUICK_LIMIT,
    RUN_LIMIT,
};
use serde_json::Value;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const EXE: &str = env!("CARGO_BIN_EXE_ipcbench");

struct Run {
    out: Output,
    pid: u32,
    result: Option<Value>,
}

/// Runs `ipcbench scenario ARGS --out OUT --dir DIR` (DIR a new directory in the system temp
/// dir) and checks it left nothing behind.
fn scenario(args: &[&str]) -> Run {
    scenario_in(&std::env::temp_dir(), args)
}

/// [`scenario`], with DIR a new directory in `base`.
fn scenario_in(base: &Path, args: &[&str]) -> Run {
    let out_dir = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir_in(base).unwrap();
    let mut cmd = Command::new(EXE);
    cmd.arg("scenario")
        .args(args)
        .arg("--out")
        .arg(out_dir.path())
        .arg("--dir")
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    let out = wait_within(child, &format!("{cmd:?}"), RUN_LIMIT);
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "left in --dir: {left:?}");
    assert_nothing_left(pid);
    let latest = out_dir.path().join("latest.json");
    let result = latest
        .exists()
        .then(|| serde_json::from_str(&std::fs::read_to_string(latest).unwrap()).unwrap());
    Run { out, pid, result }
}

fn cases(run: &Run) -> Vec<Value> {
    let stderr = String::from_utf8_lossy(&run.out.stderr);
    assert!(run.out.status.success(), "run {} failed: {stderr}", run.pid);
    run.result.as_ref().expect("a result file")["cases"].as_array().unwrap().clone()
}

fn case<'a>(cases: &'a [Value], id: &str) -> &'a Value {
    cases.iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("no case {id}"))
}

/// Measured (with a p50 of `kind`) or skipped with a reason; never failed.
fn measured_or_skipped(c: &Value, kind: &str) -> bool {
    assert!(c.get("error").is_none(), "{} failed: {}", c["id"], c["error"]);
    if let Some(why) = c.get("skipped") {
        assert!(why.as_str().is_some_and(|w| w.len() > 10), "{}: empty skip reason", c["id"]);
        return false;
    }
    assert!(c["latency_ns"][kind]["p50"].as_u64().is_some(), "{}: no {kind}", c["id"]);
    assert!(c["histograms"][kind].as_str().is_some_and(|h| !h.is_empty()), "{}", c["id"]);
    true
}

/// Whether `dir` is on a block device (its device's major number is not 0): not tmpfs, nor an
/// overlay, btrfs, ZFS, NFS or FUSE mount, whose devices are anonymous.
fn block_backed(dir: &Path) -> bool {
    let dev = std::fs::metadata(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).dev();
    libc::major(dev) != 0
}

/// Where the msync "disk" cases run: the build's own temp dir when it is on a block device
/// (the system temp dir may be tmpfs or a container's overlay), else the system temp dir, whose
/// flushes then reach no device (said, with why). Whether it is on a block device.
fn disk_dir(what: &str) -> (PathBuf, bool) {
    let build = Path::new(env!("CARGO_TARGET_TMPDIR"));
    if build.is_dir() && block_backed(build) {
        return (build.to_path_buf(), true);
    }
    let tmp = std::env::temp_dir();
    let block = block_backed(&tmp);
    if !block {
        println!(
            "note: {what}: neither {} nor {} is on a block device: the \"disk\" cases flush to \
             no device here, so only the no-op rule of such a directory is checked",
            build.display(),
            tmp.display()
        );
    }
    (tmp, block)
}

#[test]
fn msync_has_every_method_fs_and_page_count() {
    let _fsyncs = writes_back();
    let (base, block) = disk_dir("msync cases");
    let run = scenario_in(&base, &["msync", "--quick", "--iterations", "2"]);
    let cases = cases(&run);
    let methods = ["msync-sync", "msync-async", "pwrite-fdatasync", "pwrite-fsync"];
    let pages = [1, 4, 16, 64, 256, 1024, 4096];
    // The plain cases, and 1 page of a 16 MiB file of each history.
    assert_eq!(cases.len(), methods.len() * 2 * (pages.len() + 2));
    for m in methods {
        for fs in ["disk", "tmpfs"] {
            for n in pages {
                let c = case(&cases, &format!("msync/{m}/{fs}/{n}"));
                if measured_or_skipped(c, "flush") {
                    assert_eq!(c["axes"]["method"], m);
                    assert_eq!(c["axes"]["fs"], fs);
                    assert_eq!(c["axes"]["pages"], n.to_string());
                    assert!(c["axes"]["fstype"].as_str().is_some_and(|t| !t.is_empty()));
                    assert_eq!(c["size"], n * 4096);
                    assert_eq!(c["iterations"], 2);
                    // The device the flush reaches: none on tmpfs, nor for a "disk" dir that
                    // is not on a block device (tmpfs, overlay, btrfs, ZFS, …).
                    let device = c["axes"]["device"].as_str();
                    assert!(device.is_none_or(|d| !d.is_empty()), "{}", c["id"]);
                    let on_device = fs == "disk" && block;
                    assert_eq!(device.is_some(), on_device, "{}: {}", c["id"], c["axes"]);
                    // A rate only for a flush that reaches a device.
                    let no_op = c["axes"]["flush"] == "no-op";
                    assert_eq!(no_op, m == "msync-async" || !on_device, "{}", c["id"]);
                    assert_eq!(
                        c["figures"]["bytes_per_s"].as_f64().is_some_and(f64::is_finite),
                        !no_op
                    );
                } else {
                    assert_eq!(fs, "tmpfs", "only tmpfs may be missing");
                }
            }
        }
    }
    if Path::new("/dev/shm").is_dir() {
        assert_eq!(case(&cases, "msync/msync-sync/tmpfs/1")["axes"]["fstype"], "tmpfs");
    }
    let warnings = run.result.as_ref().unwrap()["warnings"].to_string();
    assert!(warnings.contains("MS_ASYNC") && warnings.contains("2.6.19"), "{warnings}");
    // A "disk" dir off any block device is said so.
    assert_eq!(warnings.contains("not on a block device"), !block, "{warnings}");
    let stdout = String::from_utf8_lossy(&run.out.stdout);
    assert!(stdout.contains("msync/pwrite-fsync/disk/4096") && stdout.contains("flush p50"));
    assert!(stdout.contains("no-op"), "{stdout}");
}

/// How the scenario's 16 MiB file came into the page cache (`History` in the harness).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum History {
    /// One `pwrite` of the whole file.
    Written,
    /// `fallocate`, then every page written through a shared mapping.
    Faulted,
}

/// Whether the kernel keeps a 16 MiB file in `dir` that came into the page cache as `history`
/// says in large folios: the file is made so (as the scenario makes it), and the page flags of
/// its first page read (`/proc/self/pagemap`, `/proc/kpageflags`: compound head or tail). `Err`
/// says why that cannot be told here.
fn uses_large_folios(dir: &Path, history: History) -> Result<bool, String> {
    use std::io::{Read, Seek, SeekFrom};
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::FileExt;
    const LEN: usize = 16 << 20;
    let path = dir.join("folio-probe");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| e.to_string())?;
    let _rm = scopeguard(path.clone());
    // SAFETY (both maps): shared views of our own file, unmapped when they drop.
    let map = match history {
        History::Written => {
            file.write_all_at(&vec![1u8; LEN], 0).map_err(|e| e.to_string())?;
            file.sync_all().map_err(|e| e.to_string())?;
            let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| e.to_string())?;
            // Volatile, so that the fault is not optimised away.
            let _ = unsafe { map.as_ptr().read_volatile() };
            map
        }
        History::Faulted => {
            // SAFETY: plain syscall on our fd.
            if unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, LEN as libc::off_t) } != 0 {
                return Err(format!("fallocate: {}", std::io::Error::last_os_error()));
            }
            let mut map = unsafe { memmap2::MmapMut::map_mut(&file) }.map_err(|e| e.to_string())?;
            map.fill(1);
            file.sync_all().map_err(|e| e.to_string())?;
            map.make_read_only().map_err(|e| e.to_string())?
        }
    };
    let addr = map.as_ptr() as u64;
    let read_u64 = |f: &str, at: u64| -> Result<u64, String> {
        let mut h = std::fs::File::open(f).map_err(|e| format!("{f}: {e}"))?;
        h.seek(SeekFrom::Start(at)).map_err(|e| format!("{f}: {e}"))?;
        let mut b = [0u8; 8];
        h.read_exact(&mut b).map_err(|e| format!("{f}: {e}"))?;
        Ok(u64::from_le_bytes(b))
    };
    let entry = read_u64("/proc/self/pagemap", addr / 4096 * 8)?;
    let pfn = entry & ((1 << 55) - 1);
    if entry >> 63 == 0 || pfn == 0 {
        return Err("the page frame is hidden (reading it needs CAP_SYS_ADMIN)".into());
    }
    let flags = read_u64("/proc/kpageflags", pfn * 8)?;
    // KPF_COMPOUND_HEAD (15), KPF_COMPOUND_TAIL (16).
    Ok(flags & (1 << 15 | 1 << 16) != 0)
}

/// Removes a file when dropped.
struct Remove(std::path::PathBuf);
impl Drop for Remove {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
fn scopeguard(p: std::path::PathBuf) -> Remove {
    Remove(p)
}

/// One dirty page of a large file written with `pwrite` costs a whole folio where the kernel
/// uses large folios; faulted in through a mapping, it costs one page where those pages are
/// small folios (some kernels and filesystems read ahead into large folios there too).
#[test]
fn msync_shows_the_whole_folio_written_back() {
    let _fsyncs = writes_back();
    let (base, block) = disk_dir("msync write amplification");
    if !block {
        println!("SKIPPED msync write amplification: no directory on a block device to flush to");
        return;
    }
    let probe_dir = tempfile::tempdir_in(&base).unwrap();
    let large = |history| match uses_large_folios(probe_dir.path(), history) {
        Ok(l) => Some(l),
        Err(why) => {
            println!("SKIPPED msync write amplification: cannot tell folio sizes here: {why}");
            None
        }
    };
    let (Some(written_large), Some(faulted_large)) =
        (large(History::Written), large(History::Faulted))
    else {
        return;
    };
    let run =
        scenario_in(&base, &["msync", "--quick", "--filter", "msync/msync-sync/disk/1/*/16M"]);
    let cases = cases(&run);
    for id in ["msync/msync-sync/disk/1/faulted/16M", "msync/msync-sync/disk/1/written/16M"] {
        let c = case(&cases, id);
        assert!(c.get("error").is_none(), "{id}: {}", c["error"]);
        assert_eq!(c["axes"]["flush"], "durable", "{id}: {} is on a block device", base.display());
        assert!(c["axes"]["device"].as_str().is_some_and(|d| !d.is_empty()), "{id}");
    }
    // Bytes the device was asked to write over bytes dirtied: none where the filesystem does
    // not charge writes to the thread that dirties (ZFS, FUSE) or the kernel keeps no count.
    let amp = |id: &str| {
        let c = case(&cases, id);
        let written = c["figures"]["written_bytes_per_flush"].as_f64().filter(|w| *w > 0.0);
        written.and(c["figures"]["write_amplification"].as_f64())
    };
    let (Some(faulted), Some(written)) =
        (amp("msync/msync-sync/disk/1/faulted/16M"), amp("msync/msync-sync/disk/1/written/16M"))
    else {
        println!(
            "SKIPPED msync write amplification: {} ({}) counts no write_bytes for the flushes \
             (/proc/thread-self/io): nothing to compare",
            base.display(),
            case(&cases, "msync/msync-sync/disk/1/written/16M")["axes"]["fstype"]
        );
        return;
    };
    // Byte counts set by the kernel's unit of writeback, not times: a faulted-in page is one
    // small folio, unless this kernel faults such pages in as large folios.
    if faulted_large {
        println!(
            "SKIPPED msync faulted-in check: this kernel keeps pages faulted in through a mapping \
             in large folios here (faulted: {faulted:.1}×)"
        );
    } else {
        assert!((0.99..=1.01).contains(&faulted), "faulted-in: write amplification {faulted}");
    }
    if written_large {
        assert!(written > 1.0, "large folios, yet write amplification {written}");
    } else {
        println!(
            "SKIPPED msync large-folio check: this kernel keeps a written file in small folios \
             (written: {written:.1}×)"
        );
    }
}

#[test]
fn mapping_has_every_op_and_size_or_a_reason() {
    let run = scenario(&["mapping", "--quick", "--iterations", "1"]);
    let cases = cases(&run);
    let ops = [
        "mmap",
        "touch",
        "touch-private",
        "populate",
        "thp",
        "hugetlb",
        "shm-open",
        "memfd",
        "shmget",
    ];
    let sizes = [4096u64, 1 << 20, 16 << 20];
    assert_eq!(cases.len(), ops.len() * sizes.len());
    for op in ops {
        for size in sizes {
            let c = case(&cases, &format!("mapping/{op}/{size}"));
            assert_eq!(c["axes"]["op"], op);
            if measured_or_skipped(c, "setup") {
                assert!(c["latency_ns"]["teardown"]["p50"].as_u64().is_some());
                if op != "mmap" {
                    let per_page = c["figures"]["ns_per_page"].as_f64();
                    assert!(per_page.is_some_and(f64::is_finite), "{op}/{size}");
                }
            } else {
                assert!(["thp", "hugetlb"].contains(&op), "{op}/{size} skipped");
            }
        }
    }
    // Never smaller than a huge page.
    assert!(case(&cases, "mapping/hugetlb/4096")["skipped"].as_str().unwrap().contains("2 MiB"));
    assert!(case(&cases, "mapping/thp/4096")["skipped"].as_str().is_some());
}

#[test]
fn the_full_plans_list_every_case() {
    let out = output_within(Command::new(EXE).arg("list"), QUICK_LIMIT);
    let text = String::from_utf8_lossy(&out.stdout);
    let ids = |prefix: &str| text.lines().filter(|l| l.trim().starts_with(prefix)).count();
    // The plain cases, and 1 page of a 16 MiB file of each history.
    assert_eq!(ids("msync/"), 4 * 2 * (7 + 2));
    assert_eq!(ids("mapping/"), 9 * 6, "4K to 1G for every op");
    assert!(text.contains("mapping/shm-open/1073741824"));
    assert_eq!(ids("seed/"), 12);
}

#[test]
fn seed_reports_every_claim() {
    // The dirty cached page still shows records 6-10: the table says NO for it — unless the
    // host wrote the page back between munmap and the read, which is told apart.
    let cached = |run: &Run| -> String {
        let stdout = String::from_utf8_lossy(&run.out.stdout);
        stdout.lines().find(|l| l.starts_with("seed/after-unmap-cached")).unwrap().to_string()
    };
    let mut last = None;
    let judged = unless_written_back(
        "seed/after-unmap-cached in the seed scenario",
        || {
            let run = scenario(&["seed"]);
            let line = cached(&run);
            last = Some(run);
            line
        },
        |line| line.contains(" NO "),
    );
    let run = last.expect("the scenario ran");
    let cases = cases(&run);
    assert_eq!(cases.len(), 12);
    for c in &cases {
        let claim = &c["claims"][0];
        for k in ["claim", "article_says", "observed"] {
            assert!(claim[k].as_str().is_some_and(|s| !s.is_empty()), "{}: {k}", c["id"]);
        }
        assert!(claim["holds"].is_boolean());
    }
    // The case runs the check of a page left dirty after munmap.
    let observed = case(&cases, "seed/after-unmap-cached")["claims"][0]["observed"].to_string();
    assert!(observed.contains("right after the writer's munmap (no fsync"), "{observed}");
    let stdout = String::from_utf8_lossy(&run.out.stdout);
    assert!(stdout.contains("holds") && stdout.contains("seed/sigbus-past-eof"), "{stdout}");
    if let Some(line) = judged {
        assert!(line.contains(" NO "), "{line}");
    }
}

#[test]
fn durable_pingpong_runs_file_mmap_and_file_rw_only() {
    let _fsyncs = writes_back();
    // --quick keeps to forked peers and the plain waits unless told: name them all.
    let run = scenario(&[
        "pingpong",
        "--durable",
        "--quick",
        "--process",
        "fork,spawn",
        "--wait",
        "spin,futex,eventfd,condvar,block",
        "--size",
        "64",
        "--iterations",
        "20",
    ]);
    let cases = cases(&run);
    assert_eq!(
        cases.len(),
        10,
        "file-mmap: fork/spawn × spin/futex/eventfd/condvar, file-rw: fork/spawn × block"
    );
    for c in &cases {
        let id = c["id"].as_str().unwrap();
        assert!(id.ends_with("/64/durable"), "{id}");
        assert!(["file-mmap", "file-rw"].contains(&c["transport"].as_str().unwrap()), "{id}");
        assert_eq!(c["axes"]["durable"], "true");
        assert_eq!(c["integrity"]["lost"], 0);
        assert!(c["notes"].to_string().contains("durable:"), "{id}");
    }

    let refused = scenario(&["pingpong", "--durable", "--transport", "pipe"]);
    assert_eq!(refused.out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.out.stderr);
    assert!(err.contains("pipe") && err.contains("--durable") && err.lines().count() == 1, "{err}");
}

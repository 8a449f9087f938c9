//! Scenario `msync`: what it costs to make N dirty 4 KiB pages durable — `msync(MS_SYNC)` and
//! `msync(MS_ASYNC)` of a shared file mapping against `fdatasync` and `fsync` after `pwrite` —
//! on a directory on disk and on tmpfs. Each flush is timed alone: the pages are dirtied again
//! before every flush, untimed (their cost is kept apart as `latency_ns.dirty`).
//!
//! For each flush it also records what the device was asked to write (the `write_bytes` this
//! thread was charged across dirtying and flushing) and the write amplification (written /
//! dirtied). A file's history decides that on kernels with large folios, so a few cases dirty
//! the first pages of a larger file (16 MiB) that was either written with `pwrite` or faulted
//! in through a mapping: `msync/<method>/<fs>/<pages>/<history>/16M`. The plain
//! `msync/<method>/<fs>/<pages>` cases keep their meaning: a written file of exactly N pages.
//! A flush that makes nothing durable (`msync-async`, any flush on tmpfs) is marked `no-op`
//! (axis `flush`) and gets no rate.

use crate::table::{bytes, bytes_per_s, ns, Table};
use crate::{Case, Context, Options, Scenario, UsageError};
use anyhow::Result;
use ipcbench_harness::os::clock::now_ns;
use ipcbench_harness::os::mapping::PAGE;
use ipcbench_harness::patterns::flush::{written_bytes, FlushMethod, FlushTarget, History};
use ipcbench_harness::record::stats::{encode, new_histogram, record, summarize};
use ipcbench_results::{latency, CaseResult, RunFile};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Dirty pages per flush.
pub const DEFAULT_PAGES: [usize; 7] = [1, 4, 16, 64, 256, 1024, 4096];
/// Flushes run and thrown away before measuring (the first may allocate or journal more).
const WARMUP: u64 = 2;
/// Flushes measured at least, whatever the time limit.
const MIN_FLUSHES: u64 = 3;
/// The larger file of the history cases: 16 MiB, eight 2 MiB folios' worth.
pub const LARGE_FILE_PAGES: usize = 4096;
/// Where the tmpfs cases put their files.
pub const TMPFS_DIR: &str = "/dev/shm";

pub const MS_ASYNC_WARNING: &str = "msync(MS_ASYNC) schedules nothing on Linux since 2.6.19: \
     the kernel already tracks dirty shared pages and writes them back on its own schedule, so \
     msync-async figures are the cost of an empty system call and make nothing durable. Use \
     msync-sync (MS_SYNC) or fdatasync when the data must survive a crash.";

/// Where a case's file lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fs {
    /// The run's private directory (under `--dir`, else the system temp dir).
    Disk,
    /// A private directory in `/dev/shm`.
    Tmpfs,
}

impl Fs {
    pub const ALL: [Fs; 2] = [Fs::Disk, Fs::Tmpfs];
    pub fn name(self) -> &'static str {
        match self {
            Fs::Disk => "disk",
            Fs::Tmpfs => "tmpfs",
        }
    }
}

pub struct Msync;

/// The page counts to run: `--size` in bytes (rounded up to whole pages), else the defaults.
fn page_counts(opts: &Options) -> Vec<usize> {
    let wanted: Vec<usize> = match &opts.sizes {
        Some(sizes) => sizes.iter().map(|s| s.div_ceil(PAGE)).collect(),
        None => DEFAULT_PAGES.to_vec(),
    };
    let mut v = Vec::new();
    for n in wanted {
        if !v.contains(&n) {
            v.push(n);
        }
    }
    v
}

impl Scenario for Msync {
    fn name(&self) -> &'static str {
        "msync"
    }
    fn two_sided(&self) -> bool {
        false
    }
    fn about(&self) -> &'static str {
        "durability: msync(MS_SYNC/MS_ASYNC) against fdatasync/fsync of N dirty pages, on disk and tmpfs"
    }
    fn cases(&self, opts: &Options) -> Result<Vec<Case>, UsageError> {
        let mut cases = Vec::new();
        // History cases: 1 page by default, every asked-for count that fits the large file.
        let large: Vec<usize> = match &opts.sizes {
            Some(_) => page_counts(opts).into_iter().filter(|&n| n < LARGE_FILE_PAGES).collect(),
            None => vec![1],
        };
        for method in FlushMethod::ALL {
            for fs in Fs::ALL {
                for &pages in &page_counts(opts) {
                    let id = format!("msync/{method}/{}/{pages}", fs.name());
                    let file = FileShape { pages, history: History::Written };
                    cases.push(Case::new(id.clone(), move |ctx| {
                        run_case(ctx, id, method, fs, pages, file)
                    }));
                }
                for &pages in &large {
                    for history in History::ALL {
                        let id =
                            format!("msync/{method}/{}/{pages}/{}/16M", fs.name(), history.name());
                        let file = FileShape { pages: LARGE_FILE_PAGES, history };
                        cases.push(Case::new(id.clone(), move |ctx| {
                            run_case(ctx, id, method, fs, pages, file)
                        }));
                    }
                }
            }
        }
        Ok(cases)
    }

    fn summary(&self, cases: &[&CaseResult], _run: &RunFile) -> Option<String> {
        let mut t = Table::new(&[
            "case",
            "fstype",
            "flush p50",
            "p99",
            "rate at p50",
            "written/flush",
            "write amp.",
            "dirty p50",
        ]);
        for c in cases {
            let fstype = c.axes.get("fstype").cloned().unwrap_or_default();
            let blank = || vec![String::new(); 5];
            let cells = match (&c.skipped, &c.error, c.latency_ns.get(latency::FLUSH)) {
                (Some(_), _, _) => [vec!["skipped".into()], blank()].concat(),
                (_, Some(_), _) | (_, _, None) => [vec!["failed".into()], blank()].concat(),
                (None, None, Some(s)) => {
                    let no_op = c.axes.get("flush").is_some_and(|f| f == NO_OP);
                    let fig = |k: &str| c.figures.get(k).copied();
                    vec![
                        ns(s.p50 as f64),
                        ns(s.p99 as f64),
                        if no_op {
                            NO_OP.into()
                        } else {
                            fig("bytes_per_s").map(bytes_per_s).unwrap_or_default()
                        },
                        fig(WRITTEN).map(|b| bytes(b.round() as u64)).unwrap_or("-".into()),
                        fig(AMPLIFICATION).map(|a| format!("{a:.1}×")).unwrap_or("-".into()),
                        c.latency_ns
                            .get(latency::DIRTY)
                            .map(|d| ns(d.p50 as f64))
                            .unwrap_or_default(),
                    ]
                }
            };
            t.row([vec![c.id.clone(), fstype], cells].concat());
        }
        (!t.is_empty()).then(|| t.to_string())
    }
}

/// A private directory for one tmpfs case, removed on drop, or why there is none; its name
/// carries our pid so a leak can be traced to its run.
fn tmpfs_dir() -> Result<tempfile::TempDir, String> {
    let base = Path::new(TMPFS_DIR);
    if !base.is_dir() {
        return Err(format!("{TMPFS_DIR} does not exist on this host"));
    }
    // mkdir is exclusive, the directory 0700 with an unpredictable suffix.
    ipcbench_harness::os::leftovers::private_temp_dir(base, "msync")
        .map_err(|e| format!("cannot create a private directory in {TMPFS_DIR}: {e}"))
}

/// The axis value (`flush`) and table cell of a flush that makes nothing durable.
pub const NO_OP: &str = "no-op";
/// Figures: bytes the device was asked to write per flush, and that over the bytes dirtied.
pub const WRITTEN: &str = "written_bytes_per_flush";
pub const AMPLIFICATION: &str = "write_amplification";

/// The file a case flushes: its size in pages and how its pages came into the cache.
#[derive(Clone, Copy, Debug)]
struct FileShape {
    pages: usize,
    history: History,
}

fn run_case(
    ctx: &Context,
    id: String,
    method: FlushMethod,
    fs: Fs,
    pages: usize,
    file: FileShape,
) -> Result<CaseResult> {
    let mut c = CaseResult::new(id, "msync");
    c.size = Some((pages * PAGE) as u64);
    c.axes.insert("method".into(), method.name().into());
    c.axes.insert("fs".into(), fs.name().into());
    c.axes.insert("pages".into(), pages.to_string());
    c.axes.insert("history".into(), file.history.name().into());
    c.axes.insert("file_bytes".into(), (file.pages * PAGE).to_string());
    if method == FlushMethod::MsyncAsync {
        ctx.warn(MS_ASYNC_WARNING);
    }
    let _tmp;
    let dir: PathBuf = match fs {
        Fs::Disk => ctx.work_dir.clone(),
        Fs::Tmpfs => match tmpfs_dir() {
            Ok(d) => {
                let p = d.path().to_path_buf();
                _tmp = d;
                p
            }
            Err(why) => {
                c.skipped = Some(why);
                return Ok(c);
            }
        },
    };
    let mount = crate::sysinfo::mount_of(&dir);
    let fstype = mount.as_ref().map(|m| m.fstype.clone()).unwrap_or("unknown".into());
    let block = mount.as_ref().is_some_and(|m| m.block_backed());
    c.axes.insert("fstype".into(), fstype.clone());
    if let Some(m) = mount.as_ref().filter(|_| block) {
        c.axes.insert("device".into(), format!("{} ({}:{})", m.source, m.major, m.minor));
    }
    if fs == Fs::Disk && !block {
        ctx.warn(format!(
            "The msync 'disk' cases ran in {}, which is on {fstype}, not on a block device: they \
             measure memory, not a disk. Point --dir at a directory on a disk.",
            ctx.work_dir.display()
        ));
    }
    // Nothing reaches a device: MS_ASYNC schedules nothing, and tmpfs has no device.
    let no_op = method == FlushMethod::MsyncAsync || !block;
    c.axes.insert("flush".into(), if no_op { NO_OP } else { "durable" }.into());

    let (iterations, max_duration) =
        ctx.opts.budget((10_000, Duration::from_secs(1)), (200, Duration::from_millis(100)));
    let mut target = FlushTarget::create_with(&dir, pages, file.pages, file.history, method)?;
    let mut flush = new_histogram();
    let mut dirty = new_histogram();
    let mut measured = 0;
    let mut started = 0;
    // What the device was asked to write over the measured flushes; None: not accounted here.
    let mut written = Some(0u64);
    for i in 0..WARMUP + iterations {
        if i == WARMUP {
            started = now_ns();
        }
        let w0 = written_bytes();
        let t0 = now_ns();
        target.dirty()?;
        let t1 = now_ns();
        target.flush()?;
        let t2 = now_ns();
        let w1 = written_bytes();
        if i < WARMUP {
            continue;
        }
        written = match (written, w0, w1) {
            (Some(sum), Some(a), Some(b)) => Some(sum + b.saturating_sub(a)),
            _ => None,
        };
        record(&mut dirty, t1 - t0);
        record(&mut flush, t2 - t1);
        measured += 1;
        // The time limit covers dirtying too, so a case of slow flushes stays short.
        if !max_duration.is_zero()
            && measured >= MIN_FLUSHES
            && t2 - started >= max_duration.as_nanos() as u64
        {
            break;
        }
    }
    drop(target);

    c.iterations = measured;
    c.warmup = WARMUP;
    let s = summarize(&flush);
    c.latency_ns.insert(latency::FLUSH.into(), s);
    c.latency_ns.insert(latency::DIRTY.into(), summarize(&dirty));
    c.histograms.insert(latency::FLUSH.into(), encode(&flush));
    c.histograms.insert(latency::DIRTY.into(), encode(&dirty));
    if !no_op {
        c.figures.insert("bytes_per_s".into(), (pages * PAGE) as f64 * 1e9 / s.p50.max(1) as f64);
    }
    if let Some(w) = written.filter(|_| !no_op && measured > 0) {
        let per_flush = w as f64 / measured as f64;
        c.figures.insert(WRITTEN.into(), per_flush);
        c.figures.insert("dirtied_bytes_per_flush".into(), (pages * PAGE) as f64);
        c.figures.insert(AMPLIFICATION.into(), per_flush / (pages * PAGE) as f64);
    }
    c.notes.push(method.how().to_string());
    c.notes.push(format!(
        "the first {} of a file of {} ({}) in {} ({fstype}); latency_ns.flush times the flush \
         alone, the pages are dirtied again before each one (latency_ns.dirty, untimed in flush)",
        bytes((pages * PAGE) as u64),
        bytes((file.pages * PAGE) as u64),
        match file.history {
            History::Written => "written with pwrite",
            History::Faulted => "fallocated, then faulted in through a mapping",
        },
        dir.display()
    ));
    c.notes.push(
        "written_bytes_per_flush: the write_bytes this thread was charged across dirtying and \
         flushing (/proc/thread-self/io); the kernel charges a folio's whole size when it turns \
         dirty, so write_amplification = written / dirtied shows whole folios written back"
            .into(),
    );
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_for_every_method_fs_and_page_count() {
        let cases = Msync.cases(&Options::default()).unwrap();
        assert_eq!(cases.len(), 4 * 2 * (7 + 2));
        assert!(cases.iter().any(|c| c.id == "msync/msync-sync/disk/4096"));
        assert!(cases.iter().any(|c| c.id == "msync/msync-sync/disk/1/written/16M"));
        assert!(cases.iter().any(|c| c.id == "msync/pwrite-fsync/tmpfs/1/faulted/16M"));
        assert!(cases.iter().any(|c| c.id == "msync/pwrite-fsync/tmpfs/1"));
        let opts = Options { sizes: Some(vec![4096, 256 << 10, 100]), ..Default::default() };
        let ids: Vec<String> = Msync.cases(&opts).unwrap().into_iter().map(|c| c.id).collect();
        assert!(ids.contains(&"msync/msync-async/tmpfs/64".to_string()), "{ids:?}");
        assert!(ids.contains(&"msync/msync-async/tmpfs/1".to_string()), "{ids:?}");
        assert!(ids.contains(&"msync/msync-sync/disk/64/faulted/16M".to_string()), "{ids:?}");
        // 4096 and 100 bytes are both one page: one case, ids stay unique.
        assert_eq!(ids.len(), 4 * 2 * (2 + 2 * 2), "{ids:?}");
    }
}

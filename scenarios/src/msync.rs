//! Scenario `msync`: what it costs to make N dirty 4 KiB pages durable — `msync(MS_SYNC)` and
//! `msync(MS_ASYNC)` of a shared file mapping against `fdatasync` and `fsync` after `pwrite` —
//! on a directory on disk and on tmpfs. Each flush is timed alone: the pages are dirtied again
//! before every flush, untimed (their cost is kept apart as `latency_ns.dirty`).

use crate::table::{bytes, bytes_per_s, ns, Table};
use crate::{Case, Context, Options, Scenario, UsageError};
use anyhow::Result;
use ipcbench_harness::os::clock::now_ns;
use ipcbench_harness::os::mapping::PAGE;
use ipcbench_harness::patterns::flush::{FlushMethod, FlushTarget};
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
        for method in FlushMethod::ALL {
            for fs in Fs::ALL {
                for &pages in &page_counts(opts) {
                    let id = format!("msync/{method}/{}/{pages}", fs.name());
                    cases.push(Case::new(id.clone(), move |ctx| {
                        run_case(ctx, id, method, fs, pages)
                    }));
                }
            }
        }
        Ok(cases)
    }

    fn summary(&self, cases: &[&CaseResult], _run: &RunFile) -> Option<String> {
        let mut t = Table::new(&["case", "fstype", "flush p50", "p99", "rate at p50", "dirty p50"]);
        for c in cases {
            let fstype = c.axes.get("fstype").cloned().unwrap_or_default();
            let (p50, p99, rate, dirty) =
                match (&c.skipped, &c.error, c.latency_ns.get(latency::FLUSH)) {
                    (Some(_), _, _) => {
                        ("skipped".into(), String::new(), String::new(), String::new())
                    }
                    (_, Some(_), _) | (_, _, None) => {
                        ("failed".into(), String::new(), String::new(), String::new())
                    }
                    (None, None, Some(s)) => (
                        ns(s.p50 as f64),
                        ns(s.p99 as f64),
                        c.figures.get("bytes_per_s").map(|b| bytes_per_s(*b)).unwrap_or_default(),
                        c.latency_ns
                            .get(latency::DIRTY)
                            .map(|d| ns(d.p50 as f64))
                            .unwrap_or_default(),
                    ),
                };
            t.row(vec![c.id.clone(), fstype, p50, p99, rate, dirty]);
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

fn run_case(
    ctx: &Context,
    id: String,
    method: FlushMethod,
    fs: Fs,
    pages: usize,
) -> Result<CaseResult> {
    let mut c = CaseResult::new(id, "msync");
    c.size = Some((pages * PAGE) as u64);
    c.axes.insert("method".into(), method.name().into());
    c.axes.insert("fs".into(), fs.name().into());
    c.axes.insert("pages".into(), pages.to_string());
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
    let fstype = crate::sysinfo::filesystem_of(&dir);
    c.axes.insert("fstype".into(), fstype.clone());
    if fs == Fs::Disk && fstype == "tmpfs" {
        ctx.warn(format!(
            "The msync 'disk' cases ran in {}, which is on tmpfs: they measure memory, not a \
             disk. Point --dir at a directory on a disk.",
            ctx.work_dir.display()
        ));
    }

    let (iterations, max_duration) =
        ctx.opts.budget((10_000, Duration::from_secs(1)), (200, Duration::from_millis(100)));
    let mut target = FlushTarget::create(&dir, pages, method)?;
    let mut flush = new_histogram();
    let mut dirty = new_histogram();
    let mut measured = 0;
    let mut started = 0;
    for i in 0..WARMUP + iterations {
        if i == WARMUP {
            started = now_ns();
        }
        let t0 = now_ns();
        target.dirty()?;
        let t1 = now_ns();
        target.flush()?;
        let t2 = now_ns();
        if i < WARMUP {
            continue;
        }
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
    c.figures.insert("bytes_per_s".into(), (pages * PAGE) as f64 * 1e9 / s.p50.max(1) as f64);
    c.notes.push(method.how().to_string());
    c.notes.push(format!(
        "a file of {} in {} ({fstype}); latency_ns.flush times the flush alone, the pages are \
         dirtied again before each one (latency_ns.dirty, untimed in flush)",
        bytes((pages * PAGE) as u64),
        dir.display()
    ));
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_for_every_method_fs_and_page_count() {
        let cases = Msync.cases(&Options::default()).unwrap();
        assert_eq!(cases.len(), 4 * 2 * 7);
        assert!(cases.iter().any(|c| c.id == "msync/msync-sync/disk/4096"));
        assert!(cases.iter().any(|c| c.id == "msync/pwrite-fsync/tmpfs/1"));
        let opts = Options { sizes: Some(vec![4096, 256 << 10, 100]), ..Default::default() };
        let ids: Vec<String> = Msync.cases(&opts).unwrap().into_iter().map(|c| c.id).collect();
        assert!(ids.contains(&"msync/msync-async/tmpfs/64".to_string()), "{ids:?}");
        assert!(ids.contains(&"msync/msync-async/tmpfs/1".to_string()), "{ids:?}");
        // 4096 and 100 bytes are both one page: one case, ids stay unique.
        assert_eq!(ids.len(), 4 * 2 * 2, "{ids:?}");
    }
}

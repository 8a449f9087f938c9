//! Scenario `mapping`: what a mapping costs to set up, to fault in and to tear down, by size —
//! a bare `mmap`/`munmap`, the first touch of every page against `MAP_POPULATE`, transparent
//! huge pages and `MAP_HUGETLB` where the host allows them, and the three named kinds of shared
//! memory: `shm_open` + `ftruncate` + `mmap`, `memfd_create` + `ftruncate` + `mmap`,
//! `shmget` + `shmat`.
//!
//! Every iteration creates its objects and removes them again (names unlinked, segments marked
//! `IPC_RMID`, fds closed); guards remove them on every other path out.

use crate::table::{bytes, not_measured, ns, Table};
use crate::{Case, Context, Options, Scenario, UsageError};
use anyhow::{bail, Result};
use ipcbench_harness::os::clock::now_ns;
use ipcbench_harness::os::mapping::{memfd, MapOptions, Region, PAGE};
use ipcbench_harness::os::named::{ShmObject, SysvSegment};
use ipcbench_harness::record::stats::{encode, new_histogram, record, summarize};
use ipcbench_results::{latency, CaseResult, RunFile};
use nix::sys::mman::MmapAdvise;
use std::time::Duration;

pub const DEFAULT_SIZES: [usize; 6] = [4 << 10, 64 << 10, 1 << 20, 16 << 20, 256 << 20, 1 << 30];
pub const QUICK_SIZES: [usize; 3] = [4 << 10, 1 << 20, 16 << 20];
const HUGE_PAGE: usize = 2 << 20;
const THP_ENABLED: &str = "/sys/kernel/mm/transparent_hugepage/enabled";
const THP_SHMEM_ENABLED: &str = "/sys/kernel/mm/transparent_hugepage/shmem_enabled";
/// Iterations run and thrown away first (page tables, the allocator's first growth).
const WARMUP: u64 = 1;
/// Iterations measured at least, whatever the time limit.
const MIN_ITERATIONS: u64 = 2;

/// What is set up and torn down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `mmap(MAP_SHARED | MAP_ANONYMOUS)` and `munmap`, no page touched.
    Mmap,
    /// The same, then a write to every page: one page fault each.
    Touch,
    /// `mmap(MAP_PRIVATE | MAP_ANONYMOUS)` with `MADV_NOHUGEPAGE`, every page touched: the
    /// baseline for `thp`.
    TouchPrivate,
    /// `mmap(MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE)`: the kernel faults every page in.
    Populate,
    /// `mmap(MAP_PRIVATE | MAP_ANONYMOUS)` + `madvise(MADV_HUGEPAGE)`, every page touched.
    Thp,
    /// `mmap(MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB)` from the reserved pool, every page touched.
    Hugetlb,
    /// `shm_open` + `ftruncate` + `mmap`; torn down with `munmap`, `close`, `shm_unlink`.
    ShmOpen,
    /// `memfd_create` + `ftruncate` + `mmap`; torn down with `munmap`, `close`.
    Memfd,
    /// `shmget` + `shmat` + `shmctl(IPC_RMID)`; torn down with `shmdt`.
    Shmget,
}

impl Op {
    pub const ALL: [Op; 9] = [
        Op::Mmap,
        Op::Touch,
        Op::TouchPrivate,
        Op::Populate,
        Op::Thp,
        Op::Hugetlb,
        Op::ShmOpen,
        Op::Memfd,
        Op::Shmget,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Op::Mmap => "mmap",
            Op::Touch => "touch",
            Op::TouchPrivate => "touch-private",
            Op::Populate => "populate",
            Op::Thp => "thp",
            Op::Hugetlb => "hugetlb",
            Op::ShmOpen => "shm-open",
            Op::Memfd => "memfd",
            Op::Shmget => "shmget",
        }
    }

    /// Whether every page is written after set-up (timed apart as `touch`).
    fn touches(self) -> bool {
        !matches!(self, Op::Mmap | Op::Populate)
    }

    fn how(self) -> &'static str {
        match self {
            Op::Mmap => "mmap(MAP_SHARED|MAP_ANONYMOUS) then munmap; no page touched",
            Op::Touch => {
                "mmap(MAP_SHARED|MAP_ANONYMOUS), one byte written in every 4 KiB page (one fault \
                 each), munmap"
            }
            Op::TouchPrivate => {
                "mmap(MAP_PRIVATE|MAP_ANONYMOUS) + madvise(MADV_NOHUGEPAGE), one byte written in \
                 every 4 KiB page, munmap: the 4 KiB-page baseline for thp"
            }
            Op::Populate => {
                "mmap(MAP_SHARED|MAP_ANONYMOUS|MAP_POPULATE): the kernel faults every page in \
                 during mmap; munmap"
            }
            Op::Thp => {
                "mmap(MAP_PRIVATE|MAP_ANONYMOUS) + madvise(MADV_HUGEPAGE), one byte written in \
                 every 4 KiB page, munmap (private: THP for shared anonymous memory is governed \
                 by shmem_enabled instead)"
            }
            Op::Hugetlb => {
                "mmap(MAP_SHARED|MAP_ANONYMOUS|MAP_HUGETLB) from the reserved pool, one byte \
                 written in every 4 KiB, munmap"
            }
            Op::ShmOpen => {
                "shm_open(O_CREAT|O_EXCL, 0600) + ftruncate + mmap(MAP_SHARED), every page \
                 touched; teardown munmap + close + shm_unlink"
            }
            Op::Memfd => {
                "memfd_create + ftruncate + mmap(MAP_SHARED), every page touched; teardown \
                 munmap + close"
            }
            Op::Shmget => {
                "shmget(IPC_PRIVATE, 0600) + shmat + shmctl(IPC_RMID) at once (the segment then \
                 lives while attached), every page touched; teardown shmdt"
            }
        }
    }
}

pub struct Mapping;

fn sizes(opts: &Options) -> Vec<usize> {
    match &opts.sizes {
        Some(s) => {
            let mut v = Vec::new();
            for &n in s {
                let n = n.div_ceil(PAGE) * PAGE;
                if !v.contains(&n) {
                    v.push(n);
                }
            }
            v
        }
        None if opts.quick => QUICK_SIZES.to_vec(),
        None => DEFAULT_SIZES.to_vec(),
    }
}

impl Scenario for Mapping {
    fn name(&self) -> &'static str {
        "mapping"
    }
    fn two_sided(&self) -> bool {
        false
    }
    fn about(&self) -> &'static str {
        "set-up cost: mmap, first touch vs MAP_POPULATE, THP, hugetlb, shm_open vs memfd vs shmget, by size"
    }
    fn cases(&self, opts: &Options) -> Result<Vec<Case>, UsageError> {
        let mut cases = Vec::new();
        for op in Op::ALL {
            for &size in &sizes(opts) {
                let id = format!("mapping/{}/{size}", op.name());
                cases.push(Case::new(id.clone(), move |ctx| run_case(ctx, id, op, size)));
            }
        }
        Ok(cases)
    }

    fn summary(&self, cases: &[&CaseResult], _run: &RunFile) -> Option<String> {
        let mut t =
            Table::new(&["case", "size", "setup p50", "touch p50", "teardown p50", "per page"]);
        for c in cases {
            let size = c.size.map(bytes).unwrap_or_default();
            let p = |k: &str| c.latency_ns.get(k).map(|s| ns(s.p50 as f64)).unwrap_or_default();
            let row = if let Some(why) = not_measured(c) {
                vec![c.id.clone(), size, why]
            } else {
                vec![
                    c.id.clone(),
                    size,
                    p(latency::SETUP),
                    p(latency::TOUCH),
                    p(latency::TEARDOWN),
                    c.figures.get("ns_per_page").map(|v| ns(*v)).unwrap_or_default(),
                ]
            };
            t.row(row);
        }
        (!t.is_empty()).then(|| t.to_string())
    }
}

/// The bracketed choice of a sysfs selector such as `always [madvise] never`.
fn selected(path: &str) -> Option<String> {
    let s = std::fs::read_to_string(path).ok()?;
    let start = s.find('[')?;
    let end = s[start..].find(']')? + start;
    Some(s[start + 1..end].to_string())
}

fn meminfo_kb(key: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let l = s.lines().find(|l| l.starts_with(key) && l[key.len()..].starts_with(':'))?;
    l.split_whitespace().nth(1)?.parse().ok()
}

/// Why this op cannot run at this size on this host, if it cannot.
fn skip_reason(op: Op, size: usize) -> Option<String> {
    let mem = crate::sysinfo::memory_bytes() as usize;
    if op != Op::Mmap && mem > 0 && size > mem / 4 {
        return Some(format!(
            "{} is more than a quarter of this host's memory ({})",
            bytes(size as u64),
            bytes(mem as u64)
        ));
    }
    match op {
        Op::Thp => {
            let Some(mode) = selected(THP_ENABLED) else {
                return Some(format!(
                    "no transparent huge pages on this kernel ({THP_ENABLED} is missing)"
                ));
            };
            if mode == "never" {
                return Some(format!(
                    "transparent huge pages are disabled ({THP_ENABLED} is [never])"
                ));
            }
            if size < HUGE_PAGE {
                return Some(format!(
                    "{} is smaller than one huge page (2 MiB): THP cannot apply",
                    bytes(size as u64)
                ));
            }
            None
        }
        Op::Hugetlb => {
            if !size.is_multiple_of(HUGE_PAGE) {
                return Some(format!(
                    "{} is not a whole number of 2 MiB huge pages",
                    bytes(size as u64)
                ));
            }
            let total = meminfo_kb("HugePages_Total").unwrap_or(0);
            let free = meminfo_kb("HugePages_Free").unwrap_or(0);
            let page_kb = meminfo_kb("Hugepagesize").unwrap_or(2048).max(1);
            if total == 0 {
                return Some(
                    "no huge pages are reserved (/proc/sys/vm/nr_hugepages is 0); reserve some \
                     with `sysctl vm.nr_hugepages=N` to run the hugetlb cases"
                        .into(),
                );
            }
            let need = (size as u64 / 1024).div_ceil(page_kb);
            if free < need {
                return Some(format!(
                    "{need} huge pages needed, {free} of {total} reserved ones are free \
                     (/proc/sys/vm/nr_hugepages)"
                ));
            }
            None
        }
        _ => None,
    }
}

fn touch_pages(ptr: *mut u8, len: usize) {
    let mut off = 0;
    while off < len {
        // SAFETY: within the mapping; volatile so each store really happens.
        unsafe { ptr.add(off).write_volatile(1) };
        off += PAGE;
    }
}

/// The times of one iteration, in ns.
struct Times {
    setup: u64,
    touch: u64,
    teardown: u64,
    /// Bytes of the region backed by huge pages (thp, measured once).
    huge: Option<u64>,
}

/// Bytes of `[ptr, ptr+len)` backed by anonymous huge pages, from /proc/self/smaps.
fn anon_huge_bytes(ptr: *mut u8, len: usize) -> Option<u64> {
    crate::sysinfo::smaps_bytes(ptr as *const u8, len, &["AnonHugePages:"])
}

fn once(op: Op, size: usize, want_huge: bool) -> Result<Times> {
    let t0;
    let mut huge = None;
    let (t1, t2, t3, t4) = match op {
        Op::Mmap | Op::Touch | Op::Populate | Op::TouchPrivate | Op::Thp | Op::Hugetlb => {
            let how = MapOptions {
                private: matches!(op, Op::TouchPrivate | Op::Thp),
                populate: op == Op::Populate,
                huge_tlb: op == Op::Hugetlb,
                ..Default::default()
            };
            t0 = now_ns();
            let m = Region::anon(size, how)?;
            match op {
                Op::Thp => m.advise(MmapAdvise::MADV_HUGEPAGE)?,
                Op::TouchPrivate => m.advise(MmapAdvise::MADV_NOHUGEPAGE)?,
                _ => {}
            }
            let t1 = now_ns();
            if op.touches() {
                touch_pages(m.as_ptr(), m.len());
            }
            let t2 = now_ns();
            if want_huge {
                huge = anon_huge_bytes(m.as_ptr(), m.len());
            }
            // Reading smaps is not part of any phase.
            let t3 = if want_huge { now_ns() } else { t2 };
            drop(m);
            (t1, t2, t3, now_ns())
        }
        Op::ShmOpen => {
            t0 = now_ns();
            let shm = ShmObject::create("ipcbench-map", size)?;
            let m = Region::map_fd(&shm, size)?;
            let t1 = now_ns();
            touch_pages(m.as_ptr(), m.len());
            let t2 = now_ns();
            drop(m);
            // Closed and unlinked.
            drop(shm);
            (t1, t2, t2, now_ns())
        }
        Op::Memfd => {
            t0 = now_ns();
            let fd = memfd(size)?;
            let m = Region::map_fd(&fd, size)?;
            let t1 = now_ns();
            touch_pages(m.as_ptr(), m.len());
            let t2 = now_ns();
            drop(m);
            drop(fd);
            (t1, t2, t2, now_ns())
        }
        Op::Shmget => {
            t0 = now_ns();
            let segment = SysvSegment::create(size)?;
            let attach = segment.attach(size)?;
            // Marked for removal at once: the kernel frees it at the last detach, even if we die.
            drop(segment);
            let t1 = now_ns();
            touch_pages(attach.as_ptr(), size);
            let t2 = now_ns();
            drop(attach);
            (t1, t2, t2, now_ns())
        }
    };
    Ok(Times { setup: t1 - t0, touch: t2 - t1, teardown: t4 - t3, huge })
}

fn run_case(ctx: &Context, id: String, op: Op, size: usize) -> Result<CaseResult> {
    let mut c = CaseResult::new(id, "mapping");
    c.size = Some(size as u64);
    c.axes.insert("op".into(), op.name().into());
    let pages = size / PAGE;
    c.figures.insert("pages".into(), pages as f64);
    c.notes.push(op.how().to_string());
    if let Some(why) = skip_reason(op, size) {
        c.skipped = Some(why);
        return Ok(c);
    }
    if op == Op::Thp {
        c.axes.insert("thp_enabled".into(), selected(THP_ENABLED).unwrap_or_default());
    }
    if matches!(op, Op::Touch | Op::Populate | Op::ShmOpen | Op::Memfd | Op::Shmget) {
        if let Some(mode) = selected(THP_SHMEM_ENABLED) {
            c.notes.push(format!("shared memory huge pages (shmem_enabled): {mode}"));
        }
    }

    let (iterations, max_duration) =
        ctx.opts.budget((1_000, Duration::from_secs(1)), (50, Duration::from_millis(50)));
    let mut setup = new_histogram();
    let mut touch = new_histogram();
    let mut teardown = new_histogram();
    let mut ready = new_histogram();
    let mut huge = None;
    let mut measured = 0;
    let mut started = 0;
    for i in 0..WARMUP + iterations {
        if i == WARMUP {
            started = now_ns();
        }
        let t = match once(op, size, op == Op::Thp && i == WARMUP) {
            Ok(t) => t,
            // The pool can be taken by others between the check and the mmap.
            Err(e) if op == Op::Hugetlb && i == 0 => {
                c.skipped =
                    Some(format!("MAP_HUGETLB failed although huge pages seemed free: {e:#}"));
                return Ok(c);
            }
            Err(e) => return Err(e),
        };
        if i < WARMUP {
            continue;
        }
        record(&mut setup, t.setup);
        record(&mut touch, t.touch);
        record(&mut teardown, t.teardown);
        record(&mut ready, t.setup + t.touch);
        huge = huge.or(t.huge);
        measured += 1;
        if !max_duration.is_zero()
            && measured >= MIN_ITERATIONS
            && now_ns() - started >= max_duration.as_nanos() as u64
        {
            break;
        }
    }
    if measured == 0 {
        bail!("no iteration measured");
    }
    c.iterations = measured;
    c.warmup = WARMUP;
    let mut put = |k: &str, summary, encoded| {
        c.latency_ns.insert(k.into(), summary);
        c.histograms.insert(k.into(), encoded);
    };
    put(latency::SETUP, summarize(&setup), encode(&setup));
    put(latency::TEARDOWN, summarize(&teardown), encode(&teardown));
    if op.touches() {
        put(latency::TOUCH, summarize(&touch), encode(&touch));
        put("ready", summarize(&ready), encode(&ready));
    }
    // Per 4 KiB of memory made ready: the faults of the first touch, or MAP_POPULATE's work.
    let fault_in = match op {
        Op::Mmap => None,
        Op::Populate => Some(summarize(&setup).p50),
        _ => Some(summarize(&touch).p50),
    };
    if let Some(v) = fault_in {
        c.figures.insert("ns_per_page".into(), v as f64 / pages.max(1) as f64);
    }
    if let Some(h) = huge {
        c.figures.insert("huge_page_fraction".into(), h as f64 / size as f64);
        if h == 0 {
            ctx.warn(
                "madvise(MADV_HUGEPAGE) got no transparent huge page in the mapping mapping/thp \
                 measured (AnonHugePages 0 in /proc/self/smaps): memory may be too fragmented, or \
                 the defrag setting too lazy; the thp figures are then 4 KiB-page figures.",
            );
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_op_runs_once_and_leaves_nothing() {
        for op in Op::ALL {
            if skip_reason(op, 4 << 20).is_some() {
                continue;
            }
            // Its phase times are this host's figures (a fast host may read one as 0 ns): the
            // test is that every op runs and leaves nothing.
            let t = once(op, 4 << 20, op == Op::Thp).unwrap();
            if op == Op::Thp {
                assert!(t.huge.is_some(), "smaps read");
            }
        }
        let pid = std::process::id().to_string();
        let names: Vec<String> = std::fs::read_dir("/dev/shm")
            .map(|d| d.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
            .unwrap_or_default();
        assert!(!names.iter().any(|n| n.starts_with(&format!("ipcbench-map-{pid}-"))), "{names:?}");
        // A segment of ours may still be listed while a child that another test forked (tests
        // share this process; e.g. pingpong's anon-mmap/fork pair) holds the attachment it
        // inherited. What would be a leak: one not
        // marked for removal (it outlives us), or one this process still has attached.
        let sysv = std::fs::read_to_string("/proc/sysvipc/shm").unwrap_or_default();
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
        for line in sysv.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let [_key, shmid, perms, size, cpid, ..] = f[..] else { continue };
            // Ours, and of the size this test maps (other tests may hold other segments).
            if cpid != pid || size != (4 << 20).to_string() {
                continue;
            }
            let removed = u32::from_str_radix(perms, 8).is_ok_and(|m| m & SHM_DEST != 0);
            assert!(removed, "SysV segment {shmid} not marked for removal: {sysv}");
            assert!(!attached_here(&maps, shmid), "SysV segment {shmid} still attached: {maps}");
        }
    }

    /// The leak check above sees a segment that is attached here or not yet removed.
    #[test]
    fn the_sysv_leak_check_can_fail() {
        let segment = SysvSegment::create(PAGE).unwrap();
        let attach = segment.attach(PAGE).unwrap();
        let sysv = std::fs::read_to_string("/proc/sysvipc/shm").unwrap();
        let line = sysv
            .lines()
            .find(|l| {
                let mut f = l.split_whitespace().skip(4);
                f.next() == Some(std::process::id().to_string().as_str())
            })
            .expect("our segment is listed");
        let f: Vec<&str> = line.split_whitespace().collect();
        let shmid = f[1];
        assert_eq!(u32::from_str_radix(f[2], 8).unwrap() & SHM_DEST, 0, "{line}");
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        assert!(attached_here(&maps, shmid), "{maps}");
        drop(segment);
        drop(attach);
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        assert!(!attached_here(&maps, shmid), "{maps}");
    }

    /// `SHM_DEST` in a segment's mode: marked for removal at its last detach (linux/shm.h).
    const SHM_DEST: u32 = 0o1000;

    /// Whether `/proc/self/maps` has SysV segment `shmid` mapped (its inode column is the id).
    fn attached_here(maps: &str, shmid: &str) -> bool {
        maps.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() >= 6 && f[4] == shmid && f[5].starts_with("/SYSV")
        })
    }

    #[test]
    fn sizes_and_skips() {
        let ids: Vec<String> =
            Mapping.cases(&Options::default()).unwrap().into_iter().map(|c| c.id).collect();
        assert_eq!(ids.len(), 9 * 6);
        assert!(ids.contains(&"mapping/shm-open/1073741824".to_string()));
        let quick = Options { quick: true, ..Default::default() };
        assert!(sizes(&quick).iter().all(|&s| s <= 256 << 20));
        assert!(skip_reason(Op::Thp, 4096).is_some());
        assert!(skip_reason(Op::Hugetlb, 4096).unwrap().contains("2 MiB"));
        assert_eq!(selected(THP_ENABLED).is_some(), std::path::Path::new(THP_ENABLED).exists());
    }
}

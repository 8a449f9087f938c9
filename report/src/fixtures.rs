//! Synthetic result files in the shapes the scenarios produce (see the case conventions in the
//! report's tests), with plausible figures: for tests, and for `examples/render.rs`, which the
//! browser check renders. Deterministic: the same fixture always gives the same file.

use hdrhistogram::Histogram;
use ipcbench_results::{
    latency, CaseResult, Claim, Cpu, Integrity, RunFile, RunInfo, Spread, Summary, Throughput,
    Trial,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const MAPPED: &[&str] = &["file-mmap", "anon-mmap", "posix-shm", "sysv-shm", "memfd"];
const STREAMED: &[&str] = &["pipe", "unix-socket", "tcp", "file-rw"];
const METHODS: &[&str] = &["msync-sync", "msync-async", "pwrite-fdatasync", "pwrite-fsync"];
pub const ALL_SCENARIOS: &[&str] =
    &["floor", "pingpong", "stream", "fanout", "msync", "mapping", "seed"];

/// What run to make.
#[derive(Clone, Debug)]
pub struct Fixture {
    pub host: String,
    /// Which run of a history this is: later start, another commit, slightly other figures.
    pub index: u64,
    pub scenarios: Vec<&'static str>,
    pub pingpong_sizes: Vec<u64>,
    pub stream_sizes: Vec<u64>,
    pub pages: Vec<u64>,
    pub mapping_sizes: Vec<u64>,
    /// Measured messages per pingpong case (and so histogram counts).
    pub iterations: u64,
    /// Store histograms with the pingpong cases (else only the summaries).
    pub histograms: bool,
    /// Add a failed case, a skipped case, warnings and claims.
    pub trouble: bool,
    /// Mark the run as made with `--quick`.
    pub quick: bool,
}

impl Fixture {
    /// Every scenario, a few sizes: quick to build, every chart drawn.
    pub fn small() -> Fixture {
        Fixture {
            host: "bench-a".into(),
            index: 0,
            scenarios: ALL_SCENARIOS.to_vec(),
            pingpong_sizes: vec![64, 4096],
            stream_sizes: vec![64, 4096, 65536, 1 << 20],
            pages: vec![1, 16, 256],
            mapping_sizes: vec![4096, 1 << 20, 16 << 20],
            iterations: 100_000,
            histograms: true,
            trouble: true,
            quick: false,
        }
    }

    /// About four hundred cases, as a full `scenario all` might give.
    pub fn big() -> Fixture {
        Fixture {
            pingpong_sizes: vec![64, 1024, 16384, 262_144],
            stream_sizes: vec![64, 256, 1024, 4096, 16384, 65536, 1 << 20, 16 << 20],
            pages: vec![1, 4, 16, 64, 256, 1024],
            mapping_sizes: vec![4096, 65536, 1 << 20, 16 << 20, 256 << 20, 1 << 30],
            ..Fixture::small()
        }
    }

    pub fn nth(mut self, index: u64) -> Fixture {
        self.index = index;
        self
    }

    pub fn quick(mut self, quick: bool) -> Fixture {
        self.quick = quick;
        self
    }

    pub fn host(mut self, host: &str) -> Fixture {
        self.host = host.into();
        self
    }

    pub fn only(mut self, scenarios: &[&'static str]) -> Fixture {
        self.scenarios = scenarios.to_vec();
        self
    }

    fn has(&self, scenario: &str) -> bool {
        self.scenarios.contains(&scenario)
    }

    /// A multiplier near 1 that differs by case and run: runs drift, cases are not all alike.
    fn jitter(&self, id: &str) -> f64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ self.index.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        for b in id.bytes().chain(self.host.bytes()) {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        0.94 + (h % 1000) as f64 / 1000.0 * 0.12
    }

    pub fn build(&self) -> RunFile {
        let started = 1_760_000_000 + self.index * 86_400 + (self.index % 3) * 3_700;
        let mut filesystems = BTreeMap::new();
        filesystems.insert("/tmp".to_string(), "ext4".to_string());
        filesystems.insert("/dev/shm".to_string(), "tmpfs".to_string());
        let mut run = RunFile::new(RunInfo {
            id: format!(
                "{}00Z-{}",
                crate::format::utc_minute(started).replace(['-', ':'], "").replace(' ', "T"),
                4000 + self.index
            ),
            started_at: crate::format::utc_minute(started).replace(' ', "T") + ":00Z",
            started_unix_s: started,
            git_commit: Some(format!("{:07x}{}", 0xa1b2c3 + self.index * 0x1111, "0d15ea5e")),
            hostname: self.host.clone(),
            kernel: "6.1.0-25-amd64".into(),
            cpu_model: "AMD EPYC 7B13 64-Core Processor".into(),
            logical_cpus: 2,
            memory_bytes: 24 << 30,
            filesystems,
            clock_source: "kvm-clock".into(),
            clock_overhead_ns: 21.5,
            pinning: Some(vec![0, 1]),
            pinning_reason: None,
            ipcbench_version: "0.1.0".into(),
            command_line: vec!["ipcbench".into(), "scenario".into(), "all".into()],
            quick: self.quick,
            interrupted: None,
            complete: true,
            slowdown: None,
            confirms: None,
        });
        if self.has("floor") {
            self.floor(&mut run);
        }
        if self.has("pingpong") {
            self.pingpong(&mut run);
        }
        if self.has("stream") {
            self.stream(&mut run);
        }
        if self.has("fanout") {
            self.fanout(&mut run);
        }
        if self.has("msync") {
            self.msync(&mut run);
        }
        if self.has("mapping") {
            self.mapping(&mut run);
        }
        if self.has("seed") {
            self.seed(&mut run);
        }
        if self.trouble {
            run.warnings.push(
                "This host has 2 logical CPUs and spinning cases run 2 spinning processes: each \
                 needs its own CPU, so other load skews them. Use --pin or a bigger host."
                    .into(),
            );
            run.warnings.push(
                "msync(MS_ASYNC) is a no-op on Linux since 2.6.19: its figures are the cost of \
                 the call <alone>, not of writing anything back."
                    .into(),
            );
        }
        run
    }

    fn floor(&self, run: &mut RunFile) {
        let handoff = 70.0 * self.jitter("floor/cache-line");
        let mut c = CaseResult::new("floor/cache-line", "floor");
        c.latency_ns.insert(latency::ONE_WAY.into(), summary(handoff, 0.2, self.iterations));
        c.latency_ns
            .insert(latency::ROUND_TRIP.into(), summary(2.0 * handoff, 0.2, self.iterations));
        c.iterations = self.iterations;
        run.cases.push(c);
        let mut c = CaseResult::new("floor/clock", "floor");
        c.latency_ns.insert(latency::CALL.into(), summary(21.5, 0.05, self.iterations));
        run.cases.push(c);
        let mut c = CaseResult::new("floor/syscall", "floor");
        c.latency_ns.insert(latency::CALL.into(), summary(95.0, 0.1, self.iterations));
        run.cases.push(c);
        let mut sizes = self.stream_sizes.clone();
        sizes.extend(&self.pingpong_sizes);
        sizes.sort();
        sizes.dedup();
        for size in sizes {
            let id = format!("floor/memcpy/{size}");
            let mut c = CaseResult::new(&id, "floor");
            c.size = Some(size);
            c.figures.insert("memcpy_bytes_per_s".into(), memcpy_bw(size) * self.jitter(&id));
            run.cases.push(c);
        }
    }

    fn pingpong(&self, run: &mut RunFile) {
        for (transport, process, wait) in combos() {
            for &size in &self.pingpong_sizes {
                let id = format!("pingpong/{transport}/{process}/{wait}/{size}");
                let base = one_way_ns(transport, process, wait, size) * self.jitter(&id);
                run.cases.push(self.pingpong_case(&id, transport, process, wait, size, base));
            }
        }
        // --durable on the file-backed ways, at the smallest size.
        let size = self.pingpong_sizes[0];
        for (transport, wait) in [("file-mmap", "spin"), ("file-rw", "block")] {
            let id = format!("pingpong/{transport}/fork/{wait}/{size}/durable");
            let base = one_way_ns(transport, "fork", wait, size) + 38_000.0 * self.jitter(&id);
            let mut c = self.pingpong_case(&id, transport, "fork", wait, size, base);
            c.axes.insert("durable".into(), "true".into());
            run.cases.push(c);
        }
        if self.trouble {
            let size = *self.pingpong_sizes.last().unwrap_or(&64);
            let mut c =
                CaseResult::new(format!("pingpong/sysv-shm/spawn/futex/{size}"), "pingpong");
            set_axes(&mut c, "sysv-shm", "spawn", "futex", size);
            // Replace the measured case of the same id: ids are unique within a run.
            run.cases.retain(|x| x.id != c.id);
            c.error = Some(
                "worker exited with status 101: shmget(IPC_CREAT|IPC_EXCL, 0600): No space left \
                 on device (ENOSPC); kernel.shmmni is 32 <here>"
                    .into(),
            );
            run.cases.push(c);
        }
    }

    fn pingpong_case(
        &self,
        id: &str,
        transport: &str,
        process: &str,
        wait: &str,
        size: u64,
        base: f64,
    ) -> CaseResult {
        let mut c = CaseResult::new(id, "pingpong");
        set_axes(&mut c, transport, process, wait, size);
        c.iterations = self.iterations;
        c.warmup = self.iterations / 10;
        let tail = if wait == "spin" { 0.25 } else { 0.6 };
        c.latency_ns.insert(latency::ONE_WAY.into(), summary(base, tail, self.iterations));
        c.latency_ns
            .insert(latency::ROUND_TRIP.into(), summary(2.0 * base + 30.0, tail, self.iterations));
        // Each trial a fresh pair: its median a few per cent off the pooled one.
        let trials = [0.96, 1.0, 1.07]
            .iter()
            .map(|f| summary(base * f, tail, self.iterations / 3))
            .collect();
        c.latency_trials_ns.insert(latency::ONE_WAY.into(), trials);
        if self.histograms {
            c.histograms.insert(latency::ONE_WAY.into(), histogram(base, tail, self.iterations));
            c.histograms.insert(
                latency::ROUND_TRIP.into(),
                histogram(2.0 * base + 30.0, tail, self.iterations),
            );
        }
        c.integrity = Some(Integrity {
            sent: self.iterations,
            received: self.iterations,
            ..Default::default()
        });
        let cpu = match wait {
            // A spinning side is busy the whole round trip.
            "spin" => 2.0 * base + 30.0,
            "futex" => 1_400.0 + 0.4 * base,
            _ => 2_300.0 + size as f64 / 8.0,
        };
        c.cpu = Some(Cpu {
            ns_per_message: [("initiator".to_string(), cpu), ("responder".to_string(), cpu * 0.93)]
                .into_iter()
                .collect(),
        });
        c.elapsed_s = self.iterations as f64 * 2.0 * base / 1e9;
        c
    }

    fn stream(&self, run: &mut RunFile) {
        for (transport, process, wait) in combos() {
            // Throughput barely depends on how the peer started: spawn only where it is the
            // point (posix-shm, opened by name as an unrelated program would).
            if process == "spawn" && transport != "posix-shm" {
                continue;
            }
            let modes: &[&str] =
                if MAPPED.contains(&transport) { &["copy", "in-place"] } else { &["copy"] };
            for mode in modes {
                for &size in &self.stream_sizes {
                    let id = format!("stream/{transport}/{process}/{wait}/{size}/{mode}");
                    let mut c = CaseResult::new(&id, "stream");
                    set_axes(&mut c, transport, process, wait, size);
                    c.axes.insert("mode".into(), mode.to_string());
                    let bps = stream_bw(transport, wait, mode, size) * self.jitter(&id);
                    c.throughput = Some(throughput(bps, size));
                    c.cpu = Some(Cpu {
                        ns_per_message: [
                            ("writer".to_string(), size as f64 / bps * 1e9 * 0.9),
                            ("reader".to_string(), size as f64 / bps * 1e9),
                        ]
                        .into_iter()
                        .collect(),
                    });
                    c.integrity =
                        Some(Integrity { sent: 50_000, received: 50_000, ..Default::default() });
                    run.cases.push(c);
                }
            }
        }
    }

    fn fanout(&self, run: &mut RunFile) {
        for (transport, wait) in [("posix-shm", "spin"), ("posix-shm", "futex"), ("pipe", "block")]
        {
            for size in [64u64, 4096, 65536] {
                for readers in [1u64, 2, 4] {
                    let id = format!("fanout/{transport}/fork/{wait}/{size}/{readers}");
                    let mut c = CaseResult::new(&id, "fanout");
                    set_axes(&mut c, transport, "fork", wait, size);
                    c.axes.insert("readers".into(), readers.to_string());
                    // A shared ring is read by every reader at once; pipes are written once each.
                    let share =
                        if transport == "pipe" { readers as f64 } else { (readers as f64).sqrt() };
                    let per = stream_bw(transport, wait, "copy", size) / share * self.jitter(&id);
                    let mut t = throughput(per * readers as f64, size);
                    t.per_reader_bytes_per_s = (0..readers)
                        .map(|r| Spread::of(&[per * (1.0 - 0.02 * r as f64), per, per * 1.01]))
                        .collect();
                    c.throughput = Some(t);
                    run.cases.push(c);
                }
            }
        }
    }

    fn msync(&self, run: &mut RunFile) {
        for method in METHODS {
            for (fs, fstype) in [("disk", "ext4"), ("tmpfs", "tmpfs")] {
                for &pages in &self.pages {
                    let id = format!("msync/{method}/{fs}/{pages}");
                    let mut c = CaseResult::new(&id, "msync");
                    c.axes.insert("method".into(), method.to_string());
                    c.axes.insert("fs".into(), fs.into());
                    c.axes.insert("fstype".into(), fstype.into());
                    c.axes.insert("pages".into(), pages.to_string());
                    let p = pages as f64;
                    let ns = match (*method, fs) {
                        ("msync-async", _) => 250.0 + 2.0 * p,
                        ("msync-sync", "disk") => 30_000.0 + 2_500.0 * p,
                        ("msync-sync", _) => 400.0 + 15.0 * p,
                        ("pwrite-fdatasync", "disk") => 28_000.0 + 2_800.0 * p,
                        ("pwrite-fsync", "disk") => 45_000.0 + 2_900.0 * p,
                        _ => 600.0 + 260.0 * p,
                    } * self.jitter(&id);
                    c.latency_ns.insert(latency::FLUSH.into(), summary(ns, 0.5, 2_000));
                    c.figures.insert("bytes_per_s".into(), p * 4096.0 / ns * 1e9);
                    c.iterations = 2_000;
                    run.cases.push(c);
                }
            }
        }
    }

    fn mapping(&self, run: &mut RunFile) {
        const OPS: &[&str] = &[
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
        for op in OPS {
            for &size in &self.mapping_sizes {
                let id = format!("mapping/{op}/{size}");
                let mut c = CaseResult::new(&id, "mapping");
                c.size = Some(size);
                c.axes.insert("op".into(), op.to_string());
                let pages = (size / 4096).max(1) as f64;
                c.figures.insert("pages".into(), pages);
                if *op == "hugetlb" || (*op == "thp" && size < 2 << 20) {
                    c.skipped = Some(if *op == "thp" {
                        "smaller than one huge page (2 MiB): THP cannot apply".into()
                    } else {
                        "no huge pages reserved (vm.nr_hugepages is 0)".into()
                    });
                    run.cases.push(c);
                    continue;
                }
                let j = self.jitter(&id);
                let (setup, per_page) = match *op {
                    "mmap" => (1_500.0, 0.0),
                    "populate" => (1_500.0 + 90.0 * pages, 0.0),
                    "thp" => (1_800.0, 12.0),
                    "shm-open" => (6_000.0, 260.0),
                    "memfd" => (4_000.0, 250.0),
                    "shmget" => (5_000.0, 245.0),
                    "touch-private" => (1_600.0, 180.0),
                    _ => (1_500.0, 240.0),
                };
                let iterations = 50;
                c.latency_ns.insert(latency::SETUP.into(), summary(setup * j, 0.3, iterations));
                c.latency_ns.insert(
                    latency::TEARDOWN.into(),
                    summary((900.0 + 40.0 * pages) * j, 0.3, iterations),
                );
                if per_page > 0.0 {
                    let touch = per_page * pages * j;
                    c.latency_ns.insert(latency::TOUCH.into(), summary(touch, 0.3, iterations));
                    c.latency_ns
                        .insert("ready".into(), summary(setup * j + touch, 0.3, iterations));
                    c.figures.insert("ns_per_page".into(), per_page * j);
                }
                c.iterations = iterations;
                run.cases.push(c);
            }
        }
    }

    fn seed(&self, run: &mut RunFile) {
        let mut c = CaseResult::new("seed/mmap-shared-memory", "seed");
        c.claims = vec![
            Claim {
                claim: "MAP_SHARED writes are visible to the other process without msync".into(),
                article_says: "visible at once, through the page cache".into(),
                observed: "seen by the peer after < 1 µs & without any flush".into(),
                holds: true,
            },
            Claim {
                claim: "MAP_ANONYMOUS | MAP_SHARED memory survives fork as shared".into(),
                article_says: "parent and child see each other's writes".into(),
                observed: "child's write read by the parent".into(),
                holds: true,
            },
            Claim {
                claim: "msync(MS_ASYNC) starts write-back".into(),
                article_says: "schedules the dirty pages for writing".into(),
                observed: "no write-back started; pages stay dirty (a no-op since 2.6.19)".into(),
                holds: false,
            },
        ];
        run.cases.push(c);
    }
}

/// Writes `run` as `dir/<name>` and returns the path.
pub fn write(dir: &Path, name: &str, run: &RunFile) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("fixture directory");
    }
    run.write_atomic(&path).expect("fixture written");
    path
}

/// A results directory as `scenario` leaves it: `runs/` holding `count` runs of `fixture`
/// (on `hosts`, in turn), the newest copied to `latest.json`.
pub fn results_dir(dir: &Path, fixture: &Fixture, count: u64, hosts: &[&str]) {
    let mut last = None;
    for i in 0..count {
        let host = hosts[(i as usize) % hosts.len().max(1)];
        let run = fixture.clone().nth(i).host(host).build();
        write(&dir.join("runs"), &format!("{}.json", run.run.id), &run);
        last = Some(run);
    }
    if let Some(run) = last {
        write(dir, "latest.json", &run);
    }
}

/// Adds `count` runs made with `--quick` to `dir/runs`, after the `after` runs that
/// [`results_dir`] wrote (later starts, other commits); `latest.json` stays as it was.
pub fn add_quick_runs(dir: &Path, fixture: &Fixture, after: u64, count: u64) {
    for i in after..after + count {
        let run = fixture.clone().nth(i).quick(true).build();
        write(&dir.join("runs"), &format!("{}.json", run.run.id), &run);
    }
}

fn combos() -> Vec<(&'static str, &'static str, &'static str)> {
    let mut out = Vec::new();
    for t in MAPPED {
        for p in ["fork", "spawn"] {
            if *t == "anon-mmap" && p == "spawn" {
                continue;
            }
            for w in ["spin", "futex"] {
                out.push((*t, p, w));
            }
        }
    }
    for t in STREAMED {
        for p in ["fork", "spawn"] {
            out.push((*t, p, "block"));
        }
    }
    out
}

fn set_axes(c: &mut CaseResult, transport: &str, process: &str, wait: &str, size: u64) {
    c.transport = Some(transport.into());
    c.process = Some(process.into());
    c.wait = Some(wait.into());
    c.size = Some(size);
}

fn one_way_ns(transport: &str, process: &str, wait: &str, size: u64) -> f64 {
    let s = size as f64;
    let base = match (transport, wait) {
        (_, "spin") => 160.0 + s / 9.0,
        (_, "futex") => 2_700.0 + s / 9.0,
        ("pipe", _) => 4_300.0 + s / 4.5,
        ("unix-socket", _) => 5_100.0 + s / 4.0,
        ("tcp", _) => 10_500.0 + s / 3.0,
        _ => 7_800.0 + s / 3.5,
    };
    let t = match transport {
        "file-mmap" => 1.08,
        "sysv-shm" => 1.02,
        _ => 1.0,
    };
    base * t * if process == "spawn" { 1.04 } else { 1.0 }
}

fn memcpy_bw(size: u64) -> f64 {
    let per_ns = if size <= 32 << 10 {
        22.0
    } else if size <= 1 << 20 {
        14.0
    } else {
        9.0
    };
    // Tiny copies pay the call.
    size as f64 / (4.0 + size as f64 / per_ns) * 1e9
}

fn stream_bw(transport: &str, wait: &str, mode: &str, size: u64) -> f64 {
    let s = size as f64;
    let (per_record, per_ns) = match (transport, wait) {
        (_, "spin") => (55.0, 7.5),
        (_, "futex") => (700.0, 7.5),
        ("pipe", _) => (1_300.0, 3.8),
        ("unix-socket", _) => (1_800.0, 3.4),
        ("tcp", _) => (3_200.0, 2.4),
        _ => (2_400.0, 2.9),
    };
    let per_ns = if mode == "in-place" { per_ns * 2.2 } else { per_ns };
    (s / (per_record + s / per_ns) * 1e9)
        .min(memcpy_bw(size) * if mode == "in-place" { 1.6 } else { 0.95 })
}

fn throughput(bytes_per_s: f64, size: u64) -> Throughput {
    let trials: Vec<Trial> = [0.97, 1.0, 1.02, 0.99, 1.01]
        .iter()
        .map(|f| {
            let bytes = 256u64 << 20;
            Trial { records: bytes / size.max(1), bytes, seconds: bytes as f64 / (bytes_per_s * f) }
        })
        .collect();
    let bps: Vec<f64> = trials.iter().map(|t| t.bytes as f64 / t.seconds).collect();
    let rps: Vec<f64> = trials.iter().map(|t| t.records as f64 / t.seconds).collect();
    Throughput {
        records_per_s: Spread::of(&rps),
        bytes_per_s: Spread::of(&bps),
        trials,
        per_reader_bytes_per_s: Vec::new(),
    }
}

/// Latency at quantile q: a narrow body around `base` and a tail that grows with each nine.
fn quantile(base: f64, tail: f64, q: f64) -> f64 {
    let x = 1.0 / (1.0 - q).max(1e-9);
    let body = base * (0.9 + 0.1 * x.ln().min(2.3) / 2.3);
    if x <= 50.0 {
        body
    } else {
        body * (1.0 + tail * (x / 50.0).ln().powf(1.6))
    }
}

fn summary(base: f64, tail: f64, count: u64) -> Summary {
    let q = |p: f64| quantile(base, tail, p).round() as u64;
    Summary {
        count,
        min: (base * 0.85).round() as u64,
        mean: base * 1.02,
        stdev: base * 0.1,
        p50: q(0.5),
        p90: q(0.9),
        p99: q(0.99),
        p999: q(0.999),
        p9999: q(0.9999),
        max: q(1.0 - 1.0 / count as f64),
    }
}

/// A histogram of `count` values following `quantile`, stored as the harness stores them.
fn histogram(base: f64, tail: f64, count: u64) -> String {
    let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3).expect("bounds");
    // Bins evenly spaced in log(1/(1−q)), so the tail is as finely drawn as the body; each bin
    // holds the values whose rank falls in it.
    let decades = (count as f64).log10();
    let steps = (30.0 * decades).ceil() as u32;
    let mut recorded = 0u64;
    let mut prev_q = 0.0;
    for k in 1..=steps {
        let q = 1.0 - 10f64.powf(-decades * f64::from(k) / f64::from(steps));
        let upto = if k == steps { count } else { (q * count as f64).round() as u64 };
        if upto > recorded {
            let v = quantile(base, tail, (prev_q + q) / 2.0).max(1.0) as u64;
            h.record_n(v, upto - recorded).expect("in bounds");
            recorded = upto;
        }
        prev_q = q;
    }
    ipcbench_results::histogram::encode(&h)
}

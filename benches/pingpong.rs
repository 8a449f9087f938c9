//! `cargo bench --bench pingpong`: round trips of 64-byte records over each transport, timed
//! by criterion through the same harness the `pingpong` scenario runs.
//!
//! Each benchmark opens one [`Session`] — the transport created and a forked responder started
//! once — and criterion's `iter_custom(iters)` calls make `iters` verified round trips on it;
//! the session is closed (stop record, peer reaped, both ledgers checked) when the benchmark
//! is done. Criterion reports the time per round trip. Benchmark ids are the scenario's case
//! ids (`pingpong/posix-shm/fork/spin/64`), so the two can be read side by side.
//!
//! `IPCBENCH_PIN=0,1` pins the bench to CPU 0 and each peer to CPU 1 (advised for spin).

use criterion::{criterion_group, criterion_main, Criterion};
use ipcbench_harness::os::futex::Wait;
use ipcbench_harness::os::process::pin_to;
use ipcbench_harness::patterns::session::{Session, SessionOptions};
use ipcbench_harness::patterns::worker::Process;
use ipcbench_harness::transport::Transport;

const SIZE: usize = 64;

/// Mapped transports with the receiver spinning, one with it sleeping on a futex, and the
/// read/write baselines blocking in `read`.
const CASES: [(Transport, Wait); 10] = [
    (Transport::FileMmap, Wait::Spin),
    (Transport::AnonMmap, Wait::Spin),
    (Transport::PosixShm, Wait::Spin),
    (Transport::SysvShm, Wait::Spin),
    (Transport::Memfd, Wait::Spin),
    (Transport::PosixShm, Wait::Futex),
    (Transport::Pipe, Wait::Block),
    (Transport::UnixSocket, Wait::Block),
    (Transport::Tcp, Wait::Block),
    (Transport::FileRw, Wait::Block),
];

/// `IPCBENCH_PIN=A,B`: this process on CPU A, peers on CPU B.
fn pinning() -> Option<usize> {
    let v = std::env::var("IPCBENCH_PIN").ok()?;
    let cpus: Vec<usize> = v.split(',').filter_map(|c| c.trim().parse().ok()).collect();
    let [runner, peer] = cpus[..] else {
        panic!("IPCBENCH_PIN={v:?}: give two CPU numbers, bench then peer, e.g. 0,1");
    };
    pin_to(runner).unwrap_or_else(|e| panic!("IPCBENCH_PIN: {e:#}"));
    Some(peer)
}

fn pingpong(c: &mut Criterion) {
    // Counted before pinning narrows this process's CPU set to one.
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let peer_cpu = pinning();
    let mut group = c.benchmark_group("pingpong");
    for (transport, wait) in CASES {
        let mut opts = SessionOptions::new(transport, Process::Fork, wait, SIZE);
        opts.exe = env!("CARGO_BIN_EXE_ipcbench").into();
        opts.peer_cpu = peer_cpu;
        let id = opts.case_id();
        let name = id.strip_prefix("pingpong/").unwrap_or(&id).to_string();
        if wait == Wait::Spin && cpus < 2 {
            eprintln!("skipping {id}: spinning peers need a CPU each; this host has {cpus}");
            continue;
        }
        // Opened on the first call, so a benchmark that a filter skips starts no peer.
        let mut session: Option<Session> = None;
        group.bench_function(&name, |b| {
            let s = session.get_or_insert_with(|| {
                Session::open(&opts).unwrap_or_else(|e| panic!("{id}: cannot open: {e:#}"))
            });
            b.iter_custom(|iters| s.round_trips(iters).unwrap_or_else(|e| panic!("{id}: {e:#}")));
        });
        if let Some(s) = session {
            s.close().unwrap_or_else(|e| panic!("{id}: {e:#}"));
        }
    }
    group.finish();
}

criterion_group!(benches, pingpong);
criterion_main!(benches);

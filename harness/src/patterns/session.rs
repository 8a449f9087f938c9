//! A ping-pong pair kept open across many measurements, for callers that time round trips
//! themselves (the criterion benches' `iter_custom`).
//!
//! [`Session::open`] creates the transport and starts the peer once, running the ordinary
//! responder loop ([`pingpong::responder`]) with no warm-up: it answers every record until a
//! stop record. Each [`Session::round_trips`] call then sends `n` records and waits for each
//! reply, every one verified on arrival, and returns the elapsed time; [`Session::close`] sends
//! the stop record, reaps the peer and checks both sides' ledgers. Dropped without `close`
//! (an error, a panic in a bench), the peer is killed and every object removed all the same.
//!
//! Between calls the caller may do other work for a while (criterion analyses its samples):
//! the peer waits meanwhile, so its no-progress limit is [`SessionOptions::idle_limit`], not
//! the runner's shorter [`SessionOptions::timeout`].

use crate::os::futex::Wait;
use crate::os::mapping::{round_up, PAGE};
use crate::os::watch::{install_signal_handlers, interrupted, Watch};
use crate::patterns::link::{pingpong_link, pingpong_region_len, Link, Outgoing, Side};
use crate::patterns::pingpong::{PingpongSpec, SideReport};
use crate::patterns::worker::{start_pair, Job, Pair, PairOptions, Process};
use crate::record::stats::{decode, summarize};
use crate::record::{Sequencer, FLAG_STOP};
use crate::transport::Transport;
use anyhow::{bail, ensure, Context, Result};
use ipcbench_results::{Integrity, Summary};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What pair to keep open.
#[derive(Clone, Debug)]
pub struct SessionOptions {
    pub transport: Transport,
    pub process: Process,
    pub wait: Wait,
    /// Record bytes, the same both ways.
    pub size: usize,
    /// The binary a `spawn` peer runs (`ipcbench`; in a bench `env!("CARGO_BIN_EXE_ipcbench")`).
    /// Unused for `fork`.
    pub exe: PathBuf,
    /// Where a private directory for files and sockets is made (default: the system temp dir).
    pub dir: Option<PathBuf>,
    /// CPU for the peer; the caller pins itself.
    pub peer_cpu: Option<usize>,
    /// A wait of the runner's with no progress for this long means the peer hangs. Default 10 s.
    pub timeout: Duration,
    /// How long the peer waits for the next record before it gives up on the runner: the
    /// longest pause the caller makes between calls. Default 10 min (a dead runner is noticed
    /// at once anyway).
    pub idle_limit: Duration,
}

impl SessionOptions {
    pub fn new(transport: Transport, process: Process, wait: Wait, size: usize) -> Self {
        SessionOptions {
            transport,
            process,
            wait,
            size,
            exe: PathBuf::from("ipcbench"),
            dir: None,
            peer_cpu: None,
            timeout: Duration::from_secs(10),
            idle_limit: Duration::from_secs(600),
        }
    }

    /// The id the `pingpong` scenario gives this case: `pingpong/posix-shm/fork/spin/64`.
    pub fn case_id(&self) -> String {
        format!("pingpong/{}/{}/{}/{}", self.transport, self.process, self.wait, self.size)
    }
}

/// Bytes a ping-pong of `size`-byte records needs: the shared region of a mapped transport,
/// or `file-rw`'s ring per direction (room for two records, at least 64 KiB).
pub fn pingpong_len(transport: Transport, size: usize) -> usize {
    if transport.is_mapped() {
        pingpong_region_len(size)
    } else {
        round_up((2 * (size + 64)).max(64 << 10), PAGE)
    }
}

/// What a closed session exchanged, both sides' ledgers together.
#[derive(Clone, Debug)]
pub struct SessionReport {
    /// Round trips made over all calls.
    pub round_trips: u64,
    /// Both directions: every record sent, received and verified.
    pub integrity: Integrity,
    /// One-way latency of the records the peer received (initiator to responder).
    pub peer_one_way_ns: Summary,
}

/// An open pair: the runner's link and the peer answering on the other side.
pub struct Session {
    // Drop order is field order: the link first, then the pair (kills an unfinished peer and
    // removes the transport's objects), then the private directory.
    link: Box<dyn Link>,
    pair: Pair,
    seq: Sequencer,
    round_trips: u64,
    _dir: tempfile::TempDir,
}

impl Session {
    /// Creates the transport and starts the peer. `fork` forks this process: call it where no
    /// other thread holds a lock the child could need (criterion without rayon runs on the
    /// main thread only), or use `spawn`.
    pub fn open(opts: &SessionOptions) -> Result<Session> {
        ensure!(opts.size > 0, "a record must hold at least 1 byte");
        ensure!(
            opts.transport.waits().contains(&opts.wait),
            "{} cannot wait by {}: valid waits are {:?}",
            opts.transport,
            opts.wait,
            opts.transport.waits().iter().map(|w| w.name()).collect::<Vec<_>>()
        );
        // Ctrl-C must reach the runner's waits (a dead or hung peer is seen by the watch).
        install_signal_handlers();
        let base = opts.dir.clone().unwrap_or_else(std::env::temp_dir);
        let dir = crate::os::leftovers::private_temp_dir(&base, "")
            .with_context(|| format!("cannot create a directory in {}", base.display()))?;
        let pair_opts = PairOptions {
            transport: opts.transport,
            process: opts.process,
            wait: opts.wait,
            len: pingpong_len(opts.transport, opts.size),
            dir: dir.path().to_path_buf(),
            exe: opts.exe.clone(),
            peer_cpu: opts.peer_cpu,
            timeout: opts.idle_limit,
        };
        // The ordinary responder: it answers until the stop record; warm-up is the caller's.
        let spec = PingpongSpec { size: opts.size, warmup: 0, ..PingpongSpec::default() };
        let mut pair = start_pair(&pair_opts, &Job::Pingpong(spec))?;
        pair.watch = Watch::over_child(opts.timeout, pair.peer_pid());
        let medium = pair.local()?;
        let link = pingpong_link(medium, Side::Initiator, opts.size, opts.wait);
        Ok(Session { link, pair, seq: Sequencer::new(None), round_trips: 0, _dir: dir })
    }

    /// Makes `n` round trips and returns how long they took together. Fails if a record
    /// arrived lost, out of order or damaged, or the peer died or hangs.
    pub fn round_trips(&mut self, n: u64) -> Result<Duration> {
        if interrupted() {
            bail!("interrupted");
        }
        // A new call is progress: the pause since the last one is not a stall.
        self.pair.watch.progress();
        let watch = &mut self.pair.watch;
        let start = Instant::now();
        for _ in 0..n {
            let (seq, _) = self.seq.next_seq();
            let out = Outgoing { seq, flags: 0, corrupt: false };
            self.link.send(&out, watch)?;
            self.link.recv(watch)?;
        }
        let elapsed = start.elapsed();
        self.round_trips += n;
        let counts = self.link.verifier().counts;
        if counts.lost + counts.reordered + counts.corrupted > 0 {
            bail!(
                "integrity check failed after {} round trips: lost {}, reordered {}, corrupted {}",
                self.round_trips,
                counts.lost,
                counts.reordered,
                counts.corrupted
            );
        }
        Ok(elapsed)
    }

    /// Round trips made so far.
    pub fn count(&self) -> u64 {
        self.round_trips
    }

    /// The peer's pid (tests).
    pub fn peer_pid(&self) -> libc::pid_t {
        self.pair.peer_pid()
    }

    /// Sends the stop record, reaps the peer and checks that every record both ways arrived
    /// intact.
    pub fn close(mut self) -> Result<SessionReport> {
        let (seq, _) = self.seq.next_seq();
        let stop = Outgoing { seq, flags: FLAG_STOP, corrupt: false };
        self.link.send(&stop, &mut self.pair.watch)?;
        let theirs: SideReport =
            serde_json::from_value(self.pair.finish()?).context("the peer's report")?;
        // The stop record is not part of the ledger.
        let mut integrity = Integrity { sent: self.seq.sent() - 1, ..self.link.verifier().counts };
        integrity.add(&theirs.integrity);
        if let Some(why) = integrity.failure() {
            bail!("{why}");
        }
        ensure!(
            theirs.measured == self.round_trips,
            "the peer answered {} records, the runner sent {}",
            theirs.measured,
            self.round_trips
        );
        Ok(SessionReport {
            round_trips: self.round_trips,
            integrity,
            peer_one_way_ns: summarize(&decode(&theirs.one_way)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alive(pid: libc::pid_t) -> bool {
        // SAFETY: signal 0 only checks that the pid exists (a reaped child no longer does).
        unsafe { libc::kill(pid, 0) == 0 }
    }

    fn entries(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir).unwrap().count()
    }

    /// This process's names in /dev/shm and the size of each. Other tests of this binary run
    /// alongside and make such objects too: compare snapshots, never expect none.
    fn shm_names() -> std::collections::BTreeMap<String, u64> {
        let me = format!("ipcbench-{}-", std::process::id());
        std::fs::read_dir("/dev/shm")
            .map(|d| {
                d.flatten()
                    .map(|e| (e.file_name().to_string_lossy().into_owned(), e))
                    .filter(|(n, _)| n.contains(&me))
                    .filter_map(|(n, e)| Some((n, e.metadata().ok()?.len())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Several calls on one pair, every record verified both ways, and nothing left after.
    #[test]
    fn round_trips_over_several_calls_are_verified_and_leave_nothing() {
        let cases = [
            (Transport::AnonMmap, Wait::Futex, 64),
            (Transport::FileMmap, Wait::Futex, 4096),
            (Transport::Pipe, Wait::Block, 64),
            (Transport::FileRw, Wait::Block, 100_000),
        ];
        for (t, w, size) in cases {
            let tmp = tempfile::tempdir().unwrap();
            let mut opts = SessionOptions::new(t, Process::Fork, w, size);
            opts.dir = Some(tmp.path().to_path_buf());
            let mut s = Session::open(&opts).unwrap();
            let pid = s.peer_pid();
            assert_eq!(entries(tmp.path()), 1, "{t}: one private directory while open");
            for n in [1, 50, 0, 200] {
                s.round_trips(n).unwrap();
            }
            assert_eq!(s.count(), 251);
            let r = s.close().unwrap();
            assert_eq!(r.round_trips, 251);
            let i = r.integrity;
            assert_eq!((i.sent, i.received), (2 * 251, 2 * 251), "{t}: {i:?}");
            assert_eq!(i.lost + i.reordered + i.corrupted, 0, "{t}: {i:?}");
            // The peer's figures came back with the report: one sample per record it answered.
            assert_eq!(r.peer_one_way_ns.count, 251, "{t}: {:?}", r.peer_one_way_ns);
            assert!(!alive(pid), "{t}: peer {pid} still there");
            assert_eq!(entries(tmp.path()), 0, "{t}: files left in {}", tmp.path().display());
        }
    }

    #[test]
    fn a_dropped_session_kills_its_peer_and_removes_its_objects() {
        // Other tests make /dev/shm objects of this process meanwhile: this session's object is
        // the one that appeared while it opened, of the length of its region. An unusual record
        // size gives it a length no other test's object has (61 pages).
        const SIZE: usize = 123_456;
        let len = pingpong_len(Transport::PosixShm, SIZE) as u64;
        let tmp = tempfile::tempdir().unwrap();
        let mut opts = SessionOptions::new(Transport::PosixShm, Process::Fork, Wait::Spin, SIZE);
        opts.dir = Some(tmp.path().to_path_buf());
        let before = shm_names();
        let mut s = Session::open(&opts).unwrap();
        let pid = s.peer_pid();
        let ours: Vec<String> = shm_names()
            .into_iter()
            .filter(|(n, l)| *l == len && !before.contains_key(n))
            .map(|(n, _)| n)
            .collect();
        assert!(!ours.is_empty(), "the shm object exists while open");
        s.round_trips(10).unwrap();
        drop(s);
        assert!(!alive(pid), "peer {pid} still there");
        let now = shm_names();
        let left: Vec<&String> = ours.iter().filter(|n| now.contains_key(*n)).collect();
        assert!(left.is_empty(), "left in /dev/shm: {left:?}");
        assert_eq!(entries(tmp.path()), 0);
    }

    #[test]
    fn a_dead_peer_is_an_error_not_a_hang() {
        let opts = SessionOptions::new(Transport::Pipe, Process::Fork, Wait::Block, 64);
        let mut s = Session::open(&opts).unwrap();
        s.round_trips(5).unwrap();
        // SAFETY: our own child.
        unsafe { libc::kill(s.peer_pid(), libc::SIGKILL) };
        let e = s.round_trips(1_000_000).unwrap_err();
        assert!(!format!("{e:#}").is_empty());
    }

    #[test]
    fn bad_combinations_are_refused() {
        let opts = SessionOptions::new(Transport::Pipe, Process::Fork, Wait::Spin, 64);
        assert!(Session::open(&opts).is_err());
        let opts = SessionOptions::new(Transport::AnonMmap, Process::Spawn, Wait::Spin, 64);
        assert!(Session::open(&opts).is_err());
        assert_eq!(
            SessionOptions::new(Transport::PosixShm, Process::Fork, Wait::Spin, 64).case_id(),
            "pingpong/posix-shm/fork/spin/64"
        );
    }
}

//! The ping-pong pattern: one record each way, the same size both ways.
//!
//! The initiator stamps the time, sends a record and waits for the reply: that is a round trip.
//! Each receiver splits every record's one-way latency (both directions are recorded) by the
//! link's three stamps: `notify` (published → seen), `deliver` (seen → verified) and the end to
//! end `one_way` (published → verified). A stamp that runs backwards across the two processes
//! (seen before published) is not a sample: it is counted in `negative` and fails the case.
//! Warm-up round trips are verified but not recorded: the initiator makes at least `warmup` of
//! them and goes on for at least `warmup_ns`, flagging each with [`FLAG_WARMUP`] so the
//! responder knows where measuring starts.

use crate::knobs;
use crate::os::clock::{now_ns, process_cpu_ns};
use crate::os::watch::Watch;
use crate::patterns::link::{Incoming, Link, Outgoing};
use crate::record::stats::{encode, new_histogram, record};
use crate::record::{Fault, Sequencer, FLAG_STOP, FLAG_WARMUP};
use anyhow::Result;
use hdrhistogram::Histogram;
use ipcbench_results::Integrity;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PingpongSpec {
    pub size: usize,
    /// Warm-up round trips, at least.
    pub warmup: u64,
    /// Warm-up time, at least (the scenario says why its length; 0: count only).
    #[serde(default)]
    pub warmup_ns: u64,
    /// Measured round trips, at most.
    pub iterations: u64,
    /// Stop measuring after this long even if fewer round trips were made (0: no limit).
    pub max_duration_ns: u64,
    /// Tests only: each side spins this percentage of its warm-up one-way p50 between seeing a
    /// record and verifying it (a slower receive path).
    #[serde(default)]
    pub slowdown_pct: f64,
    /// Tests only: a fault the initiator injects.
    #[serde(default)]
    pub fault: Option<Fault>,
    /// Each side makes a record durable before it notifies (`--durable`).
    #[serde(default)]
    pub durable: bool,
}

/// What one side measured.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SideReport {
    /// One-way latency of the records this side received, end to end (encoded histogram).
    pub one_way: String,
    /// Published → seen, of the same records.
    #[serde(default)]
    pub notify: String,
    /// Seen → verified, of the same records.
    #[serde(default)]
    pub deliver: String,
    /// Records whose seen stamp came before their published stamp (clocks that disagree).
    #[serde(default)]
    pub negative: u64,
    /// Round trips, on the initiator only.
    #[serde(default)]
    pub round_trip: Option<String>,
    pub integrity: Integrity,
    /// CPU ns this process spent in the measured phase.
    pub cpu_ns: u64,
    /// Measured round trips.
    pub measured: u64,
    /// Warm-up round trips made (the initiator's count; the time decides how many).
    #[serde(default)]
    pub warmup: u64,
}

/// The three latencies of the received records.
struct Split {
    one_way: Histogram<u64>,
    notify: Histogram<u64>,
    deliver: Histogram<u64>,
    negative: u64,
}

impl Split {
    fn new() -> Split {
        Split {
            one_way: new_histogram(),
            notify: new_histogram(),
            deliver: new_histogram(),
            negative: 0,
        }
    }

    #[inline]
    fn record(&mut self, got: &Incoming) {
        let sent = got.header.sent_ns;
        if got.seen_ns < sent {
            self.negative += 1;
            return;
        }
        record(&mut self.notify, got.seen_ns - sent);
        record(&mut self.deliver, got.recv_ns - got.seen_ns);
        record(&mut self.one_way, got.recv_ns - sent);
    }

    fn report(self, integrity: Integrity, cpu_ns: u64, measured: u64) -> SideReport {
        SideReport {
            one_way: encode(&self.one_way),
            notify: encode(&self.notify),
            deliver: encode(&self.deliver),
            negative: self.negative,
            round_trip: None,
            integrity,
            cpu_ns,
            measured,
            warmup: 0,
        }
    }
}

/// The delay a test-only slowdown adds to each receive, from the warm-up's one-way p50: the
/// receiver spins it after verifying a record, where nothing overlaps it. (A delay between the
/// sender's stamp and its publish hid, in the host's slower state, inside the wait of the
/// stamp's store for the cache line: such runs measured as fast as without it. One between
/// seeing the record and verifying it hid in part under the payload's lines still arriving.)
fn slowdown_delay(spec: &PingpongSpec, warm: &Histogram<u64>) -> u64 {
    if spec.slowdown_pct <= 0.0 || warm.is_empty() {
        return 0;
    }
    (warm.value_at_quantile(0.5) as f64 * spec.slowdown_pct / 100.0) as u64
}

fn integrity(seq: &Sequencer, link: &dyn Link) -> Integrity {
    Integrity { sent: seq.sent(), ..link.verifier().counts }
}

pub fn initiator(
    link: &mut dyn Link,
    spec: &PingpongSpec,
    watch: &mut Watch,
) -> Result<SideReport> {
    let mut seq = Sequencer::new(spec.fault);
    let mut split = Split::new();
    let mut round_trip = new_histogram();
    let mut warm = new_histogram();
    let mut cpu0 = process_cpu_ns();
    let mut deadline = u64::MAX;
    let mut measured = 0;
    let warm_until = now_ns().saturating_add(spec.warmup_ns);
    let mut warming = true;
    let mut i: u64 = 0;
    while measured < spec.iterations {
        if warming && i >= spec.warmup && now_ns() >= warm_until {
            // Measuring starts here.
            warming = false;
            knobs::set_deliver_spin_ns(slowdown_delay(spec, &warm));
            cpu0 = process_cpu_ns();
            if spec.max_duration_ns > 0 {
                deadline = now_ns().saturating_add(spec.max_duration_ns);
            }
        }
        i += 1;
        let (n, corrupt) = seq.next_seq();
        let flags = if warming { FLAG_WARMUP } else { 0 };
        let t0 = now_ns();
        link.send(&Outgoing { seq: n, flags, corrupt }, watch)?;
        let got = link.recv(watch)?;
        if warming {
            record(&mut warm, got.recv_ns.saturating_sub(got.header.sent_ns));
            continue;
        }
        record(&mut round_trip, got.recv_ns - t0);
        split.record(&got);
        measured += 1;
        if got.recv_ns >= deadline {
            break;
        }
    }
    let cpu_ns = process_cpu_ns() - cpu0;
    knobs::set_deliver_spin_ns(0);
    let (n, _) = seq.next_seq();
    link.send(&Outgoing { seq: n, flags: FLAG_STOP, corrupt: false }, watch)?;
    // The stop record is not part of the ledger.
    let mut integrity = integrity(&seq, link);
    integrity.sent -= 1;
    let mut report = split.report(integrity, cpu_ns, measured);
    report.round_trip = Some(encode(&round_trip));
    report.warmup = i - measured;
    Ok(report)
}

pub fn responder(
    link: &mut dyn Link,
    spec: &PingpongSpec,
    watch: &mut Watch,
) -> Result<SideReport> {
    let mut seq = Sequencer::new(None);
    let mut split = Split::new();
    let mut warm = new_histogram();
    let mut cpu0 = process_cpu_ns();
    let mut received: u64 = 0;
    let mut warming = true;
    loop {
        let got = link.recv(watch)?;
        if got.header.flags & FLAG_STOP != 0 {
            break;
        }
        let warmup = got.header.flags & FLAG_WARMUP != 0;
        if warming && !warmup {
            warming = false;
            knobs::set_deliver_spin_ns(slowdown_delay(spec, &warm));
            cpu0 = process_cpu_ns();
        }
        if warmup {
            record(&mut warm, got.recv_ns.saturating_sub(got.header.sent_ns));
        } else {
            split.record(&got);
            received += 1;
        }
        let (n, _) = seq.next_seq();
        link.send(&Outgoing { seq: n, flags: 0, corrupt: false }, watch)?;
    }
    let cpu_ns = process_cpu_ns() - cpu0;
    knobs::set_deliver_spin_ns(0);
    let mut integrity = integrity(&seq, link);
    // The stop record was verified too; it is not part of the ledger.
    integrity.received -= 1;
    Ok(split.report(integrity, cpu_ns, received))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knobs;
    use crate::os::futex::Wait;
    use crate::patterns::link::{pingpong_link, Side};
    use crate::patterns::session::pingpong_len;
    use crate::patterns::worker::{run_pair, Job, PairOptions, Process};
    use crate::record::stats::decode;
    use crate::transport::Transport;
    use std::time::Duration;

    /// Both sides' split of a short ping-pong, pooled: the notify and deliver histograms, and
    /// the negatives.
    fn split(t: Transport, wait: Wait) -> (Histogram<u64>, Histogram<u64>, u64) {
        let spec = PingpongSpec { size: 256, warmup: 5, iterations: 30, ..PingpongSpec::default() };
        let dir = tempfile::tempdir().unwrap();
        let pair = PairOptions {
            transport: t,
            process: Process::Fork,
            wait,
            len: pingpong_len(t, 256),
            dir: dir.path().to_path_buf(),
            exe: std::path::PathBuf::new(),
            peer_cpu: None,
            timeout: Duration::from_secs(20),
        };
        let (mine, theirs) = run_pair(&pair, &Job::Pingpong(spec.clone()), |medium, watch| {
            initiator(pingpong_link(medium, Side::Initiator, 256, wait).as_mut(), &spec, watch)
        })
        .unwrap();
        let theirs: SideReport = serde_json::from_value(theirs).unwrap();
        let pooled = |f: fn(&SideReport) -> &String| {
            let mut h = decode(f(&mine)).unwrap();
            h.add(decode(f(&theirs)).unwrap()).unwrap();
            assert_eq!(h.len(), 2 * 30 - mine.negative - theirs.negative, "{t}");
            h
        };
        (pooled(|r| &r.notify), pooled(|r| &r.deliver), mine.negative + theirs.negative)
    }

    /// A delay injected between "seen" and "verified" lands in `deliver`: every deliver sample
    /// of both sides holds all of it. (Had it landed before the "seen" stamp, in `notify`,
    /// deliver would be the few µs of a 256-byte check.) Nothing bounds `notify` from above on a
    /// loaded host, so it is not compared.
    #[test]
    fn a_delay_after_seen_lands_in_deliver() {
        // Slept, so no sample can be shorter, on any host.
        const DELAY: u64 = 2_000_000;
        for (t, wait) in [(Transport::AnonMmap, Wait::Futex), (Transport::Pipe, Wait::Block)] {
            knobs::set_deliver_delay_ns(DELAY);
            let (notify, deliver, negative) = split(t, wait);
            knobs::set_deliver_delay_ns(0);
            assert_eq!(negative, 0, "{t}: clocks disagreed");
            assert_eq!(notify.len(), deliver.len(), "{t}");
            // The histogram keeps a sample's bucket: compare bucket to bucket.
            assert!(
                deliver.min() >= deliver.lowest_equivalent(DELAY),
                "{t}: a deliver sample of {} ns, under the {DELAY} ns delay (notify p50 {})",
                deliver.min(),
                notify.value_at_quantile(0.5)
            );
        }
    }
}

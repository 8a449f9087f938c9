//! The ping-pong pattern: one record each way, the same size both ways.
//!
//! The initiator stamps a record, sends it and waits for the reply: that is a round trip. Each
//! receiver subtracts the sender's stamp from its own clock once the record is verified: that is
//! one way (both directions are recorded). Warm-up round trips are verified but not recorded:
//! the initiator makes at least `warmup` of them and goes on for at least `warmup_ns`, flagging
//! each with [`FLAG_WARMUP`] so the responder knows where measuring starts.

use crate::os::clock::{now_ns, process_cpu_ns};
use crate::os::watch::Watch;
use crate::patterns::link::{Link, Outgoing};
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
    /// Tests only: each side delays its sends by this percentage of its warm-up one-way p50.
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
    /// One-way latency of the records this side received (encoded histogram).
    pub one_way: String,
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

fn spin_until(t: u64) {
    while now_ns() < t {
        std::hint::spin_loop();
    }
}

/// The delay a test-only slowdown adds to each send, from the warm-up's one-way p50.
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
    let mut one_way = new_histogram();
    let mut round_trip = new_histogram();
    let mut warm = new_histogram();
    let mut delay = 0;
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
            delay = slowdown_delay(spec, &warm);
            cpu0 = process_cpu_ns();
            if spec.max_duration_ns > 0 {
                deadline = now_ns().saturating_add(spec.max_duration_ns);
            }
        }
        i += 1;
        let (n, corrupt) = seq.next_seq();
        let flags = if warming { FLAG_WARMUP } else { 0 };
        let t0 = now_ns();
        if delay > 0 {
            spin_until(t0 + delay);
        }
        link.send(&Outgoing { seq: n, sent_ns: t0, flags, corrupt }, watch)?;
        let got = link.recv(watch)?;
        if warming {
            record(&mut warm, got.recv_ns.saturating_sub(got.header.sent_ns));
            continue;
        }
        record(&mut round_trip, got.recv_ns - t0);
        record(&mut one_way, got.recv_ns.saturating_sub(got.header.sent_ns));
        measured += 1;
        if got.recv_ns >= deadline {
            break;
        }
    }
    let cpu_ns = process_cpu_ns() - cpu0;
    let (n, _) = seq.next_seq();
    link.send(&Outgoing { seq: n, sent_ns: now_ns(), flags: FLAG_STOP, corrupt: false }, watch)?;
    // The stop record is not part of the ledger.
    let mut integrity = integrity(&seq, link);
    integrity.sent -= 1;
    Ok(SideReport {
        one_way: encode(&one_way),
        round_trip: Some(encode(&round_trip)),
        integrity,
        cpu_ns,
        measured,
        warmup: i - measured,
    })
}

pub fn responder(
    link: &mut dyn Link,
    spec: &PingpongSpec,
    watch: &mut Watch,
) -> Result<SideReport> {
    let mut seq = Sequencer::new(None);
    let mut one_way = new_histogram();
    let mut warm = new_histogram();
    let mut delay = 0;
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
            delay = slowdown_delay(spec, &warm);
            cpu0 = process_cpu_ns();
        }
        let lat = got.recv_ns.saturating_sub(got.header.sent_ns);
        if warmup {
            record(&mut warm, lat);
        } else {
            record(&mut one_way, lat);
            received += 1;
        }
        let (n, _) = seq.next_seq();
        let t0 = now_ns();
        if delay > 0 {
            spin_until(t0 + delay);
        }
        link.send(&Outgoing { seq: n, sent_ns: t0, flags: 0, corrupt: false }, watch)?;
    }
    let cpu_ns = process_cpu_ns() - cpu0;
    let mut integrity = integrity(&seq, link);
    // The stop record was verified too; it is not part of the ledger.
    integrity.received -= 1;
    Ok(SideReport {
        one_way: encode(&one_way),
        round_trip: None,
        integrity,
        cpu_ns,
        measured: received,
        warmup: 0,
    })
}

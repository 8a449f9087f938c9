//! How each figure is judged: cases matched by id, the thresholds of [`METHOD`] applied, the
//! interval that decides whether a move counts.

use super::floor::{floor_change, FloorChange};
use super::method::*;
use super::model::*;
use super::{probes, stats, usable};
use crate::{histogram, latency, CaseResult, Integrity, RunFile, RunInfo, Scenario, Spread, Wait};

/// The latency kind a case is judged on: the first of [`LATENCY_KINDS`] it measured, else the
/// first kind it has (by name), so no measured latency goes unjudged.
pub fn headline_latency_kind(case: &CaseResult) -> Option<&str> {
    LATENCY_KINDS
        .iter()
        .find(|k| case.latency_ns.contains_key(**k))
        .copied()
        .or_else(|| case.latency_ns.keys().next().map(String::as_str))
}

/// Matches cases by id and judges each figure; see [`METHOD`].
pub fn compare(base: &RunFile, new: &RunFile, opts: &CompareOptions) -> Comparison {
    let floor = floor_change(base, new);
    let mut cases = Vec::new();
    for b in &base.cases {
        cases.push(match new.case(&b.id) {
            Some(n) => compare_case(b, n, opts, floor.as_ref()),
            None => one_side(&b.id, CaseStatus::OnlyInBase),
        });
    }
    for n in new.cases.iter().filter(|n| base.case(&n.id).is_none()) {
        cases.push(one_side(&n.id, CaseStatus::OnlyInNew));
    }
    let summary = tally(&cases);
    let mut warnings = warnings(&base.run, &new.run);
    if let Some(f) = floor.as_ref().filter(|f| f.change_pct.abs() > opts.threshold_pct) {
        warnings.push(format!(
            "The floor ({}) moved from {:.0} ns to {:.0} ns ({:+.1} %) between the runs: the host \
             was in another state. Handoff figures without per-trial probes are judged against \
             it; pin (--pin) and run on a quiet host for figures that travel.",
            f.source, f.base_ns, f.new_ns, f.change_pct
        ));
    }
    Comparison {
        schema: COMPARE_SCHEMA.to_string(),
        threshold_pct: opts.threshold_pct,
        p99_threshold_pct: opts.threshold_pct * P99_THRESHOLD_FACTOR,
        shared_threshold_pct: opts.threshold_pct * SHARED_THRESHOLD_FACTOR,
        gate_p99: opts.gate_p99,
        confidence: CONFIDENCE,
        base: RunRef::of(&base.run),
        new: RunRef::of(&new.run),
        warnings,
        summary,
        cases,
        floor,
        unusable: usable::reasons(new),
        paired: None,
    }
}

fn one_side(id: &str, status: CaseStatus) -> CaseComparison {
    CaseComparison { id: id.to_string(), status, figures: Vec::new(), detail: None, notes: vec![] }
}

fn tally(cases: &[CaseComparison]) -> Tally {
    let mut t = Tally::default();
    for c in cases {
        match c.status {
            CaseStatus::Compared => t.cases_compared += 1,
            CaseStatus::OnlyInBase => t.only_in_base += 1,
            CaseStatus::OnlyInNew => t.only_in_new += 1,
            CaseStatus::Failed => t.failed += 1,
            CaseStatus::Skipped => t.skipped += 1,
        }
        for f in &c.figures {
            match f.verdict {
                Verdict::Regressed => t.regressed += 1,
                Verdict::Improved => t.improved += 1,
                Verdict::NoChange => t.no_change += 1,
                Verdict::Noise => t.noise += 1,
            }
        }
    }
    t
}

fn warnings(base: &RunInfo, new: &RunInfo) -> Vec<String> {
    let mut w = Vec::new();
    let host = |r: &RunInfo| format!("{}, {}, {} CPUs", r.hostname, r.cpu_model, r.logical_cpus);
    if base.hostname != new.hostname
        || base.cpu_model != new.cpu_model
        || base.logical_cpus != new.logical_cpus
    {
        w.push(format!(
            "The runs come from different hosts (base: {}; new: {}): a change may be the \
             machine's, not the code's. Compare runs made on one host to judge the code.",
            host(base),
            host(new)
        ));
    }
    if base.ipcbench_version != new.ipcbench_version {
        w.push(format!(
            "The runs were made by different ipcbench versions (base {}, new {}): a case may be \
             measured differently between them.",
            base.ipcbench_version, new.ipcbench_version
        ));
    }
    if base.quick != new.quick {
        let quick = if base.quick { "base" } else { "new" };
        w.push(format!(
            "Only the {quick} run used --quick: its cases ran fewer iterations, so their \
             intervals are wider and some figures may shift. Compare runs made the same way."
        ));
    }
    for (side, r) in [("base", base), ("new", new)] {
        if let Some(why) = &r.interrupted {
            w.push(format!(
                "The {side} run was interrupted ({why}): the cases it did not reach are listed \
                 as present on one side only."
            ));
        }
    }
    w
}

fn compare_case(
    base: &CaseResult,
    new: &CaseResult,
    opts: &CompareOptions,
    floor: Option<&FloorChange>,
) -> CaseComparison {
    let mut c = one_side(&base.id, CaseStatus::Compared);
    let side_detail = |what: &str, b: &Option<String>, n: &Option<String>| {
        let parts: Vec<String> = [("base", b), ("new", n)]
            .into_iter()
            .filter_map(|(side, why)| why.as_ref().map(|w| format!("{what} in {side} run: {w}")))
            .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    };
    if let Some(d) = side_detail("failed", &base.error, &new.error) {
        c.status = CaseStatus::Failed;
        c.detail = Some(d);
        return c;
    }
    if let Some(d) = side_detail("skipped", &base.skipped, &new.skipped) {
        c.status = CaseStatus::Skipped;
        c.detail = Some(d);
        return c;
    }
    for (side, case) in [("base", base), ("new", new)] {
        if let Some(i) = case.integrity.filter(|i| !i.ok()) {
            c.notes.push(integrity_note(side, &i));
        }
    }
    let (bk, nk) = (headline_latency_kind(base), headline_latency_kind(new));
    if bk != nk {
        c.notes.push(format!(
            "The runs measured different latencies (base: {}, new: {}): latency is not compared.",
            bk.unwrap_or("none"),
            nk.unwrap_or("none")
        ));
    }
    c.figures.extend(latency_figures(base, new, opts, floor));
    c.figures.extend(throughput_figure(base, new, opts));
    c.figures.extend(knee_figure(base, new, opts));
    // An open-loop case's headline is a queue near saturation: its latency there follows how
    // much of the host the pair got against the rate fixed at the case's start, so two runs
    // of one build moved it by +140 % and +170 % on a busy host. Reported and judged; it
    // counts only with --gate-p99, as the tail and the knee do.
    if base.scenario == Scenario::Load.name() && !opts.gate_p99 {
        for f in c.figures.iter_mut().filter(|f| f.key.starts_with("latency_ns.")) {
            set_not_gating(
                f,
                "queueing near saturation follows the host; counts only with --gate-p99",
            );
        }
    }
    if !opts.gate_bandwidth && bandwidth_bound(base) {
        let what = if base.scenario == Scenario::Mapping.name() {
            "zeroing whole huge pages"
        } else {
            "a spinning pair moving 4 KiB+ records"
        };
        for f in &mut c.figures {
            set_not_gating(
                f,
                &format!(
                    "moves with the guest's memory state ({what}); counts only with \
                     --gate-bandwidth, or in `ab`"
                ),
            );
        }
    }
    if !opts.gate_device && device_bound(base) {
        for f in &mut c.figures {
            set_not_gating(
                f,
                "waits on the disk's flush, which moves with the device and whatever else writes \
                 to it; counts only with --gate-device, or in `ab`",
            );
        }
    }
    if let Some(why) = huge_pages_differ(base, new) {
        for f in &mut c.figures {
            set_not_gating(f, &why);
        }
    }
    // A floor is what this host cannot beat: its change is the host's, reported and used to
    // read the other figures, never counted against the code.
    if base.scenario == Scenario::Floor.name() {
        for f in &mut c.figures {
            set_not_gating(f, "a floor describes the host, not the code");
        }
    }
    c
}

/// An open-loop case's knee (`load`): a step on its sweep of rates, so judged on the threshold
/// alone, and counted like p99 (only with `--gate-p99`): it moves with the tail.
fn knee_figure(
    base: &CaseResult,
    new: &CaseResult,
    opts: &CompareOptions,
) -> Option<FigureComparison> {
    let key = crate::load::KNEE;
    let (b, n) = (*base.figures.get(key)?, *new.figures.get(key)?);
    if !(b > 0.0 && n.is_finite()) {
        return None;
    }
    let spread = (Basis::ThresholdOnly, None, Some("a step of the sweep: no spread".to_string()));
    let mut f = figure(
        format!("figures.{key}"),
        "knee".into(),
        "records/s",
        Better::Higher,
        (b, n),
        (n / b - 1.0) * 100.0,
        opts.threshold_pct,
        spread,
    );
    if !opts.gate_p99 {
        f.gates = false;
        if f.verdict != Verdict::NoChange {
            f.verdict = Verdict::Noise;
        }
        f.note = Some("a step of the sweep; the knee does not count without --gate-p99".into());
    }
    Some(f)
}

fn integrity_note(side: &str, i: &Integrity) -> String {
    format!(
        "The integrity check failed in the {side} run ({} sent, {} received, {} lost, {} \
         reordered, {} corrupted): its figures are not to be trusted.",
        i.sent, i.received, i.lost, i.reordered, i.corrupted
    )
}

fn latency_figures(
    base: &CaseResult,
    new: &CaseResult,
    opts: &CompareOptions,
    floor: Option<&FloorChange>,
) -> Vec<FigureComparison> {
    let Some(kind) = headline_latency_kind(base).filter(|k| new.latency_ns.contains_key(*k)) else {
        return Vec::new();
    };
    let (bs, ns) = (&base.latency_ns[kind], &new.latency_ns[kind]);
    let hist = |c: &CaseResult| c.histograms.get(kind).map(|h| histogram::decode(h));
    let (bh, nh) = (hist(base), hist(new));
    let (be, ne) = match (&bh, &nh) {
        (Some(Ok(b)), Some(Ok(n))) if !b.is_empty() && !n.is_empty() => {
            (Some(stats::Empirical::from_histogram(b)), Some(stats::Empirical::from_histogram(n)))
        }
        _ => (None, None),
    };
    let unreadable = [bh, nh].into_iter().flatten().find_map(Result::err);
    let quantiles = [("p50", 0.5, bs.p50, ns.p50, 1.0), ("p99", 0.99, bs.p99, ns.p99, 2.0)];
    let shared = waits_on_shared(base);
    let class_factor = if shared { SHARED_THRESHOLD_FACTOR } else { 1.0 };
    let no_op = no_op(base);
    let wake_up = wake_up_states(base, new);
    let mut out = Vec::new();
    for (label, q, b, n, factor) in quantiles {
        if b == 0 {
            continue; // no base to take a change from
        }
        let key = format!("latency_ns.{kind}.{label}");
        let pooled = (n as f64 / b as f64 - 1.0) * 100.0;
        let tail = bs.count.min(ns.count) as f64 * (1.0 - q);
        // Trials left out with too few kept (the pooled histograms hold the busy host's
        // samples), or trials made in different states of the host: shown, not judged.
        let threshold = opts.threshold_pct * factor * class_factor;
        let TrialValues { estimate: trials, host_out, unjudged, shared: handoff_split } =
            trial_values(base, new, kind, label, !shared, threshold);
        let unjudged = unjudged.or_else(|| wake_up.clone());
        let threshold = if handoff_split {
            opts.threshold_pct * factor * SHARED_THRESHOLD_FACTOR
        } else {
            threshold
        };
        let (basis, change, ci, note) = if tail < MIN_TAIL_SAMPLES as f64 {
            let note = format!(
                "too few samples beyond {label} ({} and {}) to resolve it",
                bs.count, ns.count
            );
            (Basis::TailUnresolved, pooled, None, Some(note))
        } else if let Some((e, how)) = trials {
            (Basis::Trials, e.change_pct, Some(e.ci_pct), how)
        } else {
            match (&be, &ne) {
                (Some(be), Some(ne)) => {
                    let seed = BOOTSTRAP_SEED ^ fnv1a(&base.id) ^ fnv1a(&key).rotate_left(17);
                    let [lo, hi] = stats::bootstrap_quantile_change(be, ne, q, seed);
                    // A percentile interval of a discrete quantile can miss the observed
                    // ratio by a bucket; an interval that leaves out its own estimate is
                    // wrong, so it is widened to it.
                    (Basis::Bootstrap, pooled, Some([lo.min(pooled), hi.max(pooled)]), None)
                }
                _ => {
                    let note = match &unreadable {
                        Some(e) => format!("no spread stored (histogram unreadable: {e})"),
                        None => "no spread stored".to_string(),
                    };
                    (Basis::ThresholdOnly, pooled, None, Some(note))
                }
            }
        };
        let mut f = figure(
            key,
            format!("{label} {}", kind.replace('_', "-")),
            "ns",
            Better::Lower,
            (b as f64, n as f64),
            change,
            threshold,
            (basis, ci, note),
        );
        // Within one state of the host a move counts only if it is not the host's: with the
        // trials' own probes taken out, or their own handoff (`notify`), the figure still moved
        // the same way by more than [`RAW_SHARE`] of the threshold. A slower code path moves
        // the figure and neither its probe nor, unless it is the publish itself, its handoff;
        // a host that slowed every handoff moves the probes and the notify with the figure.
        let moved = matches!(f.verdict, Verdict::Regressed | Verdict::Improved);
        if let (true, Some(out)) = (moved, host_out) {
            let least = threshold * RAW_SHARE;
            let beyond =
                |c: f64| if f.verdict == Verdict::Regressed { c > least } else { c < -least };
            if !(beyond(out.probe) || out.notify.is_some_and(beyond)) {
                let notify = match out.notify {
                    Some(c) => format!(" and {c:+.1} % with each trial's notify taken out"),
                    None => String::new(),
                };
                set_not_gating(
                    &mut f,
                    &format!(
                        "moved with its trials' probes: {:+.1} % with each trial's own probe \
                         taken out{notify}, over the same trials: the host's state, not the code",
                        out.probe
                    ),
                );
            }
        }
        // Only a spinning handoff is bounded by the cache-line floor.
        let handoff = !shared && base.wait.as_deref() == Some(Wait::Spin.name());
        if handoff && !has_probes(base, new, kind) {
            if let Some(fl) = floor {
                floor_relative(&mut f, fl);
            }
        }
        if let Some(why) = &no_op {
            set_not_gating(&mut f, why);
        }
        if let Some(why) = &unjudged {
            set_not_gating(&mut f, why);
        }
        if label == "p99" && !opts.gate_p99 {
            set_not_gating(&mut f, "p99 does not count without --gate-p99");
        }
        out.push(f);
    }
    out
}

/// A figure reported and judged but never counted: moved beyond its threshold, it is noise.
fn set_not_gating(f: &mut FigureComparison, why: &str) {
    f.gates = false;
    if f.verdict != Verdict::NoChange {
        f.verdict = Verdict::Noise;
    }
    f.note = Some(match f.note.take() {
        Some(n) => format!("{n}; {why}"),
        None => why.to_string(),
    });
}

/// A handoff figure that moved, judged without probes, against the run's floor: when the
/// floor moved about as much (the change relative to the floor is within the threshold), the
/// host changed state between the runs, not the code.
fn floor_relative(f: &mut FigureComparison, floor: &FloorChange) {
    if !matches!(f.verdict, Verdict::Regressed | Verdict::Improved) {
        return;
    }
    // A figure that beat its run's floor ran in another state of the host than the floor was
    // measured in (two vCPUs sharing a core hand a cache line over faster): that run's floor
    // says nothing about it, and the move cannot be told from a change of state.
    let beaten = |value: f64, floor_ns: f64| value < floor_ns * (1.0 - f.threshold_pct / 100.0);
    for (side, value, floor_ns) in [("base", f.base, floor.base_ns), ("new", f.new, floor.new_ns)] {
        if beaten(value, floor_ns) {
            f.verdict = Verdict::Noise;
            f.note = Some(format!(
                "the {side} run's figure beat its floor ({:.0} ns < {floor_ns:.0} ns): the host \
                 was in another state than its floor shows; per-trial probes or `ab` can tell",
                value
            ));
            return;
        }
    }
    let relative = ((1.0 + f.change_pct / 100.0) / (1.0 + floor.change_pct / 100.0) - 1.0) * 100.0;
    if relative.abs() <= f.threshold_pct || relative.signum() != f.change_pct.signum() {
        f.verdict = Verdict::Noise;
        f.note = Some(format!(
            "the cache-line floor moved {:+.1} % too ({relative:+.1} % relative to it): the host \
             changed state between the runs",
            floor.change_pct
        ));
    }
}

/// Whether the case's figures run at the pace of the guest's memory bandwidth: a spinning
/// pair (nothing else sets its pace) moving records of [`BANDWIDTH_RECORD_BYTES`] or more,
/// streamed (`stream`, `fanout`) or handed over (`pingpong`: a 4 KiB record's one-way time is
/// mostly writing and checking it). On a shared VM spin streams of 4 KiB+ dropped 4–5× for
/// seconds at a time in runs of one build, with AVX2 and AVX-512 code paths alike, while the
/// copy probe measured by the same pair (glibc's `memcpy`) held; 4 KiB ping-pongs rose by
/// +18 to +54 % relative to their probes.
///
/// A mapping backed by huge pages (`mapping/thp`, `mapping/hugetlb`) too: making it ready is
/// zeroing 2 MiB pages, a memory-bandwidth job. Six back-to-back `--quick` runs of one build
/// read `mapping/thp/16777216` at 690–1,107 µs (every page huge in each), and a pair of the
/// README's CI recipe at 410 µs, then 1.05 ms, then 1.12 ms when measured again at once.
pub fn bandwidth_bound(case: &CaseResult) -> bool {
    // From the id when a field is missing (`scenario/transport/process/wait/size/…`).
    let part = |at: usize| case.id.split('/').nth(at);
    if case.scenario == Scenario::Mapping.name() {
        let op = case.axes.get("op").map(String::as_str).or_else(|| part(1));
        return matches!(op, Some("thp" | "hugetlb"));
    }
    let spin = case.wait.as_deref().or_else(|| part(3)) == Some(Wait::Spin.name());
    let size = case.size.or_else(|| part(4)?.parse().ok()).unwrap_or(0);
    let moves = [Scenario::Stream.name(), Scenario::Fanout.name(), Scenario::Pingpong.name()];
    spin && size >= BANDWIDTH_RECORD_BYTES && moves.contains(&case.scenario.as_str())
}

/// Why a `mapping/thp` case is not judged: the kernel backed a different share of the two runs'
/// mappings with huge pages (`huge_page_fraction`, read from `/proc/self/smaps`), which
/// follows how fragmented the host's memory was, not the code.
fn huge_pages_differ(base: &CaseResult, new: &CaseResult) -> Option<String> {
    let key = "huge_page_fraction";
    let (b, n) = (*base.figures.get(key)?, *new.figures.get(key)?);
    ((b - n).abs() > HUGE_PAGE_FRACTION_GAP).then(|| {
        format!(
            "not judged: the kernel backed {:.0} % of the base run's mapping with huge pages and \
             {:.0} % of the new run's (the host's memory fragmentation, not the code)",
            b * 100.0,
            n * 100.0
        )
    })
}

/// Whether the case's figures wait on a block device's flush (`msync` on `disk`, a flush that
/// writes: not `msync-async`): its latency is the device's and its queue's, which every writer
/// on the host (and, in a VM, the hypervisor's storage) shares. Two back-to-back `--quick`
/// runs of one build on the development VM read `msync/msync-sync/disk/256` at 363 µs, then
/// 724–854 µs in the next run and again in its confirmation round, and
/// `msync/pwrite-fsync/disk/1` at 104 µs, then 202 µs.
pub fn device_bound(case: &CaseResult) -> bool {
    let on_disk = case.axes.get("fs").map(String::as_str).or_else(|| case.id.split('/').nth(2))
        == Some("disk");
    case.scenario == Scenario::Msync.name() && on_disk && no_op(case).is_none()
}

/// Why a case is a no-op that is never judged: `msync(MS_ASYNC)` schedules nothing on Linux,
/// and a flush on tmpfs has nothing to write, so their figures are the cost of a call whose
/// work the kernel skips — any move is the host's.
pub fn no_op(case: &CaseResult) -> Option<String> {
    if case.scenario != "msync" && !case.id.starts_with("msync/") {
        return None;
    }
    let part = |axis: &str, at: usize| {
        case.axes.get(axis).cloned().or_else(|| case.id.split('/').nth(at).map(String::from))
    };
    if part("method", 1).as_deref() == Some("msync-async") {
        Some("a no-op (msync(MS_ASYNC) writes nothing): reported, never counted".into())
    } else if part("fs", 2).as_deref() == Some("tmpfs") {
        Some("a no-op (a flush on tmpfs writes nothing): reported, never counted".into())
    } else {
        None
    }
}

/// Whether a case's latency waits on what the whole host shares: a wake-up by the scheduler
/// (`futex`, `block`), a record of [`LARGE_RECORD_BYTES`] or more copied through memory, or a
/// flush to a block device (whose queue every writer on the host shares: two back-to-back runs
/// of one build, beside a compiler writing to the same disk, moved msync-sync p50s by +50 to
/// +110 %).
///
/// A mapping's set-up (`mapping`) too: page faults, zeroing and the kernel's page allocator,
/// which every process on the host (and, in a VM, the hypervisor's second-level faults) shares;
/// two quiet back-to-back runs of one build moved 4 KiB set-up p50s by +15 %.
pub fn waits_on_shared(case: &CaseResult) -> bool {
    let flushes_to_disk = case.scenario == Scenario::Msync.name()
        && case.axes.get("fs").map(String::as_str).or_else(|| case.id.split('/').nth(2))
            == Some("disk");
    wakes_up(case)
        || case.size.is_some_and(|s| s >= LARGE_RECORD_BYTES)
        || flushes_to_disk
        || case.scenario == Scenario::Mapping.name()
}

/// For a case whose receiver sleeps: why it is not judged when the two runs' wake-up probes
/// (each trial's pair measured a minimal wake-up right before it) show two states of the host
/// ([`super::probe_states`]). A wake-up's state moves every trial of a blocking case together,
/// and not in proportion: in one same-build pair of the README's recipe on the development VM
/// the base's pipe-wake probes read 20–35 µs and the new run's 120–150 µs; its 64 B FIFO, UDP
/// and datagram ping-pongs went from ~25 to ~135 µs and its 64 KiB pipe from 85 to 620 µs,
/// +160 to +640 %, beyond even the 80 % threshold of what the host shares, and its
/// confirmation round, moments later, was in the same state. Not judged, the case is measured
/// again, and counts only if a round establishes it ([`in_other_state`]); `ab` pairs the runs.
fn wake_up_states(base: &CaseResult, new: &CaseResult) -> Option<String> {
    if !wakes_up(base) {
        return None;
    }
    let (kind, b, n) = super::probe_states(base, new)?;
    Some(format!(
        "{OTHER_STATE} ({kind} probes {} in the base, {} in the new: a wake-up in another state \
         moves every trial); `ab` pairs the runs",
        crate::units::ns(b),
        crate::units::ns(n)
    ))
}

/// Whether the case's receiver sleeps and is woken by the scheduler (futex, block, eventfd,
/// condvar, iceoryx2's event).
fn wakes_up(case: &CaseResult) -> bool {
    case.wait.as_deref().and_then(Wait::from_name).is_some_and(Wait::wakes_up)
}

/// One trial as [`same_state`] reads it: its quantile of the judged kind, the cache-line probe
/// its pair measured right before it, and its `notify` p50 (the handoff part of a record).
#[derive(Clone, Copy, Debug)]
struct TrialPoint {
    value: f64,
    probe: Option<f64>,
    notify: Option<f64>,
}

/// Each trial's quantile (`p50` or `p99`) of `kind`, with the trial's own cache-line probe
/// (ns) and `notify` p50 when the case stored them per trial. The trials the host disturbed
/// are left out; the second value counts them.
fn per_trial(c: &CaseResult, kind: &str, label: &str) -> (Vec<TrialPoint>, usize) {
    let values = c.latency_trials_ns.get(kind).into_iter().flatten();
    let values: Vec<f64> =
        values.map(|s| if label == "p50" { s.p50 } else { s.p99 } as f64).collect();
    let n = values.len();
    let probes: Vec<Option<f64>> = match probes::per_trial_ns(c, kind) {
        Some(p) if p.len() == n => p.into_iter().map(Some).collect(),
        _ => vec![None; n],
    };
    let notify: Vec<Option<f64>> = match c.latency_trials_ns.get(latency::NOTIFY) {
        Some(t) if t.len() == n => t.iter().map(|s| Some(s.p50 as f64)).collect(),
        _ => vec![None; n],
    };
    let points = (0..n)
        .map(|k| TrialPoint { value: values[k], probe: probes[k], notify: notify[k] })
        .collect();
    let (kept, left_out) = probes::undisturbed(c, points);
    let usable = |t: &TrialPoint| {
        t.value > 0.0 && t.probe.is_none_or(|p| p > 0.0) && t.notify.is_none_or(|v| v > 0.0)
    };
    (kept.into_iter().filter(usable).collect(), left_out)
}

/// The level of each value: sorted, a value more than `gap` times the one below it starts the
/// next level (0 is the fastest). Levels are the host's states as a measure shows them: on
/// the development VM a pinned pair's cache-line probe read 30–100 ns in one state and
/// 210–450 ns in the other, never between.
fn levels(values: &[f64], gap: f64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|a, b| values[*a].total_cmp(&values[*b]));
    let mut level = vec![0; values.len()];
    let (mut at, mut prev) = (0, None::<f64>);
    for i in order {
        if prev.is_some_and(|p| values[i] > p * gap) {
            at += 1;
        }
        level[i] = at;
        prev = Some(values[i]);
    }
    level
}

/// The trials of each side grouped by level: `(level, base trials, new trials)` for every
/// level of `measure` over both sides.
fn grouped(
    base: &[TrialPoint],
    new: &[TrialPoint],
    measure: impl Fn(&TrialPoint) -> f64,
    gap: f64,
) -> Vec<(Vec<TrialPoint>, Vec<TrialPoint>)> {
    let all: Vec<f64> = base.iter().chain(new).map(&measure).collect();
    let level = levels(&all, gap);
    let count = level.iter().max().map_or(0, |m| m + 1);
    let mut out = vec![(Vec::new(), Vec::new()); count];
    for (k, t) in base.iter().chain(new).enumerate() {
        if k < base.len() {
            out[level[k]].0.push(*t);
        } else {
            out[level[k]].1.push(*t);
        }
    }
    out
}

/// A spin figure against its trials' probes, compared only between trials made in one state of
/// the host. On a shared VM the cache-line probe of a pair pinned to the same two vCPUs read
/// 30–100 ns in some trials and 210–450 ns in others (the host moved the vCPUs), run after
/// run. A one-way time is the handoff plus the record's own part (`notify` ≈ the probe,
/// `deliver` ≈ constant), so it follows its probe by addition, not in proportion: as a ratio
/// to the probe, runs that landed in the two states in other proportions moved by −21 to
/// +120 % between runs of one build, and a 20 % slower receive path hid behind probes that
/// read 75 ns against the base's 56–65.
///
/// So the trials of both runs are put in levels of their probes ([`STATE_GAP`]) and, within
/// one, in levels of their `notify` ([`HANDOFF_GAP`]): in the faster state the handoff itself
/// ran at about 46–55 ns in some runs and 76–105 ns in others while the probes of both read
/// the same 55–70 ns (a 64-byte one-way of 115 against 150 ns, every trial of a run alike),
/// so the probe does not see that step. The figure is judged over the group with the most
/// trials on its smaller side (the faster first on a tie) that gives a [`CONFIDENCE`]
/// interval, on the trials' own figures; the change with each trial's probe taken out
/// (`figure − probe + reference`, the reference the median probe of the base's trials in that
/// group) and with each trial's `notify` taken out decide whether a move is the host's
/// ([`HostOut`]). Taking the probe out of the figure itself, as this did before, added the
/// probe's wander to it: within one state the probe moves by ±20–30 % between runs while the
/// figure does not follow it, so over the 64-byte spin cases of six same-build runs (150
/// comparisons, development VM, 2026-12-04) the probe-adjusted figure "regressed" 3 times
/// (and the raw one never), and an injected 20 % slowdown read +0 % against probes 26 %
/// higher, its raw one-way +12 to +26 % with notify unchanged. When the runs share a state of
/// the probe but not a level of the handoff, the state's trials are judged on the record's own
/// part (one-way minus notify) at `threshold`, and on the whole one-way at the threshold of
/// what the host shares ([`SHARED_THRESHOLD_FACTOR`]): a code path that makes the handoff
/// itself slower is still caught when it moves the one-way that far, and `ab` pairs the runs
/// for less.
fn same_state(
    base: &[TrialPoint],
    new: &[TrialPoint],
    threshold: f64,
) -> Result<SameState, Option<String>> {
    let probed = |v: &[TrialPoint]| -> Vec<TrialPoint> {
        v.iter().filter(|t| t.probe.is_some()).copied().collect()
    };
    let (base, new) = (probed(base), probed(new));
    if stats::mann_whitney_critical(base.len(), new.len(), (1.0 - CONFIDENCE) / 2.0).is_none() {
        return Err(None); // too few trials, whatever their states
    }
    let probe = |t: &TrialPoint| t.probe.unwrap_or(0.0);
    let states = grouped(&base, &new, probe, STATE_GAP);
    // The span of a measure over the trials of the given sides, for the notes.
    let range = |sides: &[&[TrialPoint]], m: &dyn Fn(&TrialPoint) -> f64| {
        let all = || sides.iter().flat_map(|v| v.iter()).map(m);
        let lo = all().fold(f64::INFINITY, f64::min);
        let hi = all().fold(0.0, f64::max);
        if lo == hi {
            format!("{lo:.0} ns")
        } else {
            format!("{lo:.0}–{hi:.0} ns")
        }
    };
    // Every group with trials on both sides, and the states whose handoff levels have none.
    let mut groups: Vec<Group> = Vec::new();
    let mut handoff_split: Vec<Group> = Vec::new();
    for (state, (b, n)) in states.iter().cloned().enumerate() {
        if b.is_empty() || n.is_empty() {
            continue;
        }
        if !b.iter().chain(&n).all(|t| t.notify.is_some()) {
            groups.push(Group { state, level: None, base: b, new: n });
            continue;
        }
        let notify = |t: &TrialPoint| t.notify.unwrap_or(0.0);
        let levels = grouped(&b, &n, notify, HANDOFF_GAP);
        let several = levels.len() > 1;
        let before = groups.len();
        for (level, (lb, ln)) in levels.into_iter().enumerate() {
            if !lb.is_empty() && !ln.is_empty() {
                groups.push(Group { state, level: several.then_some(level), base: lb, new: ln });
            }
        }
        if groups.len() == before {
            handoff_split.push(Group { state, level: None, base: b, new: n });
        }
    }
    for g in [&mut groups, &mut handoff_split] {
        g.sort_by_key(|g| (std::cmp::Reverse(g.smaller()), g.state, g.level));
    }
    let whole = |b: &[TrialPoint], n: &[TrialPoint]| b.len() == base.len() && n.len() == new.len();
    for Group { level: h, base: b, new: n, .. } in &groups {
        let (Some(e), Some(probe_out)) = (raw_change(b, n), probe_adjusted(b, n)) else {
            continue;
        };
        let notify_out = b
            .iter()
            .chain(n)
            .all(|t| t.notify.is_some())
            .then(|| notify_adjusted(b, n))
            .flatten()
            .map(|e| e.change_pct);
        let host_out = HostOut { probe: probe_out.change_pct, notify: notify_out };
        let how = if whole(b, n) {
            "the trials' own figures, all made in one state of the host (their floor probes)"
                .to_string()
        } else {
            let handoff = match h {
                Some(_) => {
                    format!(
                        ", notify {}",
                        range(&[b, n], &|t: &TrialPoint| t.notify.unwrap_or(0.0))
                    )
                }
                None => String::new(),
            };
            format!(
                "the trials' own figures, over the trials made in one state of the host ({} base \
                 and {} new: probe {}{handoff})",
                b.len(),
                n.len(),
                range(&[b, n], &probe),
            )
        };
        return Ok(SameState { estimate: e, host_out: Some(host_out), how, shared: false });
    }
    // A state in common, but the handoff at another level in each run: the record's own part
    // (one-way minus notify) is judged at the threshold, the whole one-way as what the host
    // shares.
    let notify = |t: &TrialPoint| t.notify.unwrap_or(0.0);
    for Group { base: b, new: n, .. } in &handoff_split {
        let (Some(own), Some(raw)) = (notify_adjusted(b, n), raw_change(b, n)) else {
            continue;
        };
        let levels = format!(
            "the handoff ran at another level in each run ({} base and {} new trials with probes \
             of {}: notify {} in the base, {} in the new)",
            b.len(),
            n.len(),
            range(&[b, n], &probe),
            range(&[b], &notify),
            range(&[n], &notify),
        );
        let own_verdict =
            judge(own.change_pct, Some(own.ci_pct), Basis::Trials, threshold, Better::Lower);
        if matches!(own_verdict, Verdict::Regressed | Verdict::Improved) {
            let how = format!(
                "{levels}, a step the probes do not show: judged on the record's own part, each \
                 trial's one-way minus its notify"
            );
            return Ok(SameState { estimate: own, host_out: None, how, shared: false });
        }
        let how = format!(
            "{levels}, a step the probes do not show: the record's own part (one-way minus \
             notify) moved {:+.1} %, and {ACROSS_HANDOFF_LEVELS} {}× the threshold, as what the \
             host shares; `ab` pairs the runs",
            own.change_pct, SHARED_THRESHOLD_FACTOR,
        );
        return Ok(SameState { estimate: raw, host_out: None, how, shared: true });
    }
    let counts: Vec<String> = states
        .iter()
        .filter(|(b, n)| !b.is_empty() || !n.is_empty())
        .map(|(b, n)| {
            format!("{} base and {} new at probe {}", b.len(), n.len(), range(&[b, n], &probe))
        })
        .collect();
    Err(Some(format!(
        "{OTHER_STATE} ({}), too few in one state on both sides; `ab` pairs the runs",
        counts.join("; ")
    )))
}

/// The trials of both runs in one state of the host (a level of their probes) and, where they
/// stored `notify`, one level of the handoff within it.
struct Group {
    state: usize,
    level: Option<usize>,
    base: Vec<TrialPoint>,
    new: Vec<TrialPoint>,
}

impl Group {
    /// How many trials its smaller side holds: the group that can say the most is judged.
    fn smaller(&self) -> usize {
        self.base.len().min(self.new.len())
    }
}

/// What [`same_state`] found: the change of the trials' own figures over the trials of one
/// state, the same change with the host's part taken out, which trials, and whether the
/// handoff ran at different levels in the two runs (judged at the threshold of what the host
/// shares).
struct SameState {
    estimate: stats::Estimate,
    /// None where the estimate already has the handoff taken out (its level changed).
    host_out: Option<HostOut>,
    how: String,
    shared: bool,
}

/// A figure's change over the trials of one state with the host's part taken out: each
/// trial's own cache-line probe, and (where the trials stored it) each trial's `notify`.
#[derive(Clone, Copy, Debug)]
struct HostOut {
    probe: f64,
    notify: Option<f64>,
}

/// The change of `figure − probe + reference` from `b` to `n` (the reference: the median probe
/// of `b`), when they are enough for [`CONFIDENCE`]: each trial's figure as if its handoff had
/// cost what the base's did.
fn probe_adjusted(b: &[TrialPoint], n: &[TrialPoint]) -> Option<stats::Estimate> {
    adjusted_by(b, n, |t| t.probe)
}

/// The change of `figure − notify + reference` (the reference: the median notify of `b`): the
/// record's own part, reading and checking the payload, with the handoff's level taken out.
fn notify_adjusted(b: &[TrialPoint], n: &[TrialPoint]) -> Option<stats::Estimate> {
    adjusted_by(b, n, |t| t.notify)
}

fn adjusted_by(
    b: &[TrialPoint],
    n: &[TrialPoint],
    part: impl Fn(&TrialPoint) -> Option<f64>,
) -> Option<stats::Estimate> {
    let part = |t: &TrialPoint| part(t).unwrap_or(0.0);
    let reference = Spread::of(&b.iter().map(part).collect::<Vec<_>>()).median;
    let adjusted = |v: &[TrialPoint]| -> Vec<f64> {
        v.iter().map(|t| (t.value - part(t) + reference).max(1.0)).collect()
    };
    stats::rank_ratio_change(&adjusted(b), &adjusted(n))
}

/// The change of the raw figures from `b` to `n`.
fn raw_change(b: &[TrialPoint], n: &[TrialPoint]) -> Option<stats::Estimate> {
    let raw = |v: &[TrialPoint]| -> Vec<f64> { v.iter().map(|t| t.value).collect() };
    stats::rank_ratio_change(&raw(b), &raw(n))
}

/// How the note of a figure that could not be judged for want of trials in one state of the
/// host begins ([`same_state`]).
pub const OTHER_STATE: &str = "not judged: the runs' trials ran in different states of the host";

/// In the note of a spin figure whose runs shared a state of the probe but no level of the
/// handoff, and whose record's own part did not settle it: the one-way was then judged at the
/// threshold of what the host shares ([`same_state`]).
pub const ACROSS_HANDOFF_LEVELS: &str = "the whole one-way counts beyond";

/// How the note of a figure that could not be judged because the host was busy in too many of
/// its trials begins ([`estimate_missing_busy`]).
pub const TOO_BUSY: &str = "too few undisturbed trials to judge";

/// Whether a case has a figure that would count but could not be judged because the runs'
/// trials ran in different states of the host, or the host was busy in too many of them:
/// measured again, it may land in the base's state on a quiet host. A round of
/// `scenario --baseline` that could not judge a case must not clear it: on the development VM a
/// round whose ten trials each waited for a CPU 35–55 % of their time was read as "not
/// regressed", and an injected 20 % slowdown passed.
pub fn in_other_state(case: &CaseComparison) -> bool {
    case.figures.iter().any(|f| {
        f.note.as_deref().is_some_and(|n| n.contains(OTHER_STATE) || n.contains(TOO_BUSY))
            && !f.key.ends_with(".p99")
            && !f.note.as_deref().is_some_and(|n| n.contains("counts only with"))
    })
}

/// Whether a case has a figure that would count but was judged only at the threshold of what
/// the host shares because the runs' handoff ran at different levels ([`ACROSS_HANDOFF_LEVELS`]):
/// such a comparison can neither confirm nor clear a change of the figure's own threshold.
pub fn across_handoff_levels(case: &CaseComparison) -> bool {
    case.figures
        .iter()
        .any(|f| f.gates && f.note.as_deref().is_some_and(|n| n.contains(ACROSS_HANDOFF_LEVELS)))
}

/// Whether a case of comparison `c` has a figure that counts and moved the worse way by more
/// than its threshold: regressed, or a point estimate beyond the threshold whose interval does
/// not clear it. A confirmation round asks this of a case the run found regressed (the run's
/// interval already established the change; the round asks whether it is still there, see
/// `scenarios/src/runner/confirm.rs`). Not of what waits on what the host shares (a wake-up,
/// 1 MiB records, a disk flush, a mapping's set-up: judged at [`SHARED_THRESHOLD_FACTOR`]× the
/// threshold): the host's state behind those lasts minutes, so a round moments later sees it
/// again — on the development VM a `unix-dgram` 64 KiB ping-pong read +165 % in a run and
/// +147 % (+14 … +198 %) in its round on one build — and only an established change counts.
pub fn still_slower(c: &Comparison, case: &CaseComparison) -> bool {
    case.figures
        .iter()
        .any(|f| (f.gates && f.verdict == Verdict::Regressed) || slower_unsettled(c, f))
}

/// A figure that counts, judged at its own threshold (not the shared one), beyond it the worse
/// way, and not established: noise.
fn slower_unsettled(c: &Comparison, f: &FigureComparison) -> bool {
    let worse = match f.better {
        Better::Lower => f.change_pct,
        Better::Higher => -f.change_pct,
    };
    let shared = f.threshold_pct >= c.shared_threshold_pct;
    f.gates && f.verdict == Verdict::Noise && worse > f.threshold_pct && !shared
}

/// Whether a case of comparison `c` has a figure that counts, moved the worse way beyond its
/// threshold, and whose interval reaches back inside it: in doubt, neither established nor
/// cleared. `scenario --baseline` measures such a case again, and counts it only if a round
/// establishes the change (and the next still finds it), as it does a case the run could not
/// judge. On the development VM an injected 20 % slowdown of the posix-shm spin ping-pong read
/// +12 to +17 % with intervals down to +5 to +9 % against some baselines (a base made partly
/// in a slower moment), where a same-build run's spin cases left 5 of 150 comparisons in doubt
/// and established none. Not what waits on what the host shares (judged at
/// [`SHARED_THRESHOLD_FACTOR`]× the threshold, see [`still_slower`]), nor a figure without an
/// interval.
pub fn in_doubt(c: &Comparison, case: &CaseComparison) -> bool {
    case.figures
        .iter()
        .any(|f| slower_unsettled(c, f) && f.ci_pct.is_some() && f.basis != Basis::TailUnresolved)
}

/// The note on trials left out because the host was busy in them, if any were.
fn busy_note(base_left_out: usize, new_left_out: usize) -> Option<String> {
    (base_left_out + new_left_out > 0).then(|| {
        format!(
            "{base_left_out} base and {new_left_out} new trials left out: their pair waited for a \
             CPU for more than {:.0} % of the time (a busy host)",
            crate::probe::DISTURBED_SHARE * 100.0
        )
    })
}

fn has_probes(base: &CaseResult, new: &CaseResult, kind: &str) -> bool {
    probes::per_trial_ns(base, kind).is_some() && probes::per_trial_ns(new, kind).is_some()
}

/// The change of a quantile over the runs' trials — each a fresh pair of processes and
/// objects, the unit of replication — and a note on how it was taken, when both runs stored
/// enough trials for [`CONFIDENCE`]. A figure with per-trial probes is judged against them,
/// over the trials of one state of the host ([`same_state`]). A handoff figure without probes
/// (`fastest_half`) is read on each run's faster half of trials: a pair keeps the state of the
/// machine it starts in, and a real regression slows the fastest pairs too.
fn trial_values(
    base: &CaseResult,
    new: &CaseResult,
    kind: &str,
    label: &str,
    fastest_half: bool,
    threshold: f64,
) -> TrialValues {
    let ((bt, bl), (nt, nl)) = (per_trial(base, kind, label), per_trial(new, kind, label));
    let busy = busy_note(bl, nl);
    let with_busy = |how: Option<String>| match (how, busy.clone()) {
        (Some(h), Some(b)) => Some(format!("{h}; {b}")),
        (h, b) => h.or(b),
    };
    if has_probes(base, new, kind) {
        return match same_state(&bt, &nt, threshold) {
            Ok(st) => TrialValues {
                estimate: Some((st.estimate, with_busy(Some(st.how)))),
                host_out: st.host_out,
                unjudged: None,
                shared: st.shared,
            },
            Err(Some(why)) => TrialValues {
                estimate: None,
                host_out: None,
                unjudged: Some(with_busy(Some(why)).unwrap_or_default()),
                shared: false,
            },
            Err(None) => TrialValues {
                estimate: None,
                host_out: None,
                unjudged: estimate_missing_busy(&busy),
                shared: false,
            },
        };
    }
    let (mut bv, mut nv): (Vec<f64>, Vec<f64>) =
        (bt.iter().map(|t| t.value).collect(), nt.iter().map(|t| t.value).collect());
    let estimate =
        if fastest_half && bv.len() >= 2 * MIN_HALF_TRIALS && nv.len() >= 2 * MIN_HALF_TRIALS {
            for v in [&mut bv, &mut nv] {
                v.sort_by(f64::total_cmp);
                v.truncate(v.len().div_ceil(2));
            }
            stats::rank_ratio_change(&bv, &nv)
                .map(|e| (e, with_busy(Some("on the faster half of each run's trials".into()))))
        } else {
            stats::rank_ratio_change(&bv, &nv).map(|e| (e, with_busy(None)))
        };
    let unjudged = if estimate.is_none() { estimate_missing_busy(&busy) } else { None };
    TrialValues { estimate, host_out: None, unjudged, shared: false }
}

/// What the trials say: the estimate with its note when they are enough, the change of the raw
/// figures over the same trials when the estimate is relative to probes, and why the figure
/// cannot be judged when the host was busy in some trials or ran them in another state.
struct TrialValues {
    estimate: Option<(stats::Estimate, Option<String>)>,
    host_out: Option<HostOut>,
    unjudged: Option<String>,
    /// The handoff ran at another level in each run: judged at the shared threshold.
    shared: bool,
}

fn estimate_missing_busy(busy: &Option<String>) -> Option<String> {
    busy.as_ref().map(|b| format!("{TOO_BUSY}: {b}"))
}

fn throughput_figure(
    base: &CaseResult,
    new: &CaseResult,
    opts: &CompareOptions,
) -> Option<FigureComparison> {
    let (bt, nt) = (base.throughput.as_ref()?, new.throughput.as_ref()?);
    let (b, n) = (bt.bytes_per_s.median, nt.bytes_per_s.median);
    if !(b > 0.0 && n.is_finite()) {
        return None;
    }
    let per_trial = |t: &crate::Throughput| -> Vec<f64> {
        t.trials
            .iter()
            .filter(|t| t.seconds > 0.0 && t.bytes > 0)
            .map(|t| t.bytes as f64 / t.seconds)
            .collect()
    };
    // Each trial's rate and its copy probe's, the trials the host disturbed left out.
    let keep = |c: &CaseResult, t: Vec<f64>| {
        let busy = probes::disturbed(c, t.len());
        let copy = probes::per_trial_copy(c, t.len());
        let kept = |v: &[f64]| -> Vec<f64> {
            v.iter().zip(&busy).filter(|(_, b)| !**b).map(|(v, _)| *v).collect()
        };
        let left_out = busy.iter().filter(|b| **b).count();
        (kept(&t), copy.map(|p| kept(&p)), left_out)
    };
    let ((btr, bcopy, bl), (ntr, ncopy, nl)) =
        (keep(base, per_trial(bt)), keep(new, per_trial(nt)));
    let busy = busy_note(bl, nl);
    let pooled = (n / b - 1.0) * 100.0;
    let estimate = stats::rank_ratio_change(&btr, &ntr);
    let unjudged = if estimate.is_none() { estimate_missing_busy(&busy) } else { None };
    let (change, spread) = match estimate {
        Some(e) => (e.change_pct, (Basis::Trials, Some(e.ci_pct), busy)),
        None if btr.len() < 2 || ntr.len() < 2 => {
            (pooled, (Basis::ThresholdOnly, None, Some("no spread stored".to_string())))
        }
        None => {
            let note = format!(
                "no spread stored: too few trials ({} and {}) for a {:.0} % interval",
                btr.len(),
                ntr.len(),
                CONFIDENCE * 100.0
            );
            (pooled, (Basis::ThresholdOnly, None, Some(note)))
        }
    };
    // A flood whose sides sleep runs at the pace of the scheduler's wake-ups: two quiet
    // back-to-back runs of one build moved futex and pipe streams by -30 to -48 %, every trial
    // together.
    let factor = if wakes_up(base) { SHARED_THRESHOLD_FACTOR } else { THROUGHPUT_THRESHOLD_FACTOR };
    let threshold = opts.threshold_pct * factor;
    let mut f = figure(
        "throughput.bytes_per_s.median".to_string(),
        "median throughput".to_string(),
        "bytes/s",
        Better::Higher,
        (b, n),
        change,
        threshold,
        spread,
    );
    // Against its trials' own copy probes: a host that changed state between the runs slows
    // the probe its pair measured right before each trial as much as the trial, a slower code
    // path slows the trial only. A move counts only when the trials relative to their probes
    // moved beyond the threshold the same way too.
    let moved = matches!(f.verdict, Verdict::Regressed | Verdict::Improved);
    let relative = |t: &[f64], copy: &Option<Vec<f64>>| {
        copy.as_ref().map(|p| t.iter().zip(p).map(|(t, p)| t / p).collect::<Vec<f64>>())
    };
    if let (true, Some(br), Some(nr)) = (moved, relative(&btr, &bcopy), relative(&ntr, &ncopy)) {
        if let Some(e) = stats::rank_ratio_change(&br, &nr) {
            let same_way = if f.verdict == Verdict::Regressed {
                e.change_pct < -threshold
            } else {
                e.change_pct > threshold
            };
            if !same_way {
                set_not_gating(
                    &mut f,
                    &format!(
                        "its trials' own copy probes moved with it ({:+.1} % relative to them): \
                         the host's state, not the code",
                        e.change_pct
                    ),
                );
            }
        }
        // The probes themselves moved beyond the threshold, either way: the host ran the two
        // runs in different states, and a figure is not proportional to its probe across
        // states. On the development VM a 512 B spin stream fell from 12.7 to 9.1 GB/s
        // between two runs of one build, every trial alike and again when measured once
        // more, while its copy probes rose from 30 to 41 GB/s.
        if let (Some(bp), Some(np)) = (&bcopy, &ncopy) {
            if let Some(p) =
                stats::rank_ratio_change(bp, np).filter(|p| p.change_pct.abs() > threshold)
            {
                set_not_gating(
                    &mut f,
                    &format!(
                        "its trials' copy probes moved {:+.1} % between the runs: the host was \
                         in another state; `ab` pairs the runs",
                        p.change_pct
                    ),
                );
            }
        }
    }
    if let Some(why) = &unjudged {
        set_not_gating(&mut f, why);
    }
    Some(f)
}

#[allow(clippy::too_many_arguments)]
fn figure(
    key: String,
    name: String,
    unit: &str,
    better: Better,
    (base, new): (f64, f64),
    change_pct: f64,
    threshold_pct: f64,
    (basis, ci_pct, note): (Basis, Option<[f64; 2]>, Option<String>),
) -> FigureComparison {
    let verdict = judge(change_pct, ci_pct, basis, threshold_pct, better);
    FigureComparison {
        key,
        name,
        unit: unit.to_string(),
        better,
        base,
        new,
        change_pct,
        ci_pct,
        threshold_pct,
        basis,
        verdict,
        note,
        gates: true,
        pair_ratios: Vec::new(),
    }
}

/// The rule of [`METHOD`]: beyond the threshold, and the whole interval beyond it too.
pub(super) fn judge(
    change_pct: f64,
    ci_pct: Option<[f64; 2]>,
    basis: Basis,
    threshold_pct: f64,
    better: Better,
) -> Verdict {
    if change_pct.abs() <= threshold_pct {
        return Verdict::NoChange;
    }
    let up = change_pct > 0.0;
    let established = match (basis, ci_pct) {
        (Basis::TailUnresolved, _) => false,
        (_, Some([lo, hi])) => {
            if up {
                lo > threshold_pct
            } else {
                hi < -threshold_pct
            }
        }
        (_, None) => true, // threshold only
    };
    match (established, up == (better == Better::Lower)) {
        (false, _) => Verdict::Noise,
        (true, true) => Verdict::Regressed,
        (true, false) => Verdict::Improved,
    }
}

/// FNV-1a: a stable hash (unlike `DefaultHasher`, fixed across Rust versions) for seeding.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

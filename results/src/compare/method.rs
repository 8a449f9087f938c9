//! What `compare` promises: the method as readers get it (`--explain`, docs/compare.md) and the
//! parameters it states, kept in step by a test.

use crate::latency;

/// How a verdict is reached, for `ipcbench compare --explain` and docs/compare.md. The numbers
/// in it are the constants below (a test keeps them in step).
pub const METHOD: &str = "\
How `compare BASE NEW` judges a change

Cases are matched by id. Each matched case is judged on whichever it measured: p50 and p99 of \
its headline latency (one-way; else round trip, flush, call, or the first kind stored) and its \
median throughput (bytes/s, higher is better).

Unit. Trials are the unit of replication: each trial is a fresh pair of processes and objects, \
and samples within a pair are not independent (a pair keeps the state of the machine it starts \
in). A figure with 4 or more trials on each side is judged on the trials: its change is the \
Hodges-Lehmann estimate of the ratio new/base (the median of the pairwise log-ratios of the \
trials' quantiles) and its 95 % interval the one that inverts the Mann-Whitney rank test over \
them (Moses), so the interval always contains the estimate. A handoff figure (a spinning \
receiver, records under 1 MiB) is judged on the faster half of each run's trials when it has \
8 or more: pairs that land in a slower state of the host are the host's, and a real regression \
slows the fastest pairs as well. Only cases without trials fall back on their pooled HDR \
histograms (percentile bootstrap of the quantile's ratio, 5000 resamples, fixed seed; the \
interval is widened to its estimate if a bucket's width left it out), and cases with neither \
on the threshold alone (\"no spread stored\").

Verdict. A figure regressed (or improved) when its change is beyond its threshold AND its whole \
interval lies beyond that threshold too; beyond the threshold with the interval reaching back \
inside it is noise; within the threshold, no change.

Thresholds. --threshold, default 10 %, for handoff latency; 2 times that (20 % by default) for \
throughput; 8 times that (80 % by default) for what waits on what the whole host shares: \
latency and throughput whose receiver is woken by the scheduler (futex, block, eventfd, \
condvar, iox2-event), latency of a record of 1 MiB or more, a flush to a block device, a \
mapping's set-up (a thp mapping whose share of huge pages moved by more than 25 points \
between the runs is not judged: the host's memory was fragmented differently). Between two \
runs made apart these move with whatever else runs, and a run's own trials cannot show that \
drift. p99 gets twice its figure's threshold and counts only with --gate-p99: a run's tail is \
set by what else ran. A quantile with fewer than 10 samples beyond it is not resolved (noise).

Memory bandwidth. A spinning pair's stream or ping-pong of 4 KiB records or more runs at the \
pace of the guest's memory: on the development VM spin streams dropped 4-5x for seconds at a \
time (to about 7 GB/s) in runs of one build, code paths and transports alike, while the floor \
probes and the pair's CPU waits did not move. So does a mapping backed by huge pages \
(mapping/thp, mapping/hugetlb): making it ready is zeroing 2 MiB pages. They are \
reported and judged, and count only with --gate-bandwidth (a dedicated host); ab, which \
pairs the builds' runs, counts them.

The host's state. When a trial stored its own floor probe (the cache-line handoff its pair \
measured right before it), a handoff figure is judged only between trials made in one state of \
the host: the trials' probes, sorted, start another state wherever one reads more than 1.5 times \
the one below it (the development VM's pinned pairs read 30-100 ns in one state and 210-450 ns \
in the other), and within a state their notify does too at 1.3 times (its handoff ran at \
45-55 ns in some runs and 76-105 ns in others under the same probes). The group with the most \
trials on both sides is compared (the faster on a tie), on the trials' own figures; runs with \
no state in common are not judged. A move counts only if it is not the host's: with each \
trial's probe taken out (a one-way time is the handoff plus the record's own part: each \
trial's figure minus its probe, plus the median probe of the base's trials), or with each \
trial's notify taken out, the figure still moved the same way by more than the threshold. \
A slower code path moves neither the probe nor (unless it is the publish) the handoff; a \
host that slowed every handoff moves both. Taking the probe out of the judged figure itself \
added its wander: within one state the probe moves by 20-30 % while the figure does not \
follow it. \
Runs that share a state but not a level of the handoff are judged on the record's \
own part (each trial's one-way minus its notify) at the threshold, and on the whole one-way \
only beyond 8 times it, as what the host shares. \
Without probes, when both runs measured floor/cache-line, a handoff figure that moved counts \
only if it also moved beyond its threshold relative to that floor, and a floor that moved \
beyond the threshold is reported as a warning: the host was in another state. A throughput \
whose trials stored their own copy probes (the cross-core copy their pair measured right \
before each) counts only when the trials relative to their probes also moved beyond the \
threshold the same way, and the probes themselves did not move beyond it between the runs \
(either way: the runs were made in different states of the host). A case whose receiver \
sleeps, when its trials stored wake-up probes (the minimal futex or pipe wake-up measured right \
before each), is not judged when the two runs' median probes are more than 1.5 times apart: a \
wake-up's state moves every trial of the case, by more than the probe (a 64 KiB pipe ping-pong \
went from 85 to 620 us while the probes went from 25 to 130 us).

No-ops. msync(MS_ASYNC) and any flush on tmpfs write nothing: they are reported, never \
counted.

Devices. A flush that writes to a block device (msync and the pwrite-fsync baselines on disk) \
waits on the device and its queue, which every writer on the host shares: two back-to-back \
runs of one build on the development VM read msync-sync/disk/256 at 363 us, then 724-854 us. \
It is reported and judged, and counts only with --gate-device (a dedicated disk); ab, which \
pairs the builds' runs, counts it.

Load. An open-loop case (`load`) is judged on its headline corrected latency (the 90 % point) \
and its knee; both count only with --gate-p99: a queue near saturation follows how much of \
the host the pair got against a rate fixed at the case's start.

Exit status: 0 the new run is whole and nothing regressed; 1 a figure regressed; 2 bad input \
(a file missing, unreadable or not a result file); 3 the new run cannot pass a gate: a case \
failed, it has no cases, or it was interrupted or is not complete (3 wins over 1).

A/B mode (`ipcbench ab OLD_BINARY NEW_BINARY`): the two builds run each case's trials \
interleaved on one host (old, new, new, old, ...), each trial a separate invocation. A pair of \
invocations saw the same state of the host, so its ratio new/old cancels it. A figure's change \
is the median of the pairs' log-ratios and its 95 % interval the sign test's (order statistics \
of the log-ratios; at least 6 pairs), as tango-bench judges paired runs. A latency case's \
pair whose two invocations' floor probes (cache-line handoff, minimal wake-up) differ by more \
than 1.5 times ran in two states of the host: it is left out and measured again. It counts \
when the change is beyond --threshold (default 5 %) and the whole interval lies on that side \
of no change. A case whose median pair moved beyond the threshold while its interval still \
crosses no change is in doubt: it is measured up to three times the pairs asked, once, and judged on \
them all, with an interval wide enough that the two looks together call a change no more \
often than one look (1.07 % + 0.81 % of 2.5 % each way). Exit status as above.";

/// Default `--threshold`, in percent, of handoff latency (a spinning receiver). Two quick runs
/// of one build made back to back moved the trials' 64-byte spin p50s by a few percent, and
/// the bar asks for a 20 % slowdown to be caught: its interval must clear the threshold.
pub const DEFAULT_THRESHOLD_PCT: f64 = 10.0;
/// Latency that waits on what the whole host shares (a wake-up by the scheduler, a 1 MiB copy
/// through memory) must move this many thresholds: on a shared 2-CPU VM such p50s moved by up
/// to 77 % between two runs of one build.
pub const SHARED_THRESHOLD_FACTOR: f64 = 8.0;
/// Throughput must move this many thresholds: stream trials are windows of one pair, and a
/// copy's rate follows the host's memory traffic.
pub const THROUGHPUT_THRESHOLD_FACTOR: f64 = 2.0;
/// Records of this size or more are copies through memory: [`SHARED_THRESHOLD_FACTOR`].
pub const LARGE_RECORD_BYTES: u64 = 1 << 20;
/// A spinning pair moving records this large or more runs at the pace of the guest's memory
/// bandwidth ([`super::bandwidth_bound`]).
pub const BANDWIDTH_RECORD_BYTES: u64 = 4096;
/// Two runs' `mapping/thp` cases whose shares of huge pages differ by more than this are not
/// judged ([`super::judging`]): a 4 KiB-page mapping is set up at another cost.
pub const HUGE_PAGE_FRACTION_GAP: f64 = 0.25;
/// p99 must move this many thresholds (of its figure's kind): tail latency drifts more between
/// runs than the median.
pub const P99_THRESHOLD_FACTOR: f64 = 2.0;
/// Confidence level of every interval.
pub const CONFIDENCE: f64 = 0.95;
/// A handoff figure is read on the faster half of each run's trials when that half holds at
/// least this many (4 and 4 allow a 95 % rank interval).
pub const MIN_HALF_TRIALS: usize = 4;
/// Trials' cache-line probes, sorted, start another state of the host where one reads more
/// than this factor above the one below it (on the development VM: 30–100 ns in one state,
/// 210–450 ns in the other).
pub const STATE_GAP: f64 = 1.5;
/// Within one state, trials' `notify` p50s start another level of the handoff where one reads
/// more than this factor above the one below it (on the development VM, with probes alike:
/// 45–55 ns in some runs, 76–105 ns in others).
pub const HANDOFF_GAP: f64 = 1.3;
/// Within one state of the host a figure's move counts only if, with each trial's probe taken
/// out or with each trial's notify taken out, it still moved the same way by more than this
/// share of the threshold. The whole threshold: a host that slowed every handoff moves the
/// probes and the notify with the figure (a 230 against 200 ns one-way under 90 against
/// 60 ns probes), a slower receive path moves neither.
pub const RAW_SHARE: f64 = 1.0;
/// `ipcbench ab`'s default `--threshold`, in percent: the pairs cancel the host's drift.
pub const AB_DEFAULT_THRESHOLD_PCT: f64 = 5.0;
/// The fewest pairs that give a 95 % sign-test interval (2 · 2⁻⁶ = 3.1 %).
pub const AB_MIN_PAIRS: usize = 6;
/// `ipcbench ab`'s default number of pairs.
pub const AB_DEFAULT_PAIRS: usize = 10;
/// Bootstrap resamples per figure: enough for stable 2.5 % / 97.5 % bounds, cheap because each
/// resampled quantile is one Beta draw and one binary search.
pub const BOOTSTRAP_RESAMPLES: usize = 5000;
/// The bootstrap's seed, mixed with the case id and figure so figures draw independent streams
/// whatever the order of cases.
pub const BOOTSTRAP_SEED: u64 = 0x1bcc_03a2_e5ee_d5ed;
/// A quantile with fewer samples than this beyond it (p99 of fewer than 1000) is not resolved.
pub const MIN_TAIL_SAMPLES: u64 = 10;
/// Latency kinds compared, in order of preference; a case is compared on the first it has.
pub const LATENCY_KINDS: [&str; 4] =
    [latency::ONE_WAY, latency::ROUND_TRIP, latency::FLUSH, latency::CALL];

/// Tag of the JSON that `--format json` prints.
pub const COMPARE_SCHEMA: &str = "ipcbench-compare/1";

//! What `compare` promises: the method as readers get it (`--help`, the README) and the
//! parameters it states, kept in step by a test.

use crate::latency;

/// How a verdict is reached, for `ipcbench compare --help` and the README. The numbers in it are
/// the constants below (a test keeps them in step).
pub const METHOD: &str = "\
Cases are matched by id. For each case, whichever were measured: p50 and p99 latency (one-way; \
else round trip, flush, call, or failing those the first kind stored) and median throughput \
(bytes/s, higher is better). \
A figure's change is (new - base) / base. It counts as regressed or improved only when it is \
beyond its threshold AND the whole 95 % confidence interval of the change lies beyond that \
threshold as well. A change beyond the threshold whose interval reaches back inside it is \
reported as noise; a change within the threshold as no change. \
Thresholds: --threshold, default 20 %, for figures set by the cache-line handoff (a spinning \
receiver, records under 1 MiB) and for throughput; 4 times that (80 % by default) for latency \
that waits on what the whole host shares: a wake-up by the scheduler (futex, block) or a record \
of 1 MiB or more through memory. Between two runs on a shared host, these move with whatever \
else runs, by tens of percent; a figure's own run cannot show that drift, so its threshold must \
absorb it. Raise --threshold on a noisier host, lower it on a quiet dedicated one. \
p99 is reported and judged against twice its threshold, but counts only with --gate-p99 \
(otherwise a move beyond it is shown as noise): a run's tail is set by what else ran during it. \
Latency intervals: a case measured over several trials (each a fresh pair of processes and \
objects) is judged, for wake-up and 1 MiB figures, on the trials: the distribution-free \
interval of the ratio that inverts the Mann-Whitney rank test over the trials' quantiles (order \
statistics of the pairwise log-ratios, Hodges-Lehmann), so a change must show in the pairs, not \
in one disturbed stretch of the run. Handoff figures, and cases without trials, are judged on \
their pooled histograms: percentile bootstrap of the ratio new/base of the quantile, 5000 \
resamples drawn from the two stored HDR histograms, each resample the size of its run (the \
resampled quantile is drawn exactly through its order statistic, U(k) ~ Beta(k, n+1-k)), with \
a fixed seed so the same files always give the same verdicts. The pooled p50 of many pairs holds \
steady while a minority of pairs land in a slower state of the machine, which a rank interval \
over the pairs would mistake for spread; when a majority did, the pooled p50 jumps, so a handoff \
figure with trials counts only if the lower quartile of its trials moved beyond the threshold \
too (a regression slows every pair, the fastest as well). A quantile with fewer than 10 samples beyond it is not \
resolved by its run: it is reported but never counts (noise). \
Throughput intervals: the same rank interval over the per-trial throughputs, exact for small \
samples; it needs enough trials on each side (4 and 4 will do). \
Without histograms or enough trials the change is judged on the threshold alone \
(\"no spread stored\").";

/// Default `--threshold`, in percent. Two back-to-back quick runs of one build on a shared
/// 2-CPU VM moved 64-byte spin p50s by up to 15 % (see README, "Tracking performance in CI").
pub const DEFAULT_THRESHOLD_PCT: f64 = 20.0;
/// Latency that waits on what the whole host shares (a wake-up by the scheduler, a 1 MiB copy
/// through memory) must move this many thresholds: on the same VM such p50s moved by up to
/// 77 % between two runs of one build.
pub const SHARED_THRESHOLD_FACTOR: f64 = 4.0;
/// Records of this size or more are copies through memory: [`SHARED_THRESHOLD_FACTOR`].
pub const LARGE_RECORD_BYTES: u64 = 1 << 20;
/// p99 must move this many thresholds (of its figure's kind): tail latency drifts more between
/// runs than the median.
pub const P99_THRESHOLD_FACTOR: f64 = 2.0;
/// Confidence level of every interval.
pub const CONFIDENCE: f64 = 0.95;
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

//! What the user asked for: filters, counts, pinning. Parsing and checking of user input lives
//! here so that every bad value gets one line naming it and the valid choices.

use ipcbench_harness::os::futex::Wait;
use ipcbench_harness::patterns::worker::Process;
use ipcbench_harness::record::Fault;
use ipcbench_harness::transport::Transport;
use std::path::PathBuf;
use std::time::Duration;

/// Bad input: the CLI prints it on one line and exits with status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Warm-up time per pair (see [`Options::warmup`]): full and `--quick`.
pub const WARMUP: Duration = Duration::from_millis(100);
pub const WARMUP_QUICK: Duration = Duration::from_millis(10);

/// The largest record ipcbench moves (64 MiB).
pub const MAX_SIZE: usize = 64 << 20;

#[derive(Clone, Debug)]
pub struct Options {
    pub transports: Option<Vec<Transport>>,
    pub processes: Option<Vec<Process>>,
    pub waits: Option<Vec<Wait>>,
    pub sizes: Option<Vec<usize>>,
    /// Measured messages per case (round trips, records, flushes), after warm-up.
    pub iterations: Option<u64>,
    /// Time limit for the measured part of a case.
    pub duration: Option<Duration>,
    /// Few iterations and short cases: `scenario all --quick` stays under a minute.
    pub quick: bool,
    /// What `--pin` asked for; the runner resolves it into `pin` (see `pinning`).
    pub pin_request: crate::pinning::PinRequest,
    /// CPUs of the runner and the peer, as resolved for this run.
    pub pin: Option<[usize; 2]>,
    /// Where file-backed transports and flushes put their files (default: the system temp dir).
    pub dir: Option<PathBuf>,
    /// `pingpong --durable`: the writer flushes each record before it notifies.
    pub durable: bool,
    /// `load --rate`: the offered rates (default: a sweep of fractions of saturation).
    pub rates: Option<Vec<OfferedRate>>,
    /// Tests only: a fault to inject.
    pub fault: Option<Fault>,
    /// Tests only: slow one transport's ping-pong receive path down by a percentage of its
    /// warm-up one-way p50 (`IPCBENCH_SLOWDOWN`).
    pub slowdown: Option<(Transport, f64)>,
    /// No progress for this long means a worker hangs.
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            transports: None,
            processes: None,
            waits: None,
            sizes: None,
            iterations: None,
            duration: None,
            quick: false,
            // A library caller pins by asking; the CLI asks for the default choice.
            pin_request: crate::pinning::PinRequest::Off,
            pin: None,
            dir: None,
            durable: false,
            rates: None,
            fault: None,
            slowdown: None,
            timeout: Duration::from_secs(10),
        }
    }
}

impl Options {
    /// Iterations and time limit for a case: the user's, else the scenario's defaults
    /// (`full` normally, `quick` with `--quick`). An explicit `--iterations` alone lifts the
    /// time limit, so exactly that many are measured.
    pub fn budget(&self, full: (u64, Duration), quick: (u64, Duration)) -> (u64, Duration) {
        let (n, d) = if self.quick { quick } else { full };
        match (self.iterations, self.duration) {
            (Some(n), None) => (n, Duration::ZERO),
            (Some(n), Some(d)) => (n, d),
            (None, Some(d)) => (u64::MAX / 4, d),
            (None, None) => (n, d),
        }
    }

    /// How long each fresh pair (or group) warms up before it measures, discarded: its first
    /// records fault the pages in, fill the caches and TLBs (microseconds), and let the CPU
    /// frequency governor react to two busy CPUs (schedutil and HWP ramp within a few to tens of
    /// milliseconds). 100 ms covers that with room; `--quick` takes 10 ms, enough for the
    /// faults and caches and most of the ramp, so that a quick run stays short.
    pub fn warmup(&self) -> Duration {
        if self.quick {
            WARMUP_QUICK
        } else {
            WARMUP
        }
    }

    pub fn slowdown_for(&self, t: Transport) -> f64 {
        match self.slowdown {
            Some((k, pct)) if k == t => pct,
            _ => 0.0,
        }
    }

    /// The transports, processes and waits to run, each combination valid; an explicitly
    /// named transport that no combination is left for is a usage error naming what it takes.
    /// `--quick` keeps to forked peers unless `--process` names others: a spawned peer moves
    /// records the same way once started; it only starts slower (the full run measures both).
    fn quick_drops_process(&self, p: Process) -> bool {
        self.quick && self.processes.is_none() && p != Process::Fork
    }

    /// `--quick` keeps to the plain waits (spin, futex, block and iceoryx2's own) unless
    /// `--wait` names others: eventfd and condvar are further ways to sleep on the same ring,
    /// measured in the full run, and with them the quick run took four times its minute.
    fn quick_drops_wait(&self, w: Wait) -> bool {
        self.quick && self.waits.is_none() && matches!(w, Wait::Eventfd | Wait::Condvar)
    }

    pub fn combinations(
        &self,
        allowed: &[Transport],
    ) -> Result<Vec<(Transport, Process, Wait)>, UsageError> {
        let transports = self.transports.clone().unwrap_or_else(|| allowed.to_vec());
        let mut out = Vec::new();
        for t in transports {
            if !allowed.contains(&t) {
                continue;
            }
            let procs: Vec<Process> = Process::ALL
                .into_iter()
                .filter(|p| *p == Process::Fork || t.supports_spawn())
                .filter(|p| !self.quick_drops_process(*p))
                .collect();
            let waits: Vec<Wait> =
                t.waits().iter().copied().filter(|w| !self.quick_drops_wait(*w)).collect();
            let mut any = false;
            for p in procs.iter().filter(|p| self.processes.as_ref().is_none_or(|f| f.contains(p)))
            {
                for w in waits.iter().filter(|w| self.waits.as_ref().is_none_or(|f| f.contains(w)))
                {
                    out.push((t, *p, *w));
                    any = true;
                }
            }
            if !any && self.transports.is_some() {
                let names = |v: Vec<&str>| v.join(", ");
                if self.processes.as_ref().is_some_and(|f| !procs.iter().any(|p| f.contains(p))) {
                    return Err(UsageError(format!(
                        "{t} cannot run with --process {}: valid processes for {t}: {}",
                        names(self.processes.as_ref().unwrap().iter().map(|p| p.name()).collect()),
                        names(procs.iter().map(|p| p.name()).collect()),
                    )));
                }
                return Err(UsageError(format!(
                    "{t} cannot run with --wait {}: valid waits for {t}: {}",
                    names(
                        self.waits
                            .as_ref()
                            .map(|f| f.iter().map(|w| w.name()).collect())
                            .unwrap_or_default()
                    ),
                    names(waits.iter().map(|w| w.name()).collect()),
                )));
            }
        }
        Ok(out)
    }
}

/// A comma-separated list of names (`posix-shm,pipe`): each parsed by `parse`, duplicates merged
/// (first place kept), an unknown or empty list refused with one line naming the valid ones.
fn list_of<T: PartialEq>(
    what: &str,
    s: &str,
    parse: impl Fn(&str) -> Option<T>,
    valid: &str,
) -> Result<Vec<T>, UsageError> {
    // "processes", not "processs".
    let whats = if what.ends_with('s') { format!("{what}es") } else { format!("{what}s") };
    let mut out = Vec::new();
    for x in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
        let v = parse(x).ok_or_else(|| {
            UsageError(format!("unknown {what} '{x}': valid {whats} are {valid}"))
        })?;
        if !out.contains(&v) {
            out.push(v);
        }
    }
    if out.is_empty() {
        return Err(UsageError(format!("empty --{what} list: valid {whats} are {valid}")));
    }
    Ok(out)
}

pub fn parse_transports(s: &str) -> Result<Vec<Transport>, UsageError> {
    list_of("transport", s, Transport::from_name, &Transport::valid())
}

pub fn parse_processes(s: &str) -> Result<Vec<Process>, UsageError> {
    list_of("process", s, Process::from_name, &Process::valid())
}

pub fn parse_waits(s: &str) -> Result<Vec<Wait>, UsageError> {
    list_of("wait", s, Wait::from_name, &Wait::valid())
}

/// `64`, `4K`, `4KiB`, `1M`, `1MiB`: bytes, 1 to 64 MiB.
pub fn parse_size(s: &str) -> Result<usize, UsageError> {
    let bad = || {
        UsageError(format!(
            "invalid size '{s}': give bytes as a whole number with an optional K or M suffix \
             (64, 4K, 1M), from 1 to 64M"
        ))
    };
    let t = s.trim();
    let upper = t.to_ascii_uppercase();
    let (digits, mult) = if let Some(d) = upper.strip_suffix("KIB").or(upper.strip_suffix('K')) {
        (d, 1usize << 10)
    } else if let Some(d) = upper.strip_suffix("MIB").or(upper.strip_suffix('M')) {
        (d, 1 << 20)
    } else if let Some(d) = upper.strip_suffix('B') {
        (d, 1)
    } else {
        (upper.as_str(), 1)
    };
    let n: usize = digits.trim().parse().map_err(|_| bad())?;
    let bytes = n.checked_mul(mult).ok_or_else(bad)?;
    if bytes == 0 {
        return Err(UsageError(format!("invalid size '{s}': a record must hold at least 1 byte")));
    }
    if bytes > MAX_SIZE {
        return Err(UsageError(format!("invalid size '{s}': the largest record is 64M")));
    }
    Ok(bytes)
}

pub fn parse_sizes(s: &str) -> Result<Vec<usize>, UsageError> {
    let mut v: Vec<usize> = Vec::new();
    for size in s.split(',').map(str::trim).filter(|x| !x.is_empty()).map(parse_size) {
        // `64,64` (or `1K,1024`) is one size: case ids stay unique.
        let size = size?;
        if !v.contains(&size) {
            v.push(size);
        }
    }
    if v.is_empty() {
        return Err(UsageError("empty --size list: give sizes like 64,4K,1M".into()));
    }
    Ok(v)
}

/// The most measured messages a case takes: a billion keeps every derived figure (bytes moved
/// at 64 MiB a record, nanoseconds summed, sequence numbers) far from overflowing a u64.
pub const MAX_ITERATIONS: u64 = 1_000_000_000;
/// The shortest `--duration`: a case splits its time over up to 10 trials, and each needs at
/// least a millisecond to measure anything (a limit that rounds to 0 would mean none).
pub const MIN_DURATION: Duration = Duration::from_millis(10);
/// The longest `--duration` per case: an hour.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);

/// `--iterations N`: 1 to [`MAX_ITERATIONS`].
pub fn check_iterations(n: u64) -> Result<u64, UsageError> {
    if (1..=MAX_ITERATIONS).contains(&n) {
        Ok(n)
    } else {
        Err(UsageError(format!("invalid --iterations {n}: give 1 to {MAX_ITERATIONS}")))
    }
}

/// `--duration`: `2s`, `500ms`, `1.5` (seconds), from [`MIN_DURATION`] to [`MAX_DURATION`].
pub fn parse_duration(s: &str) -> Result<Duration, UsageError> {
    let bad = || {
        UsageError(format!(
            "invalid duration '{s}': give e.g. 2s, 500ms or 1.5, from {} to {}",
            humantime::format_duration(MIN_DURATION),
            humantime::format_duration(MAX_DURATION)
        ))
    };
    let d = humantime::parse_duration(s)
        .ok()
        .or_else(|| s.trim().parse::<f64>().ok().and_then(|x| Duration::try_from_secs_f64(x).ok()))
        .ok_or_else(bad)?;
    if !(MIN_DURATION..=MAX_DURATION).contains(&d) {
        return Err(bad());
    }
    Ok(d)
}

/// A rate `load` offers: a fraction of the case's measured saturation, or records per second.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OfferedRate {
    Fraction(f64),
    PerSecond(f64),
}

/// `10%,50%,110%` (fractions of saturation) or `100k,1M,2500` (records per second), mixed at will.
pub fn parse_rates(s: &str) -> Result<Vec<OfferedRate>, UsageError> {
    let bad = |x: &str| {
        UsageError(format!(
            "invalid rate '{x}': give a percentage of the measured saturation (10%, 110%) or \
             records per second with an optional k or M suffix (2500, 100k, 1M)"
        ))
    };
    let mut out = Vec::new();
    for x in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
        let rate = if let Some(p) = x.strip_suffix('%') {
            OfferedRate::Fraction(p.trim().parse::<f64>().map_err(|_| bad(x))? / 100.0)
        } else {
            let (digits, mult) = match x.as_bytes()[x.len() - 1] {
                b'k' | b'K' => (&x[..x.len() - 1], 1e3),
                b'm' | b'M' => (&x[..x.len() - 1], 1e6),
                _ => (x, 1.0),
            };
            OfferedRate::PerSecond(digits.trim().parse::<f64>().map_err(|_| bad(x))? * mult)
        };
        let v = match rate {
            OfferedRate::Fraction(v) | OfferedRate::PerSecond(v) => v,
        };
        if !(v.is_finite() && v > 0.0) {
            return Err(bad(x));
        }
        if !out.contains(&rate) {
            out.push(rate);
        }
    }
    if out.is_empty() {
        return Err(UsageError("empty --rate list: give rates like 10%,50% or 100k,1M".into()));
    }
    Ok(out)
}

/// Whether this build has the test-only knobs (`--inject`, `IPCBENCH_SLOWDOWN`): only a build
/// with the `test-knobs` feature, which `cargo test` turns on and a normal build never does.
pub const TEST_KNOBS: bool = cfg!(feature = "test-knobs");

/// A transport and the percentage its ping-pong records are slowed by (`IPCBENCH_SLOWDOWN`).
pub type Slowdown = (Transport, f64);

/// The largest slow-down `IPCBENCH_SLOWDOWN` takes, in percent: ten times slower.
pub const MAX_SLOWDOWN_PCT: f64 = 1000.0;

/// The test-only knobs, from `--inject` and `IPCBENCH_SLOWDOWN`. A normal build has none:
/// `--inject` is refused as an unknown argument and the variable is ignored, like any other.
pub fn test_knobs(
    inject: Option<&str>,
    slowdown: Option<&str>,
) -> Result<(Option<Fault>, Option<Slowdown>), UsageError> {
    if !TEST_KNOBS {
        return match inject {
            Some(_) => Err(UsageError(
                "unexpected argument '--inject' found (see ipcbench scenario --help)".into(),
            )),
            None => Ok((None, None)),
        };
    }
    let fault = inject
        .map(|f| f.parse().map_err(|e| UsageError(format!("invalid --inject '{f}': {e}"))))
        .transpose()?;
    Ok((fault, slowdown.map(parse_slowdown).transpose()?))
}

/// `IPCBENCH_SLOWDOWN=pipe:30`: a test-only knob that makes one transport 30 % slower
/// (0 to [`MAX_SLOWDOWN_PCT`]; NaN, infinities and negatives refused).
pub fn parse_slowdown(s: &str) -> Result<(Transport, f64), UsageError> {
    let bad = || {
        UsageError(format!(
            "invalid IPCBENCH_SLOWDOWN '{s}': expected TRANSPORT:PERCENT, percent from 0 to \
             {MAX_SLOWDOWN_PCT}"
        ))
    };
    let (t, p) = s.split_once(':').ok_or_else(bad)?;
    let t = parse_transports(t)?.pop().ok_or_else(bad)?;
    let p: f64 = p.trim().parse().map_err(|_| bad())?;
    if !(0.0..=MAX_SLOWDOWN_PCT).contains(&p) {
        return Err(bad());
    }
    Ok((t, p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_suffixes_and_bounds() {
        assert_eq!(parse_sizes("64, 4K,1M,2KiB").unwrap(), [64, 4096, 1 << 20, 2048]);
        assert!(parse_size("0").unwrap_err().0.contains("at least 1 byte"));
        assert!(parse_size("65M").unwrap_err().0.contains("largest"));
        assert!(parse_size("ten").unwrap_err().0.contains("64, 4K, 1M"));
    }

    #[test]
    fn limits_have_a_floor_and_a_ceiling() {
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("0.5").unwrap(), Duration::from_millis(500));
        for bad in ["1ns", "0", "-1", "NaN", "inf", "2h", "soon"] {
            assert!(parse_duration(bad).unwrap_err().0.contains("from 10ms to 1h"), "{bad}");
        }
        assert!(check_iterations(0).is_err());
        assert!(check_iterations(u64::MAX).unwrap_err().0.contains("1000000000"));
        assert_eq!(check_iterations(MAX_ITERATIONS).unwrap(), MAX_ITERATIONS);
    }

    #[test]
    fn slowdowns_are_bounded_numbers() {
        assert_eq!(parse_slowdown("pipe:30").unwrap(), (Transport::Pipe, 30.0));
        for bad in ["pipe:NaN", "pipe:inf", "pipe:-50", "pipe:1e9", "pipe", "pipe:x"] {
            assert!(parse_slowdown(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rates_take_fractions_and_records_per_second() {
        use OfferedRate::*;
        assert_eq!(
            parse_rates("10%, 110%,100k,1M,2500,10%").unwrap(),
            [Fraction(0.1), Fraction(1.1), PerSecond(1e5), PerSecond(1e6), PerSecond(2500.0)]
        );
        for bad in ["0%", "-5%", "fast", "k", "1G", ""] {
            assert!(parse_rates(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn repeated_values_are_one_value() {
        assert_eq!(
            parse_transports("pipe, pipe,tcp,pipe").unwrap(),
            [Transport::Pipe, Transport::Tcp]
        );
        assert_eq!(parse_sizes("64,64,1K,1024").unwrap(), [64, 1024]);
        assert_eq!(parse_waits("spin,spin").unwrap(), [Wait::Spin]);
    }

    #[test]
    fn plural_of_process_is_processes() {
        let e = parse_processes("x").unwrap_err().0;
        assert!(e.contains("valid processes are fork, spawn"), "{e}");
    }

    #[test]
    fn unknown_names_list_the_valid_ones() {
        let e = parse_transports("posix-shm,carrier-pigeon").unwrap_err().0;
        assert!(
            e.contains("carrier-pigeon") && e.contains("file-mmap") && e.contains("tcp"),
            "{e}"
        );
    }

    #[test]
    fn impossible_combinations_are_refused() {
        let opts = Options {
            transports: Some(vec![Transport::AnonMmap]),
            processes: Some(vec![Process::Spawn]),
            ..Default::default()
        };
        let e = opts.combinations(&Transport::ALL).unwrap_err().0;
        assert!(e.contains("anon-mmap") && e.contains("fork"), "{e}");
        let opts = Options {
            transports: Some(vec![Transport::Pipe]),
            waits: Some(vec![Wait::Spin]),
            ..Default::default()
        };
        assert!(opts.combinations(&Transport::ALL).unwrap_err().0.contains("block"));
        // Without an explicit transport, impossible pairs just drop out.
        let opts = Options { processes: Some(vec![Process::Spawn]), ..Default::default() };
        let c = opts.combinations(&Transport::ALL).unwrap();
        assert!(c.iter().all(|(t, _, _)| *t != Transport::AnonMmap));
        // 4 spawnable mapped × 4 waits, 9 kernel transports × block, iceoryx2 × 2 waits.
        assert_eq!(c.len(), 4 * 4 + 9 + 2);
    }
}

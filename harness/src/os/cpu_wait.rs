//! How much of a trial the host took from its pair: the time each of the pair's processes was
//! runnable but waited on a run queue (`/proc/<pid>/schedstat`, second field), and the time the
//! hypervisor stole from the CPUs they ran on (`/proc/stat`, `steal`).
//!
//! A floor probe cannot see this: it runs for milliseconds right before the trial, usually
//! inside one time slice. A process that wakes up on one of the pair's two CPUs halfway
//! through a trial took 40 % of a spinning stream's throughput while the probes before each
//! trial did not move (`posix-shm/spin/4096/copy`: 19.9 GB/s quiet, 12.0 GB/s beside one busy
//! loop pinned to CPU 1; copy probes 23–46 GB/s in both runs). The wait is the process's own
//! account of it, read from outside the measured loop. Above
//! [`ipcbench_results::probe::DISTURBED_SHARE`] a trial counts as disturbed.

use std::time::Instant;

/// The counters at one moment.
#[derive(Clone, Debug)]
pub struct Mark {
    at: Instant,
    /// Run-queue wait (ns) of each process, in the order given; `None` where unreadable.
    delay_ns: Vec<Option<u64>>,
    /// Steal (clock ticks) of each CPU given, or of the whole host averaged when none is.
    steal_ticks: Vec<u64>,
}

/// The counters of `pids` (0 is this process) and of `cpus` (empty: the host's total) now.
pub fn mark(pids: &[libc::pid_t], cpus: &[usize]) -> Mark {
    let delay_ns = pids.iter().map(|&p| run_delay_ns(p)).collect();
    let steal_ticks = steal_ticks(cpus);
    Mark { at: Instant::now(), delay_ns, steal_ticks }
}

/// The share of the time since `before` that the host took from the pair: the larger wait of
/// its processes plus the larger steal of its CPUs, each as a share of the wall time. `None`
/// when no counter could be read (no `/proc`, a kernel without `CONFIG_SCHED_INFO`).
pub fn share_since(before: &Mark, after: &Mark) -> Option<f64> {
    let wall_ns = after.at.duration_since(before.at).as_nanos() as f64;
    let delays: Vec<u64> = before
        .delay_ns
        .iter()
        .zip(&after.delay_ns)
        .filter_map(|(b, a)| Some(a.as_ref()?.saturating_sub((*b)?)))
        .collect();
    let steals: Vec<u64> = before
        .steal_ticks
        .iter()
        .zip(&after.steal_ticks)
        .map(|(b, a)| a.saturating_sub(*b))
        .collect();
    share(wall_ns, &delays, &steals, tick_ns())
}

/// [`share_since`] on counter deltas: the larger run-queue wait, plus the larger steal less
/// one tick (the counter's own rounding), over `wall_ns`.
pub fn share(wall_ns: f64, delays_ns: &[u64], steal_ticks: &[u64], tick_ns: f64) -> Option<f64> {
    if wall_ns <= 0.0 || (delays_ns.is_empty() && steal_ticks.is_empty()) {
        return None;
    }
    let delay = delays_ns.iter().copied().max().unwrap_or(0) as f64;
    let steal = steal_ticks.iter().copied().max().unwrap_or(0).saturating_sub(1) as f64 * tick_ns;
    Some(((delay + steal) / wall_ns).min(1.0))
}

/// `/proc/<pid>/schedstat`: on-CPU ns, run-queue wait ns, time slices.
fn run_delay_ns(pid: libc::pid_t) -> Option<u64> {
    if !keeps_schedstat() {
        return None;
    }
    let path = if pid == 0 {
        "/proc/self/schedstat".to_string()
    } else {
        format!("/proc/{pid}/schedstat")
    };
    fields(&std::fs::read_to_string(path).ok()?).map(|(_, wait)| wait)
}

/// Whether the kernel keeps scheduler statistics: without them every process shows zeros, so
/// this process, which has surely run, tells (a child just forked may not have run yet).
fn keeps_schedstat() -> bool {
    static KEEPS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *KEEPS.get_or_init(|| {
        let text = std::fs::read_to_string("/proc/self/schedstat").unwrap_or_default();
        fields(&text).is_some_and(|(on_cpu, _)| on_cpu > 0)
    })
}

fn fields(text: &str) -> Option<(u64, u64)> {
    let mut f = text.split_whitespace().map(|v| v.parse::<u64>().ok());
    Some((f.next()??, f.next()??))
}

/// The `steal` column (the 8th value) of `/proc/stat`'s `cpuN` lines for `cpus`, or of its
/// `cpu` line divided by the number of CPUs when `cpus` is empty.
fn steal_ticks(cpus: &[usize]) -> Vec<u64> {
    let Ok(text) = std::fs::read_to_string("/proc/stat") else { return Vec::new() };
    let steal_of = |label: &str| {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(label))
            .and_then(|l| l.split_whitespace().nth(8)?.parse::<u64>().ok())
    };
    if cpus.is_empty() {
        let n = text.lines().filter(|l| l.starts_with("cpu") && !l.starts_with("cpu ")).count();
        return steal_of("cpu").map(|s| s / n.max(1) as u64).into_iter().collect();
    }
    cpus.iter().filter_map(|c| steal_of(&format!("cpu{c}"))).collect()
}

fn tick_ns() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    1e9 / if hz > 0 { hz as f64 } else { 100.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_is_the_worse_process_plus_the_worse_cpu_less_a_tick() {
        let tick = 10e6;
        // 30 ms and 5 ms of waiting in 200 ms: the worse side, 15 %.
        assert_eq!(share(200e6, &[30_000_000, 5_000_000], &[], tick), Some(0.15));
        // One tick of steal is the counter's rounding; three are 20 ms more.
        assert_eq!(share(200e6, &[0, 0], &[1, 0], tick), Some(0.0));
        assert_eq!(share(200e6, &[10_000_000], &[3, 1], tick), Some(0.15));
        assert_eq!(share(100e6, &[500_000_000], &[], tick), Some(1.0));
        assert_eq!(share(0.0, &[1], &[1], tick), None);
        assert_eq!(share(100e6, &[], &[], tick), None);
    }

    #[test]
    fn a_child_s_wait_and_this_process_s_are_read_between_two_marks() {
        let child = match unsafe { libc::fork() } {
            0 => {
                let t = Instant::now();
                while t.elapsed().as_millis() < 50 {}
                unsafe { libc::_exit(0) }
            }
            pid => pid,
        };
        let before = mark(&[0, child], &[]);
        let t = Instant::now();
        while t.elapsed().as_millis() < 20 {}
        let after = mark(&[0, child], &[]);
        let mut status = 0;
        unsafe { libc::waitpid(child, &mut status, 0) };
        if after.delay_ns.iter().all(Option::is_none) {
            eprintln!("this kernel keeps no scheduler statistics: nothing to read");
            return;
        }
        let s = share_since(&before, &after).expect("counters were read");
        assert!((0.0..=1.0).contains(&s), "a share of the wall time: {s}");
    }
}

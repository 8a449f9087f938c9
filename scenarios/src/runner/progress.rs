//! What the user sees while a run goes: on a terminal, a bar whose clock ticks while a case
//! runs, with the rate and the time left; elsewhere (CI logs, a pipe), one plain line per case
//! as it ends, so a log shows progress without escape codes.
//!
//! The ticking clock needs a thread, and the runner forks its workers. A fork copies only the
//! forking thread, with every lock other threads held at that instant still held in the child:
//! were the tick thread inside a draw (holding the bar's state and stderr's lock), a child that
//! then prints (a panic message) would wait forever. So the tick thread draws only inside a
//! window that a `pthread_atfork` prepare handler closes and waits out: no fork happens while
//! it draws, whichever code forks (the harness's `fork`, `Command` falling back to fork). Spawned
//! workers exec at once and are unaffected either way.

use super::eta::{clock, Eta};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ipcbench_results::{units, CaseResult};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, Once};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const TICK: Duration = Duration::from_millis(200);

/// Forks under way (a counter: tests fork from several threads at once).
static FORKING: AtomicUsize = AtomicUsize::new(0);
/// The tick thread is drawing.
static DRAWING: AtomicBool = AtomicBool::new(false);
static ATFORK: Once = Once::new();

extern "C" fn before_fork() {
    // Dekker-style with SeqCst on both sides: either the tick thread sees FORKING and skips its
    // draw, or this loop sees DRAWING and waits for the draw to end.
    FORKING.fetch_add(1, SeqCst);
    while DRAWING.load(SeqCst) {
        std::hint::spin_loop();
    }
}

extern "C" fn after_fork() {
    FORKING.fetch_sub(1, SeqCst);
}

/// Runs `draw` unless a fork is under way; true when it ran.
fn draw_outside_fork(draw: impl FnOnce()) -> bool {
    DRAWING.store(true, SeqCst);
    let ran = FORKING.load(SeqCst) == 0;
    if ran {
        draw();
    }
    DRAWING.store(false, SeqCst);
    ran
}

struct State {
    eta: Eta,
    len: usize,
    case_started: Instant,
}

impl State {
    fn figures(&self) -> String {
        let running = self.case_started.elapsed().as_secs_f64();
        let rate = self.eta.rate().map(|r| format!("{} cases/min, ", units::significant(r * 60.0)));
        format!("{}ETA {}", rate.unwrap_or_default(), clock(self.eta.remaining(running)))
    }
}

enum Shown {
    /// A terminal: the bar and its tick thread.
    Bar { bar: ProgressBar, ticker: Option<(Sender<()>, JoinHandle<()>)> },
    /// Not a terminal: one line per finished case.
    Lines,
    /// Tests of the runner.
    Hidden,
}

pub struct Progress {
    shown: Shown,
    state: Arc<Mutex<State>>,
    started: Instant,
}

impl Progress {
    /// Progress for a plan of `(scenario, expected time)` per case, on stderr: a ticking bar on
    /// a terminal, plain lines otherwise.
    pub fn stderr(plan: Vec<(String, Option<Duration>)>) -> Progress {
        if std::io::stderr().is_terminal() {
            Self::bar(plan)
        } else {
            Self::with(plan, Shown::Lines)
        }
    }

    pub fn hidden(cases: usize) -> Progress {
        Self::with((0..cases).map(|_| (String::new(), None)).collect(), Shown::Hidden)
    }

    fn with(plan: Vec<(String, Option<Duration>)>, shown: Shown) -> Progress {
        let len = plan.len();
        let state = State { eta: Eta::new(plan), len, case_started: Instant::now() };
        Progress { shown, state: Arc::new(Mutex::new(state)), started: Instant::now() }
    }

    fn bar(plan: Vec<(String, Option<Duration>)>) -> Progress {
        let bar =
            ProgressBar::with_draw_target(Some(plan.len() as u64), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {elapsed_precise} {bar:24.cyan/blue} {pos}/{len} {prefix} {wide_msg}",
            )
            .expect("valid template"),
        );
        let mut p = Self::with(plan, Shown::Bar { bar: bar.clone(), ticker: None });
        ATFORK.call_once(|| {
            // SAFETY: the handlers touch two atomics only.
            unsafe { libc::pthread_atfork(Some(before_fork), Some(after_fork), Some(after_fork)) };
        });
        let (stop, stopped) = channel::<()>();
        let state = p.state.clone();
        let ticker = std::thread::spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(TICK) {
                draw_outside_fork(|| {
                    let figures = state.lock().map(|s| s.figures()).unwrap_or_default();
                    bar.set_prefix(figures);
                    bar.tick();
                });
            }
        });
        if let Shown::Bar { ticker: t, .. } = &mut p.shown {
            *t = Some((stop, ticker));
        }
        p
    }

    /// Case `id` starts.
    pub fn start(&self, id: &str) {
        let mut s = self.state.lock().expect("progress state");
        s.case_started = Instant::now();
        if let Shown::Bar { bar, .. } = &self.shown {
            bar.set_prefix(s.figures());
            bar.set_message(id.to_string());
        }
    }

    /// A case ended (measured, skipped or failed).
    pub fn finish(&self, result: &CaseResult) {
        let mut s = self.state.lock().expect("progress state");
        s.eta.finished(result.elapsed_s);
        s.case_started = Instant::now();
        match &self.shown {
            Shown::Bar { bar, .. } => {
                if let Some(e) = &result.error {
                    bar.println(format!("{}: failed: {e}", result.id));
                }
                bar.set_prefix(s.figures());
                bar.inc(1);
            }
            Shown::Lines => eprintln!(
                "[{:>w$}/{}] {}  {}  {}  ETA {}",
                s.eta.done(),
                s.len,
                result.id,
                outcome(result),
                units::ns(result.elapsed_s * 1e9),
                clock(s.eta.remaining(0.0)),
                w = s.len.to_string().len(),
            ),
            Shown::Hidden => {}
        }
    }

    /// A line of its own above the bar (or in the log).
    pub fn println(&self, line: &str) {
        match &self.shown {
            Shown::Bar { bar, .. } => bar.println(line),
            Shown::Lines => eprintln!("{line}"),
            Shown::Hidden => {}
        }
    }

    /// Seconds since the progress began.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Stops the clock and clears the bar.
    pub fn finish_all(&mut self) {
        if let Shown::Bar { bar, ticker } = &mut self.shown {
            if let Some((stop, thread)) = ticker.take() {
                let _ = stop.send(());
                drop(thread.join());
            }
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish_all();
    }
}

/// `ok  one-way p50 4.1 µs`, `skipped: why`, `FAILED: what went wrong` (cut short).
pub fn outcome(c: &CaseResult) -> String {
    if let Some(e) = &c.error {
        return format!("FAILED: {}", short(e, 60));
    }
    if let Some(why) = &c.skipped {
        return format!("skipped: {}", short(why, 60));
    }
    match key_figure(c) {
        Some(f) => format!("ok  {f}"),
        None => "ok".into(),
    }
}

/// The one figure that says most about a case: its throughput, else its one-way (or round
/// trip, or first) p50 latency, else its first figure.
pub fn key_figure(c: &CaseResult) -> Option<String> {
    if let Some(t) = &c.throughput {
        return Some(units::bytes_per_s(t.bytes_per_s.median));
    }
    let latency = [ipcbench_results::latency::ONE_WAY, ipcbench_results::latency::ROUND_TRIP]
        .into_iter()
        .find_map(|k| c.latency_ns.get(k).map(|s| (k, s)))
        .or_else(|| c.latency_ns.iter().next().map(|(k, s)| (k.as_str(), s)));
    if let Some((kind, s)) = latency {
        return Some(format!("{} p50 {}", kind.replace('_', "-"), units::ns(s.p50 as f64)));
    }
    c.figures.iter().next().map(|(k, v)| {
        let value = if k.contains("bytes_per_s") {
            units::bytes_per_s(*v)
        } else if k.ends_with("_ns") || k.starts_with("ns_per_") {
            units::ns(*v)
        } else {
            units::significant(*v)
        };
        format!("{} {value}", k.trim_end_matches("_bytes_per_s").replace('_', " "))
    })
}

/// The first `max` characters of the first line of `s`, with `…` when cut.
pub fn short(s: &str, max: usize) -> String {
    let line = s.lines().next().unwrap_or_default();
    if line.chars().count() <= max && !s.contains('\n') {
        return line.to_string();
    }
    let mut out: String = line.chars().take(max).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_draw_while_a_fork_is_under_way() {
        FORKING.fetch_add(1, SeqCst);
        assert!(!draw_outside_fork(|| panic!("drew during a fork")));
        FORKING.fetch_sub(1, SeqCst);
        assert!(draw_outside_fork(|| {}));
    }

    #[test]
    fn outcome_cuts_errors_and_names_the_key_figure() {
        let mut c = CaseResult::new("x/y", "x");
        c.error = Some(format!("{}\nsecond line", "e".repeat(80)));
        assert_eq!(outcome(&c), format!("FAILED: {}…", "e".repeat(60)));
        c.error = None;
        c.skipped = Some("needs root".into());
        assert_eq!(outcome(&c), "skipped: needs root");
        c.skipped = None;
        assert_eq!(outcome(&c), "ok");
    }
}

//! `ipcbench ab OLD NEW`: two builds measured side by side on one host, so drift cannot fool
//! the verdict. For each pair, every case runs once with each binary — old then new, then new
//! then old for the next pair, so neither side always goes first — each invocation a separate
//! `scenario NAME --filter <exact id>` writing to a private temp directory. A host that changes
//! state moves both sides of a pair together, and the pair's ratio new/old cancels it
//! ([`ipcbench_results::compare::paired_comparison`] judges the ratios).

use crate::{runner, CaseFilter, Options, UsageError};
use anyhow::{Context as _, Result};
use ipcbench_harness::os::watch;
use ipcbench_results::compare::{self, Comparison, PairedCase, RunRef};
use ipcbench_results::RunFile;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What `ab` was asked.
pub struct Request {
    pub old: PathBuf,
    pub new: PathBuf,
    /// Scenario names (or `all`) and the options that pick cases, as for `scenario`.
    pub scenarios: Vec<String>,
    pub opts: Options,
    pub filter: Option<CaseFilter>,
    /// Pairs of invocations per case.
    pub pairs: usize,
    pub threshold_pct: f64,
    /// Arguments handed to every invocation as they are (`--quick`, `--pin 0,1`, …).
    pub pass_through: Vec<String>,
}

/// A glob that matches `id` whole: a plain `--filter` is a substring and would also pick
/// `…/65536/copy` for `…/65536`. The last character in brackets makes it a glob.
pub fn exact_filter(id: &str) -> String {
    let escaped = glob::Pattern::escape(id);
    match escaped.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphanumeric() || c == '-' => {
            format!("{}[{c}]", &escaped[..i])
        }
        _ => escaped,
    }
}

/// One invocation's outcome for one case.
enum Invocation {
    Measured(Box<RunFile>),
    /// The case failed or the run did not complete: why.
    Failed(String),
}

/// Waits for `child`, passing on a stop signal (Ctrl-C, SIGTERM, SIGHUP, SIGQUIT) that reached
/// this process alone: the invocation then keeps what it measured and ends as a run does, and
/// this process cleans up its temp directory. Ctrl-C from a terminal reaches both; the child
/// takes a second one as it takes the first.
fn wait_passing_stops(child: &std::process::Child) -> Result<std::process::ExitStatus> {
    use std::os::unix::process::ExitStatusExt as _;
    let pid = child.id() as libc::pid_t;
    let mut passed = false;
    loop {
        let mut status = 0;
        // SAFETY: waits for our own child; the stop handlers are installed without SA_RESTART,
        // so a stop signal makes this return EINTR.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            return Ok(std::process::ExitStatus::from_raw(status));
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(anyhow::Error::from(e).context("waitpid"));
        }
        if let (Some(sig), false) = (watch::stop_signal(), passed) {
            // SAFETY: a signal to our own child, not yet reaped.
            unsafe { libc::kill(pid, sig) };
            passed = true;
        }
    }
}

fn invoke(bin: &Path, id: &str, req: &Request, out: &Path) -> Result<Invocation> {
    let scenario = id.split('/').next().unwrap_or_default();
    // Standard error goes to a file beside the run: nothing has to drain a pipe meanwhile.
    let err_path = out.with_extension("stderr");
    let err_file = std::fs::File::create(&err_path)
        .with_context(|| format!("cannot create {}", err_path.display()))?;
    let child = Command::new(bin)
        .arg("scenario")
        .arg(scenario)
        .arg("--filter")
        .arg(exact_filter(id))
        .arg("--out")
        .arg(out)
        .arg("--no-report")
        .args(&req.pass_through)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err_file)
        .spawn()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    let status = wait_passing_stops(&child)?;
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let _ = std::fs::remove_file(&err_path);
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
    match status.code() {
        Some(2) => {
            return Err(
                UsageError(format!("{} refused the case {id}: {last}", bin.display())).into()
            )
        }
        Some(130) | None => {
            return Ok(Invocation::Failed(format!("{} was interrupted ({last})", bin.display())))
        }
        _ => {}
    }
    let run = match RunFile::load(&out.join("latest.json")) {
        Ok(r) => r,
        Err(e) => {
            return Ok(Invocation::Failed(format!("{}: no result ({e}); {last}", bin.display())))
        }
    };
    match run.case(id) {
        Some(c) if c.error.is_some() => Ok(Invocation::Failed(format!(
            "{}: {}",
            bin.display(),
            c.error.as_deref().unwrap_or_default()
        ))),
        Some(_) if run.run.complete || run.run.interrupted.is_none() => {
            Ok(Invocation::Measured(Box::new(run)))
        }
        Some(_) => Ok(Invocation::Failed(format!("{}: the run was interrupted", bin.display()))),
        None => Ok(Invocation::Failed(format!("{}: the case did not run; {last}", bin.display()))),
    }
}

/// "3/10" for the third of ten pairs wanted; "12 (extra)" past them, where a pair left out
/// is measured again.
fn pair_label(pair: usize, wanted: usize) -> String {
    if pair < wanted {
        format!("{}/{wanted}", pair + 1)
    } else {
        format!("{} (extra)", pair + 1)
    }
}

/// Runs the pairs and judges them. `progress` gets one line per pair of invocations.
pub fn run(req: &Request, progress: &mut dyn FnMut(&str)) -> Result<Comparison> {
    for bin in [&req.old, &req.new] {
        if !bin.is_file() {
            return Err(UsageError(format!("{}: no such binary", bin.display())).into());
        }
    }
    let scenarios = runner::resolve(&req.scenarios)?;
    let ids: Vec<String> = runner::plan(&scenarios, &req.opts, req.filter.as_ref())?
        .into_iter()
        .map(|c| c.id)
        .collect();
    let mut cases: Vec<PairedCase> =
        ids.iter().map(|id| PairedCase { id: id.clone(), ..Default::default() }).collect();
    // Ctrl-C and the other stop signals set a flag instead of ending this process: it passes
    // them on to the running invocation, stops after it and removes its temp directory.
    watch::install_signal_handlers();
    let work = tempfile::Builder::new().prefix("ipcbench-ab-").tempdir()?;
    let (mut old_ref, mut new_ref): (Option<RunRef>, Option<RunRef>) = (None, None);
    let mut unusable = Vec::new();
    // A case's pairs: `req.pairs`; three times that when its first look leaves a figure in
    // doubt (the median pair beyond the threshold, the interval across no change). A pair whose
    // two invocations ran in different states of the host is left out and measured again, up
    // to twice as many extra pairs as were asked for (on the development VM a run whose handoff
    // flipped every few seconds left 15 of 20 pairs out).
    let wanted = |c: &PairedCase| if c.doubt_at.is_some() { 3 * req.pairs } else { req.pairs };
    'pairs: for pair in 0.. {
        for c in cases.iter_mut() {
            // One second look at most, when the first has its pairs; a case not in doubt
            // then measures nothing more, so its answer cannot change.
            let first_look = c.doubt_at.is_none() && c.failed.is_none() && c.pairs() >= req.pairs;
            if first_look && c.in_doubt(req.threshold_pct) {
                c.doubt_at = Some(c.pairs());
                progress(&format!(
                    "{}: in doubt after {} pairs, measuring up to {}",
                    c.id,
                    req.pairs,
                    wanted(c)
                ));
            }
        }
        let runs = |c: &PairedCase| {
            let want = wanted(c);
            c.failed.is_none()
                && (pair < req.pairs || (c.pairs() < want && pair < want + 2 * req.pairs))
        };
        if !cases.iter().any(runs) {
            break;
        }
        // Cases in turn within a pair, so each case's pairs spread over the whole run.
        for case in cases.iter_mut().filter(|c| runs(c)) {
            let want = wanted(case);
            let order = if pair % 2 == 0 { [false, true] } else { [true, false] };
            let mut got: [Option<RunFile>; 2] = [None, None];
            for is_new in order {
                let bin = if is_new { &req.new } else { &req.old };
                let out = work.path().join(format!("{pair}-{}", usize::from(is_new)));
                let result = invoke(bin, &case.id, req, &out)?;
                let _ = std::fs::remove_dir_all(&out);
                if watch::interrupted() {
                    unusable.push("the A/B run was interrupted".into());
                    break 'pairs;
                }
                match result {
                    Invocation::Measured(r) => got[usize::from(is_new)] = Some(*r),
                    Invocation::Failed(why) => {
                        let side = if is_new { "new" } else { "old" };
                        let interrupted = why.contains("interrupted");
                        case.failed = Some(format!("failed in the {side} build: {why}"));
                        unusable.push(format!("{}: {why}", case.id));
                        if interrupted {
                            unusable.push("the A/B run was interrupted".into());
                            break 'pairs;
                        }
                        break;
                    }
                }
            }
            if let [Some(o), Some(n)] = &got {
                old_ref.get_or_insert_with(|| RunRef::of(&o.run));
                new_ref.get_or_insert_with(|| RunRef::of(&n.run));
                let (oc, nc) =
                    (o.case(&case.id).expect("checked"), n.case(&case.id).expect("checked"));
                case.no_op = compare::no_op(nc);
                if let Err(why) = compare::pair_state(oc, nc) {
                    progress(&format!(
                        "pair {} {}: left out, measured again: {why}",
                        pair_label(pair, want),
                        case.id
                    ));
                    case.left_out += 1;
                    case.left_out_example.get_or_insert(why);
                    continue;
                }
                case.add_pair(oc, nc);
                let ratios: Vec<String> = case
                    .figures
                    .iter()
                    .filter_map(|f| {
                        f.pairs.last().map(|[o, n]| format!("{} ×{:.3}", f.name, n / o))
                    })
                    .collect();
                progress(&format!(
                    "pair {} {}: {}",
                    pair_label(pair, want),
                    case.id,
                    ratios.join(", ")
                ));
            }
        }
    }
    let placeholder = |bin: &Path| RunRef {
        id: "-".into(),
        started_at: "-".into(),
        hostname: crate::sysinfo::hostname(),
        git_commit: None,
        ipcbench_version: bin.display().to_string(),
    };
    let refs = (
        old_ref.unwrap_or_else(|| placeholder(&req.old)),
        new_ref.unwrap_or_else(|| placeholder(&req.new)),
    );
    if cases.iter().all(|c| c.figures.is_empty()) && unusable.is_empty() {
        unusable.push("no case measured a figure to compare".into());
    }
    // Interrupted: the pairs measured before it, not the pairs asked for.
    let pairs = if watch::interrupted() {
        cases.iter().map(PairedCase::pairs).max().unwrap_or(0)
    } else {
        req.pairs
    };
    let doubtful = cases.iter().filter(|c| c.doubt_at.is_some()).count();
    let more = match doubtful {
        0 => String::new(),
        n => format!(" ({n} case(s) in doubt after them up to {} times)", 3 * pairs),
    };
    let warnings = vec![format!(
        "old: {}, new: {} — each case ran {pairs} times per build{more}, interleaved.",
        req.old.display(),
        req.new.display(),
    )];
    Ok(compare::paired_comparison(refs, &cases, req.threshold_pct, pairs, unusable, warnings))
}

#[cfg(test)]
mod tests {
    use super::exact_filter;
    use crate::CaseFilter;

    #[test]
    fn an_exact_filter_matches_the_id_and_nothing_longer() {
        for id in ["floor/clock", "stream/posix-shm/fork/spin/65536", "pingpong/pipe/fork/block/64"]
        {
            let f: CaseFilter = exact_filter(id).parse().unwrap();
            assert!(f.matches(id), "{id}");
            assert!(!f.matches(&format!("{id}/copy")) && !f.matches(&format!("x{id}")), "{id}");
        }
    }
}

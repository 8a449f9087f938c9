//! Where the runner and its peer run: `--pin`, or a default chosen from the CPUs this process
//! may use, and why. A spinning side holds its CPU, so two spinners on one CPU measure the
//! scheduler's time slice, not a handoff: such a plan is refused.

use crate::options::UsageError;
use crate::sysinfo::{allowed_cpus, cpu_list, smt_siblings};

/// What the user asked for with `--pin`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PinRequest {
    /// No `--pin`: choose two CPUs (see [`choose`]).
    #[default]
    Auto,
    /// `--pin none`: leave both sides to the scheduler.
    Off,
    /// `--pin A,B`: the runner on A, the peer on B.
    Cpus([usize; 2]),
}

/// The CPUs chosen and why, as recorded in the result file (`run.pinning`,
/// `run.pinning_reason`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pinning {
    pub cpus: Option<[usize; 2]>,
    pub reason: String,
}

/// `none`, or `A,B`: two CPUs of the allowed set (`sched_getaffinity`).
pub fn parse_pin(s: &str) -> Result<PinRequest, UsageError> {
    if s.trim() == "none" {
        return Ok(PinRequest::Off);
    }
    let allowed = allowed_cpus();
    let bad = || {
        UsageError(format!(
            "invalid --pin '{s}': give two CPUs this process may use, runner then peer (allowed: \
             {}), or none{}",
            cpu_list(&allowed),
            match allowed[..] {
                [a, b, ..] => format!(" (e.g. {a},{b})"),
                // One CPU cannot keep the two sides apart.
                _ => " (only one here: give none, leave --pin out, or allow more CPUs)".into(),
            }
        ))
    };
    let v: Vec<usize> =
        s.split(',').map(|x| x.trim().parse().map_err(|_| bad())).collect::<Result<_, _>>()?;
    match v[..] {
        [a, b] if allowed.contains(&a) && allowed.contains(&b) => Ok(PinRequest::Cpus([a, b])),
        _ => Err(bad()),
    }
}

/// The default: two CPUs of the allowed set that are not SMT siblings of each other (two
/// hardware threads of one core share its caches and execution units, which makes a handoff
/// look cheaper and a copy dearer than between cores); siblings only when nothing else is
/// allowed; unpinned with fewer than two CPUs.
pub fn choose(allowed: &[usize], siblings: impl Fn(usize) -> Vec<usize>) -> Pinning {
    let set = cpu_list(allowed);
    let [first, ..] = allowed[..] else {
        return Pinning { cpus: None, reason: "no usable CPU found: not pinned".into() };
    };
    if allowed.len() < 2 {
        return Pinning {
            cpus: None,
            reason: format!(
                "default: only CPU {first} may be used (allowed: {set}), so both sides share it: \
                 not pinned"
            ),
        };
    }
    for &a in allowed {
        let sib = siblings(a);
        if let Some(&b) = allowed.iter().find(|&&b| b != a && !sib.contains(&b)) {
            return Pinning {
                cpus: Some([a, b]),
                reason: format!(
                    "default: CPUs {a},{b} of the allowed set {set}, on different cores (not SMT \
                     siblings)"
                ),
            };
        }
    }
    let b = allowed[1];
    Pinning {
        cpus: Some([first, b]),
        reason: format!(
            "default: CPUs {first},{b} of the allowed set {set}; they are SMT siblings (one \
             core), and no other pair is allowed"
        ),
    }
}

/// Resolves the request for a plan whose cases are `ids`. A pin that puts both sides of a spin
/// case on one CPU is refused.
pub fn resolve(req: PinRequest, ids: &[&str]) -> Result<Pinning, UsageError> {
    let pinning = match req {
        PinRequest::Auto => choose(&allowed_cpus(), smt_siblings),
        PinRequest::Off => Pinning { cpus: None, reason: "--pin none: not pinned".into() },
        PinRequest::Cpus([a, b]) => {
            Pinning { cpus: Some([a, b]), reason: format!("--pin {a},{b}") }
        }
    };
    if let Some([a, b]) = pinning.cpus {
        if a == b {
            if let Some(id) = ids.iter().find(|id| spins(id)) {
                return Err(UsageError(format!(
                    "--pin {a},{b} puts both sides on one CPU, but {id} spins: a spinner holds \
                     its CPU, so it needs two (allowed: {}); pin two CPUs or choose --wait \
                     futex,block",
                    cpu_list(&allowed_cpus())
                )));
            }
        }
    }
    Ok(pinning)
}

/// Whether a case has a spinning side: a spin wait, or the cache-line floor.
fn spins(id: &str) -> bool {
    id.split('/').any(|p| p == "spin") || id.starts_with("floor/cache-line")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_avoids_smt_siblings_and_one_cpu() {
        // 0 and 4 are one core's two threads, as are 1 and 5.
        let sib = |c: usize| vec![c % 4, c % 4 + 4];
        let p = choose(&[0, 4, 1, 5], sib);
        assert_eq!(p.cpus, Some([0, 1]), "{}", p.reason);
        assert!(p.reason.contains("not SMT"), "{}", p.reason);
        let p = choose(&[0, 4], sib);
        assert_eq!(p.cpus, Some([0, 4]));
        assert!(p.reason.contains("siblings (one core)"), "{}", p.reason);
        let p = choose(&[3], sib);
        assert_eq!(p.cpus, None);
        assert!(p.reason.contains("only CPU 3"), "{}", p.reason);
        let p = choose(&[2, 3], |c| vec![c]);
        assert_eq!(p.cpus, Some([2, 3]));
    }

    #[test]
    fn one_cpu_for_two_spinners_is_refused() {
        let one = PinRequest::Cpus([0, 0]);
        let e = resolve(one, &["pingpong/pipe/fork/block/64", "pingpong/posix-shm/fork/spin/64"])
            .unwrap_err()
            .0;
        assert!(e.contains("spin") && e.contains("allowed"), "{e}");
        assert!(resolve(one, &["floor/cache-line"]).is_err());
        // Without a spinner one CPU is a fair (if slow) plan.
        let ok = resolve(one, &["pingpong/posix-shm/fork/futex/64", "msync/msync-sync/disk/1"]);
        assert_eq!(ok.unwrap().cpus, Some([0, 0]));
        assert_eq!(resolve(PinRequest::Off, &["x/spin"]).unwrap().cpus, None);
    }

    #[test]
    fn pin_names_the_allowed_cpus() {
        let allowed = allowed_cpus();
        let e = parse_pin("9999,0").unwrap_err().0;
        assert!(e.contains(&format!("allowed: {}", cpu_list(&allowed))), "{e}");
        assert_eq!(parse_pin("none").unwrap(), PinRequest::Off);
        let a = allowed[0];
        assert_eq!(parse_pin(&format!("{a},{a}")).unwrap(), PinRequest::Cpus([a, a]));
        assert!(parse_pin("0").is_err() && parse_pin("a,b").is_err());
    }
}

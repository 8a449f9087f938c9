//! The environment a run records: host, kernel, CPU, memory, filesystems, clock.

use std::path::Path;

pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown".into())
}

pub fn kernel() -> String {
    nix::sys::utsname::uname()
        .map(|u| format!("{} {}", u.sysname().to_string_lossy(), u.release().to_string_lossy()))
        .unwrap_or_else(|_| "unknown".into())
}

pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// CPUs online on the host (not the ones this process may use: a pinned runner has one).
pub fn logical_cpus() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    if n > 0 {
        n as usize
    } else {
        1
    }
}

/// The CPUs this process may run on (`sched_getaffinity`): in a container or under `taskset`
/// fewer than the online ones. Read once, at the first call: the runner pins itself to one of
/// them later, and the set it chose from is what counts.
pub fn allowed_cpus() -> Vec<usize> {
    static ALLOWED: std::sync::OnceLock<Vec<usize>> = std::sync::OnceLock::new();
    ALLOWED
        .get_or_init(|| match nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)) {
            Ok(set) => (0..nix::sched::CpuSet::count())
                .filter(|&c| set.is_set(c).unwrap_or(false))
                .collect(),
            Err(_) => (0..logical_cpus()).collect(),
        })
        .clone()
}

/// The hardware threads that share a core with `cpu` (itself included), from sysfs; just
/// `cpu` where the topology is not shown.
pub fn smt_siblings(cpu: usize) -> Vec<usize> {
    let path = format!("/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list");
    std::fs::read_to_string(path).ok().and_then(|s| parse_cpu_list(s.trim())).unwrap_or(vec![cpu])
}

/// `0-3,6` → [0, 1, 2, 3, 6] (the kernel's CPU list format).
pub fn parse_cpu_list(s: &str) -> Option<Vec<usize>> {
    let mut out = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => out.extend(a.parse::<usize>().ok()?..=b.parse::<usize>().ok()?),
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

/// [0, 1, 2, 3, 6] → `0-3,6`.
pub fn cpu_list(cpus: &[usize]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let mut j = i;
        while j + 1 < cpus.len() && cpus[j + 1] == cpus[j] + 1 {
            j += 1;
        }
        parts.push(if j > i { format!("{}-{}", cpus[i], cpus[j]) } else { cpus[i].to_string() });
        i = j + 1;
    }
    parts.join(",")
}

pub fn memory_bytes() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            let l = s.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kb: u64 = l.split_whitespace().nth(1)?.parse().ok()?;
            Some(kb * 1024)
        })
        .unwrap_or(0)
}

/// The mount holding a path: its filesystem type, source and device numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub fstype: String,
    pub source: String,
    pub major: u32,
    pub minor: u32,
}

impl Mount {
    /// Whether a block device is behind it (device major 0 is the kernel's anonymous one:
    /// tmpfs, overlay, proc …).
    pub fn block_backed(&self) -> bool {
        self.major != 0
    }
}

/// The mount holding `path`, the longest matching mount point of /proc/self/mountinfo.
pub fn mount_of(path: &Path) -> Option<Mount> {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mut best: Option<(usize, Mount)> = None;
    for line in mounts.lines() {
        // id parent major:minor root mount-point options ... - fstype source super-options
        let fields: Vec<&str> = line.split(' ').collect();
        let (Some(dev), Some(mp), Some(dash)) =
            (fields.get(2), fields.get(4), fields.iter().position(|f| *f == "-"))
        else {
            continue;
        };
        let (Some(fstype), Some(source)) = (fields.get(dash + 1), fields.get(dash + 2)) else {
            continue;
        };
        let Some((major, minor)) = dev.split_once(':') else { continue };
        let mp = mp.replace("\\040", " ");
        if path.starts_with(&mp) && best.as_ref().is_none_or(|(n, _)| mp.len() >= *n) {
            let m = Mount {
                fstype: fstype.to_string(),
                source: source.to_string(),
                major: major.parse().unwrap_or(0),
                minor: minor.parse().unwrap_or(0),
            };
            best = Some((mp.len(), m));
        }
    }
    best.map(|(_, m)| m)
}

/// The filesystem type holding `path` (`ext4`, `tmpfs`, …), from the longest matching mount.
pub fn filesystem_of(path: &Path) -> String {
    mount_of(path).map(|m| m.fstype).unwrap_or_else(|| "unknown".into())
}

/// Sum of the `keys` fields (kB, as bytes) of the mappings of this process that overlap
/// `[ptr, ptr+len)`, from /proc/self/smaps (`AnonHugePages:`, `Private_Dirty:`, …).
pub fn smaps_bytes(ptr: *const u8, len: usize, keys: &[&str]) -> Option<u64> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let (lo, hi) = (ptr as u64, ptr as u64 + len as u64);
    let mut in_range = false;
    let mut total = 0;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if let Some((a, b)) = first.split_once('-') {
            if let (Ok(a), Ok(b)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) {
                in_range = a < hi && b > lo;
                continue;
            }
        }
        if in_range {
            for key in keys {
                if let Some(v) = line.strip_prefix(key) {
                    total += v.split_whitespace().next()?.parse::<u64>().ok()? * 1024;
                }
            }
        }
    }
    Some(total)
}

/// The commit of the checkout we run in, when there is one.
pub fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_filesystems() {
        assert_eq!(filesystem_of(Path::new("/proc/self")), "proc");
        if Path::new("/dev/shm").exists() {
            assert_eq!(filesystem_of(Path::new("/dev/shm")), "tmpfs");
            assert!(!mount_of(Path::new("/dev/shm")).unwrap().block_backed());
        }
        assert!(logical_cpus() >= 1);
        assert!(!allowed_cpus().is_empty());
        assert!(smt_siblings(allowed_cpus()[0]).contains(&allowed_cpus()[0]));
        assert!(memory_bytes() > 0);
    }

    #[test]
    fn cpu_lists_read_and_write_the_kernels_format() {
        assert_eq!(parse_cpu_list("0-3,6").unwrap(), [0, 1, 2, 3, 6]);
        assert_eq!(parse_cpu_list("1").unwrap(), [1]);
        assert!(parse_cpu_list("x").is_none());
        assert_eq!(cpu_list(&[0, 1, 2, 3, 6]), "0-3,6");
        assert_eq!(cpu_list(&[0]), "0");
    }
}

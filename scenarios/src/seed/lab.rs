//! Where and with what the claims are checked: a private directory for the files, and the
//! `ipcbench` binary started as the unrelated reader.

use super::programs::{parse_line, RECORDS};
use anyhow::{bail, Context as _, Result};
use ipcbench_harness::os::named::unpredictable_name;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where and with what the checks run.
pub struct Lab {
    /// A private directory for the files.
    pub dir: PathBuf,
    /// The `ipcbench` binary, started as the unrelated reader.
    pub exe: PathBuf,
    /// How long a started reader may take.
    pub timeout: Duration,
}

impl Lab {
    /// A path for a new file in the lab's private directory, not yet created (the writer
    /// creates it, as the article's does on its first run); removed on drop.
    pub(crate) fn file(&self) -> Result<FreshPath> {
        let path = self.dir.join(format!("{}.people", unpredictable_name("ipcbench-seed")));
        if path.exists() {
            bail!("{} exists already", path.display());
        }
        Ok(FreshPath(path))
    }

    /// Runs `ipcbench ARGS…` as an unrelated process and returns what it printed.
    pub(crate) fn run(&self, args: &[&str]) -> Result<String> {
        let mut child = Command::new(&self.exe)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {}", self.exe.display()))?;
        let deadline = Instant::now() + self.timeout;
        // The output is a few hundred bytes: it fits the pipe, so waiting first cannot block it.
        let status = loop {
            if let Some(s) = child.try_wait()? {
                break s;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("`ipcbench {}` did not finish within {:?}", args.join(" "), self.timeout);
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        let mut out = String::new();
        let mut err = String::new();
        child.stdout.take().map(|mut s| s.read_to_string(&mut out));
        child.stderr.take().map(|mut s| s.read_to_string(&mut err));
        if !status.success() {
            bail!("`ipcbench {}` {status}: {}", args.join(" "), err.trim());
        }
        Ok(out)
    }

    /// An unrelated process maps the file and prints its 10 records.
    pub(crate) fn mapped_by_another(&self, path: &Path) -> Result<Vec<(String, i32)>> {
        let out = self.run(&["seed", "reader", path_str(path)?])?;
        let recs: Vec<_> = out.lines().filter_map(parse_line).collect();
        if recs.len() != RECORDS {
            bail!("`ipcbench seed reader` printed {} records, not {RECORDS}: {out:?}", recs.len());
        }
        Ok(recs)
    }

    /// An unrelated process read()s the file: bytes read, and the records.
    pub(crate) fn read_by_another(&self, path: &Path) -> Result<(usize, Vec<(String, i32)>)> {
        let out = self.run(&["seed", "reader", "--read", path_str(path)?])?;
        let n = out
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("read ")?.strip_suffix(" bytes")?.parse().ok())
            .with_context(|| format!("unexpected output of `seed reader --read`: {out:?}"))?;
        Ok((n, out.lines().filter_map(parse_line).collect()))
    }
}

/// A file path removed on drop.
pub(crate) struct FreshPath(PathBuf);

impl std::ops::Deref for FreshPath {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for FreshPath {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for FreshPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub(crate) fn path_str(p: &Path) -> Result<&str> {
    p.to_str().with_context(|| format!("{} is not UTF-8", p.display()))
}

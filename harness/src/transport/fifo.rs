//! `fifo`: two named pipes (`mkfifo`, mode 0600) in the private temp dir, one each way; both
//! sides open them by path — a forked peer as well as a spawned one — and a blocking `read`
//! waits. The files are removed when the setup drops.
//!
//! Each side opens both FIFOs `O_RDWR` (Linux: never blocks, and a reader that is also a writer
//! never sees a spurious end of file while the other side is still opening); a dead peer is
//! noticed by the watch, as over any pipe.

use super::{CreateOptions, Endpoint, FdStream, Mechanism, Medium, Setup};
use crate::os::named::unpredictable_name;
use crate::os::watch::Watch;
use anyhow::{Context, Result};
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub struct Fifo;

impl Mechanism for Fifo {
    fn is_mapped(&self) -> bool {
        false
    }
    fn how(&self) -> &'static str {
        "two named pipes (mkfifo) opened by path, one each way; the receiver blocks in read()"
    }
    fn create(&self, opts: &CreateOptions) -> Result<Box<dyn Setup>> {
        let base = opts.dir.join(unpredictable_name("ipcbench"));
        let paths = [base.with_extension("to-peer"), base.with_extension("to-runner")];
        let mut made = FifoSetup { paths: Vec::new() };
        for p in &paths {
            nix::unistd::mkfifo(p, Mode::S_IRUSR | Mode::S_IWUSR)
                .with_context(|| format!("mkfifo {}", p.display()))?;
            made.paths.push(p.clone());
        }
        Ok(Box::new(made))
    }
    fn open(&self, endpoint: &Endpoint, _: usize) -> Result<Medium> {
        let base = endpoint.path.as_ref().context("fifo needs a path")?;
        // The runner opens its ends right after starting the peer; if it died, so do we
        // (`PR_SET_PDEATHSIG`).
        let mut watch = Watch::over_parent(std::time::Duration::from_secs(60));
        let rx = open_fifo(&base.with_extension("to-peer"), OFlag::O_RDWR, &mut watch)?;
        let tx = open_fifo(&base.with_extension("to-runner"), OFlag::O_RDWR, &mut watch)?;
        Ok(Medium::Stream(Box::new(FdStream::new(rx, tx))))
    }
}

/// Opens a FIFO, waiting (checking the watch on each tick's `EINTR`) for its other end.
fn open_fifo(path: &Path, mode: OFlag, watch: &mut Watch) -> Result<OwnedFd> {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    let flags = mode | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW;
    loop {
        // SAFETY: a valid path.
        let fd = unsafe { libc::open(c.as_ptr(), flags.bits()) };
        if fd >= 0 {
            // SAFETY: just opened, ours alone.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e).with_context(|| format!("open {}", path.display()));
        }
        watch.check()?;
    }
}

/// The runner's FIFOs; dropping it removes them.
struct FifoSetup {
    paths: Vec<PathBuf>,
}

impl FifoSetup {
    fn base(&self) -> PathBuf {
        self.paths[0].with_extension("")
    }
}

impl Setup for FifoSetup {
    fn endpoint(&self) -> Endpoint {
        Endpoint { path: Some(self.base()), ..Default::default() }
    }
    fn forked_peer(&mut self) -> Result<Medium> {
        Fifo.open(&self.endpoint(), 0)
    }
    fn local(&mut self, watch: &mut Watch) -> Result<Medium> {
        let tx = open_fifo(&self.paths[0], OFlag::O_RDWR, watch)?;
        let rx = open_fifo(&self.paths[1], OFlag::O_RDWR, watch)?;
        Ok(Medium::Stream(Box::new(FdStream::new(rx, tx))))
    }
    /// Nothing was inherited: the FIFOs are opened by path.
    fn release_in_peer(&mut self) {}
}

impl Drop for FifoSetup {
    fn drop(&mut self) {
        for p in &self.paths {
            let _ = std::fs::remove_file(p);
        }
    }
}

//! `pipe`: two pipes, one each way; the reader waits in `poll`, then `read`s. A spawned peer inherits its ends.

use super::{CreateOptions, Endpoint, FdStream, Mechanism, Medium, Setup};
use crate::os::process::adopt_fd;
use crate::os::watch::Watch;
use anyhow::{Context, Result};
use nix::fcntl::OFlag;
use std::os::fd::{AsRawFd, OwnedFd};

pub struct Pipe;

impl Mechanism for Pipe {
    fn is_mapped(&self) -> bool {
        false
    }
    fn how(&self) -> &'static str {
        "two pipes, one each way; the receiver sleeps in poll(), then read()s"
    }
    fn create(&self, _: &CreateOptions) -> Result<Box<dyn Setup>> {
        let (a_rx, b_tx) = nix::unistd::pipe2(OFlag::O_CLOEXEC).context("pipe")?;
        let (b_rx, a_tx) = nix::unistd::pipe2(OFlag::O_CLOEXEC).context("pipe")?;
        Ok(Box::new(PipeSetup { a: Some((a_rx, a_tx)), b: Some((b_rx, b_tx)) }))
    }
    fn open(&self, endpoint: &Endpoint, _: usize) -> Result<Medium> {
        let [rx, tx] = endpoint.fds[..] else { anyhow::bail!("pipe needs two inherited fds") };
        // SAFETY: inherited from the runner for us alone.
        let (rx, tx) = unsafe { (adopt_fd(rx), adopt_fd(tx)) };
        Ok(Medium::Stream(Box::new(FdStream::new(rx, tx))))
    }
}

struct PipeSetup {
    a: Option<(OwnedFd, OwnedFd)>,
    b: Option<(OwnedFd, OwnedFd)>,
}

impl Setup for PipeSetup {
    fn endpoint(&self) -> Endpoint {
        let fds =
            self.b.as_ref().map(|(r, w)| vec![r.as_raw_fd(), w.as_raw_fd()]).unwrap_or_default();
        Endpoint { fds, ..Default::default() }
    }
    fn forked_peer(&mut self) -> Result<Medium> {
        self.a = None;
        let (rx, tx) = self.b.take().context("pipe already taken")?;
        Ok(Medium::Stream(Box::new(FdStream::new(rx, tx))))
    }
    fn local(&mut self, _: &mut Watch) -> Result<Medium> {
        // Close the peer's ends here, so its death reads as end-of-stream.
        self.b = None;
        let (rx, tx) = self.a.take().context("pipe already taken")?;
        Ok(Medium::Stream(Box::new(FdStream::new(rx, tx))))
    }
}

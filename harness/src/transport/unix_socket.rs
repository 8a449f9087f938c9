//! `unix-socket`: a `SOCK_STREAM` UNIX-domain socket; the peer connects by path to a listener
//! in the private temp dir, as an unrelated program would.

use super::fd_stream::accept_watched;
use super::{CreateOptions, Endpoint, FdStream, Mechanism, Medium, Setup};
use crate::os::named::unpredictable_name;
use crate::os::watch::Watch;
use anyhow::{Context, Result};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;

pub struct UnixSocket;

impl Mechanism for UnixSocket {
    fn is_mapped(&self) -> bool {
        false
    }
    fn how(&self) -> &'static str {
        "a UNIX stream socket; the peer connects by path; the receiver sleeps in poll(), then read()s"
    }
    fn create(&self, opts: &CreateOptions) -> Result<Box<dyn Setup>> {
        let path = opts.dir.join(format!("{}.sock", unpredictable_name("ipcbench")));
        let listener = UnixListener::bind(&path)
            .with_context(|| format!("cannot listen on {}", path.display()))?;
        listener.set_nonblocking(true)?;
        Ok(Box::new(UnixSetup { path, listener }))
    }
    fn open(&self, endpoint: &Endpoint, _: usize) -> Result<Medium> {
        let path = endpoint.path.as_ref().context("unix-socket needs a path")?;
        let s = UnixStream::connect(path).with_context(|| format!("connect {}", path.display()))?;
        Ok(Medium::Stream(Box::new(FdStream::socket(OwnedFd::from(s))?)))
    }
}

struct UnixSetup {
    path: PathBuf,
    listener: UnixListener,
}

impl Setup for UnixSetup {
    fn endpoint(&self) -> Endpoint {
        Endpoint { path: Some(self.path.clone()), ..Default::default() }
    }
    fn forked_peer(&mut self) -> Result<Medium> {
        self.open_peer()
    }
    fn local(&mut self, watch: &mut Watch) -> Result<Medium> {
        let (s, _) = accept_watched(self.listener.as_raw_fd(), || self.listener.accept(), watch)?;
        s.set_nonblocking(false)?;
        Ok(Medium::Stream(Box::new(FdStream::socket(OwnedFd::from(s))?)))
    }
}

impl UnixSetup {
    fn open_peer(&self) -> Result<Medium> {
        UnixSocket.open(&self.endpoint(), 0)
    }
}

impl Drop for UnixSetup {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

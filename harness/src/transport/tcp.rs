//! `tcp`: a loopback TCP connection with `TCP_NODELAY`; the peer connects to the runner's port.

use super::fd_stream::accept_watched;
use super::{CreateOptions, Endpoint, FdStream, Mechanism, Medium, Setup};
use crate::os::watch::Watch;
use anyhow::{Context, Result};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::fd::OwnedFd;

pub struct Tcp;

impl Mechanism for Tcp {
    fn is_mapped(&self) -> bool {
        false
    }
    fn how(&self) -> &'static str {
        "a TCP connection over loopback with TCP_NODELAY; the receiver blocks in read()"
    }
    fn create(&self, _: &CreateOptions) -> Result<Box<dyn Setup>> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("listen on loopback")?;
        listener.set_nonblocking(true)?;
        Ok(Box::new(TcpSetup { listener }))
    }
    fn open(&self, endpoint: &Endpoint, _: usize) -> Result<Medium> {
        let port = endpoint.port.context("tcp needs a port")?;
        let s = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
            .with_context(|| format!("connect 127.0.0.1:{port}"))?;
        s.set_nodelay(true)?;
        Ok(Medium::Stream(Box::new(FdStream::socket(OwnedFd::from(s))?)))
    }
}

struct TcpSetup {
    listener: TcpListener,
}

impl Setup for TcpSetup {
    fn endpoint(&self) -> Endpoint {
        let port = self.listener.local_addr().map(|a| a.port()).ok();
        Endpoint { port, ..Default::default() }
    }
    fn forked_peer(&mut self) -> Result<Medium> {
        Tcp.open(&self.endpoint(), 0)
    }
    fn local(&mut self, watch: &mut Watch) -> Result<Medium> {
        let (s, _) = accept_watched(|| self.listener.accept(), watch)?;
        s.set_nonblocking(false)?;
        s.set_nodelay(true)?;
        Ok(Medium::Stream(Box::new(FdStream::socket(OwnedFd::from(s))?)))
    }
}

//! `tcp`: a loopback TCP connection with `TCP_NODELAY`; the peer connects to the runner's port.
//!
//! A loopback port is open to every local user, so the peer proves itself: its first 16 bytes
//! are a per-case secret it got out of band — in memory across `fork`, or from a pipe it
//! inherits when spawned (never in argv, which `ps` shows to everyone). A caller that does not
//! present it within [`HELLO_TIMEOUT`] is dropped and the listener keeps waiting.

use super::fd_stream::accept_watched;
use super::{CreateOptions, Endpoint, FdStream, Mechanism, Medium, Setup};
use crate::os::process::adopt_fd;
use crate::os::watch::Watch;
use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

/// Bytes of the per-case secret.
const SECRET_LEN: usize = 16;
/// How long an accepted caller has to present the secret before it is dropped.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(1);

type Secret = [u8; SECRET_LEN];

pub struct Tcp;

impl Mechanism for Tcp {
    fn is_mapped(&self) -> bool {
        false
    }
    fn how(&self) -> &'static str {
        "a TCP connection over loopback with TCP_NODELAY; the receiver sleeps in poll(), then read()s"
    }
    fn create(&self, _: &CreateOptions) -> Result<Box<dyn Setup>> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("listen on loopback")?;
        listener.set_nonblocking(true)?;
        let secret = fresh_secret()?;
        // The secret waits in a pipe whose read end a spawned peer inherits.
        let (rx, tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
        std::fs::File::from(tx).write_all(&secret).context("handing out the secret")?;
        Ok(Box::new(TcpSetup { listener, secret, secret_rx: rx }))
    }
    fn open(&self, endpoint: &Endpoint, _: usize) -> Result<Medium> {
        let port = endpoint.port.context("tcp needs a port")?;
        let raw = *endpoint.fds.first().context("tcp needs its inherited secret")?;
        // SAFETY: inherited from the runner for us alone.
        let mut pipe = std::fs::File::from(unsafe { adopt_fd(raw) });
        let mut secret = [0u8; SECRET_LEN];
        pipe.read_exact(&mut secret).context("reading the inherited secret")?;
        connect(port, &secret)
    }
}

/// Connects to the runner's port and presents the secret.
fn connect(port: u16, secret: &Secret) -> Result<Medium> {
    let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
        .with_context(|| format!("connect 127.0.0.1:{port}"))?;
    s.write_all(secret).context("presenting the secret")?;
    s.set_nodelay(true)?;
    Ok(Medium::Stream(Box::new(FdStream::socket(OwnedFd::from(s))?)))
}

fn fresh_secret() -> Result<Secret> {
    let mut secret = [0u8; SECRET_LEN];
    // SAFETY: writes at most SECRET_LEN bytes into our buffer.
    let n = unsafe { libc::getrandom(secret.as_mut_ptr().cast(), SECRET_LEN, 0) };
    if n != SECRET_LEN as isize {
        bail!("getrandom: {}", std::io::Error::last_os_error());
    }
    Ok(secret)
}

struct TcpSetup {
    listener: TcpListener,
    secret: Secret,
    secret_rx: OwnedFd,
}

impl TcpSetup {
    /// Whether the caller presents the secret in time.
    fn proves_itself(&self, s: &mut TcpStream) -> bool {
        let mut hello = [0u8; SECRET_LEN];
        s.set_nonblocking(false).is_ok()
            && s.set_read_timeout(Some(HELLO_TIMEOUT)).is_ok()
            && s.read_exact(&mut hello).is_ok()
            && hello == self.secret
            && s.set_read_timeout(None).is_ok()
    }
}

impl Setup for TcpSetup {
    fn endpoint(&self) -> Endpoint {
        let port = self.listener.local_addr().map(|a| a.port()).ok();
        Endpoint { port, fds: vec![self.secret_rx.as_raw_fd()], ..Default::default() }
    }
    fn forked_peer(&mut self) -> Result<Medium> {
        let port = self.listener.local_addr().context("listener address")?.port();
        connect(port, &self.secret)
    }
    fn local(&mut self, watch: &mut Watch) -> Result<Medium> {
        loop {
            let (mut s, _) =
                accept_watched(self.listener.as_raw_fd(), || self.listener.accept(), watch)?;
            if self.proves_itself(&mut s) {
                s.set_nodelay(true)?;
                return Ok(Medium::Stream(Box::new(FdStream::socket(OwnedFd::from(s))?)));
            }
            // A stranger (another local user's process, a port scanner): dropped unheard. Shut
            // down, not only closed: a process forked meanwhile may hold a copy of the socket.
            let _ = s.shutdown(std::net::Shutdown::Both);
            watch.check()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::ErrorKind;

    /// A caller without the secret is dropped; the real peer is still accepted after it.
    #[test]
    fn a_stranger_is_dropped_and_the_peer_accepted() {
        let mut setup = Tcp
            .create(&CreateOptions {
                len: 0,
                dir: std::env::temp_dir(),
                record: 64,
                wait: crate::os::futex::Wait::Block,
            })
            .unwrap();
        let ep = setup.endpoint();
        let port = ep.port.unwrap();
        let mut stranger = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
        stranger.write_all(&[0u8; SECRET_LEN]).unwrap();
        // What a spawned peer would read from its inherited pipe.
        let mut secret = [0u8; SECRET_LEN];
        // SAFETY: a valid fd of the setup's; read through a borrowed File that is not closed.
        let mut pipe = std::mem::ManuallyDrop::new(unsafe {
            <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(ep.fds[0])
        });
        pipe.read_exact(&mut secret).unwrap();
        let Medium::Stream(mut peer) = connect(port, &secret).unwrap() else { panic!() };
        let mut watch = Watch::new(Duration::from_secs(60));
        let Medium::Stream(mut mine) = setup.local(&mut watch).unwrap() else { panic!() };
        peer.write_all(b"hi", &mut watch).unwrap();
        let mut buf = [0u8; 2];
        mine.read_exact(&mut buf, &mut watch).unwrap();
        assert_eq!(&buf, b"hi");
        // The stranger's connection was closed by the runner.
        // (A guard against a hang, not a speed limit.)
        stranger.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
        let mut rest = Vec::new();
        match stranger.read_to_end(&mut rest) {
            Ok(_) => assert!(rest.is_empty(), "the stranger was answered: {rest:?}"),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("the stranger's connection was never closed")
            }
            Err(_) => {} // reset: closed too
        }
    }
}

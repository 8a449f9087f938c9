//! How the bytes travel: one file per transport, all behind [`Transport`].
//!
//! The runner *creates* a transport's OS objects (and owns them: they are removed when the
//! [`Setup`] drops); the peer *opens* them — by inheritance in a forked child, or by path, name,
//! id or inherited fd in a spawned worker. Either side then holds a [`Medium`]: a shared
//! [`Region`] for mapped transports, a [`ByteStream`] for the read/write baselines, a
//! [`MessagePort`] for transports that carry whole messages (one record each).

mod anon_mmap;
mod fd_stream;
mod fifo;
mod file_mmap;
mod file_rw;
#[cfg_attr(not(feature = "iceoryx2"), path = "iceoryx2_absent.rs")]
mod iceoryx2;
mod memfd;
mod message;
mod pipe;
mod posix_mq;
mod posix_shm;
mod sysv_msg;
mod sysv_shm;
mod tcp;
mod udp;
mod unix_dgram;
mod unix_socket;

pub use fd_stream::{read_some, write_all_fd, FdStream};
pub use message::{LoanPort, MessagePort, Records};

use crate::os::mapping::Region;
use crate::os::watch::Watch;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::os::fd::RawFd;
use std::path::PathBuf;

/// Which transport (the result contract's name).
pub use ipcbench_results::Transport;

/// The implementation of `t`. Adding a transport: one file here, its name in the result
/// contract's vocabulary, one line in this match.
pub fn mechanism(t: Transport) -> &'static dyn Mechanism {
    match t {
        Transport::FileMmap => &file_mmap::FileMmap,
        Transport::AnonMmap => &anon_mmap::AnonMmap,
        Transport::PosixShm => &posix_shm::PosixShm,
        Transport::SysvShm => &sysv_shm::SysvShm,
        Transport::Memfd => &memfd::Memfd,
        Transport::PosixMq => &posix_mq::PosixMq,
        Transport::SysvMsg => &sysv_msg::SysvMsg,
        Transport::Udp => &udp::Udp,
        Transport::UnixDgram => &unix_dgram::UnixDgram,
        Transport::Pipe => &pipe::Pipe,
        Transport::Fifo => &fifo::Fifo,
        Transport::UnixSocket => &unix_socket::UnixSocket,
        Transport::Tcp => &tcp::Tcp,
        Transport::FileRw => &file_rw::FileRw,
        Transport::Iceoryx2 => &iceoryx2::Iceoryx2,
    }
}

/// How a spawned peer finds what the runner created.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Inherited fds, in the transport's own order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fds: Vec<RawFd>,
}

/// What a side holds once connected.
pub enum Medium {
    Mapped(Region),
    Stream(Box<dyn ByteStream>),
    Message(Box<dyn MessagePort>),
    /// A zero-copy library's messages, loaned in shared memory.
    Loans(Box<dyn LoanPort>),
}

impl Medium {
    /// A byte stream or a message port, as something that moves one whole record per call
    /// (a message port in [`Records`]); a mapped region or loaned messages are not one.
    pub fn into_records(self) -> Option<Box<dyn ByteStream>> {
        match self {
            Medium::Mapped(_) | Medium::Loans(_) => None,
            Medium::Stream(s) => Some(s),
            Medium::Message(p) => Some(Box::new(Records(p))),
        }
    }
}

/// A bidirectional byte stream whose blocking calls give up when the [`Watch`] says so.
pub trait ByteStream: Send {
    fn write_all(&mut self, buf: &[u8], watch: &mut Watch) -> Result<()>;
    fn read_exact(&mut self, buf: &mut [u8], watch: &mut Watch) -> Result<()>;
    /// [`ByteStream::read_exact`], returning when its first bytes arrived (`CLOCK_MONOTONIC`
    /// ns): a record's "seen" over a byte stream.
    fn read_exact_seen(&mut self, buf: &mut [u8], watch: &mut Watch) -> Result<u64> {
        self.read_exact(buf, watch)?;
        Ok(crate::os::clock::now_ns())
    }
    /// From now on, make written bytes durable before the reader is told of them
    /// (`pingpong --durable`). Only streams over a file can.
    fn set_durable(&mut self) -> Result<()> {
        anyhow::bail!("this transport has no file to make durable: --durable takes file-rw")
    }
}

/// What to create.
#[derive(Clone, Debug)]
pub struct CreateOptions {
    /// Bytes of shared region (mapped) or of file ring per direction (`file-rw`).
    pub len: usize,
    /// Where file-backed transports put their file or socket: a private temp dir.
    pub dir: PathBuf,
    /// Bytes of one record, header and payload: the message size of a message transport.
    pub record: usize,
    /// How the sides will wait (a library sets up its own notification for some).
    pub wait: crate::os::futex::Wait,
}

/// A transport: creates its objects in the runner, opens them in a spawned peer.
pub trait Mechanism: Sync {
    fn is_mapped(&self) -> bool;
    /// One sentence for results and `list`: what travels where, how the receiver learns of it.
    fn how(&self) -> &'static str;
    /// Why a record of `record_len` bytes (header and payload) cannot travel here, if it cannot:
    /// a host limit on message or datagram size. Such a case is skipped with this reason.
    fn refuses(&self, _record_len: usize) -> Option<String> {
        None
    }
    /// What a case over this transport records beside its figures (message size, queue depth,
    /// the host's limits), for records of `record_len` bytes.
    fn note(&self, _record_len: usize) -> Option<String> {
        None
    }
    fn create(&self, opts: &CreateOptions) -> Result<Box<dyn Setup>>;
    /// In a spawned worker: open what the runner created.
    fn open(&self, endpoint: &Endpoint, len: usize) -> Result<Medium>;
}

/// The runner's ownership of a transport's objects for one case. Dropping it removes them.
pub trait Setup {
    /// For a spawned peer.
    fn endpoint(&self) -> Endpoint;
    /// Fds a spawned peer must inherit (they are listed in the endpoint too).
    fn inherit_fds(&self) -> Vec<RawFd> {
        self.endpoint().fds
    }
    /// In a forked child: the peer's side, from what it inherited.
    fn forked_peer(&mut self) -> Result<Medium>;
    /// The runner's side, once the peer has been started (accepts a connection, …).
    fn local(&mut self, watch: &mut Watch) -> Result<Medium>;
    /// In a forked fan-out reader: let go of what it inherited of another reader's objects, so
    /// that a reader's death reaches the writer (a pipe nobody else holds open).
    fn release_in_peer(&mut self) {
        drop(self.forked_peer());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The result contract's facts about each transport agree with its implementation.
    #[test]
    fn every_name_has_a_mechanism_that_agrees_with_it() {
        for t in Transport::ALL {
            let m = mechanism(t);
            assert_eq!(m.is_mapped(), t.is_mapped(), "{t}");
        }
    }
}

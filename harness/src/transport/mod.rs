//! How the bytes travel: one file per transport, all behind [`Transport`].
//!
//! The runner *creates* a transport's OS objects (and owns them: they are removed when the
//! [`Setup`] drops); the peer *opens* them — by inheritance in a forked child, or by path, name,
//! id or inherited fd in a spawned worker. Either side then holds a [`Medium`]: a shared
//! [`Region`] for mapped transports, a [`ByteStream`] for the read/write baselines.

mod anon_mmap;
mod fd_stream;
mod file_mmap;
mod file_rw;
mod memfd;
mod pipe;
mod posix_shm;
mod sysv_shm;
mod tcp;
mod unix_socket;

pub use fd_stream::FdStream;

use crate::os::mapping::Region;
use crate::os::watch::Watch;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::os::fd::RawFd;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransportKind {
    FileMmap,
    AnonMmap,
    PosixShm,
    SysvShm,
    Memfd,
    Pipe,
    UnixSocket,
    Tcp,
    FileRw,
}

impl TransportKind {
    pub const ALL: [TransportKind; 9] = [
        TransportKind::FileMmap,
        TransportKind::AnonMmap,
        TransportKind::PosixShm,
        TransportKind::SysvShm,
        TransportKind::Memfd,
        TransportKind::Pipe,
        TransportKind::UnixSocket,
        TransportKind::Tcp,
        TransportKind::FileRw,
    ];

    pub fn name(self) -> &'static str {
        self.transport().name()
    }

    pub fn from_name(s: &str) -> Option<TransportKind> {
        Self::ALL.into_iter().find(|t| t.name() == s)
    }

    /// The implementation. Adding a transport: one file, one variant, one line here.
    pub fn transport(self) -> &'static dyn Transport {
        match self {
            TransportKind::FileMmap => &file_mmap::FileMmap,
            TransportKind::AnonMmap => &anon_mmap::AnonMmap,
            TransportKind::PosixShm => &posix_shm::PosixShm,
            TransportKind::SysvShm => &sysv_shm::SysvShm,
            TransportKind::Memfd => &memfd::Memfd,
            TransportKind::Pipe => &pipe::Pipe,
            TransportKind::UnixSocket => &unix_socket::UnixSocket,
            TransportKind::Tcp => &tcp::Tcp,
            TransportKind::FileRw => &file_rw::FileRw,
        }
    }

    /// Mapped transports share a region (waits `spin`, `futex`); the others stream bytes (`block`).
    pub fn is_mapped(self) -> bool {
        self.transport().is_mapped()
    }

    /// Only `anon-mmap` cannot be opened by an unrelated process.
    pub fn supports_spawn(self) -> bool {
        self != TransportKind::AnonMmap
    }

    pub fn waits(self) -> &'static [crate::os::futex::Wait] {
        use crate::os::futex::Wait;
        if self.is_mapped() {
            &[Wait::Spin, Wait::Futex]
        } else {
            &[Wait::Block]
        }
    }
}

impl std::fmt::Display for TransportKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
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
}

/// A bidirectional byte stream whose blocking calls give up when the [`Watch`] says so.
pub trait ByteStream: Send {
    fn write_all(&mut self, buf: &[u8], watch: &mut Watch) -> Result<()>;
    fn read_exact(&mut self, buf: &mut [u8], watch: &mut Watch) -> Result<()>;
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
}

/// A transport: creates its objects in the runner, opens them in a spawned peer.
pub trait Transport: Sync {
    fn name(&self) -> &'static str;
    fn is_mapped(&self) -> bool;
    /// One sentence for results and `list`: what travels where, how the receiver learns of it.
    fn how(&self) -> &'static str;
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
}

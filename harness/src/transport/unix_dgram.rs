//! `unix-dgram`: a `SOCK_DGRAM` UNIX-domain socket pair; a record is one datagram. Unlike UDP it
//! is flow-controlled (a sender blocks while the receiver's queue is full), so it streams too.
//! The peer inherits its end.

use super::message::{inherited_datagram, proc_limit, SocketPairSetup};
use super::{CreateOptions, Endpoint, Mechanism, Medium, Setup};
use anyhow::{Context, Result};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

const WMEM_DEFAULT: &str = "/proc/sys/net/core/wmem_default";

/// The largest datagram a socket with the default send buffer takes: the kernel refuses one
/// longer than the buffer less 32 bytes (`EMSGSIZE`).
fn max_datagram() -> Option<usize> {
    proc_limit(WMEM_DEFAULT).map(|b| b.saturating_sub(32))
}

pub struct UnixDgram;

impl Mechanism for UnixDgram {
    fn is_mapped(&self) -> bool {
        false
    }
    fn how(&self) -> &'static str {
        "a UNIX datagram socket pair; a record is one datagram, the receiver blocks in recv()"
    }
    fn refuses(&self, record_len: usize) -> Option<String> {
        let max = max_datagram()?;
        (record_len > max).then(|| {
            format!(
                "a {record_len}-byte datagram (header and payload) exceeds this host's largest \
                 UNIX datagram ({WMEM_DEFAULT} less 32 = {max} B)"
            )
        })
    }
    fn note(&self, record_len: usize) -> Option<String> {
        Some(format!(
            "unix-dgram: datagram {record_len} B; largest on this host {} B ({WMEM_DEFAULT} less \
             32)",
            max_datagram().map_or("?".into(), |v| v.to_string())
        ))
    }
    fn create(&self, _: &CreateOptions) -> Result<Box<dyn Setup>> {
        let (a, b) =
            socketpair(AddressFamily::Unix, SockType::Datagram, None, SockFlag::SOCK_CLOEXEC)
                .context("socketpair")?;
        Ok(Box::new(SocketPairSetup { mine: Some(a), theirs: Some(b) }))
    }
    fn open(&self, endpoint: &Endpoint, _: usize) -> Result<Medium> {
        inherited_datagram(endpoint)
    }
}

//! `udp`: two UDP sockets on loopback, connected to each other (a connected socket takes
//! datagrams from its peer's address only); a record is one datagram. The peer inherits its
//! socket. UDP has no flow control — a writer that outruns its reader loses datagrams at the
//! reader's socket buffer — so it runs in ping-pong only (see [`Transport::flow_controlled`]).

use super::message::{inherited_datagram, SocketPairSetup};
use super::{CreateOptions, Endpoint, Mechanism, Medium, Setup};
use anyhow::{Context, Result};
use std::net::{Ipv4Addr, UdpSocket};
use std::os::fd::OwnedFd;

/// The largest UDP payload over IPv4: 65535 less the IP and UDP headers.
pub const MAX_DATAGRAM: usize = 65_507;

pub struct Udp;

impl Mechanism for Udp {
    fn is_mapped(&self) -> bool {
        false
    }
    fn how(&self) -> &'static str {
        "two connected UDP sockets over loopback; a record is one datagram, the receiver blocks in \
         recv()"
    }
    fn refuses(&self, record_len: usize) -> Option<String> {
        (record_len > MAX_DATAGRAM).then(|| {
            format!(
                "a {record_len}-byte datagram (header and payload) exceeds UDP's largest payload \
                 over IPv4 ({MAX_DATAGRAM} B)"
            )
        })
    }
    fn create(&self, _: &CreateOptions) -> Result<Box<dyn Setup>> {
        let a = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).context("bind a loopback UDP socket")?;
        let b = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).context("bind a loopback UDP socket")?;
        a.connect(b.local_addr()?).context("connect")?;
        b.connect(a.local_addr()?).context("connect")?;
        Ok(Box::new(SocketPairSetup {
            mine: Some(OwnedFd::from(a)),
            theirs: Some(OwnedFd::from(b)),
        }))
    }
    fn open(&self, endpoint: &Endpoint, _: usize) -> Result<Medium> {
        inherited_datagram(endpoint)
    }
}

//! `memfd`: `memfd_create` + `ftruncate` + `mmap`. Nameless: a spawned peer receives the fd by
//! inheritance (its number travels in the endpoint) and maps it.

use super::{CreateOptions, Endpoint, Mechanism, Medium, Setup};
use crate::os::mapping::{memfd, Region};
use crate::os::watch::Watch;
use anyhow::{Context, Result};
use std::os::fd::{AsRawFd, OwnedFd};

pub struct Memfd;

impl Mechanism for Memfd {
    fn is_mapped(&self) -> bool {
        true
    }
    fn how(&self) -> &'static str {
        "an anonymous file (memfd_create) mapped by both sides; the peer inherits its fd"
    }
    fn create(&self, opts: &CreateOptions) -> Result<Box<dyn Setup>> {
        let fd = memfd(opts.len)?;
        let region = Region::map_fd(&fd, opts.len)?;
        Ok(Box::new(MemfdSetup { fd, region: Some(region) }))
    }
    fn open(&self, endpoint: &Endpoint, len: usize) -> Result<Medium> {
        let raw = *endpoint.fds.first().context("memfd needs an inherited fd")?;
        // SAFETY: the runner passed us this fd and nobody else in this process owns it.
        let fd = unsafe { crate::os::process::adopt_fd(raw) };
        Ok(Medium::Mapped(Region::map_fd(&fd, len)?))
    }
}

struct MemfdSetup {
    fd: OwnedFd,
    region: Option<Region>,
}

impl Setup for MemfdSetup {
    fn endpoint(&self) -> Endpoint {
        Endpoint { fds: vec![self.fd.as_raw_fd()], ..Default::default() }
    }
    fn forked_peer(&mut self) -> Result<Medium> {
        Ok(Medium::Mapped(self.region.take().context("region already taken")?))
    }
    fn local(&mut self, _: &mut Watch) -> Result<Medium> {
        Ok(Medium::Mapped(self.region.take().context("region already taken")?))
    }
}

//! `posix-shm`: `shm_open` + `ftruncate` + `mmap`. The name is unpredictable, created
//! `O_EXCL`, mode 0600, and unlinked when the setup drops (also on error and Ctrl-C).

use super::{CreateOptions, Endpoint, Mechanism, Medium, Setup};
use crate::os::mapping::Region;
use crate::os::named::ShmObject;
use crate::os::watch::Watch;
use anyhow::{Context, Result};

pub struct PosixShm;

impl Mechanism for PosixShm {
    fn is_mapped(&self) -> bool {
        true
    }
    fn how(&self) -> &'static str {
        "a POSIX shared-memory object (shm_open) mapped by both sides; the peer opens it by name"
    }
    fn create(&self, opts: &CreateOptions) -> Result<Box<dyn Setup>> {
        let shm = ShmObject::create("ipcbench", opts.len)?;
        let region = Region::map_fd(&shm, opts.len)?;
        Ok(Box::new(ShmSetup { shm, region: Some(region) }))
    }
    fn open(&self, endpoint: &Endpoint, len: usize) -> Result<Medium> {
        let name = endpoint.name.as_deref().context("posix-shm needs a name")?;
        Ok(Medium::Mapped(Region::map_fd(ShmObject::open(name)?, len)?))
    }
}

/// The object (unlinked when the setup drops, also on error and Ctrl-C) and its mapping.
struct ShmSetup {
    shm: ShmObject,
    region: Option<Region>,
}

impl Setup for ShmSetup {
    fn endpoint(&self) -> Endpoint {
        Endpoint { name: Some(self.shm.name().to_string()), ..Default::default() }
    }
    fn forked_peer(&mut self) -> Result<Medium> {
        Ok(Medium::Mapped(self.region.take().context("region already taken")?))
    }
    fn local(&mut self, _: &mut Watch) -> Result<Medium> {
        Ok(Medium::Mapped(self.region.take().context("region already taken")?))
    }
}

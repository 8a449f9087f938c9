//! `sysv-shm`: `shmget(IPC_PRIVATE)` + `shmat`. The segment is marked for removal
//! (`IPC_RMID`) as soon as the runner has attached it: Linux still lets a peer attach it by id,
//! and the kernel frees it when the last process detaches — even if everyone is killed.

use super::{CreateOptions, Endpoint, Mechanism, Medium, Setup};
use crate::os::mapping::Region;
use crate::os::named::SysvSegment;
use crate::os::watch::Watch;
use anyhow::{Context, Result};

pub struct SysvShm;

impl Mechanism for SysvShm {
    fn is_mapped(&self) -> bool {
        true
    }
    fn how(&self) -> &'static str {
        "a System V segment (shmget/shmat) attached by both sides; the peer attaches it by id"
    }
    fn create(&self, opts: &CreateOptions) -> Result<Box<dyn Setup>> {
        let segment = SysvSegment::create(opts.len)?;
        let region = segment.attach(opts.len)?;
        // Marked for removal now (dropped): it lives while attached.
        let id = segment.id();
        drop(segment);
        Ok(Box::new(SysvSetup { id, region: Some(region) }))
    }
    fn open(&self, endpoint: &Endpoint, len: usize) -> Result<Medium> {
        let id = endpoint.id.context("sysv-shm needs a segment id")?;
        Ok(Medium::Mapped(Region::sysv_attach(id, len)?))
    }
}

struct SysvSetup {
    id: i32,
    region: Option<Region>,
}

impl Setup for SysvSetup {
    fn endpoint(&self) -> Endpoint {
        Endpoint { id: Some(self.id), ..Default::default() }
    }
    fn forked_peer(&mut self) -> Result<Medium> {
        Ok(Medium::Mapped(self.region.take().context("region already taken")?))
    }
    fn local(&mut self, _: &mut Watch) -> Result<Medium> {
        Ok(Medium::Mapped(self.region.take().context("region already taken")?))
    }
}

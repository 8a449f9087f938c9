//! `posix-shm`: `shm_open` + `ftruncate` + `mmap`. The name is unpredictable, created
//! `O_EXCL`, mode 0600, and unlinked when the setup drops (also on error and Ctrl-C).

use super::{unpredictable_name, CreateOptions, Endpoint, Medium, Setup, Transport};
use crate::os::mapping::Region;
use crate::os::watch::Watch;
use anyhow::{Context, Result};
use nix::fcntl::OFlag;
use nix::sys::mman::{shm_open, shm_unlink};
use nix::sys::stat::Mode;

pub struct PosixShm;

impl Transport for PosixShm {
    fn name(&self) -> &'static str {
        "posix-shm"
    }
    fn is_mapped(&self) -> bool {
        true
    }
    fn how(&self) -> &'static str {
        "a POSIX shared-memory object (shm_open) mapped by both sides; the peer opens it by name"
    }
    fn create(&self, opts: &CreateOptions) -> Result<Box<dyn Setup>> {
        let name = format!("/{}", unpredictable_name("ipcbench"));
        let fd = shm_open(
            name.as_str(),
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR,
            Mode::S_IRUSR | Mode::S_IWUSR,
        )
        .with_context(|| format!("shm_open({name})"))?;
        // From here on the guard unlinks the name, whatever happens next.
        let mut setup = ShmSetup { name, region: None };
        nix::unistd::ftruncate(&fd, opts.len as i64).context("ftruncate")?;
        setup.region = Some(Region::map_fd(&fd, opts.len)?);
        Ok(Box::new(setup))
    }
    fn open(&self, endpoint: &Endpoint, len: usize) -> Result<Medium> {
        let name = endpoint.name.as_deref().context("posix-shm needs a name")?;
        let fd = shm_open(name, OFlag::O_RDWR, Mode::empty())
            .with_context(|| format!("shm_open({name})"))?;
        Ok(Medium::Mapped(Region::map_fd(&fd, len)?))
    }
}

struct ShmSetup {
    name: String,
    region: Option<Region>,
}

impl Setup for ShmSetup {
    fn endpoint(&self) -> Endpoint {
        Endpoint { name: Some(self.name.clone()), ..Default::default() }
    }
    fn forked_peer(&mut self) -> Result<Medium> {
        Ok(Medium::Mapped(self.region.take().context("region already taken")?))
    }
    fn local(&mut self, _: &mut Watch) -> Result<Medium> {
        Ok(Medium::Mapped(self.region.take().context("region already taken")?))
    }
}

impl Drop for ShmSetup {
    fn drop(&mut self) {
        let _ = shm_unlink(self.name.as_str());
    }
}

//! `anon-mmap`: `mmap(MAP_SHARED | MAP_ANONYMOUS)` made before `fork`; the child inherits the
//! very same pages. No name, no file: an unrelated process cannot open it, so fork only.

use super::{CreateOptions, Endpoint, Mechanism, Medium, Setup};
use crate::os::mapping::Region;
use crate::os::watch::Watch;
use anyhow::{bail, Context, Result};

pub struct AnonMmap;

impl Mechanism for AnonMmap {
    fn is_mapped(&self) -> bool {
        true
    }
    fn how(&self) -> &'static str {
        "an anonymous MAP_SHARED mapping made before fork; the child inherits the same pages"
    }
    fn create(&self, opts: &CreateOptions) -> Result<Box<dyn Setup>> {
        Ok(Box::new(AnonSetup { region: Some(Region::anon_shared(opts.len)?) }))
    }
    fn open(&self, _: &Endpoint, _: usize) -> Result<Medium> {
        bail!("anon-mmap cannot be opened by an unrelated process: use --process fork")
    }
}

struct AnonSetup {
    region: Option<Region>,
}

impl Setup for AnonSetup {
    fn endpoint(&self) -> Endpoint {
        Endpoint::default()
    }
    fn forked_peer(&mut self) -> Result<Medium> {
        Ok(Medium::Mapped(self.region.take().context("region already taken")?))
    }
    fn local(&mut self, _: &mut Watch) -> Result<Medium> {
        Ok(Medium::Mapped(self.region.take().context("region already taken")?))
    }
}

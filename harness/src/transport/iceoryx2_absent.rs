//! `iceoryx2` when ipcbench is built without its `iceoryx2` feature: every case is skipped,
//! saying so.

use super::{CreateOptions, Endpoint, Mechanism, Medium, Setup};
use anyhow::{bail, Result};

pub struct Iceoryx2;

impl Mechanism for Iceoryx2 {
    fn is_mapped(&self) -> bool {
        false
    }
    fn how(&self) -> &'static str {
        "the iceoryx2 library (not built in)"
    }
    fn refuses(&self, _: usize) -> Option<String> {
        Some("this ipcbench was built without the iceoryx2 feature".into())
    }
    fn create(&self, _: &CreateOptions) -> Result<Box<dyn Setup>> {
        bail!("this ipcbench was built without the iceoryx2 feature")
    }
    fn open(&self, _: &Endpoint, _: usize) -> Result<Medium> {
        bail!("this ipcbench was built without the iceoryx2 feature")
    }
}

//! `file-mmap`: a regular file mapped `MAP_SHARED` by both sides — the article's first example.
//! The file lives in a private temp dir (on disk by default, `--dir` to choose, e.g. `/dev/shm`),
//! is created `O_EXCL`, mode 0600, with an unpredictable name, and is removed with the setup.

use super::{CreateOptions, Endpoint, Mechanism, Medium, Setup};
use crate::os::mapping::{reserve, Region};
use crate::os::watch::Watch;
use anyhow::{Context, Result};

pub struct FileMmap;

impl Mechanism for FileMmap {
    fn is_mapped(&self) -> bool {
        true
    }
    fn how(&self) -> &'static str {
        "a regular file mapped MAP_SHARED by both sides; the peer opens it by path"
    }
    fn create(&self, opts: &CreateOptions) -> Result<Box<dyn Setup>> {
        let file = tempfile::Builder::new()
            .prefix("ipcbench-")
            .suffix(".map")
            .tempfile_in(&opts.dir)
            .with_context(|| format!("cannot create a file in {}", opts.dir.display()))?;
        reserve(file.as_file(), opts.len, &format!("a file in {}", opts.dir.display()))?;
        let region = Region::map_fd(file.as_file(), opts.len)?;
        Ok(Box::new(FileSetup { file, region: Some(region) }))
    }
    fn open(&self, endpoint: &Endpoint, len: usize) -> Result<Medium> {
        let path = endpoint.path.as_ref().context("file-mmap needs a path")?;
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        Ok(Medium::Mapped(Region::map_fd(&f, len)?))
    }
}

struct FileSetup {
    file: tempfile::NamedTempFile,
    region: Option<Region>,
}

impl Setup for FileSetup {
    fn endpoint(&self) -> Endpoint {
        Endpoint { path: Some(self.file.path().to_path_buf()), ..Default::default() }
    }
    fn forked_peer(&mut self) -> Result<Medium> {
        Ok(Medium::Mapped(self.region.take().context("region already taken")?))
    }
    fn local(&mut self, _: &mut Watch) -> Result<Medium> {
        Ok(Medium::Mapped(self.region.take().context("region already taken")?))
    }
}

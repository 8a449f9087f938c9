//! Where a run goes as it is measured: the runner hands its result file to a sink after every
//! case and once at the end, so whatever stops the run keeps what was measured.

use anyhow::Context as _;
use ipcbench_results::RunFile;
use std::path::PathBuf;

/// Keeps the run as it stands.
pub trait Sink {
    /// Called after every case and once at the end, with every case measured so far. An error
    /// ends the run: measuring on without being able to keep the figures wastes the time.
    fn save(&mut self, run: &RunFile) -> anyhow::Result<()>;
}

/// The result file on disk, `DIR/runs/<id>.json`, and its copy `DIR/latest.json`, each
/// rewritten atomically (temp file + rename): a reader never sees half a file.
pub struct FileSink {
    pub run_file: PathBuf,
    /// `DIR/latest.json`; none for a confirmation round.
    pub latest: Option<PathBuf>,
}

impl Sink for FileSink {
    fn save(&mut self, run: &RunFile) -> anyhow::Result<()> {
        for path in std::iter::once(&self.run_file).chain(&self.latest) {
            run.write_atomic(path).with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(())
    }
}

/// Every state the run was saved in, in memory: what a test of the runner looks at.
#[derive(Default)]
pub struct MemorySink {
    pub saves: Vec<RunFile>,
}

impl MemorySink {
    /// The run as last saved.
    pub fn last(&self) -> Option<&RunFile> {
        self.saves.last()
    }
}

impl Sink for MemorySink {
    fn save(&mut self, run: &RunFile) -> anyhow::Result<()> {
        self.saves.push(run.clone());
        Ok(())
    }
}

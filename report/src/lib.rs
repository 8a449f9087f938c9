//! The report: SVG charts and one HTML page, made from result files alone.
//!
//! It reads runs through `ipcbench-results` and nothing else, so a report can be rendered from
//! a run taken on another host or by an older version. `render` is the one entry point: it picks
//! the main run and the runs for the trend, draws every chart whose scenario is present, and
//! writes `index.html` beside the SVGs it links to.

mod charts;
mod format;
mod html;
mod runs;

#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;

use ipcbench_results::fs::write_bytes;
use std::path::{Path, PathBuf};

pub use runs::Runs;

/// What to render and where.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Result files named on the command line. The last one is the main run; all of them feed
    /// the trend. Empty: `results_dir/latest.json` and `results_dir/runs/*.json`.
    pub inputs: Vec<PathBuf>,
    /// The results directory (`--out` of `scenario`; `results/` by default).
    pub results_dir: PathBuf,
    /// Where the report goes; `results_dir/report` when not given.
    pub out_dir: Option<PathBuf>,
}

/// Why no report was written. Each message is one line naming the file and the problem.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A missing, foreign or damaged result file, or no results at all.
    #[error("{0}")]
    BadInput(String),
    /// The report directory is not safe to write into (another user's, or open to all).
    #[error("cannot write the report: {0}")]
    Unsafe(String),
    /// The report directory or one of its files could not be written.
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

impl From<ipcbench_results::LoadError> for ReportError {
    fn from(e: ipcbench_results::LoadError) -> Self {
        ReportError::BadInput(e.to_string())
    }
}

/// Renders the report and returns the path of its `index.html`.
///
/// With no inputs: `results_dir/latest.json` is the main run and every `results_dir/runs/*.json`
/// feeds the trend. With inputs: the last one named is the main run and all of them feed the
/// trend. Charts whose scenario is absent from the main run are left out, not drawn empty.
pub fn render(opts: &Options) -> Result<PathBuf, ReportError> {
    let runs = Runs::load(opts)?;
    let out_dir = opts.out_dir.clone().unwrap_or_else(|| opts.results_dir.join("report"));
    write_report(&runs, &out_dir)
}

/// Draws the charts of `runs` and writes them with `index.html` into `out_dir`.
pub fn write_report(runs: &Runs, out_dir: &Path) -> Result<PathBuf, ReportError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReportError::Io { path, source }
    };
    ipcbench_results::fs::private_dir(out_dir).map_err(|e| match e {
        ipcbench_results::fs::DirError::Io { source, .. } => io(out_dir)(source),
        unsafe_dir => ReportError::Unsafe(unsafe_dir.to_string()),
    })?;

    let drawn = charts::draw_all(runs);
    // A chart of an earlier report whose scenario is gone now would linger unlinked and
    // mislead whoever opens the directory: remove the files this crate owns and no longer makes.
    for name in charts::ALL_FILES {
        if !drawn.charts.iter().any(|c| c.file == *name) {
            let stale = out_dir.join(name);
            if stale.exists() {
                std::fs::remove_file(&stale).map_err(io(&stale))?;
            }
        }
    }
    for chart in &drawn.charts {
        let path = out_dir.join(&chart.file);
        write_bytes(&path, chart.svg.as_bytes()).map_err(io(&path))?;
    }
    let index = out_dir.join("index.html");
    let page = html::page(runs, &drawn);
    write_bytes(&index, page.as_bytes()).map_err(io(&index))?;
    Ok(index)
}

#[cfg(test)]
mod tests;

//! Which runs a report is made of: the main run, and every run that feeds the trend.

use crate::{Options, ReportError};
use ipcbench_results::RunFile;
use std::path::{Path, PathBuf};

/// The runs of one report.
#[derive(Clone, Debug)]
pub struct Runs {
    /// The run the charts and the table describe.
    pub main: RunFile,
    /// The file it came from.
    pub main_path: PathBuf,
    /// Every run for the trend, the main one included, oldest first, each run id once.
    pub history: Vec<RunFile>,
}

impl Runs {
    /// Reads the runs `opts` names (see [`crate::render`]).
    pub fn load(opts: &Options) -> Result<Runs, ReportError> {
        let (main_path, others) = if let Some((last, _)) = opts.inputs.split_last() {
            (last.clone(), opts.inputs.clone())
        } else {
            let latest = opts.results_dir.join("latest.json");
            if !latest.exists() {
                return Err(ReportError::BadInput(format!(
                    "no results in {}: {} does not exist (run `ipcbench scenario all` first, \
                     or name result files)",
                    opts.results_dir.display(),
                    latest.display()
                )));
            }
            (latest, run_files(&opts.results_dir.join("runs"))?)
        };
        let main = RunFile::load(&main_path)?;
        if main.cases.is_empty() {
            return Err(ReportError::BadInput(format!(
                "{} holds no cases: nothing to report",
                main_path.display()
            )));
        }
        let mut history = Vec::with_capacity(others.len() + 1);
        for path in &others {
            if *path == main_path {
                continue;
            }
            history.push(RunFile::load(path)?);
        }
        history.push(main.clone());
        Ok(Runs::new(main, main_path, history))
    }

    /// Puts runs in order for the trend: oldest first, and a run copied to `latest.json` and
    /// kept in `runs/` counted once.
    pub fn new(main: RunFile, main_path: PathBuf, mut history: Vec<RunFile>) -> Runs {
        history.sort_by(|a, b| {
            (a.run.started_unix_s, &a.run.id).cmp(&(b.run.started_unix_s, &b.run.id))
        });
        history.dedup_by(|a, b| a.run.id == b.run.id && a.run.hostname == b.run.hostname);
        Runs { main, main_path, history }
    }
}

/// Every `*.json` in `dir`, sorted by name; none when the directory does not exist.
fn run_files(dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(ReportError::BadInput(format!(
                "cannot read the runs directory {}: {e}",
                dir.display()
            )))
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

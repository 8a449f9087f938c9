//! Writes a synthetic results directory and renders its report, for looking at the page in a
//! browser (`.ci/browser-check.sh`) without running a benchmark:
//!
//! ```sh
//! cargo run -p ipcbench-report --features fixtures --example render -- /tmp/ipcbench-demo \
//!     [small|big] [FULL_RUNS] [QUICK_RUNS]
//! ```
//!
//! Prints the path of `index.html`.

use ipcbench_report::fixtures::{self, Fixture};
use ipcbench_report::{render, Options};
use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "target/report-demo".into()));
    let fixture = match args.next().as_deref() {
        Some("big") => Fixture::big(),
        _ => Fixture::small(),
    };
    let mut count = || args.next().and_then(|n| n.parse::<u64>().ok());
    let (full, quick) = (count().unwrap_or(6), count().unwrap_or(0));
    fixtures::results_dir(&dir, &fixture, full, &["bench-a"]);
    fixtures::add_quick_runs(&dir, &fixture, full, quick);
    match render(&Options { inputs: Vec::new(), results_dir: dir, out_dir: None }) {
        Ok(index) => println!("{}", index.display()),
        Err(e) => {
            eprintln!("ipcbench-report: {e}");
            // As `ipcbench report` does: bad input or an unwritable directory, status 2.
            std::process::exit(2);
        }
    }
}

//! Writes a synthetic results directory and renders its report, for looking at the page in a
//! browser (`.ci/browser-check.sh`) without running a benchmark:
//!
//! ```sh
//! cargo run -p ipcbench-report --features fixtures --example render -- /tmp/ipcbench-demo [big]
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
    fixtures::results_dir(&dir, &fixture, 6, &["bench-a"]);
    match render(&Options { inputs: Vec::new(), results_dir: dir, out_dir: None }) {
        Ok(index) => println!("{}", index.display()),
        Err(e) => {
            eprintln!("ipcbench-report: {e}");
            // As `ipcbench report` does: bad input or an unwritable directory, status 2.
            std::process::exit(2);
        }
    }
}

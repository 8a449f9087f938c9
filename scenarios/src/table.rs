//! The summary tables' renderer and units: the result contract's, so a figure reads the same on
//! stdout, in `compare` and in the report.

pub use ipcbench_results::table::Table;
pub use ipcbench_results::units::{bytes_per_s, count, ns, significant, times};

/// A byte count (record, ring or file size) as [`ipcbench_results::units::bytes`] prints it.
pub fn bytes(v: u64) -> String {
    ipcbench_results::units::bytes(v as f64)
}

//! The summary tables' renderer and units: the result contract's, so a figure reads the same on
//! stdout, in `compare` and in the report.

pub use ipcbench_results::table::Table;
pub use ipcbench_results::units::{bytes_per_s, ns, records_per_s, significant, times};

/// A byte count (record, ring or file size) as [`ipcbench_results::units::bytes`] prints it.
pub fn bytes(v: u64) -> String {
    ipcbench_results::units::bytes(v as f64)
}

/// Why a case has no figures, for its row: `skipped: <reason>` or `failed: <error>`, each cut to
/// about 60 characters (the whole text is in the result file and the report).
pub fn not_measured(c: &ipcbench_results::CaseResult) -> Option<String> {
    let short = |s: &str| crate::runner::short(s, 60);
    if let Some(e) = &c.error {
        return Some(format!("failed: {}", short(e)));
    }
    c.skipped.as_ref().map(|why| format!("skipped: {}", short(why)))
}

/// `v` as a ratio: `3.25×`, and `<0.01×` rather than a `0×` that reads as nothing moved.
pub fn ratio(v: f64) -> String {
    if v > 0.0 && v < 0.01 {
        "<0.01×".into()
    } else {
        times(v)
    }
}

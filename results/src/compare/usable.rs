//! Whether the new run measured anything a gate may pass: a run whose cases failed, that has
//! no case, or that ended early cannot show that nothing regressed.

use crate::RunFile;

/// Why the new run cannot pass a gate, one sentence each; empty when it can.
pub fn reasons(new: &RunFile) -> Vec<String> {
    let mut why = Vec::new();
    if new.cases.is_empty() {
        why.push("the new run has no cases".to_string());
    }
    let failed: Vec<&str> =
        new.cases.iter().filter(|c| c.error.is_some()).map(|c| c.id.as_str()).collect();
    if !failed.is_empty() {
        let shown = failed.iter().take(5).copied().collect::<Vec<_>>().join(", ");
        let more =
            if failed.len() > 5 { format!(" and {} more", failed.len() - 5) } else { "".into() };
        why.push(format!("{} case(s) failed in the new run: {shown}{more}", failed.len()));
    }
    if let Some(how) = &new.run.interrupted {
        why.push(format!("the new run was interrupted ({how})"));
    }
    if !new.run.complete && new.run.interrupted.is_none() {
        why.push(
            "the new run did not end normally (its result file is not marked complete)".into(),
        );
    }
    why
}

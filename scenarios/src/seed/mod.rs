//! Scenario `seed`: the seed article's experiments (`shared/seed/mmap-shared-memory.md`), each
//! claim checked on the running kernel and reported as `{claim, article_says, observed, holds}`.
//!
//! It also holds the article's two programs, as `ipcbench seed writer PATH` (`map_normalfile1`:
//! size a file for 5 records, map room for 10, write 10, hold, unmap) and `ipcbench seed reader
//! PATH` (`map_normalfile2`: map the file, print 10 records), with the article's record layout
//! and output lines, so either can be swapped for the article's C program.
//!
//! What the kernel does, in short: a mapping covers whole pages, so the bytes past end-of-file
//! in the last page are shared like any others while that page sits in the page cache; they are
//! never part of the file — `read()` stops at end-of-file — and writeback zeroes them.
mod claims;
mod lab;
mod programs;

pub use claims::*;
pub use lab::Lab;
pub use programs::*;

use crate::table::Table;
use crate::{Case, Context, Options, Scenario, UsageError};
use anyhow::Result;
use ipcbench_results::{CaseResult, Claim, RunFile};

/// One claim of the article and how to check it.
pub struct Check {
    pub slug: &'static str,
    pub run: fn(&Lab) -> Result<Claim>,
    /// Whether it works on a file in the lab's directory (its filesystem matters).
    pub uses_file: bool,
}

/// Every check, in the article's order.
pub fn checks() -> Vec<Check> {
    let c = |slug, run, uses_file| Check { slug, run, uses_file };
    vec![
        c("file-size-unchanged", file_size_unchanged as fn(&Lab) -> Result<Claim>, true),
        c("unrelated-reader-sees-all", unrelated_reader_sees_all, true),
        c("after-unmap-cached", |l| after_unmap(l, CacheState::Cached), true),
        c("after-unmap-rewritten", |l| after_unmap(l, CacheState::Rewritten), true),
        c("after-unmap-written-back", |l| after_unmap(l, CacheState::WrittenBack), true),
        c("after-unmap-evicted", |l| after_unmap(l, CacheState::Evicted), true),
        c("read-stops-at-eof", read_stops_at_eof, true),
        c("sigbus-past-eof", sigbus_past_eof, true),
        c("segv-after-munmap", segv_after_munmap, false),
        c("anon-shared-across-fork", anon_shared_across_fork, false),
        c("anon-private-not-shared", anon_private_not_shared, false),
        c("visible-before-msync", visible_before_msync, true),
    ]
}

pub struct Seed;

impl Scenario for Seed {
    fn name(&self) -> &'static str {
        "seed"
    }
    fn two_sided(&self) -> bool {
        false
    }
    fn about(&self) -> &'static str {
        "the seed article's mmap experiments, each claim checked on this kernel"
    }
    fn cases(&self, _opts: &Options) -> Result<Vec<Case>, UsageError> {
        Ok(checks()
            .into_iter()
            .map(|check| {
                let id = format!("seed/{}", check.slug);
                Case::new(id.clone(), move |ctx: &Context| {
                    let lab = Lab {
                        dir: ctx.work_dir.clone(),
                        exe: ctx.exe.clone(),
                        timeout: ctx.opts.timeout,
                    };
                    let mut c = CaseResult::new(id, "seed");
                    if check.uses_file {
                        c.axes.insert("fstype".into(), crate::sysinfo::filesystem_of(&lab.dir));
                        c.notes.push(format!("files in {}", lab.dir.display()));
                    }
                    match (check.run)(&lab) {
                        Ok(claim) => c.claims.push(claim),
                        Err(e) => c.error = Some(format!("the check could not run: {e:#}")),
                    }
                    Ok(c)
                })
            })
            .collect())
    }

    fn summary(&self, cases: &[&CaseResult], _run: &RunFile) -> Option<String> {
        let mut t = Table::text(&["check", "holds", "observed"]);
        for c in cases {
            let row = match (&c.error, c.claims.first()) {
                (Some(e), _) => vec![c.id.clone(), "ERROR".into(), e.clone()],
                (None, Some(cl)) => vec![
                    c.id.clone(),
                    if cl.holds { "yes" } else { "NO" }.into(),
                    cl.observed.clone(),
                ],
                (None, None) => vec![c.id.clone(), "-".into(), String::new()],
            };
            t.row(row);
        }
        (!t.is_empty()).then(|| t.to_string())
    }
}

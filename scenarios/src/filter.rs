//! `--filter`: which cases of the plan run, by id — a substring of the id, or a glob over the
//! whole id when it holds a wildcard (`*`, `?`, `[…]`), as criterion's filter picks benchmarks.

use crate::UsageError;

/// A filter on case ids.
#[derive(Clone, Debug)]
pub enum CaseFilter {
    /// The id contains it.
    Substring(String),
    /// The whole id matches it; `*` also crosses `/` (`pingpong/*/64`).
    Glob(glob::Pattern),
    /// The id is one of these (a confirmation round's cases).
    Ids(std::collections::BTreeSet<String>),
}

impl CaseFilter {
    pub fn matches(&self, id: &str) -> bool {
        match self {
            CaseFilter::Substring(s) => id.contains(s.as_str()),
            CaseFilter::Glob(p) => p.matches(id),
            CaseFilter::Ids(ids) => ids.contains(id),
        }
    }
}

impl std::str::FromStr for CaseFilter {
    type Err = UsageError;

    fn from_str(s: &str) -> Result<Self, UsageError> {
        if s.is_empty() {
            return Err(UsageError(
                "--filter is empty: give part of a case id or a glob, e.g. pingpong/*/64".into(),
            ));
        }
        if !s.contains(['*', '?', '[']) {
            return Ok(CaseFilter::Substring(s.to_string()));
        }
        glob::Pattern::new(s).map(CaseFilter::Glob).map_err(|e| {
            UsageError(format!("--filter '{s}' is not a valid glob: {e} (e.g. pingpong/*/64)"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::CaseFilter;

    fn filter(s: &str) -> CaseFilter {
        s.parse().unwrap()
    }

    #[test]
    fn a_plain_filter_is_a_substring() {
        let f = filter("posix-shm/fork");
        assert!(f.matches("pingpong/posix-shm/fork/spin/64"));
        assert!(!f.matches("pingpong/posix-shm/spawn/spin/64"));
    }

    #[test]
    fn a_glob_matches_the_whole_id_across_slashes() {
        let f = filter("pingpong/*/64");
        assert!(f.matches("pingpong/anon-mmap/fork/spin/64"));
        assert!(!f.matches("pingpong/anon-mmap/fork/spin/640"));
        assert!(!f.matches("stream/anon-mmap/fork/spin/64/copy"));
        assert!(filter("*/memfd/*").matches("stream/memfd/fork/futex/4096/in-place"));
    }

    #[test]
    fn bad_filters_are_usage_errors() {
        let e = "pingpong/[".parse::<CaseFilter>().unwrap_err().to_string();
        assert!(e.contains("--filter") && e.contains("pingpong/["), "{e}");
        assert!("".parse::<CaseFilter>().is_err());
    }
}

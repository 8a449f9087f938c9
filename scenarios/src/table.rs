//! Plain aligned tables for stdout.

pub struct Table {
    head: Vec<String>,
    rows: Vec<Vec<String>>,
    /// Right-align every column but the first.
    numeric: bool,
}

impl Table {
    pub fn new(head: &[&str]) -> Table {
        Table {
            head: head.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
            numeric: true,
        }
    }

    /// A table of words: every column left-aligned.
    pub fn text(head: &[&str]) -> Table {
        Table { numeric: false, ..Table::new(head) }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.head.len();
        let mut w = vec![0; n];
        for r in std::iter::once(&self.head).chain(&self.rows) {
            for (i, c) in r.iter().enumerate().take(n) {
                w[i] = w[i].max(c.chars().count());
            }
        }
        for r in std::iter::once(&self.head).chain(&self.rows) {
            let mut line = String::new();
            for (i, c) in r.iter().enumerate().take(n) {
                if i > 0 {
                    line.push_str("  ");
                }
                if i == 0 || !self.numeric {
                    line.push_str(&format!("{c:<width$}", width = w[i]));
                } else {
                    line.push_str(&format!("{c:>width$}", width = w[i]));
                }
            }
            writeln!(f, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

/// Nanoseconds for people: `850 ns`, `12.3 µs`, `4.56 ms`, `1.23 s`.
pub fn ns(v: f64) -> String {
    if v < 1e3 {
        format!("{v:.0} ns")
    } else if v < 1e6 {
        format!("{:.3} µs", v / 1e3)
    } else if v < 1e9 {
        format!("{:.3} ms", v / 1e6)
    } else {
        format!("{:.3} s", v / 1e9)
    }
}

/// Bytes for people: `64 B`, `4 KiB`, `1 MiB`.
pub fn bytes(v: u64) -> String {
    if v >= 1 << 20 && v.is_multiple_of(1 << 20) {
        format!("{} MiB", v >> 20)
    } else if v >= 1 << 10 && v.is_multiple_of(1 << 10) {
        format!("{} KiB", v >> 10)
    } else {
        format!("{v} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(ns(850.0), "850 ns");
        assert_eq!(ns(12_345.0), "12.345 µs");
        assert_eq!(bytes(4096), "4 KiB");
        assert_eq!(bytes(100), "100 B");
        let mut t = Table::new(&["case", "p50"]);
        t.row(vec!["a".into(), "1 ns".into()]);
        assert_eq!(t.to_string(), "case   p50\na     1 ns\n");
    }
}

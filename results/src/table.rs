//! Aligned tables for a terminal or a CI log, and the same rows as a GitHub markdown table: the
//! scenario summaries and `compare` print through it.

use std::fmt;

/// How a column lines up: words to the left, numbers to the right.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

pub struct Table {
    head: Vec<String>,
    align: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table of figures: the first column (what was measured) left-aligned, the rest right.
    pub fn new(head: &[&str]) -> Table {
        let align = (0..head.len()).map(|i| if i == 0 { Align::Left } else { Align::Right });
        Table::aligned(head, &align.collect::<Vec<_>>())
    }

    /// A table of words: every column left-aligned.
    pub fn text(head: &[&str]) -> Table {
        Table::aligned(head, &vec![Align::Left; head.len()])
    }

    /// Each column aligned as given; columns without an alignment are left-aligned.
    pub fn aligned(head: &[&str], align: &[Align]) -> Table {
        let align = (0..head.len()).map(|i| align.get(i).copied().unwrap_or(Align::Left));
        Table {
            head: head.iter().map(|s| s.to_string()).collect(),
            align: align.collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; cells beyond the header are dropped, missing ones are empty.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn cells<'a>(&self, row: &'a [String]) -> impl Iterator<Item = &'a str> {
        (0..self.head.len()).map(move |i| row.get(i).map_or("", String::as_str))
    }

    /// A GitHub table: `|` and line breaks in cells escaped, numbers right-aligned.
    pub fn markdown(&self) -> String {
        let esc = |s: &str| s.replace('|', "\\|").replace('\n', " ");
        let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
        let mut out = line(self.head.iter().map(|h| esc(h)).collect());
        let rule = self.align.iter().map(|a| if *a == Align::Right { "---:" } else { "---" });
        out.push_str(&format!("|{}|\n", rule.collect::<Vec<_>>().join("|")));
        for r in &self.rows {
            out.push_str(&line(self.cells(r).map(esc).collect()));
        }
        out
    }
}

/// Aligned plain text, two spaces between columns, no trailing blanks.
impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut widths = vec![0; self.head.len()];
        for r in std::iter::once(&self.head).chain(&self.rows) {
            for (w, c) in widths.iter_mut().zip(self.cells(r)) {
                *w = (*w).max(c.chars().count());
            }
        }
        for r in std::iter::once(&self.head).chain(&self.rows) {
            let mut line = String::new();
            for (i, c) in self.cells(r).enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                let w = widths[i];
                match self.align[i] {
                    Align::Left => line.push_str(&format!("{c:<w$}")),
                    Align::Right => line.push_str(&format!("{c:>w$}")),
                }
            }
            writeln!(f, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_right_words_left() {
        let mut t = Table::new(&["case", "p50"]);
        t.row(vec!["a".into(), "1 ns".into()]);
        t.row(vec!["bb".into(), "12.3 µs".into()]);
        assert_eq!(t.to_string(), "case      p50\na        1 ns\nbb    12.3 µs\n");
        let mut t = Table::text(&["check", "holds"]);
        t.row(vec!["x".into(), "yes".into()]);
        assert_eq!(t.to_string(), "check  holds\nx      yes\n");
    }

    #[test]
    fn markdown_escapes_cells_and_marks_numbers() {
        let mut t = Table::aligned(&["case", "n"], &[Align::Left, Align::Right]);
        t.row(vec!["a|b".into(), "1".into()]);
        assert_eq!(t.markdown(), "| case | n |\n|---|---:|\n| a\\|b | 1 |\n");
        assert!(!t.is_empty() && Table::new(&["x"]).is_empty());
    }
}

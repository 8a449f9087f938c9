//! Figures as people read them, one way everywhere (stdout tables, `compare`, `export`, the
//! report): three significant digits, trailing zeros dropped, and the unit that keeps the number
//! under 1000 — `850 ns`, `12.3 µs`, `64 KiB`, `3.2 GB/s`, `1.5 M records/s`.
//!
//! Three digits because the figures do not hold more: two runs of one build move a latency by
//! several percent, so a fourth digit is noise that makes a column harder to scan.

/// Three significant digits at most, no trailing zeros: `1`, `1.5`, `12.3`, `512`. The integer
/// part is never rounded away (`1023`), so a count stays exact.
pub fn significant(v: f64) -> String {
    let a = v.abs();
    let s = if a >= 99.95 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 9.995 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// `v` in the first of `units` (each `step` times the last) that keeps it below `step` once
/// rounded: 999.7 ns is `1 µs`, not `1000 ns`.
fn scaled(v: f64, step: f64, units: &[&str]) -> String {
    let mut value = v;
    let mut i = 0;
    while value.abs() >= step - 0.5 && i + 1 < units.len() {
        value /= step;
        i += 1;
    }
    format!("{} {}", significant(value), units[i])
}

/// Nanoseconds: `850 ns`, `12.3 µs`, `4.56 ms`, `1.23 s`.
pub fn ns(v: f64) -> String {
    scaled(v, 1000.0, &["ns", "µs", "ms", "s"])
}

/// A byte count in binary units, as record sizes are powers of two: `64 B`, `4 KiB`, `1 MiB`.
pub fn bytes(v: f64) -> String {
    scaled(v, 1024.0, &["B", "KiB", "MiB", "GiB", "TiB", "PiB"])
}

/// A rate in bytes per second, in decimal units as bandwidth is usually quoted (`1.2 GB/s`), so
/// decade ticks read as round numbers.
pub fn bytes_per_s(v: f64) -> String {
    scaled(v, 1000.0, &["B/s", "kB/s", "MB/s", "GB/s", "TB/s"])
}

/// A plain count with a decimal suffix: `850`, `12k`, `3.4M`.
pub fn count(v: f64) -> String {
    scaled(v, 1000.0, &["", "k", "M", "G", "T"]).replace(' ', "")
}

/// Records (messages, operations) per second: `850 records/s`, `12.3 M records/s`.
pub fn records_per_s(v: f64) -> String {
    let s = scaled(v, 1000.0, &["", "k", "M", "G", "T"]);
    format!("{s} records/s").replace("  ", " ")
}

/// A ratio such as a multiple of the floor: `3.25×`.
pub fn times(v: f64) -> String {
    format!("{}×", significant(v))
}

/// A percentile given as a fraction: `0.999` → `99.9 %`.
pub fn percentile(q: f64) -> String {
    // As many decimals as the nines need, and no trailing zeros.
    let s = format!("{:.5}", q * 100.0);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s} %")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_significant_digits_everywhere() {
        assert_eq!(ns(850.0), "850 ns");
        assert_eq!(ns(1234.0), "1.23 µs");
        assert_eq!(ns(12_345.0), "12.3 µs");
        assert_eq!(ns(45_600.0), "45.6 µs");
        assert_eq!(ns(3_200_000.0), "3.2 ms");
        assert_eq!(ns(2.5e9), "2.5 s");
        assert_eq!(ns(0.0), "0 ns");
    }

    #[test]
    fn rounding_up_moves_to_the_next_unit() {
        assert_eq!(ns(999.7), "1 µs");
        assert_eq!(ns(999_960.0), "1 ms");
        assert_eq!(significant(9.999), "10");
        assert_eq!(significant(99.99), "100");
        assert_eq!(bytes(1023.0), "1023 B");
        assert_eq!(bytes(1023.7), "1 KiB");
    }

    #[test]
    fn sizes_rates_and_counts() {
        assert_eq!(bytes(64.0), "64 B");
        assert_eq!(bytes(65536.0), "64 KiB");
        assert_eq!(bytes(1_048_576.0), "1 MiB");
        assert_eq!(bytes(1536.0), "1.5 KiB");
        assert_eq!(bytes_per_s(3.2e9), "3.2 GB/s");
        assert_eq!(bytes_per_s(100e6), "100 MB/s");
        assert_eq!(bytes_per_s(512.0), "512 B/s");
        assert_eq!(count(12_000.0), "12k");
        assert_eq!(count(850.0), "850");
        assert_eq!(records_per_s(850.0), "850 records/s");
        assert_eq!(records_per_s(12_345_678.0), "12.3 M records/s");
        assert_eq!(times(3.25), "3.25×");
    }

    #[test]
    fn percentiles_show_their_nines() {
        assert_eq!(percentile(0.5), "50 %");
        assert_eq!(percentile(0.99), "99 %");
        assert_eq!(percentile(0.999), "99.9 %");
        assert_eq!(percentile(0.9999), "99.99 %");
    }
}

//! Figures as people read them: `1.2 µs`, `64 KiB`, `3.4 GiB/s`. Short, so chart ticks and
//! table cells stay narrow.

/// Nanoseconds with the unit that keeps the number between 1 and 1000.
pub fn ns(v: f64) -> String {
    let (value, unit) = if v.abs() >= 1e9 {
        (v / 1e9, "s")
    } else if v.abs() >= 1e6 {
        (v / 1e6, "ms")
    } else if v.abs() >= 1e3 {
        (v / 1e3, "µs")
    } else {
        (v, "ns")
    };
    format!("{} {unit}", short(value))
}

/// A byte count in binary units (record sizes are powers of two).
pub fn bytes(v: f64) -> String {
    binary(v, "B")
}

/// A rate in bytes per second, decimal units as rates are usually quoted (`1.2 GB/s`), so
/// decade ticks read as round numbers.
pub fn bytes_per_s(v: f64) -> String {
    let (value, unit) = if v.abs() >= 1e12 {
        (v / 1e12, "TB")
    } else if v.abs() >= 1e9 {
        (v / 1e9, "GB")
    } else if v.abs() >= 1e6 {
        (v / 1e6, "MB")
    } else if v.abs() >= 1e3 {
        (v / 1e3, "kB")
    } else {
        (v, "B")
    };
    format!("{} {unit}/s", short(value))
}

/// A plain count with a decimal suffix (`12k`, `3.4M`).
pub fn count(v: f64) -> String {
    let (value, unit) = if v.abs() >= 1e9 {
        (v / 1e9, "G")
    } else if v.abs() >= 1e6 {
        (v / 1e6, "M")
    } else if v.abs() >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    format!("{}{unit}", short(value))
}

/// A percentile given as a fraction (`0.999` → `99.9 %`).
pub fn percentile(q: f64) -> String {
    let pct = q * 100.0;
    // As many decimals as the nines need, and no trailing zeros.
    let mut s = format!("{pct:.5}");
    while s.ends_with('0') {
        s.pop();
    }
    if s.ends_with('.') {
        s.pop();
    }
    format!("{s} %")
}

/// A ratio such as a multiple of the floor (`3.2×`).
pub fn times(v: f64) -> String {
    format!("{}×", short(v))
}

/// Seconds since the epoch as `YYYY-MM-DD HH:MM` (UTC).
pub fn utc_minute(unix_s: u64) -> String {
    let (y, m, d) = civil_from_days((unix_s / 86_400) as i64);
    let secs = unix_s % 86_400;
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}", secs / 3600, secs / 60 % 60)
}

/// Seconds since the epoch as `MM-DD HH:MM` (UTC), for axis ticks.
pub fn utc_tick(unix_s: u64, with_time: bool) -> String {
    let (_, m, d) = civil_from_days((unix_s / 86_400) as i64);
    let secs = unix_s % 86_400;
    if with_time {
        format!("{m:02}-{d:02} {:02}:{:02}", secs / 3600, secs / 60 % 60)
    } else {
        format!("{m:02}-{d:02}")
    }
}

fn binary(v: f64, unit: &str) -> String {
    const PREFIXES: [&str; 6] = ["", "Ki", "Mi", "Gi", "Ti", "Pi"];
    let mut value = v;
    let mut i = 0;
    while value.abs() >= 1024.0 && i + 1 < PREFIXES.len() {
        value /= 1024.0;
        i += 1;
    }
    format!("{} {}{unit}", short(value), PREFIXES[i])
}

/// Three significant digits at most, no trailing zeros: `1`, `1.5`, `12.3`, `512`.
fn short(v: f64) -> String {
    let a = v.abs();
    let s = if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
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

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_keep_numbers_short() {
        assert_eq!(ns(850.0), "850 ns");
        assert_eq!(ns(1234.0), "1.23 µs");
        assert_eq!(ns(45_600.0), "45.6 µs");
        assert_eq!(ns(2.5e9), "2.5 s");
        assert_eq!(bytes(64.0), "64 B");
        assert_eq!(bytes(65536.0), "64 KiB");
        assert_eq!(bytes(1048576.0), "1 MiB");
        assert_eq!(bytes_per_s(3.2e9), "3.2 GB/s");
        assert_eq!(bytes_per_s(100e6), "100 MB/s");
        assert_eq!(count(12_000.0), "12k");
        assert_eq!(times(3.25), "3.25×");
    }

    #[test]
    fn percentiles_show_their_nines() {
        assert_eq!(percentile(0.5), "50 %");
        assert_eq!(percentile(0.99), "99 %");
        assert_eq!(percentile(0.999), "99.9 %");
        assert_eq!(percentile(0.9999), "99.99 %");
    }

    #[test]
    fn dates_are_utc() {
        assert_eq!(utc_minute(0), "1970-01-01 00:00");
        assert_eq!(utc_minute(1_700_000_000), "2023-11-14 22:13");
        assert_eq!(utc_tick(1_700_000_000, false), "11-14");
    }
}

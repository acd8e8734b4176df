//! Number and time formatting existing scripts rely on: floats always carry a decimal
//! point and never an exponent; integers never do.

use std::fmt::Write;

use chrono::{Datelike, Timelike};

/// Formats a float as plain decimal with at least one fractional digit.
pub fn float(v: f64) -> String {
    let mut s = String::new();
    push_float(&mut s, v);
    s
}

/// [`float`], appended to `out` (no allocation of its own).
pub fn push_float(out: &mut String, v: f64) {
    if !v.is_finite() {
        out.push_str("0.0");
        return;
    }
    let start = out.len();
    let _ = write!(out, "{v}");
    if !out[start..].contains('.') {
        out.push_str(".0");
    }
}

/// ISO-8601 UTC with microseconds and a trailing `Z`, as the reference
/// writes (`datetime.utcnow().isoformat() + "Z"`).
pub fn timestamp(t: &chrono::DateTime<chrono::Utc>) -> String {
    let mut s = String::with_capacity(27);
    push_timestamp(&mut s, t);
    s
}

/// [`timestamp`], appended to `out` (no allocation of its own).
pub fn push_timestamp(out: &mut String, t: &chrono::DateTime<chrono::Utc>) {
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.timestamp_subsec_micros().min(999_999)
    );
}

#[cfg(test)]
mod tests {
    use super::{float, timestamp};

    #[test]
    fn never_exponent_always_a_point() {
        assert_eq!(float(1.0), "1.0");
        assert_eq!(float(0.000012), "0.000012");
        assert_eq!(float(1e21), "1000000000000000000000.0");
        assert_eq!(float(0.1), "0.1");
        assert_eq!(float(-0.0), "-0.0");
        assert_eq!(float(f64::NAN), "0.0");
    }

    #[test]
    fn timestamps_as_the_reference_writes_them() {
        for t in [
            "2026-01-09T04:05:06.000007Z",
            "0999-12-31T23:59:59.999999Z",
            "2026-11-30T08:16:06.123456Z",
        ] {
            let parsed: chrono::DateTime<chrono::Utc> = t.parse().unwrap();
            assert_eq!(timestamp(&parsed), t);
            let chrono_says = parsed.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
            assert_eq!(timestamp(&parsed), chrono_says);
        }
        let nanos: chrono::DateTime<chrono::Utc> =
            "2026-01-09T04:05:06.123456789Z".parse().unwrap();
        assert_eq!(
            timestamp(&nanos),
            "2026-01-09T04:05:06.123456Z",
            "truncated like %.6f"
        );
    }
}

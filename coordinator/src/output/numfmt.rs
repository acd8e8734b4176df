//! Number and time formatting existing scripts rely on: floats always carry a decimal
//! point and never an exponent; integers never do.

/// Formats a float as plain decimal with at least one fractional digit.
pub fn float(v: f64) -> String {
    if !v.is_finite() {
        return "0.0".to_string();
    }
    let s = format!("{v}");
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

/// ISO-8601 UTC with microseconds and a trailing `Z`, as the reference
/// writes (`datetime.utcnow().isoformat() + "Z"`).
pub fn timestamp(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::float;

    #[test]
    fn never_exponent_always_a_point() {
        assert_eq!(float(1.0), "1.0");
        assert_eq!(float(0.000012), "0.000012");
        assert_eq!(float(1e21), "1000000000000000000000.0");
        assert_eq!(float(0.1), "0.1");
        assert_eq!(float(-0.0), "-0.0");
    }
}

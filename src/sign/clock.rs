//! Time formats the schemes put on the wire, and the wall clock for convenience constructors.
//! Signing and verification take time as an input; only the helpers here read the clock.
use chrono::{DateTime, Datelike, NaiveDateTime, Utc};

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> i64 {
    Utc::now().timestamp()
}

/// `YYYY-MM-DD` of a Unix timestamp in UTC (the TC3 credential-scope date).
pub fn utc_date(timestamp: i64) -> Option<String> {
    // From the date's parts: a verifier asks once per request, and `format` parses its pattern
    // every time. Years outside 0..=9999 keep chrono's spelling.
    let t = DateTime::<Utc>::from_timestamp(timestamp, 0)?;
    Some(match t.year() {
        0..=9999 => format!("{:04}-{:02}-{:02}", t.year(), t.month(), t.day()),
        _ => t.format("%Y-%m-%d").to_string(),
    })
}

/// `yyyy-MM-ddTHH:mm:ssZ` (Alibaba `x-acs-date` and RPC `Timestamp`).
pub fn iso8601(timestamp: i64) -> Option<String> {
    DateTime::<Utc>::from_timestamp(timestamp, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// Parse an Alibaba timestamp. The SDKs send `yyyy-MM-ddTHH:mm:ssZ`; any RFC 3339 instant is
/// accepted too, since the gateway's exact grammar is not documented.
pub fn parse_iso8601(value: &str) -> Option<i64> {
    if let Ok(t) = NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%SZ") {
        return Some(t.and_utc().timestamp());
    }
    DateTime::parse_from_rfc3339(value)
        .ok()
        .map(|t| t.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        // Tencent doc: 1551113065 is 2019-02-26 in UTC+8 but the scope date is 2019-02-25.
        assert_eq!(utc_date(1551113065).as_deref(), Some("2019-02-25"));
        assert_eq!(iso8601(1678696470).as_deref(), Some("2023-03-13T08:34:30Z"));
        assert_eq!(parse_iso8601("2023-03-13T08:34:30Z"), Some(1678696470));
        assert_eq!(parse_iso8601("2023-03-13T16:34:30+08:00"), Some(1678696470));
        assert_eq!(parse_iso8601("2023-03-13 08:34:30"), None);
        assert_eq!(parse_iso8601(""), None);
        assert_eq!(utc_date(i64::MAX), None);
        assert_eq!(utc_date(0).as_deref(), Some("1970-01-01"));
        assert_eq!(utc_date(-62_135_596_800).as_deref(), Some("0001-01-01"));
        assert_eq!(utc_date(253_402_300_800).as_deref(), Some("+10000-01-01"));
        // Every day of a leap year and its neighbours, against chrono's own formatting.
        for day in 0..3 * 366 {
            let ts = 1_704_067_200 + day * 86_400 - 1;
            let expected =
                DateTime::<Utc>::from_timestamp(ts, 0).map(|t| t.format("%Y-%m-%d").to_string());
            assert_eq!(utc_date(ts), expected);
        }
    }
}

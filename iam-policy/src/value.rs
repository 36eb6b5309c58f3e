//! Typed values of conditions and context keys: numbers, dates, IP
//! addresses and CIDR blocks, booleans, base64. One parser per type, used
//! when a policy is written (`condition`) and when a request value is first
//! compared or declared with a type (`context`).

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use ipnet::IpNet;
use std::net::IpAddr;
use std::sync::OnceLock;

/// Lazily parsed forms of one context value: each parsed on first use, so
/// once per request however many statements test it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Parsed {
    number: OnceLock<Option<f64>>,
    date: OnceLock<Option<DateTime<Utc>>>,
    net: OnceLock<Option<IpNet>>,
    bytes: OnceLock<Option<Vec<u8>>>,
}

impl Parsed {
    /// `raw` (the value these forms belong to) as a number.
    pub(crate) fn number(&self, raw: &str) -> Option<f64> {
        *self.number.get_or_init(|| parse_number(raw))
    }

    pub(crate) fn date(&self, raw: &str) -> Option<DateTime<Utc>> {
        *self.date.get_or_init(|| parse_date(raw))
    }

    pub(crate) fn net(&self, raw: &str) -> Option<IpNet> {
        *self.net.get_or_init(|| parse_net(raw))
    }

    pub(crate) fn bytes(&self, raw: &str) -> Option<&[u8]> {
        self.bytes.get_or_init(|| base64_decode(raw)).as_deref()
    }
}

pub(crate) fn parse_number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

pub(crate) fn parse_net(s: &str) -> Option<IpNet> {
    let s = s.trim();
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

/// ISO 8601 (date, date-time with or without zone, fractional seconds) or
/// epoch seconds, as AWS's date operators accept.
pub(crate) fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Utc.timestamp_opt(n, 0).single();
    }
    if let Some(f) = parse_number(s).filter(|_| !s.contains('-')) {
        let secs = f.floor();
        let nanos = ((f - secs) * 1e9) as u32;
        return Utc.timestamp_opt(secs as i64, nanos).single();
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M%#z",
        "%Y-%m-%dT%H:%M:%S%.f%#z",
        "%Y%m%dT%H%M%S%#z",
    ] {
        if let Ok(d) = DateTime::parse_from_str(s, fmt) {
            return Some(d.with_timezone(&Utc));
        }
    }
    let naive = s.strip_suffix('Z').unwrap_or(s);
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y%m%dT%H%M%S"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(naive, fmt) {
            return Some(Utc.from_utc_datetime(&d));
        }
    }
    NaiveDate::parse_from_str(naive, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| Utc.from_utc_datetime(&d))
}

/// Standard base64, padding optional.
pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim().trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in s.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (bits < 6).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let t = parse_date("2026-11-25T12:00:00Z").unwrap();
        assert_eq!(parse_date("2026-11-25T12:00:00+00:00"), Some(t));
        assert_eq!(parse_date("2026-11-25T13:00:00+01:00"), Some(t));
        assert_eq!(parse_date("2026-11-25T12:00Z"), Some(t));
        assert_eq!(parse_date("2026-11-25T12:00:00.000Z"), Some(t));
        assert_eq!(parse_date(&t.timestamp().to_string()), Some(t));
        assert!(parse_date("2026-11-25").is_some());
        assert!(parse_date("yesterday").is_none());
    }

    #[test]
    fn base64() {
        assert_eq!(base64_decode("QmluYXJ5VmFsdWU=").unwrap(), b"BinaryValue");
        assert_eq!(base64_decode("YQ").unwrap(), b"a");
        assert!(base64_decode("Y").is_none());
        assert!(base64_decode("!!").is_none());
    }
}

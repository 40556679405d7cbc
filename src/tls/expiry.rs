//! Certificate dates: the clock, how a Unix time reads, and the near-expiry warning.

/// Seconds since the Unix epoch, now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A Unix time as `2026-11-23T15:00:00Z`.
pub fn format_time(unix: i64) -> String {
    u64::try_from(unix)
        .ok()
        .and_then(|s| {
            x509_cert::der::DateTime::from_unix_duration(std::time::Duration::from_secs(s)).ok()
        })
        .map_or_else(|| unix.to_string(), |t| t.to_string())
}

/// The day of a Unix time (`2026-12-03`), or the number itself when it is no date (a
/// hand-edited config can hold anything).
pub fn format_day(unix: i64) -> String {
    let time = format_time(unix);
    if time.parse::<i64>().is_ok() {
        return time;
    }
    time.get(..10).unwrap_or(&time).to_owned()
}

/// Says on stderr when the client certificate (expiring at `not_after`) has expired or
/// expires within 30 days; commands that hand the certificate to Nomad call it.
pub fn warn_if_expiring(name: &str, not_after: Option<i64>) {
    if let Some(warning) = not_after.and_then(|t| expiry_warning(name, t)) {
        crate::text::warn(&warning);
    }
}

/// The warning `use` and `exec` print while a certificate has fewer than 30 days left.
pub fn expiry_warning(name: &str, not_after: i64) -> Option<String> {
    let left = not_after.saturating_sub(now());
    (left < 30 * 86_400).then(|| {
        if left <= 0 {
            return format!(
                "the client certificate of context {name:?} expired on {}; Nomad will refuse it. Renew it and run `nomadctx set {name} --cert FILE --key FILE`",
                format_time(not_after)
            );
        }
        format!(
            "the client certificate of context {name:?} expires on {} ({} days left); renew it and run `nomadctx set {name} --cert FILE --key FILE`",
            format_time(not_after),
            left.max(0) / 86_400
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_edited_expiry_times_neither_panic_nor_wrap() {
        assert_eq!(format_day(1_796_342_400), "2026-12-04");
        for odd in [-1, i64::MIN, i64::MAX] {
            assert_eq!(format_day(odd), odd.to_string());
        }
        assert!(
            expiry_warning("prod", i64::MIN)
                .unwrap()
                .contains("expired")
        );
        assert_eq!(expiry_warning("prod", i64::MAX), None);
    }
}

//! Durations as people write them (`8h`, `1h30m`): how long `unlock` keeps the store open.

use std::time::Duration;

/// How long `unlock` keeps the store open when neither `--for` nor the config says.
pub const DEFAULT_TTL: Duration = Duration::from_secs(8 * 3600);

/// The longest `--for` or `unlock_for` nomadctx takes: a year.
const MAX_TTL: Duration = Duration::from_secs(366 * 24 * 3600);

/// Parses a duration as people write one: `8h`, `30m`, `90s`, `1d`, `1h30m`.
pub fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    let wrong = || {
        format!(
            "{text:?} is not a duration; write it as 8h, 30m, 90s, 2d, 1w or 1h30m (at least 1s, at most 366d)"
        )
    };
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            'w' => 7 * 86400,
            _ => return Err(wrong()),
        };
        let n: u64 = digits.parse().map_err(|_| wrong())?;
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(wrong)?;
        digits.clear();
    }
    if !digits.is_empty() || total == 0 {
        return Err(wrong());
    }
    if total > MAX_TTL.as_secs() {
        return Err(format!(
            "{text:?} is longer than nomadctx keeps a store unlocked (366d)"
        ));
    }
    Ok(Duration::from_secs(total))
}

/// A duration as `parse_duration` reads it back: `8h`, `1h30m`, `45s`.
pub fn format_duration(d: Duration) -> String {
    let mut left = d.as_secs();
    let mut out = String::new();
    for (unit, secs) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] {
        if left >= secs {
            out.push_str(&format!("{}{unit}", left / secs));
            left %= secs;
        }
    }
    if out.is_empty() { "0s".to_owned() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_duration("8h"), Ok(Duration::from_secs(8 * 3600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86400)));
        assert_eq!(parse_duration("1w"), Ok(Duration::from_secs(7 * 86400)));
        for bad in [
            "",
            "0s",
            "8",
            "h",
            "8x",
            "-1h",
            "367d",
            "99999999999999999999d",
            "1.5h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        for text in ["8h", "1h30m", "45s", "2d3h"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
    }
}

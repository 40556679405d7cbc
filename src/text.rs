//! Text that came from outside (a server, a certificate, a hand-edited file) made safe to
//! show on a terminal: control and bidi characters become visible escapes.

use std::borrow::Cow;

/// `text` with every character a terminal would act on instead of showing written as
/// `\u{1b}`: C0 and C1 controls (ESC starts OSC 52 clipboard writes and cursor moves), DEL,
/// the bidi controls that reorder what a reader sees, and line and paragraph separators.
pub fn printable(text: &str) -> Cow<'_, str> {
    escape(text, is_hostile, |c| c.escape_unicode().to_string())
}

/// As [`printable`] for nomadctx's own messages, which may run over several lines: line
/// breaks stay, everything else a terminal would act on is escaped. The one place errors
/// and warnings go through on their way to stderr.
pub fn printable_message(text: &str) -> Cow<'_, str> {
    escape(
        text,
        |c| c != '\n' && is_hostile(c),
        |c| c.escape_unicode().to_string(),
    )
}

/// JSON text (as serde_json writes it, C0 controls in strings already escaped) with the
/// hostile characters that JSON allows raw (DEL, C1, bidi) written as `\uXXXX` escapes: the
/// same value for a program, nothing a terminal acts on. The newlines between values stay.
pub fn printable_json(json: &str) -> Cow<'_, str> {
    // Every hostile character is in the Basic Multilingual Plane: four hex digits do.
    escape(
        json,
        |c| c >= '\u{7f}' && is_hostile(c),
        |c| format!("\\u{:04x}", u32::from(c)),
    )
}

/// A warning on stderr, escaped as every message of nomadctx's is.
pub fn warn(message: &str) {
    eprintln!("nomadctx: warning: {}", printable_message(message));
}

fn escape(
    text: &str,
    hostile: impl Fn(char) -> bool,
    escaped: impl Fn(char) -> String,
) -> Cow<'_, str> {
    if !text.chars().any(&hostile) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if hostile(c) {
            out.push_str(&escaped(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn is_hostile(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_controls_become_visible() {
        let cases = [
            ("1.9.3", "1.9.3"),
            ("", ""),
            ("prød ☃ 東京", "prød ☃ 東京"),
            ("back\\slash 'q' \"dq\"", "back\\slash 'q' \"dq\""),
            ("\x1b]52;c;aGk=\x07", "\\u{1b}]52;c;aGk=\\u{7}"),
            ("\x1b[2J\x1b[1A", "\\u{1b}[2J\\u{1b}[1A"),
            ("a\nb\rc\td\0", "a\\u{a}b\\u{d}c\\u{9}d\\u{0}"),
            ("del\x7f", "del\\u{7f}"),
            ("csi\u{9b}2J nel\u{85}", "csi\\u{9b}2J nel\\u{85}"),
            ("abc\u{202e}fed", "abc\\u{202e}fed"),
            (
                "\u{202a}\u{202b}\u{202c}\u{202d}\u{2066}\u{2067}\u{2068}\u{2069}",
                "\\u{202a}\\u{202b}\\u{202c}\\u{202d}\\u{2066}\\u{2067}\\u{2068}\\u{2069}",
            ),
            (
                "\u{200e}\u{200f}\u{61c}\u{2028}\u{2029}",
                "\\u{200e}\\u{200f}\\u{61c}\\u{2028}\\u{2029}",
            ),
        ];
        for (raw, shown) in cases {
            assert_eq!(printable(raw), shown, "{raw:?}");
            assert!(!printable(raw).chars().any(is_hostile));
        }
        assert!(matches!(printable("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn json_keeps_its_value_and_loses_its_controls() {
        let value = ["a\u{1b}[2J\u{7f}\u{9b}\u{202e}z\"\\\n", "b"];
        let json = serde_json::to_string_pretty(&value).unwrap();
        let safe = printable_json(&json);
        assert!(!safe.chars().any(|c| c != '\n' && is_hostile(c)), "{safe}");
        assert_eq!(safe.lines().count(), json.lines().count());
        assert_eq!(serde_json::from_str::<[String; 2]>(&safe).unwrap(), value);
        assert!(matches!(printable_json("{\"a\":1}"), Cow::Borrowed(_)));
    }
}

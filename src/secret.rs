//! The Secret type: key and token bytes that never print and are wiped on drop.

use std::fmt;

use zeroize::Zeroizing;

/// Bytes of a private key or an ACL token.
///
/// `Debug` prints `(redacted)` so a secret cannot reach a log or a panic message by way of
/// `{:?}`; the buffer is zeroized when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The secret as text, for a token that has to become an environment variable.
    pub fn expose_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }
}

/// An ACL token as Nomad takes it: one line of text, sent as the `X-Nomad-Token` header and
/// set as NOMAD_TOKEN. Surrounding whitespace (a file's final newline) is dropped; a
/// control character (CR and LF would add HTTP headers of their own) makes it no token.
/// The same rule holds whatever the token came from: stdin, NOMAD_TOKEN or the keychain.
pub fn parse_token(raw: &[u8]) -> Result<Secret, TokenProblem> {
    let token = raw.trim_ascii();
    if token.is_empty() {
        return Err(TokenProblem::Empty);
    }
    match std::str::from_utf8(token) {
        Ok(text) if !text.chars().any(char::is_control) => Ok(Secret::new(token.to_vec())),
        _ => Err(TokenProblem::NotOneLine),
    }
}

/// Why bytes are not an ACL token; the caller names where they came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    Empty,
    NotOneLine,
}

impl fmt::Display for TokenProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "is empty",
            Self::NotOneLine => "is not one line of text (it holds a control character such as a line break, or is not UTF-8)",
        })
    }
}

impl std::error::Error for TokenProblem {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_bytes() {
        let secret = Secret::new(b"s.3cr3t-token".to_vec());
        let printed = format!("{secret:?} {:#?}", vec![secret.clone()]);
        assert!(!printed.contains("3cr3t"), "{printed}");
        assert!(printed.contains("(redacted)"));
    }

    #[test]
    fn a_token_is_one_line_of_text() {
        let ok = parse_token(b"  3f6a-11\n").unwrap();
        assert_eq!(ok.expose(), b"3f6a-11");
        assert_eq!(parse_token(b" \n").unwrap_err(), TokenProblem::Empty);
        for bad in [
            &b"tok\r\nX-Injected: 1"[..],
            b"tok\nen",
            b"tok\0en",
            b"tok\x1b[2Jen",
            "tok\u{85}en".as_bytes(),
            b"tok\xffen",
        ] {
            assert_eq!(
                parse_token(bad).unwrap_err(),
                TokenProblem::NotOneLine,
                "{bad:?}"
            );
        }
    }
}

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
}

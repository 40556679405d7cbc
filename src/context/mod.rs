//! The Context type, its id and the rules its name obeys; the rooms below hold its address,
//! the variables it sets, name patterns, and which context a command means.

mod address;
mod environment;
mod pattern;

pub use address::{Address, validate_address};
pub use environment::{EnvVar, Materials, NOMAD_VARS, environment};
pub use pattern::matches_pattern;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

/// One named Nomad cluster as stored in config.toml. The name is only the table's key: the
/// certificate files (`certs/ID/`) and the keychain items are keyed by the context's id and
/// a fresh version per change, so a rename (by command or by hand) moves nothing, and a
/// change writes new pieces beside the live ones before the config points at them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Context {
    /// Random and immutable. `None` only in a config written before ids, which the first
    /// command that needs a certificate or a secret migrates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_server_name: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub skip_verify: bool,
    /// Version of the CA bundle, `certs/ID/ca-VERSION.pem`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_version: Option<String>,
    /// Version of the client certificate, `certs/ID/client-VERSION.pem`, and of the keychain
    /// item that holds its key: the two are one piece.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_version: Option<String>,
    /// When the client certificate stops being valid (Unix seconds), kept so that `use`,
    /// `exec` and `list` can warn without parsing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert_not_after: Option<i64>,
    /// Version of the keychain item that holds the ACL token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_version: Option<String>,
    /// Before ids: `certs/NAME/ca.pem` held the CA bundle. Read for the migration only.
    #[serde(default, skip_serializing)]
    pub ca_cert: bool,
    /// Before ids: `certs/NAME/client.pem` and the keychain account `NAME/client-key`.
    #[serde(default, skip_serializing)]
    pub client_cert: bool,
    /// Before ids: the keychain account `NAME/token`.
    #[serde(default, skip_serializing)]
    pub token: bool,
}

impl Context {
    pub fn has_ca(&self) -> bool {
        self.ca_version.is_some()
    }

    pub fn has_client(&self) -> bool {
        self.client_version.is_some()
    }

    pub fn has_token(&self) -> bool {
        self.token_version.is_some()
    }

    /// The id; empty only for a legacy context, which commands that use it migrate first.
    pub fn id(&self) -> &str {
        self.id.as_deref().unwrap_or_default()
    }

    /// Written before ids (and migrated by the next command that needs its pieces).
    pub fn is_legacy(&self) -> bool {
        self.id.is_none()
    }
}

/// A fresh random id of `bytes` bytes as hex, from the operating system's generator: 8 for
/// contexts and piece versions, 16 for a store.
pub fn fresh_id(bytes: usize) -> Result<String> {
    use ring::rand::SecureRandom;
    let mut buf = vec![0u8; bytes];
    ring::rand::SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| anyhow::anyhow!("the operating system's random number generator failed"))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn is_false(b: &bool) -> bool {
    !*b
}

pub const MAX_NAME_LEN: usize = 64;

/// Names become file names and keychain accounts, so they are kept to a safe alphabet.
pub fn validate_name(name: &str) -> Result<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() {
        bail!("a context name cannot be empty");
    }
    if name.len() > MAX_NAME_LEN {
        bail!(
            "context name {:?} is {} characters long; the limit is {MAX_NAME_LEN}",
            name,
            name.chars().count()
        );
    }
    if let Some(bad) = name.chars().find(|c| !allowed(*c)) {
        bail!("context name {name:?} contains {bad:?}; use only letters, digits, '.', '_' and '-'");
    }
    if name.starts_with('-') {
        bail!("context name {name:?} starts with '-'; it would be read as an option");
    }
    if name == "." || name == ".." {
        bail!("context name {name:?} is reserved; choose another");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_documented_alphabet() {
        for ok in ["prod", "eu-west_1.staging", "A", &"x".repeat(64)] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-rf",
            "../x",
            "a/b",
            "a b",
            "prød",
            "a\nb",
            ".",
            "..",
            &"x".repeat(65),
        ] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }
}

//! The keychain backends: which one to use, their names, and how to describe them.

use crate::settings::KEYCHAIN_VAR;
use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

/// Where secrets are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// freedesktop Secret Service (GNOME Keyring, KWallet, KeePassXC); the Linux default.
    SecretService,
    /// Encrypted files (age), unlocked once per session; for servers without a desktop.
    File,
    /// The Linux kernel keyring; forgets everything at reboot, so only when asked for.
    Keyutils,
    /// macOS Keychain.
    #[serde(rename = "macos", alias = "macos-keychain")]
    MacosKeychain,
    /// Windows Credential Manager.
    #[serde(rename = "windows", alias = "windows-credential-manager")]
    WindowsCredentialManager,
}

impl Backend {
    pub fn platform_default() -> Self {
        if cfg!(target_os = "macos") {
            Self::MacosKeychain
        } else if cfg!(windows) {
            Self::WindowsCredentialManager
        } else {
            Self::SecretService
        }
    }

    /// `NOMADCTX_KEYCHAIN` wins over the config file, which wins over the platform default.
    pub fn choose(configured: Option<Backend>) -> Result<Self> {
        match std::env::var(KEYCHAIN_VAR) {
            Ok(v) if !v.is_empty() => Self::parse(&v),
            _ => Ok(configured.unwrap_or_else(Self::platform_default)),
        }
    }

    fn parse(value: &str) -> Result<Self> {
        match Self::from_name(value) {
            Some(backend) => Ok(backend),
            None => bail!(
                "{KEYCHAIN_VAR}={value:?} is not a keychain nomadctx knows; use one of: {}",
                Self::names()
            ),
        }
    }

    /// The backend called `name` in config.toml, `keychain use` or NOMADCTX_KEYCHAIN.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "secret-service" => Some(Self::SecretService),
            "file" => Some(Self::File),
            "keyutils" => Some(Self::Keyutils),
            "macos" | "macos-keychain" => Some(Self::MacosKeychain),
            "windows" | "windows-credential-manager" => Some(Self::WindowsCredentialManager),
            _ => None,
        }
    }

    /// The names of the backends this system has: `secret-service, file, keyutils`.
    pub fn names() -> String {
        Self::available()
            .into_iter()
            .map(Self::name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The backends this operating system has, the default first.
    pub fn available() -> Vec<Self> {
        let mut all = vec![Self::platform_default(), Self::File];
        if cfg!(target_os = "linux") {
            all.push(Self::Keyutils);
        }
        all
    }

    /// The name `keychain use` and config.toml know it by.
    pub fn name(self) -> &'static str {
        match self {
            Self::SecretService => "secret-service",
            Self::File => "file",
            Self::Keyutils => "keyutils",
            Self::MacosKeychain => "macos",
            Self::WindowsCredentialManager => "windows",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Self::SecretService => "the Secret Service",
            Self::File => "the file store",
            Self::Keyutils => "the kernel keyring (keyutils)",
            Self::MacosKeychain => "the macOS Keychain",
            Self::WindowsCredentialManager => "Windows Credential Manager",
        }
    }

    pub fn remedy(self) -> &'static str {
        match self {
            Self::SecretService => {
                "make sure a Secret Service (gnome-keyring-daemon, KWallet or KeePassXC) is running on this session's D-Bus and its collection is unlocked, or choose another keychain with `nomadctx keychain use file --migrate` (docs/headless.md)"
            }
            Self::File => {
                "check the file store's directory (`nomadctx keychain` shows where it is)"
            }
            Self::Keyutils => {
                "check that the kernel has persistent keyrings (`keyctl get_persistent @s`) and that your key quota (/proc/sys/kernel/keys/maxkeys, maxbytes) is not used up"
            }
            Self::MacosKeychain => "unlock the login keychain in Keychain Access",
            Self::WindowsCredentialManager => {
                "check that Credential Manager is available for this user"
            }
        }
    }

    /// Whether what this backend holds survives a reboot.
    pub fn is_durable(self) -> bool {
        self != Self::Keyutils
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_names_parse() {
        assert_eq!(Backend::parse("keyutils").unwrap(), Backend::Keyutils);
        assert!(Backend::parse("plaintext").is_err());
    }
}

//! The one place that talks to keyring-core: picks the backend, cuts off calls that hang,
//! and turns keychain failures into messages that say what to do.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, mpsc};
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use keyring_core::{CredentialStore, Entry, Error as KeyringError};
use serde::{Deserialize, Serialize};

use crate::secret::Secret;

pub const SERVICE: &str = "nomadctx";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where secrets are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// freedesktop Secret Service (GNOME Keyring, KWallet, KeePassXC); the Linux default.
    SecretService,
    /// The Linux kernel keyring; forgets everything at reboot, so only when asked for.
    Keyutils,
    /// macOS Keychain.
    MacosKeychain,
    /// Windows Credential Manager.
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
        match std::env::var("NOMADCTX_KEYCHAIN") {
            Ok(v) if !v.is_empty() => Self::parse(&v),
            _ => Ok(configured.unwrap_or_else(Self::platform_default)),
        }
    }

    fn parse(value: &str) -> Result<Self> {
        match value {
            "secret-service" => Ok(Self::SecretService),
            "keyutils" => Ok(Self::Keyutils),
            "macos-keychain" => Ok(Self::MacosKeychain),
            "windows-credential-manager" => Ok(Self::WindowsCredentialManager),
            other => bail!(
                "NOMADCTX_KEYCHAIN={other:?} is not a keychain nomadctx knows; use secret-service, keyutils, macos-keychain or windows-credential-manager"
            ),
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Self::SecretService => "the Secret Service",
            Self::Keyutils => "the kernel keyring (keyutils)",
            Self::MacosKeychain => "the macOS Keychain",
            Self::WindowsCredentialManager => "Windows Credential Manager",
        }
    }

    fn remedy(self) -> &'static str {
        match self {
            Self::SecretService => {
                "make sure a Secret Service (gnome-keyring-daemon, KWallet or KeePassXC) is running on this session's D-Bus and its collection is unlocked, or choose the kernel keyring with NOMADCTX_KEYCHAIN=keyutils (it forgets keys at reboot)"
            }
            Self::Keyutils => "check that this session has a kernel keyring (`keyctl show @s`)",
            Self::MacosKeychain => "unlock the login keychain in Keychain Access",
            Self::WindowsCredentialManager => {
                "check that Credential Manager is available for this user"
            }
        }
    }

    fn open(self) -> keyring_core::Result<Arc<CredentialStore>> {
        match self {
            #[cfg(target_os = "linux")]
            Self::SecretService => Ok(dbus_secret_service_keyring_store::Store::new()?),
            #[cfg(target_os = "linux")]
            Self::Keyutils => Ok(linux_keyutils_keyring_store::Store::new()?),
            #[cfg(target_os = "macos")]
            Self::MacosKeychain => Ok(apple_native_keyring_store::keychain::Store::new()?),
            #[cfg(windows)]
            Self::WindowsCredentialManager => Ok(windows_native_keyring_store::Store::new()?),
            #[allow(unreachable_patterns)]
            other => Err(KeyringError::NotSupportedByStore(format!(
                "{} is not available on this operating system",
                other.describe()
            ))),
        }
    }

    fn label_modifier(self) -> bool {
        self == Self::SecretService
    }
}

/// Which secret of a context an item holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    ClientKey,
    Token,
}

impl Item {
    pub const ALL: [Item; 2] = [Item::ClientKey, Item::Token];

    /// The context and item an account names, if it is one of ours.
    pub fn parse_account(account: &str) -> Option<(&str, Item)> {
        let (name, suffix) = account.rsplit_once('/')?;
        Self::ALL
            .into_iter()
            .find(|item| item.suffix() == suffix)
            .map(|item| (name, item))
    }

    fn suffix(self) -> &'static str {
        match self {
            Self::ClientKey => "client-key",
            Self::Token => "token",
        }
    }

    pub fn what(self) -> &'static str {
        match self {
            Self::ClientKey => "client key",
            Self::Token => "ACL token",
        }
    }
}

/// The keychain account of `item` for context `name` (`NAME/client-key`, `NAME/token`).
pub fn account(name: &str, item: Item) -> String {
    format!("{name}/{}", item.suffix())
}

/// A connection to one backend, opened on first use so that commands which need no secret
/// never touch the keychain.
#[derive(Clone)]
pub struct Keychain {
    backend: Backend,
    store: Arc<OnceLock<Arc<CredentialStore>>>,
    timeout: Duration,
}

impl std::fmt::Debug for Keychain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keychain")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Keychain {
    pub fn new(backend: Backend) -> Self {
        let timeout = std::env::var("NOMADCTX_KEYCHAIN_TIMEOUT")
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|s| *s > 0.0)
            .map_or(DEFAULT_TIMEOUT, Duration::from_secs_f64);
        Self {
            backend,
            store: Arc::default(),
            timeout,
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The secret, or `None` when the keychain has no such item.
    pub fn get(&self, name: &str, item: Item) -> Result<Option<Secret>> {
        let entry = self.entry(name, item)?;
        match self.bounded(move || entry.get_secret()) {
            Ok(bytes) => Ok(Some(Secret::new(bytes))),
            Err(Failure::Keyring(KeyringError::NoEntry)) => Ok(None),
            Err(failure) => Err(self.explain(name, item, "read", failure)),
        }
    }

    /// The secret, or an error that says how to put it back.
    pub fn require(&self, name: &str, item: Item) -> Result<Secret> {
        self.get(name, item)?.ok_or_else(|| {
            anyhow!(
                "the {} of context {name:?} is missing from {} (account {SERVICE}/{}); store it again with `nomadctx set {name} {}`",
                item.what(),
                self.backend.describe(),
                account(name, item),
                match item {
                    Item::ClientKey => "--cert FILE --key FILE",
                    Item::Token => "--token-stdin",
                }
            )
        })
    }

    pub fn set(&self, name: &str, item: Item, secret: &Secret) -> Result<()> {
        let entry = self.entry(name, item)?;
        let secret = secret.clone();
        self.bounded(move || entry.set_secret(secret.expose()))
            .map_err(|f| self.explain(name, item, "store", f))
    }

    /// Removes the item; `Ok(false)` when there was none.
    pub fn delete(&self, name: &str, item: Item) -> Result<bool> {
        let entry = self.entry(name, item)?;
        match self.bounded(move || entry.delete_credential()) {
            Ok(()) => Ok(true),
            Err(Failure::Keyring(KeyringError::NoEntry)) => Ok(false),
            Err(failure) => Err(self.explain(name, item, "delete", failure)),
        }
    }

    /// Every account nomadctx holds in the keychain (`NAME/client-key`, ...), when the
    /// backend can list them: the Secret Service can; the kernel keyring cannot, and `None`
    /// sends `doctor` to the store's journal instead.
    pub fn accounts(&self) -> Result<Option<Vec<String>>> {
        // Connection errors name an account; "*" stands for all of them.
        let store = self.store("*", Item::ClientKey)?;
        let found = self.bounded(move || {
            let entries = store.search(&HashMap::from([("service", SERVICE)]))?;
            Ok(entries
                .iter()
                .filter_map(Entry::get_specifiers)
                .filter(|(service, _)| service == SERVICE)
                .map(|(_, account)| account)
                .collect::<Vec<_>>())
        });
        match found {
            Ok(accounts) => Ok(Some(accounts)),
            Err(Failure::Keyring(KeyringError::NotSupportedByStore(_))) => Ok(None),
            Err(Failure::TimedOut) => Err(anyhow!(
                "could not list nomadctx's items in {}: no answer within {:.0} seconds; {}",
                self.backend.describe(),
                self.timeout.as_secs_f64(),
                self.backend.remedy()
            )),
            Err(Failure::Keyring(err)) => Err(anyhow!(
                "could not list nomadctx's items in {}: {}; {}",
                self.backend.describe(),
                describe_error(&err),
                self.backend.remedy()
            )),
        }
    }

    fn entry(&self, name: &str, item: Item) -> Result<Entry> {
        let store = self.store(name, item)?;
        let account = account(name, item);
        let label = format!("nomadctx {} for context {name}", item.what());
        let modifiers: HashMap<&str, &str> = HashMap::from([("label", label.as_str())]);
        let modifiers = self.backend.label_modifier().then_some(&modifiers);
        store
            .build(SERVICE, &account, modifiers)
            .map_err(|e| self.explain(name, item, "open", Failure::Keyring(e)))
    }

    fn store(&self, name: &str, item: Item) -> Result<Arc<CredentialStore>> {
        if let Some(store) = self.store.get() {
            return Ok(store.clone());
        }
        let backend = self.backend;
        let store = self
            .bounded(move || backend.open())
            .map_err(|f| self.explain(name, item, "connect to", f))?;
        Ok(self.store.get_or_init(|| store).clone())
    }

    /// Runs a keychain call on its own thread and gives up after the timeout, because a
    /// Secret Service that accepts the connection but never answers would hang us forever.
    fn bounded<T: Send + 'static>(
        &self,
        call: impl FnOnce() -> keyring_core::Result<T> + Send + 'static,
    ) -> std::result::Result<T, Failure> {
        let (tx, rx) = mpsc::sync_channel(1);
        std::thread::spawn(move || {
            let _ = tx.send(call());
        });
        match rx.recv_timeout(self.timeout) {
            Ok(result) => result.map_err(Failure::Keyring),
            Err(_) => Err(Failure::TimedOut),
        }
    }

    fn explain(&self, name: &str, item: Item, verb: &str, failure: Failure) -> anyhow::Error {
        let backend = self.backend.describe();
        let account = account(name, item);
        let what = item.what();
        let remedy = self.backend.remedy();
        match failure {
            Failure::TimedOut => anyhow!(
                "could not {verb} {backend} for the {what} of context {name:?} (account {SERVICE}/{account}): no answer within {:.0} seconds; {remedy}",
                self.timeout.as_secs_f64()
            ),
            Failure::Keyring(err) => anyhow!(
                "could not {verb} the {what} of context {name:?} in {backend} (account {SERVICE}/{account}): {}; {remedy}",
                describe_error(&err)
            ),
        }
    }
}

enum Failure {
    Keyring(KeyringError),
    TimedOut,
}

/// keyring-core errors can carry the secret bytes (BadEncoding, BadDataFormat), so their
/// text is rebuilt here from the kind and the platform's message only.
fn describe_error(err: &KeyringError) -> String {
    match err {
        KeyringError::PlatformFailure(e) => format!("the keychain failed: {e}"),
        KeyringError::NoStorageAccess(e) => {
            format!("the keychain is locked or refused access: {e}")
        }
        KeyringError::NoEntry => "there is no such item".to_owned(),
        KeyringError::BadEncoding(_) | KeyringError::BadDataFormat(..) => {
            "the stored item is malformed".to_owned()
        }
        KeyringError::TooLong(attr, limit) => {
            format!("{attr} is longer than the keychain's limit of {limit}")
        }
        KeyringError::NotSupportedByStore(why) => format!("not supported: {why}"),
        KeyringError::NoDefaultStore => "no keychain is configured".to_owned(),
        KeyringError::Ambiguous(items) => {
            format!("{} items match; remove the duplicates", items.len())
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_follow_the_design() {
        assert_eq!(account("prod", Item::ClientKey), "prod/client-key");
        assert_eq!(account("prod", Item::Token), "prod/token");
    }

    #[test]
    fn malformed_item_errors_do_not_repeat_the_bytes() {
        let err = KeyringError::BadEncoding(b"s3cr3t".to_vec());
        assert!(!describe_error(&err).contains("s3cr3t"));
    }

    #[test]
    fn backend_names_parse() {
        assert_eq!(Backend::parse("keyutils").unwrap(), Backend::Keyutils);
        assert!(Backend::parse("plaintext").is_err());
    }
}

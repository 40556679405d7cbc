//! The one place that talks to the keychain backends: picks the backend, cuts off calls
//! that hang, and turns keychain failures into messages that say what to do.
//!
//! On Linux every backend is nomadctx's own (the Secret Service client, the kernel keyring,
//! the file store) and bounds its own waits; macOS and Windows go through keyring-core's
//! stores, each call on a thread that is given up after the timeout.

#[cfg(not(target_os = "linux"))]
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
#[cfg(not(target_os = "linux"))]
use keyring_core::{CredentialStore, Entry, Error as KeyringError};
use serde::{Deserialize, Serialize};

use crate::file_store::{FileError, FileStore, LOCKED};
#[cfg(target_os = "linux")]
use crate::kernel_keyring::{KernelError, KernelKeyring};
use crate::secret::Secret;
#[cfg(target_os = "linux")]
use crate::secret_service::{Error as ServiceError, SecretService};

pub const SERVICE: &str = "nomadctx";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

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
        match std::env::var("NOMADCTX_KEYCHAIN") {
            Ok(v) if !v.is_empty() => Self::parse(&v),
            _ => Ok(configured.unwrap_or_else(Self::platform_default)),
        }
    }

    fn parse(value: &str) -> Result<Self> {
        match Self::from_name(value) {
            Some(backend) => Ok(backend),
            None => bail!(
                "NOMADCTX_KEYCHAIN={value:?} is not a keychain nomadctx knows; use one of: {}",
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

    fn remedy(self) -> &'static str {
        match self {
            Self::SecretService => {
                "make sure a Secret Service (gnome-keyring-daemon, KWallet or KeePassXC) is running on this session's D-Bus and its collection is unlocked, or choose another keychain with `nomadctx keychain use file --migrate` (README: Headless servers)"
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

    /// A connection to this backend (all but the file store, which `Keychain` opens with
    /// its settings).
    fn open(self, timeout: Duration) -> std::result::Result<Connection, Failure> {
        #[cfg(not(target_os = "linux"))]
        fn core<S: keyring_core::api::CredentialStoreApi + Send + Sync + 'static>(
            store: keyring_core::Result<Arc<S>>,
        ) -> std::result::Result<Connection, Failure> {
            store
                .map(|s| Connection::Core(s as Arc<CredentialStore>))
                .map_err(Failure::Keyring)
        }
        let _ = timeout;
        match self {
            #[cfg(target_os = "linux")]
            Self::SecretService => SecretService::connect(SERVICE, timeout)
                .map(|s| Connection::Service(Arc::new(s)))
                .map_err(Failure::from),
            #[cfg(target_os = "linux")]
            Self::Keyutils => KernelKeyring::open()
                .map(|k| Connection::Kernel(Arc::new(k)))
                .map_err(Failure::Kernel),
            #[cfg(target_os = "macos")]
            Self::MacosKeychain => core(apple_native_keyring_store::keychain::Store::new()),
            #[cfg(windows)]
            Self::WindowsCredentialManager => core(windows_native_keyring_store::Store::new()),
            #[allow(unreachable_patterns)]
            other => Err(Failure::Unavailable(format!(
                "{} is not available on this operating system",
                other.describe()
            ))),
        }
    }

    /// Whether what this backend holds survives a reboot.
    pub fn is_durable(self) -> bool {
        self != Self::Keyutils
    }
}

/// Which secret of a context an item holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Item {
    ClientKey,
    Token,
}

impl Item {
    pub const ALL: [Item; 2] = [Item::ClientKey, Item::Token];

    pub fn suffix(self) -> &'static str {
        match self {
            Self::ClientKey => "client-key",
            Self::Token => "token",
        }
    }

    pub fn from_suffix(suffix: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|item| item.suffix() == suffix)
    }

    pub fn what(self) -> &'static str {
        match self {
            Self::ClientKey => "client key",
            Self::Token => "ACL token",
        }
    }
}

/// One secret of one context: its item's account is `STORE/CONTEXT/KIND/VERSION` (plus the
/// keychain's service, `nomadctx`), so names never appear in it and each change writes a
/// new version beside the live one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ItemRef {
    pub context: String,
    pub kind: Item,
    pub version: String,
}

impl ItemRef {
    pub fn new(context: &str, kind: Item, version: &str) -> Self {
        Self {
            context: context.to_owned(),
            kind,
            version: version.to_owned(),
        }
    }
}

/// The account of a context's item before store and context ids: `NAME/client-key`.
pub fn legacy_account(name: &str, item: Item) -> String {
    format!("{name}/{}", item.suffix())
}

/// A connection to one backend for one store, opened on first use so that commands which
/// need no secret never touch the keychain.
#[derive(Clone)]
pub struct Keychain {
    backend: Backend,
    store_id: String,
    connection: Arc<OnceLock<Connection>>,
    timeout: Duration,
    /// The file store's public recipient and how long an unlock lasts, from config.toml.
    file_recipient: Option<String>,
    unlock_for: Duration,
}

#[derive(Clone)]
enum Connection {
    #[cfg(not(target_os = "linux"))]
    Core(Arc<CredentialStore>),
    File(Arc<FileStore>),
    #[cfg(target_os = "linux")]
    Service(Arc<SecretService>),
    #[cfg(target_os = "linux")]
    Kernel(Arc<KernelKeyring>),
}

impl std::fmt::Debug for Keychain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keychain")
            .field("backend", &self.backend)
            .field("store_id", &self.store_id)
            .finish()
    }
}

/// How long to wait for the keychain to answer, in seconds.
const TIMEOUT_VAR: &str = "NOMADCTX_KEYCHAIN_TIMEOUT";

/// A timeout a user may set: seconds, from a tenth to an hour (`inf`, `1e300` or
/// `NaN` would overflow a Duration).
fn timeout_from(value: &std::ffi::OsStr) -> Option<Duration> {
    value
        .to_str()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.1 && *s <= 3600.0)
        .map(Duration::from_secs_f64)
}

impl Keychain {
    pub fn new(backend: Backend, store_id: &str) -> Self {
        let timeout = std::env::var_os(TIMEOUT_VAR).map_or(DEFAULT_TIMEOUT, |value| {
            timeout_from(&value).unwrap_or_else(|| {
                crate::text::warn(&format!(
                    "{TIMEOUT_VAR}={} is not a number of seconds from 0.1 to 3600; waiting {} seconds",
                    value.to_string_lossy(),
                    DEFAULT_TIMEOUT.as_secs()
                ));
                DEFAULT_TIMEOUT
            })
        });
        Self {
            backend,
            store_id: store_id.to_owned(),
            connection: Arc::default(),
            timeout,
            file_recipient: None,
            unlock_for: crate::unlock_cache::DEFAULT_TTL,
        }
    }

    /// The file store's settings from config.toml (used when the backend is `file`).
    pub fn with_file_store(mut self, recipient: Option<&str>, unlock_for: Duration) -> Self {
        self.file_recipient = recipient.map(str::to_owned);
        self.unlock_for = unlock_for;
        self
    }

    /// The file store itself, for `unlock`, `lock` and `keychain`.
    pub fn file_store(&self) -> Result<Arc<FileStore>> {
        match self.connection() {
            Ok(Connection::File(store)) => Ok(store),
            Ok(_) => bail!("{} is not the file store", self.backend.describe()),
            Err(failure) => Err(anyhow!("{}", failure.describe())),
        }
    }

    /// Whether the item is there, without reading it where that can be told (the file
    /// store needs no passphrase for it).
    pub fn contains(&self, name: &str, item: &ItemRef) -> Result<bool> {
        if let Ok(Connection::File(store)) = self.connection() {
            return store.contains(&self.account(item));
        }
        Ok(self.get(name, item)?.is_some())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn store_id(&self) -> &str {
        &self.store_id
    }

    /// `STORE/CONTEXT/KIND/VERSION`.
    pub fn account(&self, item: &ItemRef) -> String {
        format!(
            "{}/{}/{}/{}",
            self.store_id,
            item.context,
            item.kind.suffix(),
            item.version
        )
    }

    /// The item an account names, if it is one of this store's.
    fn parse_account(&self, account: &str) -> Option<ItemRef> {
        // Without a store id (a config that never stored anything) nothing is ours: an empty
        // prefix would claim any account that starts with '/'.
        if self.store_id.is_empty() {
            return None;
        }
        let rest = account.strip_prefix(&self.store_id)?.strip_prefix('/')?;
        let mut parts = rest.split('/');
        let (context, kind, version) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        Some(ItemRef::new(context, Item::from_suffix(kind)?, version))
    }

    /// The secret, or `None` when the keychain has no such item.
    pub fn get(&self, name: &str, item: &ItemRef) -> Result<Option<Secret>> {
        let account = self.account(item);
        self.read(&account)
            .map_err(|f| self.explain(name, item.kind, &account, "read", f))
    }

    /// The secrets of `items` (one context's), in order, in one request where the backend
    /// allows: `exec` and `use` ask for the key and the token together.
    pub fn get_all(&self, name: &str, items: &[ItemRef]) -> Result<Vec<Option<Secret>>> {
        // A context with neither key nor token never opens the keychain.
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let accounts: Vec<String> = items.iter().map(|item| self.account(item)).collect();
        let refs: Vec<&str> = accounts.iter().map(String::as_str).collect();
        // Named after the first item: the key, whose failure is the one that matters most.
        self.read_all(&refs)
            .map_err(|f| self.explain(name, items[0].kind, &accounts[0], "read", f))
    }

    /// The secret, or an error that says why it may be gone and how to put it back.
    pub fn require(&self, name: &str, item: &ItemRef) -> Result<Secret> {
        self.get(name, item)?
            .ok_or_else(|| self.missing(name, item))
    }

    /// Why an item a context names is not there, and how to put it back.
    pub fn missing(&self, name: &str, item: &ItemRef) -> anyhow::Error {
        let again = match item.kind {
            _ if name.is_empty() => String::new(),
            Item::ClientKey => format!("; store it again with `nomadctx set {name} --key FILE`"),
            Item::Token => format!("; store it again with `nomadctx set {name} --token-stdin`"),
        };
        let why = if self.backend.is_durable() {
            format!("is missing from {}", self.backend.describe())
        } else {
            "is not in the kernel keyring, most likely lost at reboot (kernel keyring): it keeps keys until the machine restarts, or until nomadctx has not run for 3 days (persistent_keyring_expiry)".to_owned()
        };
        anyhow!(
            "the {} of {} {why} (item {SERVICE}/{}){again}",
            item.kind.what(),
            owner(name),
            self.account(item),
        )
    }

    pub fn set(&self, name: &str, item: &ItemRef, secret: &Secret) -> Result<()> {
        let account = self.account(item);
        let label = format!("nomadctx {} (context {name} when stored)", item.kind.what());
        self.write(&account, &label, secret)
            .map_err(|f| self.explain(name, item.kind, &account, "store", f))
    }

    /// Removes the item; `Ok(false)` when there was none.
    pub fn delete(&self, name: &str, item: &ItemRef) -> Result<bool> {
        let account = self.account(item);
        self.remove(&account)
            .map_err(|f| self.explain(name, item.kind, &account, "delete", f))
    }

    /// The secret of a context stored before ids, under `NAME/KIND`.
    pub fn get_legacy(&self, name: &str, item: Item) -> Result<Option<Secret>> {
        let account = legacy_account(name, item);
        let connection = self
            .connection()
            .map_err(|f| self.explain(name, item, &account, "connect to", f))?;
        let result = match connection {
            #[cfg(target_os = "linux")]
            Connection::Kernel(kernel) => kernel
                .find_legacy(&format!("{account}@{SERVICE}"))
                .map(|found| found.map(Secret::new))
                .map_err(Failure::Kernel),
            #[cfg(target_os = "linux")]
            Connection::Service(service) => {
                service.find_plain_item(&account).map_err(Failure::from)
            }
            #[cfg(not(target_os = "linux"))]
            Connection::Core(store) => {
                let wanted = account.clone();
                self.bounded(move || legacy_item(&store, &wanted))
            }
            // The file store is newer than the names-only layout.
            Connection::File(_) => Ok(None),
        };
        result.map_err(|f| self.explain(name, item, &account, "read", f))
    }

    /// Every item of this store, when the backend can list them (the Secret Service and the
    /// kernel keyring can); `None` sends `doctor` to the journal instead. Items of other
    /// stores and other programs are never returned.
    pub fn list(&self) -> Result<Option<Vec<ItemRef>>> {
        let listed = self.connection().and_then(|connection| match connection {
            #[cfg(target_os = "linux")]
            Connection::Kernel(kernel) => kernel
                .list(&format!("{SERVICE}:{}/", self.store_id))
                .map(|found| {
                    found
                        .iter()
                        .filter_map(|d| d.strip_prefix(&format!("{SERVICE}:")).map(str::to_owned))
                        .collect::<Vec<_>>()
                })
                .map_err(Failure::Kernel),
            #[cfg(target_os = "linux")]
            Connection::Service(service) => service.accounts().map_err(Failure::from),
            Connection::File(store) => store.list().map_err(|e| Failure::File(e.into())),
            #[cfg(not(target_os = "linux"))]
            Connection::Core(store) => self.bounded(move || {
                let entries = store
                    .search(&HashMap::from([("service", SERVICE)]))
                    .map_err(Failure::Keyring)?;
                Ok(entries
                    .iter()
                    .filter_map(Entry::get_specifiers)
                    .filter(|(service, _)| service == SERVICE)
                    .map(|(_, account)| account)
                    .collect::<Vec<_>>())
            }),
        });
        match listed {
            Ok(accounts) => {
                let mut items: Vec<ItemRef> = accounts
                    .iter()
                    .filter_map(|a| self.parse_account(a))
                    .collect();
                items.sort();
                items.dedup();
                Ok(Some(items))
            }
            #[cfg(not(target_os = "linux"))]
            Err(Failure::Keyring(KeyringError::NotSupportedByStore(_))) => Ok(None),
            Err(failure) if failure.no_service().is_some() => Err(anyhow!(
                "could not list nomadctx's items: there is no Secret Service here ({}).\n{NO_SERVICE_CHOICES}",
                failure.no_service().unwrap_or_default()
            )),
            Err(Failure::TimedOut) => Err(anyhow!(
                "{} did not answer within {} when asked to list nomadctx's items; {}",
                self.backend.describe(),
                seconds(self.timeout),
                self.backend.remedy()
            )),
            Err(failure) => Err(anyhow!(
                "could not list nomadctx's items in {}: {}; {}",
                self.backend.describe(),
                failure.describe(),
                self.backend.remedy()
            )),
        }
    }

    /// The secrets of `accounts`, in order: in one request where the backend allows.
    fn read_all(&self, accounts: &[&str]) -> std::result::Result<Vec<Option<Secret>>, Failure> {
        match self.connection()? {
            #[cfg(target_os = "linux")]
            Connection::Service(service) => service.get_all(accounts).map_err(Failure::from),
            _ => accounts.iter().map(|account| self.read(account)).collect(),
        }
    }

    fn read(&self, account: &str) -> std::result::Result<Option<Secret>, Failure> {
        match self.connection()? {
            #[cfg(target_os = "linux")]
            Connection::Kernel(kernel) => kernel
                .get(&kernel_description(account))
                .map(|found| found.map(Secret::new))
                .map_err(Failure::Kernel),
            #[cfg(target_os = "linux")]
            Connection::Service(service) => service
                .get_all(&[account])
                .map(|mut found| found.pop().flatten())
                .map_err(Failure::from),
            Connection::File(store) => store.get(account).map_err(Failure::File),
            #[cfg(not(target_os = "linux"))]
            Connection::Core(store) => {
                let entry = self.entry(&store, account, None)?;
                match self.bounded(move || entry.get_secret().map_err(Failure::Keyring)) {
                    Ok(bytes) => Ok(Some(Secret::new(bytes))),
                    Err(Failure::Keyring(KeyringError::NoEntry)) => Ok(None),
                    Err(Failure::Keyring(KeyringError::PlatformFailure(e)))
                        if vanished(&e.to_string()) =>
                    {
                        Ok(None)
                    }
                    Err(failure) => Err(failure),
                }
            }
        }
    }

    fn write(
        &self,
        account: &str,
        label: &str,
        secret: &Secret,
    ) -> std::result::Result<(), Failure> {
        match self.connection()? {
            #[cfg(target_os = "linux")]
            Connection::Kernel(kernel) => kernel
                .set(&kernel_description(account), secret.expose())
                .map_err(Failure::Kernel),
            #[cfg(target_os = "linux")]
            Connection::Service(service) => {
                service.set(account, label, secret).map_err(Failure::from)
            }
            Connection::File(store) => store
                .set(account, secret)
                .map_err(|e| Failure::File(e.into())),
            #[cfg(not(target_os = "linux"))]
            Connection::Core(store) => {
                let _ = label;
                let secret = secret.clone();
                let entry = self.entry(&store, account)?;
                self.bounded(move || entry.set_secret(secret.expose()).map_err(Failure::Keyring))
            }
        }
    }

    fn remove(&self, account: &str) -> std::result::Result<bool, Failure> {
        match self.connection()? {
            #[cfg(target_os = "linux")]
            Connection::Kernel(kernel) => kernel
                .delete(&kernel_description(account))
                .map_err(Failure::Kernel),
            #[cfg(target_os = "linux")]
            Connection::Service(service) => service.delete(account).map_err(Failure::from),
            Connection::File(store) => store.delete(account).map_err(|e| Failure::File(e.into())),
            #[cfg(not(target_os = "linux"))]
            Connection::Core(store) => {
                let entry = self.entry(&store, account)?;
                match self.bounded(move || entry.delete_credential().map_err(Failure::Keyring)) {
                    Ok(()) => Ok(true),
                    Err(Failure::Keyring(KeyringError::NoEntry)) => Ok(false),
                    Err(failure) => Err(failure),
                }
            }
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn entry(
        &self,
        store: &Arc<CredentialStore>,
        account: &str,
    ) -> std::result::Result<Entry, Failure> {
        store
            .build(SERVICE, account, None)
            .map_err(Failure::Keyring)
    }

    fn connection(&self) -> std::result::Result<Connection, Failure> {
        if let Some(connection) = self.connection.get() {
            return Ok(connection.clone());
        }
        let (backend, timeout) = (self.backend, self.timeout);
        // Local files need no guard against a daemon that never answers, and a question on
        // the terminal must not be cut off; the Secret Service client and the kernel keyring
        // bound their own waits.
        let connection = match backend {
            Backend::File => FileStore::open(
                &self.store_id,
                self.file_recipient.as_deref(),
                self.unlock_for,
            )
            .map(|store| Connection::File(Arc::new(store)))
            .map_err(|e| Failure::File(e.into()))?,
            Backend::SecretService | Backend::Keyutils => backend.open(timeout)?,
            _ => self.bounded(move || backend.open(timeout))?,
        };
        Ok(self.connection.get_or_init(|| connection).clone())
    }

    /// Runs a keyring-core call on its own thread and gives up after the timeout, because a
    /// keychain that never answers would hang us forever.
    fn bounded<T: Send + 'static>(
        &self,
        call: impl FnOnce() -> std::result::Result<T, Failure> + Send + 'static,
    ) -> std::result::Result<T, Failure> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        std::thread::spawn(move || {
            let _ = tx.send(call());
        });
        rx.recv_timeout(self.timeout)
            .unwrap_or(Err(Failure::TimedOut))
    }

    fn explain(
        &self,
        name: &str,
        item: Item,
        account: &str,
        verb: &str,
        failure: Failure,
    ) -> anyhow::Error {
        let backend = self.backend.describe();
        let what = item.what();
        let owner = owner(name);
        let remedy = self.backend.remedy();
        if let Some(reason) = failure.no_service() {
            return anyhow!(
                "could not {verb} the {what} of {owner}: there is no Secret Service here ({reason}).\n{NO_SERVICE_CHOICES}"
            );
        }
        match failure {
            Failure::File(FileError::Locked) => {
                anyhow!("could not {verb} the {what} of {owner}: {LOCKED}")
            }
            Failure::File(FileError::Damaged { path, why }) => {
                let again = match item {
                    _ if name.is_empty() => String::new(),
                    Item::ClientKey => {
                        format!(", or store the key again with `nomadctx set {name} --key FILE`")
                    }
                    Item::Token => format!(
                        ", or store the token again with `nomadctx set {name} --token-stdin`"
                    ),
                };
                anyhow!(
                    "the {what} of {owner} could not be read: its file {} is damaged or was changed ({why}); restore the file from a backup{again}",
                    path.display()
                )
            }
            Failure::File(other) => {
                anyhow!("could not {verb} the {what} of {owner} in the file store: {other}")
            }
            Failure::TimedOut => anyhow::Error::new(NoAnswer(format!(
                "{backend} did not answer within {} when asked to {verb} the {what} of {owner} (item {SERVICE}/{account}); {remedy}",
                seconds(self.timeout)
            ))),
            other => anyhow!(
                "could not {verb} the {what} of {owner} in {backend} (item {SERVICE}/{account}): {}; {remedy}",
                other.describe()
            ),
        }
    }
}

/// The kernel keyring's description of the item of `account`.
#[cfg(target_os = "linux")]
fn kernel_description(account: &str) -> String {
    format!("{SERVICE}:{account}")
}

/// A timeout as a person reads it: `10 seconds`, `0.5 seconds`.
fn seconds(timeout: Duration) -> String {
    let secs = timeout.as_secs_f64();
    if secs == 1.0 {
        "1 second".to_owned()
    } else if secs.fract() == 0.0 {
        format!("{secs:.0} seconds")
    } else {
        format!("{secs:.1} seconds")
    }
}

/// Whose item an error is about: `context "prod"`, or, for `name` empty, an item that no
/// context names (an orphan, or one a change rolls back).
fn owner(name: &str) -> String {
    if name.is_empty() {
        "an item no context names".to_owned()
    } else {
        format!("context {name:?}")
    }
}

/// A keychain call that got no answer in time, and so may still be carried out later.
#[derive(Debug)]
pub struct NoAnswer(String);

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NoAnswer {}

/// The one item an old nomadctx stored under `account`: attributes `service` and
/// `username` and nothing else. Items of other programs (an `application` attribute, say)
/// are never taken; two candidates are taken as none.
#[cfg(not(target_os = "linux"))]
fn legacy_item(
    store: &Arc<CredentialStore>,
    account: &str,
) -> std::result::Result<Option<Secret>, Failure> {
    let entries = store
        .search(&HashMap::from([
            ("service", SERVICE),
            ("username", account),
        ]))
        .map_err(Failure::Keyring)?;
    let ours: Vec<&Entry> = entries
        .iter()
        .filter(|entry| {
            entry.get_attributes().is_ok_and(|attributes| {
                attributes
                    .keys()
                    .all(|k| matches!(k.as_str(), "service" | "username" | "xdg:schema"))
            })
        })
        .collect();
    match ours.as_slice() {
        [entry] => entry
            .get_secret()
            .map(|s| Some(Secret::new(s)))
            .map_err(Failure::Keyring),
        _ => Ok(None),
    }
}

enum Failure {
    #[cfg(not(target_os = "linux"))]
    Keyring(KeyringError),
    File(FileError),
    #[cfg(target_os = "linux")]
    Service(ServiceError),
    #[cfg(target_os = "linux")]
    Kernel(KernelError),
    /// The backend does not exist on this operating system.
    Unavailable(String),
    TimedOut,
}

#[cfg(target_os = "linux")]
impl From<ServiceError> for Failure {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::TimedOut => Self::TimedOut,
            other => Self::Service(other),
        }
    }
}

/// What to do when there is no Secret Service to talk to (a server reached over ssh, su,
/// cron, a container): the choices, short, and where the README explains them.
const NO_SERVICE_CHOICES: &str = "Choose where this configuration keeps keys, then run the command again:
  nomadctx keychain use file       encrypted files: durable, a passphrase once per session
  nomadctx keychain use keyutils   the kernel keyring: no passphrase, but lost at reboot
  dbus-run-session -- $SHELL       a session bus to start a Secret Service in (gnome-keyring-daemon --unlock)
See \"Headless servers\" in the README.";

impl Failure {
    /// Why there is no Secret Service at all, when that is the failure: D-Bus's own text
    /// (X11 autolaunch, socket paths) says little to someone on a server.
    fn no_service(&self) -> Option<String> {
        match self {
            #[cfg(target_os = "linux")]
            Self::Service(e @ (ServiceError::NoBus(_) | ServiceError::NoService)) => {
                Some(e.to_string())
            }
            _ => None,
        }
    }

    fn describe(&self) -> String {
        match self {
            #[cfg(not(target_os = "linux"))]
            Self::Keyring(err) => describe_error(err),
            Self::File(err) => err.to_string(),
            #[cfg(target_os = "linux")]
            Self::Service(err) => err.to_string(),
            #[cfg(target_os = "linux")]
            Self::Kernel(err) => err.to_string(),
            Self::Unavailable(why) => why.clone(),
            Self::TimedOut => "no answer".to_owned(),
        }
    }
}

/// keyring-core errors can carry the secret bytes (BadEncoding, BadDataFormat), so their
/// text is rebuilt here from the kind and the platform's message only.
#[cfg(not(target_os = "linux"))]
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
        // Variants added later may carry bytes, as BadDataFormat does: their text is not shown.
        _ => "the keychain failed".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_carry_the_store_and_context_ids_never_the_name() {
        let keychain = Keychain::new(Backend::SecretService, "s1");
        let item = ItemRef::new("c1", Item::ClientKey, "v1");
        assert_eq!(keychain.account(&item), "s1/c1/client-key/v1");
        assert_eq!(keychain.parse_account("s1/c1/client-key/v1"), Some(item));
        assert_eq!(
            keychain.parse_account("s1/c1/token/v2").unwrap().kind,
            Item::Token
        );
        for foreign in [
            "s2/c1/client-key/v1",
            "prod/client-key",
            "s1/c1/key/v1",
            "s1/c1/token/v1/x",
            "s10/c1/token/v1",
        ] {
            assert_eq!(keychain.parse_account(foreign), None, "{foreign}");
        }
        assert_eq!(legacy_account("prod", Item::Token), "prod/token");
    }

    #[test]
    fn timeouts_outside_what_a_duration_holds_are_refused() {
        assert_eq!(
            timeout_from("2.5".as_ref()),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(
            timeout_from("3600".as_ref()),
            Some(Duration::from_secs(3600))
        );
        for bad in [
            "inf", "-inf", "NaN", "1e300", "1e-300", "0", "-1", "3601", "", "5s",
        ] {
            assert_eq!(timeout_from(bad.as_ref()), None, "{bad}");
        }
    }

    #[cfg(not(target_os = "linux"))]
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

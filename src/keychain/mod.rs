//! The one place that talks to the keychain backends: picks the backend, cuts off calls
//! that hang, and turns keychain failures into messages that say what to do.
//!
//! On Linux every backend is nomadctx's own (the Secret Service client, the kernel keyring,
//! the file store) and bounds its own waits; macOS and Windows go through keyring-core's
//! stores, each call on a thread that is given up after the timeout.
//!
//! A module per backend: `secret_service`, `kernel` (the kernel keyring), `file` (with its
//! unlock cache and passphrase reading) and `keyring` (keyring-core's stores on macOS and
//! Windows). The choice itself is a plain type of the config's (`store::Backend`); moving
//! every secret to another backend is a change (`change::moving`).

mod connection;
mod failure;
pub mod file;
mod item;
#[cfg(target_os = "linux")]
pub mod kernel;
mod keyring;
#[cfg(target_os = "linux")]
pub mod secret_service;
mod secrets;

#[cfg(not(target_os = "linux"))]
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
#[cfg(not(target_os = "linux"))]
use keyring_core::{Entry, Error as KeyringError};

use crate::keychain::file::FileStore;
use crate::secret::Secret;
use crate::settings::KEYCHAIN_TIMEOUT_VAR as TIMEOUT_VAR;
use crate::store::Config;
use connection::Connection;
use failure::{Failure, NO_SERVICE_CHOICES, seconds};
#[cfg(not(target_os = "linux"))]
use keyring::legacy_item;

pub use crate::store::Backend;
pub use failure::{NoAnswer, Refused};
pub use item::{Item, ItemRef, legacy_account};
pub use secrets::Secrets;

pub const SERVICE: &str = "nomadctx";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

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
    file_bound: bool,
    unlock_for: Duration,
}

impl std::fmt::Debug for Keychain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keychain")
            .field("backend", &self.backend)
            .field("store_id", &self.store_id)
            .finish()
    }
}

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
            file_bound: false,
            unlock_for: crate::duration::DEFAULT_TTL,
        }
    }

    /// The file store's settings from config.toml (used when the backend is `file`).
    pub fn with_file_store(mut self, recipient: Option<&str>, unlock_for: Duration) -> Self {
        self.file_recipient = recipient.map(str::to_owned);
        self.unlock_for = unlock_for;
        self
    }

    /// The same keychain with a connection of its own, opened on first use and closed when
    /// it is dropped: `exec` lets go of it (and of the file store's identity, wiped with it)
    /// before its command starts, and opens a new one for the next context.
    pub fn fresh(&self) -> Self {
        Self {
            connection: Arc::default(),
            ..self.clone()
        }
    }

    /// Whether the file store's secrets must carry their binding (config.toml's
    /// `file_bound`).
    pub fn with_file_binding(mut self, bound: bool) -> Self {
        self.file_bound = bound;
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
        // The file store answers for each file, so a refused one is named as what it is.
        if let Ok(Connection::File(_)) = self.connection() {
            return items.iter().map(|item| self.get(name, item)).collect();
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
            #[cfg(target_os = "linux")]
            Err(Failure::Service(
                foreign @ crate::keychain::secret_service::Error::ForeignBus { .. },
            )) => Err(anyhow!("could not list nomadctx's items: {foreign}")),
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
}

impl Keychain {
    /// The keychain `config` chose, with its file store's settings.
    pub fn for_config(config: &Config) -> Result<Self> {
        Ok(Self::for_backend(config, Backend::choose(config.keychain)?))
    }

    /// This configuration's keychain of `backend`, with its file store's settings.
    pub fn for_backend(config: &Config, backend: Backend) -> Self {
        Self::new(backend, config.store.as_deref().unwrap_or_default())
            .with_file_store(config.file_recipient.as_deref(), config.unlock_for())
            .with_file_binding(config.file_bound)
    }
}

/// The file store config.toml describes: its store id, recipient, unlock time and binding.
pub fn file_store_of(config: &Config) -> Result<FileStore> {
    FileStore::open(
        config.store.as_deref().unwrap_or_default(),
        config.file_recipient.as_deref(),
        config.unlock_for(),
    )
    .map(|store| store.bound(config.file_bound))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}

//! The connection to each backend, and how a read, write or delete reaches it.

use std::sync::Arc;
use std::time::Duration;

#[cfg(not(target_os = "linux"))]
use keyring_core::{CredentialStore, Error as KeyringError};

#[cfg(target_os = "linux")]
use super::SERVICE;
use super::failure::Failure;
use super::{Backend, Keychain};
use crate::keychain::file::FileStore;
#[cfg(target_os = "linux")]
use crate::keychain::kernel::KernelKeyring;
#[cfg(target_os = "linux")]
use crate::keychain::secret_service::SecretService;
use crate::secret::Secret;

#[derive(Clone)]
pub(super) enum Connection {
    #[cfg(not(target_os = "linux"))]
    Core(Arc<CredentialStore>),
    File(Arc<FileStore>),
    #[cfg(target_os = "linux")]
    Service(Arc<SecretService>),
    #[cfg(target_os = "linux")]
    Kernel(Arc<KernelKeyring>),
}

impl Backend {
    /// A connection to this backend (all but the file store, which `Keychain` opens with
    /// its settings).
    pub(super) fn open(self, timeout: Duration) -> std::result::Result<Connection, Failure> {
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
}

impl Keychain {
    /// The secrets of `accounts`, in order: in one request where the backend allows.
    pub(super) fn read_all(
        &self,
        accounts: &[&str],
    ) -> std::result::Result<Vec<Option<Secret>>, Failure> {
        match self.connection()? {
            #[cfg(target_os = "linux")]
            Connection::Service(service) => service.get_all(accounts).map_err(Failure::from),
            _ => accounts.iter().map(|account| self.read(account)).collect(),
        }
    }

    pub(super) fn read(&self, account: &str) -> std::result::Result<Option<Secret>, Failure> {
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
                let entry = self.entry(&store, account)?;
                // An item deleted meanwhile is NoEntry here, as one never stored.
                match self.bounded(move || entry.get_secret().map_err(Failure::Keyring)) {
                    Ok(bytes) => Ok(Some(Secret::new(bytes))),
                    Err(Failure::Keyring(KeyringError::NoEntry)) => Ok(None),
                    Err(failure) => Err(failure),
                }
            }
        }
    }

    pub(super) fn write(
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

    pub(super) fn remove(&self, account: &str) -> std::result::Result<bool, Failure> {
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

    pub(super) fn connection(&self) -> std::result::Result<Connection, Failure> {
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
            .map(|store| Connection::File(Arc::new(store.bound(self.file_bound))))
            .map_err(|e| Failure::File(e.into()))?,
            Backend::SecretService | Backend::Keyutils => backend.open(timeout)?,
            _ => self.bounded(move || backend.open(timeout))?,
        };
        Ok(self.connection.get_or_init(|| connection).clone())
    }
}

/// The kernel keyring's description of the item of `account`.
#[cfg(target_os = "linux")]
fn kernel_description(account: &str) -> String {
    format!("{SERVICE}:{account}")
}

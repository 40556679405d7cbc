//! keyring-core's stores (macOS, Windows): calls cut off at the timeout, errors without secrets.

#[cfg(not(target_os = "linux"))]
use std::collections::HashMap;
#[cfg(not(target_os = "linux"))]
use std::sync::Arc;

#[cfg(not(target_os = "linux"))]
use keyring_core::{CredentialStore, Entry};

use super::Keychain;
#[cfg(not(target_os = "linux"))]
use super::SERVICE;
use super::failure::Failure;
#[cfg(not(target_os = "linux"))]
use crate::secret::Secret;

impl Keychain {
    #[cfg(not(target_os = "linux"))]
    pub(super) fn entry(
        &self,
        store: &Arc<CredentialStore>,
        account: &str,
    ) -> std::result::Result<Entry, Failure> {
        store
            .build(SERVICE, account, None)
            .map_err(Failure::Keyring)
    }

    /// Runs a keyring-core call on its own thread and gives up after the timeout, because a
    /// keychain that never answers would hang us forever.
    pub(super) fn bounded<T: Send + 'static>(
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
}

/// The one item an old nomadctx stored under `account`: attributes `service` and
/// `username` and nothing else. Items of other programs (an `application` attribute, say)
/// are never taken; two candidates are taken as none.
#[cfg(not(target_os = "linux"))]
pub(super) fn legacy_item(
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

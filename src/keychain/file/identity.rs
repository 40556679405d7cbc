//! The store's identity: unlocking it (cache, passphrase file or terminal), making and writing it.

use std::path::PathBuf;
use std::time::Duration;

use age::secrecy::{ExposeSecret, SecretString};
use age::x25519;
use anyhow::{Context as _, Result, anyhow, bail};
use zeroize::Zeroizing;

use super::{FileError, FileStore, LOCKED, SECRETS, decrypt, read_private};
use crate::fs::{create_private_dir, write_atomic};
use crate::keychain::file::passphrase;
use crate::keychain::file::unlock_cache;

/// A re-key's new identity until its change commits (see `crate::rekey`).
const NEXT_IDENTITY: &str = "identity-next.age";

/// How many times a person at the terminal may type the passphrase, as sudo allows.
pub const TRIES: u32 = 3;

/// A passphrase that does not open identity.age: the person may try again.
#[derive(Debug)]
struct WrongPassphrase(PathBuf);

impl std::fmt::Display for WrongPassphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "wrong passphrase for the file store {} (or the file was changed)",
            self.0.display()
        )
    }
}

impl std::error::Error for WrongPassphrase {}

/// The scrypt work factor nomadctx accepts when opening identity.age: age's own ceiling for
/// files a user is asked about (about 16 s on a slow machine), never hours.
const MAX_LOG_N: u8 = 22;

impl FileStore {
    /// The identity, from the cache, the passphrase file, or the person at the terminal;
    /// the last two leave it cached for the rest of the session.
    pub fn identity(&self) -> std::result::Result<&x25519::Identity, FileError> {
        if let Some(identity) = self.identity.get() {
            return Ok(identity);
        }
        let identity = match self.cached() {
            Some(identity) => identity,
            None => match passphrase::from_file()? {
                Some(passphrase) => {
                    let identity = self.open_identity(&passphrase).with_context(|| {
                        format!(
                            "with the passphrase from {}={}",
                            passphrase::FILE_VAR,
                            std::env::var_os(passphrase::FILE_VAR)
                                .unwrap_or_default()
                                .to_string_lossy()
                        )
                    })?;
                    self.cache_quietly(&identity, self.unlock_for);
                    identity
                }
                None if passphrase::person_present() => {
                    let identity = self.open_with(TRIES, || {
                        passphrase::from_terminal(
                            "Passphrase of nomadctx's file store: ",
                            None,
                            LOCKED,
                        )
                    })?;
                    if self.cache_quietly(&identity, self.unlock_for) {
                        eprintln!(
                            "nomadctx: the file store is unlocked for {}; `nomadctx lock` locks it",
                            crate::duration::format_duration(self.unlock_for)
                        );
                    }
                    identity
                }
                None => return Err(FileError::Locked),
            },
        };
        Ok(self.identity.get_or_init(|| identity))
    }

    /// The identity when it can be had without a question: from the unlock cache or
    /// `NOMADCTX_PASSPHRASE_FILE`; `None` when the store is locked.
    pub fn unlocked_identity(&self) -> Result<Option<x25519::Identity>> {
        if let Some(identity) = self.cached() {
            return Ok(Some(identity));
        }
        match passphrase::from_file()? {
            Some(passphrase) => self.open_identity(&passphrase).map(Some),
            None => Ok(None),
        }
    }

    /// The identity the unlock cache holds for this store, if it holds one that belongs to
    /// config.toml's recipient. A cache the kernel refuses (a container's seccomp profile,
    /// say) or that holds something else is as good as none: the passphrase still works.
    fn cached(&self) -> Option<x25519::Identity> {
        let bytes = match unlock_cache::get(&self.store_id) {
            Ok(found) => found?,
            Err(e) => {
                crate::text::warn(&format!("{e:#}; asking for the passphrase instead"));
                return None;
            }
        };
        let identity = std::str::from_utf8(&bytes)
            .ok()
            .and_then(|text| text.parse::<x25519::Identity>().ok())?;
        // Without a recipient to check it against, a cached identity is not trusted.
        let recipient = self.recipient.as_ref()?;
        (recipient.to_string() == identity.to_public().to_string()).then_some(identity)
    }

    /// Keeps `identity` in the unlock cache for `ttl`.
    pub fn cache(&self, identity: &x25519::Identity, ttl: Duration) -> Result<()> {
        unlock_cache::put(
            &self.store_id,
            identity.to_string().expose_secret().as_bytes(),
            ttl,
        )
    }

    /// As [`FileStore::cache`], where a cache that fails is a warning (the secrets are read
    /// all the same); `true` when the identity is cached.
    pub fn cache_quietly(&self, identity: &x25519::Identity, ttl: Duration) -> bool {
        if !unlock_cache::AVAILABLE {
            return false;
        }
        match self.cache(identity, ttl) {
            Ok(()) => true,
            Err(e) => {
                crate::text::warn(&format!(
                    "{e:#}; the file store stays locked, so the next command asks again"
                ));
                false
            }
        }
    }

    /// The identity, from passphrases `ask` reads: up to `tries` of them while each is
    /// wrong ([`TRIES`] for a person typing, as sudo allows; one from a pipe or a file).
    pub fn open_with(
        &self,
        tries: u32,
        mut ask: impl FnMut() -> Result<Zeroizing<String>>,
    ) -> Result<x25519::Identity> {
        let mut tried = 1;
        loop {
            match self.open_identity(&ask()?) {
                Err(e) if e.is::<WrongPassphrase>() && tried < tries => {
                    eprintln!("nomadctx: {e}; try again ({} of {tries})", tried + 1);
                    tried += 1;
                }
                answer => return answer,
            }
        }
    }

    /// Decrypts identity.age with `passphrase` and checks it is the one config.toml's
    /// recipient belongs to.
    pub fn open_identity(&self, passphrase: &str) -> Result<x25519::Identity> {
        self.check()?;
        let path = self.identity_path();
        let Some(ciphertext) = read_private(&path)? else {
            bail!(
                "the file store's identity {} is missing; restore it from a backup (without it the keys in {} cannot be read)",
                path.display(),
                self.dir.join(SECRETS).display()
            );
        };
        let mut scrypt = age::scrypt::Identity::new(SecretString::from(passphrase.to_owned()));
        scrypt.set_max_work_factor(MAX_LOG_N);
        let text = decrypt(&scrypt, &ciphertext).map_err(|e| match e {
            age::DecryptError::DecryptionFailed | age::DecryptError::KeyDecryptionFailed => {
                anyhow::Error::new(WrongPassphrase(path.clone()))
            }
            other => anyhow!(
                "the file store's identity {} is damaged or was changed ({other}); restore it from a backup",
                path.display()
            ),
        })?;
        let identity = std::str::from_utf8(&text)
            .ok()
            .and_then(|t| {
                t.lines()
                    .map(str::trim)
                    .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
                    .and_then(|l| l.parse::<x25519::Identity>().ok())
            })
            .ok_or_else(|| {
                anyhow!(
                    "{} does not hold an age X25519 identity; restore it from a backup",
                    path.display()
                )
            })?;
        self.require_match(&identity)?;
        Ok(identity)
    }

    fn require_match(&self, identity: &x25519::Identity) -> Result<()> {
        match &self.recipient {
            Some(r) if r.to_string() != identity.to_public().to_string() => bail!(
                "the file store's identity {} does not belong to config.toml's file_recipient {r}: the config and the store do not go together; put back the config.toml or the identity.age that belong to each other",
                self.identity_path().display()
            ),
            _ => Ok(()),
        }
    }

    /// Makes a new identity, encrypted with `passphrase`, in place of none; returns it.
    pub fn create_identity(&self, passphrase: &str) -> Result<x25519::Identity> {
        self.check()?;
        if self.has_identity() {
            bail!(
                "{} exists already; nomadctx never replaces a store's identity",
                self.identity_path().display()
            );
        }
        create_private_dir(&self.dir)?;
        let identity = x25519::Identity::generate();
        self.write_identity(&identity, passphrase)?;
        Ok(identity)
    }

    /// Writes identity.age (atomically) as `age-keygen` would, encrypted with `passphrase`.
    pub fn write_identity(&self, identity: &x25519::Identity, passphrase: &str) -> Result<()> {
        write_atomic(
            &self.identity_path(),
            &self.encrypt_identity(identity, passphrase)?,
        )
    }

    /// Where a re-key keeps the new identity until its change is committed: identity.age
    /// must stay the one config.toml's recipient names until then.
    pub fn next_identity_path(&self) -> PathBuf {
        self.dir.join(NEXT_IDENTITY)
    }

    /// Writes the new identity of a re-key beside identity.age, encrypted with `passphrase`.
    pub fn write_next_identity(&self, identity: &x25519::Identity, passphrase: &str) -> Result<()> {
        write_atomic(
            &self.next_identity_path(),
            &self.encrypt_identity(identity, passphrase)?,
        )
    }

    /// Puts the re-key's new identity in identity.age's place in one rename (a crash leaves
    /// one or the other, whole); nothing to do when it is there already.
    pub fn promote_next_identity(&self) -> Result<()> {
        let next = self.next_identity_path();
        if !next.exists() {
            return Ok(());
        }
        std::fs::rename(&next, self.identity_path()).with_context(|| {
            format!(
                "could not move {} to {}; move it there by hand (it is the identity config.toml's file_recipient names)",
                next.display(),
                self.identity_path().display()
            )
        })?;
        if let Err(e) = crate::platform::sync_dir(&self.dir) {
            crate::text::warn(&format!(
                "{} is replaced but {} could not be synced to disk: {e}",
                self.identity_path().display(),
                self.dir.display()
            ));
        }
        Ok(())
    }

    /// `age-keygen`'s text for `identity`, encrypted with `passphrase`.
    fn encrypt_identity(&self, identity: &x25519::Identity, passphrase: &str) -> Result<Vec<u8>> {
        let text = Zeroizing::new(format!(
            "# nomadctx file store {}\n# public key: {}\n{}\n",
            self.store_id,
            identity.to_public(),
            identity.to_string().expose_secret()
        ));
        let recipient = scrypt_recipient(passphrase);
        age::encrypt(&recipient, text.as_bytes())
            .map_err(|e| anyhow!("could not encrypt the identity: {e}"))
    }

    /// Uses `identity` (just created or opened by the caller) for the rest of this run.
    pub fn adopt(&self, identity: x25519::Identity) -> Result<()> {
        self.require_match(&identity)?;
        let _ = self.identity.set(identity);
        Ok(())
    }

    /// Whether the identity is in the unlock cache.
    pub fn is_unlocked(&self) -> Result<bool> {
        Ok(unlock_cache::get(&self.store_id)?.is_some())
    }
}

/// age's scrypt recipient with its own work factor (about a second on this machine). Debug
/// builds take `NOMADCTX_SCRYPT_LOG_N` so that the tests need not spend a second each time.
fn scrypt_recipient(passphrase: &str) -> age::scrypt::Recipient {
    let mut recipient = age::scrypt::Recipient::new(SecretString::from(passphrase.to_owned()));
    if cfg!(debug_assertions)
        && let Some(log_n) = std::env::var(crate::settings::SCRYPT_LOG_N_VAR)
            .ok()
            .and_then(|v| v.parse::<u8>().ok())
            .filter(|n| (1..=MAX_LOG_N).contains(n))
    {
        recipient.set_work_factor(log_n);
    }
    recipient
}

//! The `file` backend: one standard age file per secret, encrypted to an X25519 identity
//! that is itself encrypted with the user's passphrase (age's scrypt recipient).
//!
//! `DATA/nomadctx/STORE/identity.age` holds the identity as `age-keygen` writes it, and
//! `secrets/CONTEXT.KIND.VERSION.age` the secrets, so the `age` command-line tool can open
//! every one without nomadctx. Writing needs only the public recipient (kept in config.toml),
//! so `add` and `set` never ask for the passphrase; reading needs the identity, which comes
//! from the unlock cache, `NOMADCTX_PASSPHRASE_FILE`, or one question on the terminal.
//! Inside each file a first line binds the secret to its store, context, kind and version
//! (`nomadctx-secret/1 STORE/CONTEXT/KIND/VERSION`, see [`payload`]): `age -d -i
//! identity.age FILE | tail -n +2` recovers the secret by hand.

mod identity;
pub mod passphrase;
pub mod unlock_cache;

pub use identity::TRIES;
mod payload;

use std::fs::{self, File};
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use age::x25519;
use anyhow::{Context as _, Result, anyhow, bail};
use zeroize::Zeroizing;

use crate::fs::trust::{ANY_ACCESS, MOVE_IT_AWAY, Private};
use crate::fs::{list_dir, remove_if_present, write_atomic};
use crate::secret::Secret;
use crate::settings::{self, DATA_DIR_VAR};

const DATA_DIR: Private = Private {
    what: "file store directory",
    forbidden: ANY_ACCESS,
    at_stake: "another user could swap the encrypted keys for keys of their own, or take the files to guess the passphrase",
    not_yours: MOVE_IT_AWAY,
};
const STORE_FILE: Private = Private {
    what: "file store file",
    forbidden: ANY_ACCESS,
    at_stake: "another user could replace it or take it to guess the passphrase",
    not_yours: MOVE_IT_AWAY,
};

const IDENTITY: &str = "identity.age";
const SECRETS: &str = "secrets";
/// Secrets are a few KiB; anything far larger is not one of ours.
const MAX_FILE: u64 = 1 << 20;

/// What to do when the store is locked and there is nobody to ask.
#[cfg(target_os = "linux")]
pub const LOCKED: &str = "the file store is locked; run `nomadctx unlock` (or set NOMADCTX_PASSPHRASE_FILE on unattended hosts)";
/// Elsewhere there is no session cache for `unlock` to fill.
#[cfg(not(target_os = "linux"))]
pub const LOCKED: &str = "the file store is locked and there is no terminal to ask for its passphrase on; set NOMADCTX_PASSPHRASE_FILE to a file of yours that holds it";

/// Why the file store could not give a secret.
#[derive(Debug)]
pub enum FileError {
    /// No identity in the cache and nobody to ask.
    Locked,
    /// A secret's file is there but is not what nomadctx wrote.
    Damaged {
        path: PathBuf,
        why: String,
    },
    Other(anyhow::Error),
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Locked => f.write_str(LOCKED),
            Self::Damaged { path, why } => write!(
                f,
                "its file {} is damaged or was changed ({why})",
                path.display()
            ),
            Self::Other(e) => write!(f, "{e:#}"),
        }
    }
}

impl From<anyhow::Error> for FileError {
    fn from(e: anyhow::Error) -> Self {
        Self::Other(e)
    }
}

/// Where the file stores live: `NOMADCTX_DATA_DIR`, or the platform's data directory
/// (`$XDG_DATA_HOME/nomadctx`, `~/.local/share/nomadctx` on Linux).
pub fn data_root() -> Result<PathBuf> {
    if let Some(dir) = settings::non_empty(DATA_DIR_VAR) {
        let dir = PathBuf::from(dir);
        if !dir.is_absolute() {
            bail!(
                "{DATA_DIR_VAR}={} is not an absolute path; set it to a full path such as $HOME/.local/share/nomadctx",
                dir.display()
            );
        }
        return Ok(dir);
    }
    // As for the config: without HOME the platform would take the passwd entry's home,
    // which under sudo, cron or a container is rarely the one meant.
    if cfg!(unix)
        && settings::non_empty("HOME").is_none()
        && settings::non_empty("XDG_DATA_HOME").is_none()
    {
        bail!(
            "HOME is not set, so nomadctx cannot tell where the file store is; set HOME, or NOMADCTX_DATA_DIR to the directory that holds it"
        );
    }
    let dirs = directories::ProjectDirs::from("", "", "nomadctx").ok_or_else(|| {
        anyhow!("could not find your home directory to keep the file store in; set HOME or NOMADCTX_DATA_DIR")
    })?;
    Ok(dirs.data_dir().to_path_buf())
}

/// One configuration's file store.
pub struct FileStore {
    store_id: String,
    dir: PathBuf,
    recipient: Option<x25519::Recipient>,
    /// Every secret carries its binding line, so one without it is refused.
    bound: bool,
    unlock_for: Duration,
    identity: OnceLock<x25519::Identity>,
    checked: OnceLock<()>,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("dir", &self.dir)
            .field("unlocked", &self.identity.get().is_some())
            .finish()
    }
}

impl FileStore {
    /// The store of configuration `store_id`, whose recipient config.toml keeps.
    pub fn open(store_id: &str, recipient: Option<&str>, unlock_for: Duration) -> Result<Self> {
        if store_id.is_empty() {
            bail!("this configuration has no store id yet; add a context first");
        }
        let recipient = recipient
            .map(|r| {
                r.parse::<x25519::Recipient>().map_err(|e| {
                    anyhow!("config.toml's file_recipient {r:?} is not an age X25519 recipient ({e}); put back the value `nomadctx keychain use file` wrote")
                })
            })
            .transpose()?;
        Ok(Self {
            store_id: store_id.to_owned(),
            dir: data_root()?.join(store_id),
            recipient,
            bound: false,
            unlock_for,
            identity: OnceLock::new(),
            checked: OnceLock::new(),
        })
    }

    /// Whether the store is bound (config.toml's `file_bound`): a secret without its
    /// binding line is then refused.
    pub fn bound(mut self, bound: bool) -> Self {
        self.bound = bound;
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn identity_path(&self) -> PathBuf {
        self.dir.join(IDENTITY)
    }

    pub fn has_identity(&self) -> bool {
        self.identity_path().exists()
    }

    pub fn store_id(&self) -> &str {
        &self.store_id
    }

    /// `secrets/CONTEXT.KIND.VERSION.age` for `STORE/CONTEXT/KIND/VERSION`.
    fn secret_path(&self, account: &str) -> Result<PathBuf> {
        let rest = account
            .strip_prefix(&self.store_id)
            .and_then(|r| r.strip_prefix('/'))
            .filter(|r| r.split('/').count() == 3)
            .ok_or_else(|| anyhow!("{account} is not an item of this file store"))?;
        Ok(self
            .dir
            .join(SECRETS)
            .join(format!("{}.age", rest.replace('/', "."))))
    }

    /// The directory is yours and nobody else's, checked once per run.
    fn check(&self) -> Result<()> {
        if self.checked.get().is_some() {
            return Ok(());
        }
        // One walk up the path: the store's directory when it exists, else what is above it.
        DATA_DIR.check_dir_or_parent(&self.dir)?;
        let secrets = self.dir.join(SECRETS);
        if secrets.exists() {
            DATA_DIR.check_dir_itself(&secrets)?;
        }
        let _ = self.checked.set(());
        Ok(())
    }

    pub fn get(&self, account: &str) -> std::result::Result<Option<Secret>, FileError> {
        self.check()?;
        let path = self.secret_path(account)?;
        let Some(ciphertext) = read_private(&path)? else {
            return Ok(None);
        };
        let identity = self.identity()?;
        let plain = decrypt(identity, &ciphertext).map_err(|e| FileError::Damaged {
            path: path.clone(),
            why: e.to_string(),
        })?;
        payload::unbind(&plain, account, self.bound)
            .map(|secret| Some(Secret::new(secret.to_vec())))
            .map_err(|why| FileError::Damaged { path, why })
    }

    pub fn contains(&self, account: &str) -> Result<bool> {
        self.check()?;
        Ok(self.secret_path(account)?.exists())
    }

    /// Encrypts to the recipient: no passphrase needed.
    pub fn set(&self, account: &str, secret: &Secret) -> Result<()> {
        self.check()?;
        let Some(recipient) = &self.recipient else {
            bail!(
                "config.toml names no file_recipient for the file store; run `nomadctx keychain use file` to set it up"
            );
        };
        if !self.has_identity() {
            bail!(
                "the file store's identity {} is missing, so nothing written to it could be read back; restore it from a backup, or run `nomadctx keychain use file` to make a new store",
                self.identity_path().display()
            );
        }
        let plain = payload::bind(account, secret.expose());
        let ciphertext = age::encrypt(recipient, &plain)
            .map_err(|e| anyhow!("could not encrypt to the file store: {e}"))?;
        write_atomic(&self.secret_path(account)?, &ciphertext)
    }

    pub fn delete(&self, account: &str) -> Result<bool> {
        self.check()?;
        let path = self.secret_path(account)?;
        let existed = path.exists();
        remove_if_present(&path)?;
        Ok(existed)
    }

    /// Every item's account (`STORE/CONTEXT/KIND/VERSION`).
    pub fn list(&self) -> Result<Vec<String>> {
        self.check()?;
        Ok(list_dir(&self.dir.join(SECRETS))?
            .iter()
            .filter(|name| !name.starts_with('.'))
            .filter_map(|name| name.strip_suffix(".age"))
            .map(|rest| format!("{}/{}", self.store_id, rest.replace('.', "/")))
            .collect())
    }

    /// Copies the identity (still encrypted) to the store of `to_store`, for a copied
    /// configuration directory; its secrets are encrypted again there, each bound to the new
    /// store id. A store without its identity is an error.
    pub fn copy_identity_to(&self, to_store: &str) -> Result<()> {
        self.check()?;
        let target = FileStore::open(to_store, None, self.unlock_for)?;
        target.check()?;
        let Some(identity) = read_private(&self.identity_path())? else {
            bail!(
                "the file store's identity {} is missing, so its keys cannot be copied for this configuration; restore it from a backup",
                self.identity_path().display()
            );
        };
        write_atomic(&target.identity_path(), &identity)
    }
}

/// A file of the store's, `None` when it does not exist; it must be a regular file of the
/// user's that nobody else may read. A named pipe put there would block the open and the
/// read for ever (the keychain timeout does not cover local files): opened without
/// blocking, it is refused by the check.
fn read_private(path: &Path) -> Result<Option<Vec<u8>>> {
    let mut options = fs::OpenOptions::new();
    let file = match crate::platform::no_follow_nonblocking(options.read(true)).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            STORE_FILE.check_file_at(path)?;
            return Err(e).with_context(|| format!("could not read {}", path.display()));
        }
    };
    STORE_FILE.check_file(path, &file)?;
    let mut bytes = Vec::new();
    Read::take(&file as &File, MAX_FILE)
        .read_to_end(&mut bytes)
        .with_context(|| format!("could not read {}", path.display()))?;
    Ok(Some(bytes))
}

/// The plaintext of an age file, in a buffer sized up front (no reallocation leaves a copy)
/// that is wiped when dropped.
fn decrypt(
    identity: &dyn age::Identity,
    ciphertext: &[u8],
) -> std::result::Result<Zeroizing<Vec<u8>>, age::DecryptError> {
    let decryptor = age::Decryptor::new_buffered(ciphertext)?;
    let mut reader = decryptor.decrypt(std::iter::once(identity))?;
    let mut plain = Zeroizing::new(Vec::with_capacity(ciphertext.len()));
    reader.read_to_end(&mut plain)?;
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_standard_age_files_the_identity_opens() {
        let identity = x25519::Identity::generate();
        let ciphertext = age::encrypt(&identity.to_public(), b"key bytes").unwrap();
        assert!(ciphertext.starts_with(b"age-encryption.org/v1\n"));
        assert_eq!(&*decrypt(&identity, &ciphertext).unwrap(), b"key bytes");
        let other = x25519::Identity::generate();
        assert!(decrypt(&other, &ciphertext).is_err());
        let mut tampered = ciphertext.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(decrypt(&identity, &tampered).is_err());
        assert!(decrypt(&identity, &ciphertext[..ciphertext.len() - 1]).is_err());
    }
}

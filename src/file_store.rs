//! The `file` backend: one standard age file per secret, encrypted to an X25519 identity
//! that is itself encrypted with the user's passphrase (age's scrypt recipient).
//!
//! `DATA/nomadctx/STORE/identity.age` holds the identity as `age-keygen` writes it, and
//! `secrets/CONTEXT.KIND.VERSION.age` the secrets, so the `age` command-line tool can open
//! every one without nomadctx. Writing needs only the public recipient (kept in config.toml),
//! so `add` and `set` never ask for the passphrase; reading needs the identity, which comes
//! from the unlock cache, `NOMADCTX_PASSPHRASE_FILE`, or one question on the terminal.

use std::fs::{self, File};
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use age::secrecy::{ExposeSecret, SecretString};
use age::x25519;
use anyhow::{Context as _, Result, anyhow, bail};
use zeroize::Zeroizing;

use crate::context::non_empty_env;
use crate::passphrase;
use crate::secret::Secret;
use crate::store::{Config, create_private_dir, list_dir, remove_if_present, write_atomic};
use crate::trust::{ANY_ACCESS, MOVE_IT_AWAY, Private};
use crate::unlock_cache;

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
/// The scrypt work factor nomadctx accepts when opening identity.age: age's own ceiling for
/// files a user is asked about (about 16 s on a slow machine), never hours.
const MAX_LOG_N: u8 = 22;

/// What to do when the store is locked and there is nobody to ask.
pub const LOCKED: &str = "the file store is locked; run `nomadctx unlock` (or set NOMADCTX_PASSPHRASE_FILE on unattended hosts)";

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
    if let Some(dir) = non_empty_env("NOMADCTX_DATA_DIR") {
        let dir = PathBuf::from(dir);
        if !dir.is_absolute() {
            bail!(
                "NOMADCTX_DATA_DIR={} is not an absolute path; set it to a full path such as $HOME/.local/share/nomadctx",
                dir.display()
            );
        }
        return Ok(dir);
    }
    // As for the config: without HOME the platform would take the passwd entry's home,
    // which under sudo, cron or a container is rarely the one meant.
    if cfg!(unix) && non_empty_env("HOME").is_none() && non_empty_env("XDG_DATA_HOME").is_none() {
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
            unlock_for,
            identity: OnceLock::new(),
            checked: OnceLock::new(),
        })
    }

    /// The store config.toml describes (its store id, recipient and unlock time).
    pub fn of(config: &Config) -> Result<Self> {
        Self::open(
            config.store.as_deref().unwrap_or_default(),
            config.file_recipient.as_deref(),
            config.unlock_for(),
        )
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
        decrypt(identity, &ciphertext)
            .map(|plain| Some(Secret::new(plain.to_vec())))
            .map_err(|e| FileError::Damaged {
                path,
                why: e.to_string(),
            })
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
        let ciphertext = age::encrypt(recipient, secret.expose())
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
                    let passphrase = passphrase::from_terminal(
                        "Passphrase of nomadctx's file store: ",
                        None,
                        LOCKED,
                    )?;
                    let identity = self.open_identity(&passphrase)?;
                    if self.cache_quietly(&identity, self.unlock_for) {
                        eprintln!(
                            "nomadctx: the file store is unlocked for {}; `nomadctx lock` locks it",
                            unlock_cache::format_duration(self.unlock_for)
                        );
                    }
                    identity
                }
                None => return Err(FileError::Locked),
            },
        };
        Ok(self.identity.get_or_init(|| identity))
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
                anyhow!(
                    "wrong passphrase for the file store {} (or the file was changed)",
                    path.display()
                )
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
        let text = Zeroizing::new(format!(
            "# nomadctx file store {}\n# public key: {}\n{}\n",
            self.store_id,
            identity.to_public(),
            identity.to_string().expose_secret()
        ));
        let recipient = scrypt_recipient(passphrase);
        let ciphertext = age::encrypt(&recipient, text.as_bytes())
            .map_err(|e| anyhow!("could not encrypt the identity: {e}"))?;
        write_atomic(&self.identity_path(), &ciphertext)
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

    /// Copies the identity and the named items' files (as they are, still encrypted) to the
    /// store of `to_store`; returns how many items it copied. Items without a file are left
    /// for `doctor` to report; a store without its identity is an error.
    pub fn copy_to(&self, to_store: &str, accounts: &[(String, String)]) -> Result<usize> {
        self.check()?;
        let target = FileStore::open(to_store, None, self.unlock_for)?;
        target.check()?;
        let Some(identity) = read_private(&self.identity_path())? else {
            bail!(
                "the file store's identity {} is missing, so its keys cannot be copied for this configuration; restore it from a backup",
                self.identity_path().display()
            );
        };
        write_atomic(&target.identity_path(), &identity)?;
        let mut copied = 0;
        for (from, to) in accounts {
            if let Some(bytes) = read_private(&self.secret_path(from)?)? {
                write_atomic(&target.secret_path(to)?, &bytes)?;
                copied += 1;
            }
        }
        Ok(copied)
    }
}

/// age's scrypt recipient with its own work factor (about a second on this machine). Debug
/// builds take `NOMADCTX_SCRYPT_LOG_N` so that the tests need not spend a second each time.
fn scrypt_recipient(passphrase: &str) -> age::scrypt::Recipient {
    let mut recipient = age::scrypt::Recipient::new(SecretString::from(passphrase.to_owned()));
    if cfg!(debug_assertions)
        && let Some(log_n) = std::env::var("NOMADCTX_SCRYPT_LOG_N")
            .ok()
            .and_then(|v| v.parse::<u8>().ok())
            .filter(|n| (1..=MAX_LOG_N).contains(n))
    {
        recipient.set_work_factor(log_n);
    }
    recipient
}

/// A file of the store's, `None` when it does not exist; it must be a regular file of the
/// user's that nobody else may read.
fn read_private(path: &Path) -> Result<Option<Vec<u8>>> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(path)
    {
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

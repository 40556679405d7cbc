//! The config directory: where config.toml, the lock and the journal live, and loading and
//! atomic, locked saving of config.toml.

mod backend;

mod certs;
mod config;
mod failpoint;

use std::fs::{self, File, OpenOptions};
use std::io::ErrorKind;
use std::path::PathBuf;

use anyhow::{Context as _, Result, anyhow, bail};

pub use self::backend::Backend;
pub use self::certs::{CA_LINK, CLIENT_LINK};
pub use self::config::{Config, is_id, parse_config, require_absent};
pub use self::failpoint::checkpoint;

use self::config::MAX_CONFIG_BYTES;
use crate::fs::trust::{MOVE_IT_AWAY, Private, SHARED_WRITE};
use crate::fs::{create_private_dir, remove_if_present, write_atomic};
use crate::platform;

/// What another user could do with a config directory, file or certificate directory
/// they can write to: point `use`, `exec` and `check` at their own server (which would
/// then receive the token and a client certificate's handshake) or CA.
const CONFIG_DIR: Private = Private {
    what: "config directory",
    forbidden: SHARED_WRITE,
    at_stake: "another user could replace config.toml and point your token and client certificate at their own server",
    not_yours: MOVE_IT_AWAY,
};
const CONFIG_FILE: Private = Private {
    what: "config file",
    forbidden: SHARED_WRITE,
    at_stake: "another user could edit it and point your token and client certificate at their own server",
    not_yours: MOVE_IT_AWAY,
};
const LOCK_FILE: Private = Private {
    what: "lock file",
    forbidden: SHARED_WRITE,
    at_stake: "another user could hold every change up",
    not_yours: MOVE_IT_AWAY,
};

/// The journal of pieces a change is writing or retiring (see `crate::change`).
const JOURNAL: &str = "pending";

/// The config directory. Production resolves it once from the platform; tests point
/// `NOMADCTX_CONFIG_DIR` at a temporary directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// Holds the store's lock until dropped; writers take it around read-modify-write.
#[derive(Debug)]
pub struct Lock {
    /// Locked with `File::lock` (flock on Unix, LockFileEx on Windows); closing it unlocks.
    _file: File,
}

impl Store {
    pub fn at(root: PathBuf) -> Self {
        Self { root }
    }

    pub fn from_env() -> Result<Self> {
        if let Some(dir) = crate::settings::non_empty(crate::settings::CONFIG_DIR_VAR) {
            // Certificate paths end up in NOMAD_* variables, so they must not depend on the
            // directory the command happened to run in.
            let dir = std::path::absolute(PathBuf::from(dir))
                .context("could not resolve NOMADCTX_CONFIG_DIR")?;
            return Ok(Self::at(dir));
        }
        // Without HOME the platform would fall back to the passwd entry's home directory,
        // which under sudo, cron or a container is rarely the one meant.
        if cfg!(unix)
            && crate::settings::non_empty("HOME").is_none()
            && crate::settings::non_empty("XDG_CONFIG_HOME").is_none()
        {
            bail!(
                "HOME is not set, so nomadctx cannot tell where your config is; set HOME, or NOMADCTX_CONFIG_DIR to the config directory"
            );
        }
        let dirs = directories::ProjectDirs::from("", "", "nomadctx").ok_or_else(|| {
            anyhow!(
                "could not find your home directory to keep the config in; set HOME or NOMADCTX_CONFIG_DIR"
            )
        })?;
        Ok(Self::at(dirs.config_dir().to_path_buf()))
    }

    /// The config directory's inode, which a copy of it (or a restored backup) does not
    /// share; `None` where that cannot be told. Not the device: NFS, btrfs subvolumes and
    /// container overlays give one directory different device numbers.
    pub fn fingerprint(&self) -> Option<String> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            fs::metadata(&self.root).ok().map(|m| m.ino().to_string())
        }
        #[cfg(not(unix))]
        None
    }

    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    pub fn journal_path(&self) -> PathBuf {
        self.root.join(JOURNAL)
    }

    /// Reads config.toml; a missing file is an empty config, a broken one an error that
    /// names the file and line and is never silently replaced.
    /// The directory and file are checked first: a config that another user can write is
    /// refused before anything in it is used.
    pub fn load(&self) -> Result<Config> {
        CONFIG_DIR.check_dir_or_parent(&self.root)?;
        let path = self.config_path();
        // A named pipe planted there must be refused by the check below, not block the open.
        let file = match crate::platform::nonblocking(File::options().read(true)).open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Config::default()),
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("could not read config file {}", path.display()));
            }
        };
        CONFIG_FILE.check_file(&path, &file)?;
        // Every command reads the whole file, so one that cannot be ours is refused early.
        let mut text = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(file, MAX_CONFIG_BYTES + 1),
            &mut text,
        )
        .with_context(|| format!("could not read config file {}", path.display()))?;
        parse_config(&text, &path)
    }

    /// Takes the exclusive lock that serialises writers (and creates the directory).
    pub fn lock(&self) -> Result<Lock> {
        // Checked before anything is created in it, and again once it exists: a directory
        // others can write may hold a `.lock` symlink to a file of their choosing.
        CONFIG_DIR.check_dir_or_parent(&self.root)?;
        self.ensure_root()?;
        CONFIG_DIR.check_dir(&self.root)?;
        let path = self.root.join(".lock");
        let file = platform::private_file_nonblocking(
            OpenOptions::new().create(true).truncate(false).write(true),
        )
        .open(&path)
        .or_else(|e| {
            // A symlink or a pipe there says more than ELOOP or ENXIO would.
            LOCK_FILE.check_file_at(&path)?;
            Err(e).with_context(|| format!("could not open lock file {}", path.display()))
        })?;
        LOCK_FILE.check_file(&path, &file)?;
        // Older versions made it 0644; nobody else needs to open it to hold writers up.
        platform::make_private(&file)
            .with_context(|| format!("could not make {} private", path.display()))?;
        file.lock()
            .with_context(|| format!("could not lock {}", path.display()))?;
        Ok(Lock { _file: file })
    }

    /// Writes config.toml atomically. Taking `&Lock` makes callers hold the lock.
    pub fn save(&self, config: &Config, _lock: &Lock) -> Result<()> {
        checkpoint("save-config")?;
        let text = toml::to_string_pretty(config).context("could not encode the config")?;
        let header = "# nomadctx contexts. Keys and tokens are in the keychain (`nomadctx keychain`), not\n# here: `store` and each context's `id` name their items and certificate files (certs/ID/); edit\n# names and settings freely, but leave ids and versions alone.\n";
        let newline = if text.ends_with('\n') { "" } else { "\n" };
        write_atomic(
            &self.config_path(),
            format!("{header}{text}{newline}").as_bytes(),
        )
    }

    /// config.toml's bytes as they are, `None` when there is no such file.
    pub fn read_raw(&self) -> Result<Option<Vec<u8>>> {
        let path = self.config_path();
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => {
                Err(e).with_context(|| format!("could not read config file {}", path.display()))
            }
        }
    }

    /// Puts back what [`Store::read_raw`] returned.
    pub fn restore_raw(&self, bytes: Option<&[u8]>) -> Result<()> {
        let path = self.config_path();
        match bytes {
            Some(bytes) => write_atomic(&path, bytes),
            None => remove_if_present(&path),
        }
    }

    pub fn ensure_root(&self) -> Result<()> {
        create_private_dir(&self.root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Context;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path().join("cfg"));
        (dir, store)
    }

    #[test]
    fn missing_config_is_empty_and_saved_config_round_trips() {
        let (_dir, store) = store();
        assert_eq!(store.load().unwrap(), Config::default());
        let mut config = Config::default();
        config.contexts.insert(
            "prod".into(),
            Context {
                address: "https://n:4646".into(),
                region: Some("eu".into()),
                ..Context::default()
            },
        );
        config.default = Some("prod".into());
        let lock = store.lock().unwrap();
        store.save(&config, &lock).unwrap();
        assert_eq!(store.load().unwrap(), config);
    }

    #[test]
    fn corrupt_config_names_file_and_line() {
        let (_dir, store) = store();
        fs::create_dir_all(store.config_path().parent().unwrap()).unwrap();
        fs::write(store.config_path(), "[contexts.prod]\naddress = \n").unwrap();
        let err = format!("{:#}", store.load().unwrap_err());
        assert!(err.contains("config.toml"), "{err}");
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn unknown_keys_and_bad_names_are_rejected() {
        let (_dir, store) = store();
        fs::create_dir_all(store.config_path().parent().unwrap()).unwrap();
        fs::write(
            store.config_path(),
            "[contexts.prod]\naddress = \"https://x\"\nadress = 1\n",
        )
        .unwrap();
        assert!(format!("{:#}", store.load().unwrap_err()).contains("adress"));
        fs::write(
            store.config_path(),
            "[contexts.\"../x\"]\naddress = \"https://x\"\n",
        )
        .unwrap();
        assert!(format!("{:#}", store.load().unwrap_err()).contains("../x"));
    }
}

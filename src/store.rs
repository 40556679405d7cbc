//! The config file and the copied certificates: where they live, loading, and atomic,
//! locked saving.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::context::{Context, non_empty_env, validate_name};
use crate::keychain::Backend;
use crate::platform;
use crate::trust::{MOVE_IT_AWAY, Private, SHARED_WRITE};
use crate::unlock_cache::{DEFAULT_TTL, parse_duration};

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
const CERT_FILE: Private = Private {
    what: "certificate file",
    forbidden: SHARED_WRITE,
    at_stake: "another user could swap the CA or certificate nomadctx hands to Nomad for their own",
    not_yours: MOVE_IT_AWAY,
};
const CERT_DIR: Private = Private {
    what: "certificate directory",
    forbidden: SHARED_WRITE,
    at_stake: "another user could swap the CA and certificates nomadctx hands to Nomad for their own",
    not_yours: MOVE_IT_AWAY,
};

/// The journal of pieces a change is writing or retiring (see `crate::change`).
const JOURNAL: &str = "pending";

/// The largest config.toml nomadctx reads.
const MAX_CONFIG_BYTES: u64 = 8 << 20;

/// What config.toml holds: the store id, the keychain backend, the default, and the
/// contexts. Serialised in this order, so the top-level keys come before any table.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// This configuration's random id, written once: every keychain item it owns carries
    /// it, so two configurations on one keychain never touch each other's items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// Which directory minted `store` (its inode): a copy of the directory (or a
    /// restored backup) has the same store id in another directory, and gets one of its own
    /// before it changes anything (see `crate::fork`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keychain: Option<Backend>,
    /// The `file` store's public age recipient: secrets are encrypted to it, so writing
    /// them needs no passphrase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_recipient: Option<String>,
    /// How long `nomadctx unlock` keeps the file store open when `--for` is not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlock_for: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(default)]
    pub contexts: BTreeMap<String, Context>,
}

impl Config {
    /// Written before store and context ids; the migration brings it up to date.
    pub fn is_legacy(&self) -> bool {
        self.contexts.values().any(Context::is_legacy)
    }

    /// The store id, made now if this configuration has none yet.
    pub fn ensure_store_id(&mut self) -> Result<&str> {
        if self.store.is_none() {
            self.store = Some(crate::context::fresh_id(16)?);
        }
        Ok(self.store.as_deref().unwrap_or_default())
    }

    /// How long an unlock of the file store lasts unless `--for` says.
    pub fn unlock_for(&self) -> Duration {
        self.unlock_for
            .as_deref()
            .and_then(|t| parse_duration(t).ok())
            .unwrap_or(DEFAULT_TTL)
    }

    /// The keychain this configuration chose (config.toml, else the platform's default),
    /// whatever NOMADCTX_KEYCHAIN says for one command.
    pub fn chosen_keychain(&self) -> Backend {
        self.keychain.unwrap_or_else(Backend::platform_default)
    }

    /// The context called `name`, or an error that lists the ones there are.
    pub fn get(&self, name: &str) -> Result<&Context> {
        self.contexts
            .get(name)
            .ok_or_else(|| anyhow!("no context named {name:?}; {}", self.known_names()))
    }

    pub fn known_names(&self) -> String {
        if self.contexts.is_empty() {
            "there are no contexts yet: create one with `nomadctx add NAME --address URL ...`"
                .to_owned()
        } else {
            let names: Vec<&str> = self.contexts.keys().map(String::as_str).collect();
            format!("known contexts: {}", names.join(", "))
        }
    }
}

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
        if let Some(dir) = non_empty_env("NOMADCTX_CONFIG_DIR") {
            // Certificate paths end up in NOMAD_* variables, so they must not depend on the
            // directory the command happened to run in.
            let dir = std::path::absolute(PathBuf::from(dir))
                .context("could not resolve NOMADCTX_CONFIG_DIR")?;
            return Ok(Self::at(dir));
        }
        // Without HOME the platform would fall back to the passwd entry's home directory,
        // which under sudo, cron or a container is rarely the one meant.
        if cfg!(unix)
            && non_empty_env("HOME").is_none()
            && non_empty_env("XDG_CONFIG_HOME").is_none()
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

    /// `certs/ID/`: a context's certificate files, whatever its name.
    pub fn cert_dir(&self, context_id: &str) -> PathBuf {
        self.root.join("certs").join(context_id)
    }

    /// Refuses the context's certificate directory (and certs/ above it) when another user
    /// could write there; run before its certificates or secrets are used.
    pub fn check_cert_dir(&self, ctx: &Context) -> Result<()> {
        // A missing directory is `require_cert_files`'s to report, naming the context.
        if (!ctx.has_ca() && !ctx.has_client()) || !self.cert_dir(ctx.id()).is_dir() {
            return Ok(());
        }
        // Entries of the config directory, whose path `load` checked all the way up.
        CERT_DIR.check_dir_itself(&self.root.join("certs"))?;
        CERT_DIR.check_dir_itself(&self.cert_dir(ctx.id()))?;
        [self.ca_file(ctx), self.client_cert_file(ctx)]
            .iter()
            .flatten()
            .try_for_each(|file| CERT_FILE.check_file_at(file))
    }

    /// Refuses a context whose certificate files are gone (deleted by hand, or by another
    /// program): Nomad would be handed a path that leads nowhere.
    pub fn require_cert_files(&self, name: &str, ctx: &Context) -> Result<()> {
        let files = [
            (self.ca_file(ctx), "CA file", "--ca FILE"),
            (
                self.client_cert_file(ctx),
                "client certificate",
                "--cert FILE --key FILE",
            ),
        ];
        for (path, what, option) in files {
            if let Some(path) = path.filter(|p| !p.exists()) {
                bail!(
                    "context {name:?}: its {what} {} is missing; put it back with `nomadctx set {name} {option}` (`nomadctx doctor` lists anything else missing)",
                    path.display()
                );
            }
        }
        Ok(())
    }

    pub fn ca_path(&self, context_id: &str, version: &str) -> PathBuf {
        self.cert_dir(context_id).join(format!("ca-{version}.pem"))
    }

    pub fn client_cert_path(&self, context_id: &str, version: &str) -> PathBuf {
        self.cert_dir(context_id)
            .join(format!("client-{version}.pem"))
    }

    /// The context's CA bundle file, if it has one.
    pub fn ca_file(&self, ctx: &Context) -> Option<PathBuf> {
        let version = ctx.ca_version.as_deref()?;
        Some(self.ca_path(ctx.id(), version))
    }

    /// The context's client certificate file, if it has one.
    pub fn client_cert_file(&self, ctx: &Context) -> Option<PathBuf> {
        let version = ctx.client_version.as_deref()?;
        Some(self.client_cert_path(ctx.id(), version))
    }

    /// `certs/ID/ca.pem` and `certs/ID/client.pem` for the pieces the context has: links to
    /// the live versions, the paths to hand to Nomad, so that a shell which ran `use` keeps
    /// working paths across `set`.
    pub fn cert_links(&self, ctx: &Context) -> (Option<PathBuf>, Option<PathBuf>) {
        let dir = self.cert_dir(ctx.id());
        (
            ctx.ca_version.as_ref().map(|_| dir.join(CA_LINK)),
            ctx.client_version.as_ref().map(|_| dir.join(CLIENT_LINK)),
        )
    }

    /// Whether the context's links name the versions `ctx` names (as they do but for a
    /// moment during a change, or after one cut short). A reader never writes a link.
    pub fn links_current(&self, ctx: &Context) -> bool {
        let names = |file: Option<PathBuf>, link: Option<PathBuf>| match (file, link) {
            (Some(file), Some(link)) => file
                .file_name()
                .is_some_and(|target| platform::links_to(&link, target)),
            _ => true,
        };
        let (ca, client) = self.cert_links(ctx);
        names(self.ca_file(ctx), ca) && names(self.client_cert_file(ctx), client)
    }

    /// Points the context's links at its live versions, and removes a link to a piece it no
    /// longer has. Writers call it, holding the lock, after the config is committed.
    pub fn link_certs(&self, ctx: &Context) -> Result<()> {
        if ctx.is_legacy() {
            return Ok(());
        }
        for (file, link) in [
            (self.ca_file(ctx), CA_LINK),
            (self.client_cert_file(ctx), CLIENT_LINK),
        ] {
            let link = self.cert_dir(ctx.id()).join(link);
            // A missing file (doctor reports it) gets no link.
            match file
                .filter(|f| f.is_file())
                .as_deref()
                .and_then(Path::file_name)
            {
                Some(target) => {
                    if !platform::links_to(&link, target) {
                        replace_link(Path::new(target), &link)?;
                    }
                }
                None => remove_if_present(&link)?,
            }
        }
        Ok(())
    }

    /// Before ids, certificates lived under `certs/NAME/`.
    pub fn legacy_cert_dir(&self, name: &str) -> PathBuf {
        self.root.join("certs").join(name)
    }

    pub fn journal_path(&self) -> PathBuf {
        self.root.join(JOURNAL)
    }

    /// The entries under certs/, whether or not a context has them.
    pub fn cert_dir_names(&self) -> Result<Vec<String>> {
        list_dir(&self.root.join("certs"))
    }

    /// Reads config.toml; a missing file is an empty config, a broken one an error that
    /// names the file and line and is never silently replaced.
    /// The directory and file are checked first: a config that another user can write is
    /// refused before anything in it is used.
    pub fn load(&self) -> Result<Config> {
        CONFIG_DIR.check_dir_or_parent(&self.root)?;
        let path = self.config_path();
        let file = match File::open(&path) {
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

/// Parses config.toml's bytes: the size limit, UTF-8, TOML, then names and the default.
pub fn parse_config(text: &[u8], path: &Path) -> Result<Config> {
    let broken = |detail: String| {
        anyhow!(
            "config file {} is not valid: {detail}\nfix it by hand or move it aside; nomadctx has not changed it",
            path.display()
        )
    };
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(broken(format!(
            "it is larger than {} MiB (1,000 contexts take about 100 KB)",
            MAX_CONFIG_BYTES >> 20
        )));
    }
    let text = std::str::from_utf8(text).map_err(|_| broken("it is not UTF-8 text".into()))?;
    let config: Config = toml::from_str(text).map_err(|e| match misplaced_setting(text) {
        Some(where_) => broken(where_),
        None => broken(e.to_string()),
    })?;
    if let Some(recipient) = &config.file_recipient
        && !recipient.starts_with("age1")
    {
        return Err(broken(format!(
            "file_recipient {recipient:?} is not an age recipient (age1...); put back the value `nomadctx keychain use file` wrote"
        )));
    }
    if let Some(text) = &config.unlock_for {
        parse_duration(text).map_err(|e| broken(format!("unlock_for: {e}")))?;
    }
    match &config.store {
        Some(store) => validate_id("store", store, 32).map_err(broken)?,
        // Without it no context's items can be found, and the next `add` would choose a new
        // one that strands them.
        None if config.contexts.values().any(|c| c.id.is_some()) => {
            return Err(broken(
                "its contexts have ids but the `store = \"...\"` line at the top is missing; put it back as it was (nomadctx's keychain items and `doctor` need it)".into(),
            ));
        }
        None => {}
    }
    for (name, ctx) in &config.contexts {
        validate_name(name).map_err(|e| broken(format!("{e:#}")))?;
        for (field, value) in [
            ("id", &ctx.id),
            ("ca_version", &ctx.ca_version),
            ("client_version", &ctx.client_version),
            ("token_version", &ctx.token_version),
        ] {
            if let Some(value) = value {
                validate_id(&format!("context {name:?}: {field}"), value, 16).map_err(broken)?;
            }
        }
    }

    if let Some(default) = &config.default
        && !config.contexts.contains_key(default)
    {
        return Err(broken(format!(
            "the default context {default:?} does not exist"
        )));
    }
    Ok(config)
}

/// The settings that belong at the top of config.toml.
const TOP_LEVEL: [&str; 6] = [
    "store",
    "store_dir",
    "keychain",
    "file_recipient",
    "unlock_for",
    "default",
];

/// Where a top-level setting that was written inside a context's table belongs: a line
/// appended to the end of the file lands in the last table, and TOML says nothing of it.
fn misplaced_setting(text: &str) -> Option<String> {
    let table: toml::Table = toml::from_str(text).ok()?;
    let contexts = table.get("contexts")?.as_table()?;
    contexts.iter().find_map(|(name, ctx)| {
        let key = ctx
            .as_table()?
            .keys()
            .find(|k| TOP_LEVEL.contains(&k.as_str()))?;
        Some(format!(
            "`{key} = ...` is inside the table [contexts.{name}], where it is not a setting; top-level settings ({}) belong at the top of the file, before the first [table]: move the line up there",
            TOP_LEVEL.join(", ")
        ))
    })
}

/// Whether `value` has the shape of an id: `len` lower-case hex digits.
pub fn is_id(value: &str, len: usize) -> bool {
    value.len() == len
        && value
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Ids become file names and keychain accounts, so they are hex digits of a fixed length.
fn validate_id(what: &str, value: &str, len: usize) -> std::result::Result<(), String> {
    if is_id(value, len) {
        Ok(())
    } else {
        Err(format!(
            "{what} {value:?} is not {len} lower-case hex digits as nomadctx wrote it; put back the value it had"
        ))
    }
}

/// A named step of a change, where debug builds stop when tests ask: `NOMADCTX_FAILPOINT`
/// fails there (to prove the rollback), `NOMADCTX_PAUSE_AT` says so on stderr and waits to
/// be killed (to prove what a crash there leaves). Release builds compile both away.
pub fn checkpoint(step: &str) -> Result<()> {
    if !cfg!(debug_assertions) {
        return Ok(());
    }
    if std::env::var("NOMADCTX_FAILPOINT").is_ok_and(|v| v == step) {
        bail!("failing at {step} because NOMADCTX_FAILPOINT says so");
    }
    if std::env::var("NOMADCTX_PAUSE_AT").is_ok_and(|v| v == step) {
        eprintln!("nomadctx: paused at {step}");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
    Ok(())
}

/// The names in `dir`, sorted; a missing directory has none.
pub fn list_dir(dir: &Path) -> Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("could not read {}", dir.display())),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("could not read {}", dir.display()))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

/// Creates `dir` (and parents) with mode 0700 for the parts it creates.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    platform::private_dir()
        .recursive(true)
        .create(dir)
        .with_context(|| format!("could not create directory {}", dir.display()))
}

/// Temp file, fsync, rename, fsync of the directory: a reader or a crash sees the old file
/// or the new one, never a torn one. Creates the directory (0700) when missing.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| anyhow!("{} has no parent", path.display()))?;
    create_private_dir(dir)?;
    replace_file(path, bytes)
}

/// As [`write_atomic`], in a directory that must exist: the new file (0600) takes the
/// place of whatever directory entry `path` is, so callers check what they replace.
pub fn replace_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| anyhow!("{} has no parent", path.display()))?;
    let file_name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let written = (|| -> std::io::Result<()> {
        let mut file =
            platform::private_file(OpenOptions::new().write(true).create_new(true)).open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("could not write {}", path.display()));
    }
    // The new file is in place; a directory that cannot be synced does not undo that, and
    // callers must not act as if it had (a change would roll back what the config names).
    if let Err(e) = platform::sync_dir(dir) {
        crate::text::warn(&format!(
            "{} is written but {} could not be synced to disk: {e}",
            path.display(),
            dir.display()
        ));
    }
    Ok(())
}

/// Removes a file; one that is already gone is no error.
pub fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => {
            Err(e).with_context(|| format!("could not remove {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// The links in `certs/ID/` that name the live versions (see [`Store::cert_links`]).
pub const CA_LINK: &str = "ca.pem";
pub const CLIENT_LINK: &str = "client.pem";

/// Makes `link` name `target` in one step (a new link renamed over the old one): a symlink
/// on Unix, a copy on Windows (see [`platform::link`]).
fn replace_link(target: &Path, link: &Path) -> Result<()> {
    let dir = link
        .parent()
        .ok_or_else(|| anyhow!("{} has no parent", link.display()))?;
    let file_name = link.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let made = platform::link(target.as_os_str(), &tmp).and_then(|()| fs::rename(&tmp, link));
    if let Err(e) = made {
        let _ = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("could not link {}", link.display()));
    }
    Ok(())
}

/// Fails with a clear message when `name` is not a context; used before any change.
pub fn require_absent(config: &Config, name: &str, force: bool) -> Result<()> {
    if config.contexts.contains_key(name) && !force {
        bail!(
            "context {name:?} already exists; use --force to replace it or `nomadctx set {name} ...` to change it"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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

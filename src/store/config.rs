//! What config.toml holds (the Config type) and how its bytes are parsed and validated.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use super::Backend;
use crate::context::{Context, validate_name};
use crate::duration::{DEFAULT_TTL, parse_duration};

/// The largest config.toml nomadctx reads.
pub(super) const MAX_CONFIG_BYTES: u64 = 8 << 20;

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
    /// Every secret of the `file` store carries its store, context, kind and version inside
    /// its encryption, so a file without that line is refused. Stores made before it are
    /// bound once, at the next unlock (see `crate::rekey`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub file_bound: bool,
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
const TOP_LEVEL: [&str; 7] = [
    "store",
    "store_dir",
    "keychain",
    "file_recipient",
    "file_bound",
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

/// Fails with a clear message when `name` is not a context; used before any change.
pub fn require_absent(config: &Config, name: &str, force: bool) -> Result<()> {
    if config.contexts.contains_key(name) && !force {
        bail!(
            "context {name:?} already exists; use --force to replace it or `nomadctx set {name} ...` to change it"
        );
    }
    Ok(())
}

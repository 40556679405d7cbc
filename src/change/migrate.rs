//! Moving a configuration written before store and context ids (certificates under
//! `certs/NAME/`, keychain accounts `NAME/client-key`) to the current layout, as one
//! transaction that a crash at any step leaves resumable.
//!
//! The plan (the migrated config, with its new ids) is written first to `migration.toml`,
//! beside the config it was made from (`migration-source.toml`), so a run that is killed is
//! finished by the next one with the same ids, and a config edited in between is planned
//! again. The old certificate directories go only after the commit, and only when every copy
//! holds the same bytes. The old keychain items are never deleted: before ids, every
//! configuration of the user shared them (`prod/client-key` of one was `prod/client-key` of
//! all), so one configuration cannot know that no other still needs them.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::change::{Piece, note, settle};
use crate::context::fresh_id;
use crate::fs::{remove_if_present, write_atomic};
use crate::keychain::{Backend, Item, ItemRef, Keychain, legacy_account};
use crate::store::{Config, Lock, Store, checkpoint, parse_config};
use crate::tls;

/// Brings `config` (read under `lock`) up to date if it needs it, and returns it as it is
/// now. Also finishes a migration that a crash cut short after its commit.
pub fn migrate(store: &Store, lock: &Lock, config: Config) -> Result<Config> {
    let paths = Paths::of(store);
    if !config.is_legacy() {
        if paths.plan.exists() {
            let plan = read_config(&paths.plan)?;
            clean_up(store, &paths, &plan, &config)?;
        }
        return Ok(config);
    }
    let source = toml::to_string(&config).context("could not encode the config")?;
    let planned = match std::fs::read_to_string(&paths.source) {
        Ok(text) if text == source && paths.plan.exists() => Some(read_config(&paths.plan)?),
        _ => None,
    };
    let plan = match planned {
        Some(plan) => plan,
        None => {
            // First run, or config.toml was edited since a run was cut short: plan (again),
            // under the store id of the earlier plan so that `doctor` finds what it wrote.
            let earlier = read_config(&paths.plan).ok().and_then(|p| p.store);
            let mut plan = make_plan(&config, earlier)?;
            plan.store_dir = store.fingerprint();
            let text =
                toml::to_string_pretty(&plan).context("could not encode the migration plan")?;
            write_atomic(&paths.source, source.as_bytes())?;
            write_atomic(&paths.plan, text.as_bytes())?;
            plan
        }
    };
    checkpoint("migration-planned")?;
    let backend = Backend::choose(config.keychain)?;
    let keychain = Keychain::new(backend, plan.store.as_deref().unwrap_or_default());
    // Every item the move may write, journaled in one write before the first of them.
    let planned: Vec<Piece> = config
        .contexts
        .iter()
        .filter(|(_, c)| c.is_legacy())
        .filter_map(|(name, _)| plan.contexts.get(name))
        .flat_map(|c| crate::change::pieces_of(store, c))
        .filter(|p| matches!(p, Piece::Item(_)))
        .collect();
    note(store, &planned)?;
    let mut left = Vec::new();
    for (name, old) in config.contexts.iter().filter(|(_, c)| c.is_legacy()) {
        let Some(new) = plan.contexts.get(name) else {
            continue;
        };
        let old_dir = store.legacy_cert_dir(name);
        if let Some(path) = store.ca_file(new) {
            copy(&old_dir.join("ca.pem"), &path)?;
        }
        if let (Some(path), Some(version)) = (store.client_cert_file(new), &new.client_version) {
            copy(&old_dir.join("client.pem"), &path)?;
            match keychain.get_legacy(name, Item::ClientKey)? {
                // Configurations sharing a keychain shared `NAME/client-key`: a key that does
                // not fit this certificate is another configuration's.
                Some(key) if tls::pem::key_fits(&path, &key) => {
                    let item = ItemRef::new(new.id(), Item::ClientKey, version);
                    keychain.set(name, &item, &key)?;
                }
                Some(_) => left.push(format!(
                    "the client key in item nomadctx/{} does not fit the certificate of context {name:?} (another configuration's?), so it was not taken",
                    legacy_account(name, Item::ClientKey)
                )),
                None => left.push(missing(name, Item::ClientKey, backend)),
            }
        }
        if let Some(version) = &new.token_version
            && old.token
        {
            match keychain.get_legacy(name, Item::Token)? {
                Some(token) => {
                    let item = ItemRef::new(new.id(), Item::Token, version);
                    keychain.set(name, &item, &token)?;
                }
                None => left.push(missing(name, Item::Token, backend)),
            }
        }
        checkpoint("migration-copied")?;
    }
    store.save(&plan, lock)?;
    let items: Vec<Piece> = plan
        .contexts
        .values()
        .flat_map(|c| crate::change::pieces_of(store, c))
        .collect();
    settle(store, &items)?;
    checkpoint("migration-committed")?;
    clean_up(store, &paths, &plan, &plan)?;
    let moved = config.contexts.values().filter(|c| c.is_legacy()).count();
    let mut report = format!(
        "nomadctx: moved {moved} context(s) in {} to the layout with store and context ids.\n  The keychain items of the old layout (service nomadctx, accounts NAME/client-key and NAME/token) are left in place, since another configuration of an older nomadctx may share them; once none does, delete them (Secret Service: `secret-tool clear service nomadctx username NAME/client-key`).\n",
        store.config_path().display()
    );
    for line in &left {
        report.push_str(&format!("  {line}\n"));
    }
    eprint!("{report}");
    Ok(plan)
}

fn missing(name: &str, item: Item, backend: Backend) -> String {
    let again = match item {
        Item::ClientKey => format!("nomadctx set {name} --key FILE"),
        Item::Token => format!("nomadctx set {name} --token-stdin"),
    };
    format!(
        "the {} of context {name:?} was not found in {} (item nomadctx/{}): if it is in another keychain, choose that one (NOMADCTX_KEYCHAIN) and run `nomadctx doctor`; otherwise store it again with `{again}`",
        item.what(),
        backend.describe(),
        legacy_account(name, item),
    )
}

/// Whether [`migrate`] has anything to do: one stat on the way of every command that needs
/// a context's pieces.
pub fn needed(store: &Store, config: &Config) -> bool {
    config.is_legacy() || Paths::of(store).plan.exists()
}

struct Paths {
    plan: PathBuf,
    source: PathBuf,
}

impl Paths {
    fn of(store: &Store) -> Self {
        let config = store.config_path();
        Self {
            plan: config.with_file_name("migration.toml"),
            source: config.with_file_name("migration-source.toml"),
        }
    }
}

fn read_config(path: &Path) -> Result<Config> {
    let text = std::fs::read(path).with_context(|| format!("could not read {}", path.display()))?;
    parse_config(&text, path)
}

/// The migrated config: the same contexts with ids and versions for what they hold.
fn make_plan(config: &Config, store_id: Option<String>) -> Result<Config> {
    let mut plan = config.clone();
    if plan.store.is_none() {
        plan.store = store_id;
    }
    plan.ensure_store_id()?;
    for ctx in plan.contexts.values_mut().filter(|c| c.is_legacy()) {
        ctx.id = Some(fresh_id(8)?);
        ctx.ca_version = ctx.ca_cert.then(|| fresh_id(8)).transpose()?;
        ctx.client_version = ctx.client_cert.then(|| fresh_id(8)).transpose()?;
        ctx.token_version = ctx.token.then(|| fresh_id(8)).transpose()?;
    }
    Ok(plan)
}

/// After the commit: links to the certificates, and the old certificate directories of the
/// migrated contexts once their copies hold the same bytes.
fn clean_up(store: &Store, paths: &Paths, plan: &Config, now: &Config) -> Result<()> {
    for ctx in now.contexts.values() {
        store.link_certs(ctx)?;
    }
    for (name, ctx) in &plan.contexts {
        let old_dir = store.legacy_cert_dir(name);
        if now.contexts.values().any(|c| c.id() == name) || !old_dir.is_dir() {
            continue;
        }
        let old_files = [
            ("ca.pem", store.ca_file(ctx)),
            ("client.pem", store.client_cert_file(ctx)),
        ];
        let copied = old_files
            .iter()
            .all(|(old, new)| same_bytes(&old_dir.join(old), new.as_deref()));
        if copied {
            // Only what the old layout wrote there: a file of the user's keeps the directory.
            for (old, _) in &old_files {
                remove_if_present(&old_dir.join(old))?;
            }
            let _ = std::fs::remove_dir(&old_dir);
        }
    }
    for path in [&paths.plan, &paths.source] {
        remove_if_present(path)?;
    }
    Ok(())
}

/// Whether the old certificate file is gone or has a copy with the same bytes.
fn same_bytes(old: &Path, new: Option<&Path>) -> bool {
    let Ok(old) = std::fs::read(old) else {
        return true;
    };
    new.and_then(|new| std::fs::read(new).ok()) == Some(old)
}

/// Copies a certificate file; one that is gone is left for `doctor` to report.
fn copy(from: &Path, to: &Path) -> Result<()> {
    match std::fs::read(from) {
        Ok(bytes) => write_atomic(to, &bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("could not read {}", from.display())),
    }
}

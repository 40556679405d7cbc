//! Moving a configuration written before store and context ids (certificates under
//! `certs/NAME/`, keychain accounts `NAME/client-key`) to the current layout, as one
//! transaction that a crash at any step leaves resumable.
//!
//! The plan (the migrated config, with its new ids) is written first to `migration.toml`,
//! so a run that is killed is finished by the next one with the same ids: pieces written
//! before the kill are written again, never duplicated. The old pieces go only after the
//! migrated config is committed.

use std::path::PathBuf;

use anyhow::{Context as _, Result};

use crate::change::{Piece, note, settle};
use crate::context::fresh_id;
use crate::keychain::{Item, ItemRef, Keychain};
use crate::store::{Config, Lock, Store, checkpoint, parse_config, write_atomic};
use crate::tls;

/// Brings `config` (read under `lock`) up to date if it needs it, and returns it as it is
/// now. Also finishes a migration that a crash cut short after its commit.
pub fn migrate(store: &Store, lock: &Lock, config: Config) -> Result<Config> {
    let plan_path = plan_path(store);
    if !config.is_legacy() {
        if plan_path.exists() {
            let plan = read_plan(&plan_path)?;
            clean_up(store, &plan, &config)?;
        }
        return Ok(config);
    }
    let plan = if plan_path.exists() {
        read_plan(&plan_path)?
    } else {
        let plan = make_plan(&config)?;
        let text = toml::to_string_pretty(&plan).context("could not encode the migration plan")?;
        write_atomic(&plan_path, text.as_bytes())?;
        plan
    };
    checkpoint("migration-planned")?;
    let keychain = Keychain::new(
        crate::keychain::Backend::choose(config.keychain)?,
        plan.store.as_deref().unwrap_or_default(),
    );
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
            if let Some(key) = keychain.get_legacy(name, Item::ClientKey)? {
                // Before ids, configurations sharing a keychain shared `NAME/client-key`:
                // an item that does not fit this certificate is another configuration's.
                if key_fits(&path, &key) {
                    let item = ItemRef::new(new.id(), Item::ClientKey, version);
                    note(store, &[Piece::Item(item.clone())])?;
                    keychain.set(name, &item, &key)?;
                } else {
                    crate::cmd::warn(&format!(
                        "the keychain item {}/client-key does not fit the certificate of context {name:?} (another configuration's?); left alone: store the key with `nomadctx set {name} --key FILE`",
                        name
                    ));
                }
            }
        }
        if let Some(version) = &new.token_version
            && old.token
            && let Some(token) = keychain.get_legacy(name, Item::Token)?
        {
            let item = ItemRef::new(new.id(), Item::Token, version);
            note(store, &[Piece::Item(item.clone())])?;
            keychain.set(name, &item, &token)?;
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
    clean_up(store, &plan, &plan)?;
    eprintln!(
        "nomadctx: moved {} context(s) in {} to the layout with store and context ids; nothing else to do",
        config.contexts.values().filter(|c| c.is_legacy()).count(),
        store.config_path().display()
    );
    Ok(plan)
}

/// Whether [`migrate`] has anything to do: one stat on the way of every command that needs
/// a context's pieces.
pub fn needed(store: &Store, config: &Config) -> bool {
    config.is_legacy() || plan_path(store).exists()
}

fn plan_path(store: &Store) -> PathBuf {
    store.journal_path().with_file_name("migration.toml")
}

fn read_plan(path: &std::path::Path) -> Result<Config> {
    let text = std::fs::read(path).with_context(|| format!("could not read {}", path.display()))?;
    parse_config(&text, path)
}

/// The migrated config: the same contexts with ids and versions for what they hold.
fn make_plan(config: &Config) -> Result<Config> {
    let mut plan = config.clone();
    plan.ensure_store_id()?;
    for ctx in plan.contexts.values_mut().filter(|c| c.is_legacy()) {
        ctx.id = Some(fresh_id(8)?);
        ctx.ca_version = ctx.ca_cert.then(|| fresh_id(8)).transpose()?;
        ctx.client_version = ctx.client_cert.then(|| fresh_id(8)).transpose()?;
        ctx.token_version = ctx.token.then(|| fresh_id(8)).transpose()?;
    }
    Ok(plan)
}

/// After the commit: the old items and certificate directories of the migrated contexts go.
fn clean_up(store: &Store, plan: &Config, now: &Config) -> Result<()> {
    let keychain = Keychain::new(
        crate::keychain::Backend::choose(now.keychain)?,
        now.store.as_deref().unwrap_or_default(),
    );
    for (name, ctx) in &plan.contexts {
        for item in Item::ALL {
            let held = match item {
                Item::ClientKey => ctx.has_client(),
                Item::Token => ctx.has_token(),
            };
            // Only what this migration copied: a key that did not fit stays.
            if held && item_copied(&keychain, name, ctx, item) {
                keychain.delete_legacy(name, item)?;
                checkpoint("migration-old-item-deleted")?;
            }
        }
        let old_dir = store.legacy_cert_dir(name);
        if !now.contexts.values().any(|c| c.id() == name) && old_dir.is_dir() {
            std::fs::remove_dir_all(&old_dir)
                .with_context(|| format!("could not remove {}", old_dir.display()))?;
        }
    }
    std::fs::remove_file(plan_path(store)).context("could not remove the migration plan")?;
    Ok(())
}

/// Whether the new item holds what the old one does (so the old one can go).
fn item_copied(keychain: &Keychain, name: &str, ctx: &crate::context::Context, item: Item) -> bool {
    let version = match item {
        Item::ClientKey => ctx.client_version.as_deref(),
        Item::Token => ctx.token_version.as_deref(),
    };
    let Some(version) = version else {
        return false;
    };
    let new = keychain.get(name, &ItemRef::new(ctx.id(), item, version));
    let old = keychain.get_legacy(name, item);
    matches!((new, old), (Ok(Some(new)), Ok(Some(old))) if new.expose() == old.expose())
}

fn key_fits(cert_path: &std::path::Path, key: &crate::secret::Secret) -> bool {
    tls::read_certificates(cert_path, "client certificate")
        .and_then(|certs| tls::check_key_matches(&certs, key, cert_path, cert_path))
        .is_ok()
}

/// Copies a certificate file; one that is gone is left for `doctor` to report.
fn copy(from: &std::path::Path, to: &std::path::Path) -> Result<()> {
    match std::fs::read(from) {
        Ok(bytes) => write_atomic(to, &bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("could not read {}", from.display())),
    }
}

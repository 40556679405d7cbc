//! A configuration directory that is a copy of another (`cp -a`, a restored backup, a move
//! to another file system) carries the other's store id, so the two would share keychain
//! items, and a change in one would delete what the other still names. Before the copy
//! changes anything it gets a store id of its own, with copies of its secrets under it; the
//! original's items are never touched.
//!
//! Like the migration, the fork is planned first (`fork.toml`: the store id it moves from and
//! the one it moves to), so a run that is killed is finished by the next one.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

use crate::change::{Piece, note, pieces_of, settle};
use crate::context::fresh_id;
use crate::fs::{remove_if_present, write_atomic};
use crate::keychain::file::FileStore;
use crate::keychain::{Backend, Keychain};
use crate::store::{Config, Lock, Store, checkpoint};

#[derive(Debug, Serialize, Deserialize)]
struct Plan {
    from: String,
    to: String,
}

/// Whether `config` was read from a directory other than the one that minted its store id
/// (one stat). A config that records no directory yet is claimed by [`fork`].
pub fn needed(store: &Store, config: &Config) -> bool {
    config.store.is_some()
        && store
            .fingerprint()
            .is_some_and(|here| config.store_dir.as_deref() != Some(here.as_str()))
}

/// Gives a copied configuration (read under `lock`) a store id of its own, and returns it as
/// it is now.
pub fn fork(store: &Store, lock: &Lock, mut config: Config) -> Result<Config> {
    let (Some(from), Some(here)) = (config.store.clone(), store.fingerprint()) else {
        return Ok(config);
    };
    if config.store_dir.as_deref() == Some(here.as_str()) {
        return Ok(config);
    }
    if config.store_dir.is_none() {
        // Written before directories were recorded: this one is taken as the original.
        config.store_dir = Some(here);
        store.save(&config, lock)?;
        return Ok(config);
    }
    let path = plan_path(store);
    let plan = match read_plan(&path) {
        Some(plan) if plan.from == from => plan,
        _ => {
            let plan = Plan {
                from,
                to: fresh_id(16)?,
            };
            let text = toml::to_string(&plan).context("could not encode the fork plan")?;
            write_atomic(&path, text.as_bytes())?;
            plan
        }
    };
    let backend = Backend::choose(config.keychain)?;
    let keychain_of = |store_id: &str| {
        Keychain::new(backend, store_id)
            .with_file_store(config.file_recipient.as_deref(), config.unlock_for())
            .with_file_binding(config.file_bound)
    };
    let (old, new) = (keychain_of(&plan.from), keychain_of(&plan.to));
    // Every item this fork may write, journaled in one write before the first of them.
    let items: Vec<Piece> = config
        .contexts
        .values()
        .flat_map(|c| pieces_of(store, c))
        .filter(|p| matches!(p, Piece::Item(_)))
        .collect();
    note(store, &items)?;
    let mut copied = 0;
    if backend == Backend::File {
        // The copy takes the file store's identity as it is (both configurations open
        // theirs with the same passphrase); each secret is decrypted and encrypted again
        // below, bound to the copy's store id, which needs the store unlocked.
        FileStore::open(&plan.from, None, config.unlock_for())?.copy_identity_to(&plan.to)?;
        config.file_bound = true;
    }
    for (name, ctx) in &config.contexts {
        for piece in pieces_of(store, ctx) {
            if let Piece::Item(item) = piece
                && let Some(secret) = old.get(name, &item).with_context(|| {
                    format!(
                        "{} is a copy of another configuration's directory, and its secrets are copied for it",
                        store.config_path().display()
                    )
                })?
            {
                new.set(name, &item, &secret)?;
                copied += 1;
                checkpoint("fork-copied")?;
            }
        }
    }
    config.store = Some(plan.to);
    config.store_dir = Some(here);
    store.save(&config, lock)?;
    settle(store, &items)?;
    checkpoint("fork-committed")?;
    remove_if_present(&path)?;
    eprintln!(
        "nomadctx: {} is a copy of another configuration's directory (or was restored or moved), so it now has keychain items of its own ({copied} secret(s) copied); the other configuration's are left alone",
        store.config_path().display()
    );
    Ok(config)
}

fn plan_path(store: &Store) -> PathBuf {
    store.config_path().with_file_name("fork.toml")
}

fn read_plan(path: &std::path::Path) -> Option<Plan> {
    toml::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

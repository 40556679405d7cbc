//! Every secret of the file store encrypted again as one change: `keychain passphrase
//! --rekey` encrypts them to a new identity, so that an old identity.age and its passphrase
//! open nothing stored from then on; the upgrade of a store written before secrets carried
//! their binding (see `file_store::payload`) encrypts them again to the same identity, bound,
//! at the first unlock, and records `file_bound = true` in config.toml with the same commit.
//!
//! As in every change, nothing is written over what config.toml names: each secret gets a
//! new version (its context's client certificate is copied to the same version), the new
//! identity goes to identity-next.age, and all of it is read back with the new identity
//! before config.toml is committed naming the new recipient and versions. Only then does
//! identity-next.age take identity.age's place and are the old files deleted. The plan
//! (`rekey.toml` beside config.toml: the new recipient, the pieces written and those
//! retired) is written before anything else, so the next command that loads the config
//! finishes a run killed after its commit and undoes one killed before it.

use std::path::{Path, PathBuf};

use age::x25519;
use anyhow::{Context as _, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::change::moving::live_items;
use crate::change::{Piece, remove_piece};
use crate::context::fresh_id;
use crate::fs::{remove_if_present, write_atomic};
use crate::keychain::file::FileStore;
use crate::keychain::{Backend, Item, ItemRef, Keychain};
use crate::secret::Secret;
use crate::store::{Config, Lock, Store, checkpoint};

const PLAN: &str = "rekey.toml";

#[derive(Debug, Serialize, Deserialize)]
struct Plan {
    /// The recipient config.toml names once the change is committed.
    to: String,
    /// What the change writes (new versions), as lines of the change journal.
    written: Vec<String>,
    /// What the commit retires.
    retired: Vec<String>,
}

/// One secret on its way from its old version to its new one.
struct Move {
    name: String,
    old: ItemRef,
    new: ItemRef,
    secret: Secret,
}

/// Whether a re-key left something to finish or undo (one stat on the way of every command
/// that needs a context's pieces).
pub fn needed(store: &Store) -> bool {
    plan_path(store).exists()
}

/// Encrypts every secret of `config`'s file store (read with `old`) again to `new`, which
/// becomes identity.age encrypted with `passphrase`; returns the config as committed.
pub fn rekey(
    store: &Store,
    lock: &Lock,
    config: Config,
    old: x25519::Identity,
    new: &x25519::Identity,
    passphrase: &str,
) -> Result<Config> {
    reencrypt(store, lock, config, old, new, Some(passphrase))
}

/// Whether `config`'s file store holds secrets written before the binding: one look at
/// the config, on the way of every command that reads secrets.
pub fn binding_due(config: &Config) -> bool {
    !config.file_bound
        && Backend::choose(config.keychain).is_ok_and(|b| b == Backend::File)
        && config
            .contexts
            .values()
            .any(|c| !c.is_legacy() && (c.client_version.is_some() || c.token_version.is_some()))
}

/// Binds every secret of a store written before the binding, as one change, when its
/// identity is at hand: `identity` (just unlocked), else the unlock cache or the passphrase
/// file (never a question: the command did not ask for one). A store that stays locked is
/// bound at its next unlock; one that fails to bind is a warning, and is tried again.
pub fn bind_if_due(
    store: &Store,
    lock: &Lock,
    config: Config,
    identity: Option<&x25519::Identity>,
) -> Result<Config> {
    if !binding_due(&config) {
        return Ok(config);
    }
    let files = crate::keychain::file_store_of(&config)?;
    let identity = match identity {
        Some(identity) => identity.clone(),
        None => match files.unlocked_identity() {
            Ok(Some(identity)) => identity,
            Ok(None) => return Ok(config),
            Err(e) => {
                crate::text::warn(&format!(
                    "{e:#}; the file store's secrets are bound to their contexts at its next unlock"
                ));
                return Ok(config);
            }
        },
    };
    match reencrypt(
        store,
        lock,
        config.clone(),
        identity.clone(),
        &identity,
        None,
    ) {
        Ok(bound) => {
            eprintln!(
                "nomadctx: the file store's secrets now carry the store, context, kind and version they belong to (each encrypted again, once; config.toml records file_bound = true), so a file copied over another is refused"
            );
            Ok(bound)
        }
        Err(e) => {
            crate::text::warn(&format!(
                "{e:#}; the next command that finds the file store unlocked tries again"
            ));
            Ok(store.load().unwrap_or(config))
        }
    }
}

/// Encrypts every secret again to `new`, bound to its new version; with `passphrase`, `new`
/// is a new identity that takes identity.age's place.
fn reencrypt(
    store: &Store,
    lock: &Lock,
    config: Config,
    old: x25519::Identity,
    new: &x25519::Identity,
    passphrase: Option<&str>,
) -> Result<Config> {
    let from = Keychain::for_backend(&config, Backend::File);
    let files = from.file_store()?;
    files.adopt(old)?;
    // Only the file store's own secrets: after a move to another keychain it has none.
    let live = if Backend::choose(config.keychain)? == Backend::File {
        live_items(store, &config)
    } else {
        Vec::new()
    };
    // A new identity must leave nothing the old one opens; a binding leaves the orphans
    // to `doctor`, which reports them unbound.
    if passphrase.is_some() {
        refuse_orphans(&files, &from, &live)?;
    }
    // Everything is read before anything is written: a secret that does not open stops the
    // change with nothing changed.
    let mut next = config.clone();
    next.file_recipient = Some(new.to_public().to_string());
    // Every secret is written bound by this change.
    next.file_bound = true;
    let mut moves = Vec::with_capacity(live.len());
    let mut certs = Vec::new();
    for (name, item) in live {
        let secret = from.require(&name, &item)?;
        let version = fresh_id(8)?;
        let Some(ctx) = next.contexts.get_mut(&name) else {
            continue;
        };
        match item.kind {
            Item::ClientKey => {
                let cert = store.client_cert_file(ctx).ok_or_else(|| {
                    anyhow!("context {name:?} has a client key but no client certificate; run `nomadctx doctor`; nothing was changed")
                })?;
                certs.push((cert, store.client_cert_path(ctx.id(), &version)));
                ctx.client_version = Some(version.clone());
            }
            Item::Token => ctx.token_version = Some(version.clone()),
        }
        let new = ItemRef::new(&item.context, item.kind, &version);
        moves.push(Move {
            name,
            old: item,
            new,
            secret,
        });
    }
    let plan = Plan {
        to: new.to_public().to_string(),
        written: moves
            .iter()
            .map(|m| Piece::Item(m.new.clone()))
            .chain(certs.iter().map(|(_, to)| Piece::File(to.clone())))
            .map(|p| p.to_line())
            .collect(),
        retired: moves
            .iter()
            .map(|m| Piece::Item(m.old.clone()))
            .chain(certs.iter().map(|(from, _)| Piece::File(from.clone())))
            .map(|p| p.to_line())
            .collect(),
    };
    let text = toml::to_string(&plan).context("could not encode the re-key plan")?;
    write_atomic(&plan_path(store), text.as_bytes())?;
    let to = Keychain::for_backend(&next, Backend::File);
    let written = (|| -> Result<()> {
        checkpoint("rekey-planned")?;
        if let Some(passphrase) = passphrase {
            files.write_next_identity(new, passphrase)?;
            checkpoint("rekey-identity-written")?;
        }
        for (from, to) in &certs {
            let pem = std::fs::read(from).with_context(|| {
                format!("could not read {}; run `nomadctx doctor`", from.display())
            })?;
            write_atomic(to, &pem)?;
        }
        for m in &moves {
            to.set(&m.name, &m.new, &m.secret)?;
            checkpoint("rekey-written")?;
        }
        // Read back with the new identity: the old files go only once the new ones open.
        to.file_store()?.adopt(new.clone())?;
        for m in &moves {
            match to.get(&m.name, &m.new)? {
                Some(back) if back == m.secret => {}
                _ => bail!(
                    "the file store did not give back the {} of context {:?} as it was written",
                    m.new.kind.what(),
                    m.name
                ),
            }
        }
        store.save(&next, lock)
    })();
    if let Err(e) = written {
        // Settled against what is on disk: a save that failed after its rename committed.
        let on_disk = store.load().unwrap_or(config);
        if let Err(undo) = finish(store, &on_disk) {
            crate::text::warn(&format!("{undo:#}; the next command tries again"));
        }
        return Err(e.context(
            "the file store's secrets were not encrypted again; its identity, passphrase and secrets are as they were",
        ));
    }
    checkpoint("rekey-committed")?;
    finish(store, &next)?;
    Ok(next)
}

/// Settles what a re-key left (its plan, if any) against `config` as committed, holding
/// the lock (`_lock`): a change committed is finished, one that was not is undone.
pub fn settle(store: &Store, _lock: &Lock, config: &Config) -> Result<()> {
    finish(store, config)
}

fn finish(store: &Store, config: &Config) -> Result<()> {
    let path = plan_path(store);
    let Some(plan) = read_plan(&path)? else {
        return Ok(());
    };
    let pieces = |lines: &[String]| -> Vec<Piece> {
        lines.iter().filter_map(|l| Piece::from_line(l)).collect()
    };
    let (written, retired) = (pieces(&plan.written), pieces(&plan.retired));
    // The new versions are fresh ids, so the config names them only once committed.
    let committed = config.file_recipient.as_deref() == Some(plan.to.as_str())
        && written.iter().all(|p| p.is_live(store, config));
    let files = crate::keychain::file_store_of(config)?;
    let keychain = Keychain::for_backend(config, Backend::File);
    let stale = if committed {
        files.promote_next_identity()?;
        checkpoint("rekey-identity-replaced")?;
        for ctx in config.contexts.values() {
            store.link_certs(ctx)?;
        }
        retired
    } else {
        remove_if_present(&files.next_identity_path())?;
        written
    };
    for piece in stale.iter().filter(|p| !p.is_live(store, config)) {
        remove_piece(&keychain, "", piece)?;
        checkpoint("rekey-removed")?;
    }
    remove_if_present(&path)
}

/// A file no context names would stay encrypted to the old identity, which would then
/// still open something: the user settles it first.
fn refuse_orphans(
    files: &FileStore,
    keychain: &Keychain,
    live: &[(String, ItemRef)],
) -> Result<()> {
    let orphans: Vec<String> = files
        .list()?
        .into_iter()
        .filter(|account| {
            !live
                .iter()
                .any(|(_, item)| keychain.account(item) == *account)
        })
        .collect();
    if orphans.is_empty() {
        return Ok(());
    }
    bail!(
        "the file store {} holds {} secret file(s) that no context names ({}), which would stay encrypted to the old identity; run `nomadctx doctor --repair` to put them back or delete them (or delete them by hand from {}), then run this again; nothing was changed",
        files.dir().display(),
        orphans.len(),
        orphans.join(", "),
        files.dir().join("secrets").display()
    )
}

fn plan_path(store: &Store) -> PathBuf {
    store.config_path().with_file_name(PLAN)
}

fn read_plan(path: &Path) -> Result<Option<Plan>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("could not read {}", path.display())),
    };
    toml::from_str(&text).map(Some).map_err(|e| {
        anyhow!(
            "the re-key plan {} is not valid ({e}); it is written whole by `nomadctx keychain passphrase --rekey`, so it was changed by hand: put it back, or move it aside once identity.age opens with your passphrase",
            path.display()
        )
    })
}

//! The one transaction that add, set, remove and the migration share: new pieces beside the
//! live ones, the config committed pointing at them, then the superseded pieces removed.
//!
//! A piece is a keychain item or a certificate file, each under a fresh version, so a change
//! never writes over anything the config points at. A crash, a keychain call that times out
//! and lands later, or a failure at any step leaves at worst an orphan (named in the journal,
//! `pending`, until it is settled), never a context whose key is missing or wrong.
//!
//! Beside it: what `add` and `set` read and check before a change (`inputs`, `import`), and
//! the changes that are more than one transaction: a copied configuration directory getting
//! a store of its own (`copied_config`), the config layout's migration (`migrate`), every
//! secret moved to another keychain (`moving`), and the file store's re-key and binding
//! (`rekey`).

pub mod copied_config;
pub mod import;
pub mod inputs;
pub mod migrate;
pub mod moving;
pub mod rekey;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anyhow::{Context as _, Result};

use crate::context::{Context, fresh_id};
use crate::fs::{remove_if_present, write_atomic};
use crate::keychain::{Item, ItemRef, Keychain, NoAnswer};
use crate::secret::Secret;
use crate::store::{Config, Lock, Store, checkpoint};

/// One thing a change writes or retires.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Piece {
    Item(ItemRef),
    /// A certificate file, or with `Dir` a context's whole certificate directory.
    File(PathBuf),
    Dir(PathBuf),
}

impl Piece {
    pub fn to_line(&self) -> String {
        match self {
            Self::Item(item) => format!(
                "item {} {} {}",
                item.context,
                item.kind.suffix(),
                item.version
            ),
            Self::File(path) => format!("file {}", path.display()),
            Self::Dir(path) => format!("dir {}", path.display()),
        }
    }

    pub fn from_line(line: &str) -> Option<Self> {
        let (tag, rest) = line.split_once(' ')?;
        let words: Vec<&str> = rest.split(' ').collect();
        match (tag, words.as_slice()) {
            ("item", [context, kind, version]) => Some(Self::Item(ItemRef::new(
                context,
                Item::from_suffix(kind)?,
                version,
            ))),
            ("file", _) => Some(Self::File(PathBuf::from(rest))),
            ("dir", _) => Some(Self::Dir(PathBuf::from(rest))),
            _ => None,
        }
    }

    /// Whether the config still points at this piece (so it must not be removed).
    pub fn is_live(&self, store: &Store, config: &Config) -> bool {
        config.contexts.values().any(|ctx| match self {
            Self::Dir(path) => !ctx.is_legacy() && *path == store.cert_dir(ctx.id()),
            piece => pieces_of(store, ctx).contains(piece),
        })
    }
}

/// The keychain items and files a context points at.
pub fn pieces_of(store: &Store, ctx: &Context) -> Vec<Piece> {
    let mut pieces = Vec::new();
    if ctx.is_legacy() {
        return pieces;
    }
    if let Some(path) = store.ca_file(ctx) {
        pieces.push(Piece::File(path));
    }
    if let (Some(path), Some(version)) = (store.client_cert_file(ctx), &ctx.client_version) {
        pieces.push(Piece::File(path));
        pieces.push(Piece::Item(ItemRef::new(
            ctx.id(),
            Item::ClientKey,
            version,
        )));
    }
    if let Some(version) = &ctx.token_version {
        pieces.push(Piece::Item(ItemRef::new(ctx.id(), Item::Token, version)));
    }
    pieces
}

/// The pieces of changes that have not settled: written and not yet committed (or rolled
/// back), or retired and not yet removed. `doctor` reads it on keychains it cannot list.
pub fn journal(store: &Store) -> Vec<Piece> {
    std::fs::read_to_string(store.journal_path())
        .map(|text| text.lines().filter_map(Piece::from_line).collect())
        .unwrap_or_default()
}

fn write_journal(store: &Store, pieces: &[Piece]) -> Result<()> {
    let path = store.journal_path();
    if pieces.is_empty() {
        return remove_if_present(&path);
    }
    let text: String = pieces
        .iter()
        .map(|p| format!("{}\n", p.to_line()))
        .collect();
    write_atomic(&path, text.as_bytes())
}

/// Adds pieces to the journal (once each) before they are touched.
pub fn note(store: &Store, pieces: &[Piece]) -> Result<()> {
    let mut all = journal(store);
    let mut known: BTreeSet<Piece> = all.iter().cloned().collect();
    all.extend(
        pieces
            .iter()
            .filter(|p| known.insert((*p).clone()))
            .cloned(),
    );
    write_journal(store, &all)
}

/// Takes settled pieces off the journal.
pub fn settle(store: &Store, pieces: &[Piece]) -> Result<()> {
    let settled: BTreeSet<&Piece> = pieces.iter().collect();
    let mut all = journal(store);
    all.retain(|p| !settled.contains(p));
    write_journal(store, &all)
}

/// What happens to one part of a context in `add` or `set`.
#[derive(Debug)]
pub enum Change<T> {
    Keep,
    Put(T),
    Remove,
}

/// The parts of a context a change touches: the CA bundle (PEM), the client certificate
/// (PEM) with its key (DER), and the ACL token.
#[derive(Debug)]
pub struct Update {
    pub ca: Change<Vec<u8>>,
    pub client: Change<(Vec<u8>, Secret)>,
    pub token: Change<Secret>,
}

/// A change in progress. Dropped without [`Transaction::commit`], it removes the pieces it
/// wrote; committed, it removes the pieces it retired.
pub struct Transaction<'a> {
    store: &'a Store,
    keychain: &'a Keychain,
    lock: &'a Lock,
    /// Pieces written in full. A write that got no answer is not here: it may still land,
    /// so its journal entry stays for `doctor`.
    written: Vec<Piece>,
    retired: Vec<Piece>,
    /// The names of the contexts whose pieces these are (by context id), for messages.
    names: BTreeMap<String, String>,
    committed: bool,
}

impl std::fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("written", &self.written)
            .field("retired", &self.retired)
            .finish()
    }
}

impl<'a> Transaction<'a> {
    /// Holding `&Lock` makes callers hold the store's lock for the whole change.
    pub fn begin(store: &'a Store, keychain: &'a Keychain, lock: &'a Lock) -> Self {
        Self {
            store,
            keychain,
            lock,
            written: Vec::new(),
            retired: Vec::new(),
            names: BTreeMap::new(),
            committed: false,
        }
    }

    /// Stores a secret as a new item of `item.context`, never over a live one.
    fn put_secret(&mut self, name: &str, item: ItemRef, secret: &Secret) -> Result<()> {
        self.names.insert(item.context.clone(), name.to_owned());
        let piece = Piece::Item(item.clone());
        note(self.store, std::slice::from_ref(&piece))?;
        if let Err(e) = self.keychain.set(name, &item, secret) {
            // Only a call that got no answer may still land; its entry stays for `doctor`.
            if !e.is::<NoAnswer>() {
                settle(self.store, &[piece])?;
            }
            return Err(e);
        }
        self.written.push(piece);
        checkpoint("item-written")
    }

    /// Writes a new certificate file.
    fn put_file(&mut self, path: PathBuf, bytes: &[u8]) -> Result<()> {
        let piece = Piece::File(path.clone());
        note(self.store, std::slice::from_ref(&piece))?;
        self.written.push(piece);
        write_atomic(&path, bytes)
    }

    /// Marks a piece to be removed once the config no longer points at it.
    fn retire(&mut self, piece: Piece) {
        self.retired.push(piece);
    }

    /// Applies `update` to the context `name` (whose `id` is set): new versions for what is
    /// put, the old versions retired.
    pub fn apply(&mut self, name: &str, ctx: &mut Context, update: Update) -> Result<()> {
        let id = ctx.id().to_owned();
        self.names.insert(id.clone(), name.to_owned());
        match update.ca {
            Change::Keep => {}
            Change::Put(pem) => {
                let version = fresh_id(8)?;
                self.put_file(self.store.ca_path(&id, &version), &pem)?;
                self.retire_ca(ctx);
                ctx.ca_version = Some(version);
            }
            Change::Remove => {
                self.retire_ca(ctx);
                ctx.ca_version = None;
            }
        }
        match update.client {
            Change::Keep => {}
            Change::Put((pem, key)) => {
                let version = fresh_id(8)?;
                self.put_secret(name, ItemRef::new(&id, Item::ClientKey, &version), &key)?;
                self.put_file(self.store.client_cert_path(&id, &version), &pem)?;
                self.retire_client(ctx);
                ctx.client_version = Some(version);
            }
            Change::Remove => {
                self.retire_client(ctx);
                ctx.client_version = None;
            }
        }
        match update.token {
            Change::Keep => {}
            Change::Put(token) => {
                let version = fresh_id(8)?;
                self.put_secret(name, ItemRef::new(&id, Item::Token, &version), &token)?;
                self.retire_token(ctx);
                ctx.token_version = Some(version);
            }
            Change::Remove => {
                self.retire_token(ctx);
                ctx.token_version = None;
            }
        }
        checkpoint("pieces-written")
    }

    fn retire_ca(&mut self, ctx: &Context) {
        if let Some(path) = self.store.ca_file(ctx) {
            self.retire(Piece::File(path));
        }
    }

    fn retire_client(&mut self, ctx: &Context) {
        if let (Some(path), Some(version)) = (self.store.client_cert_file(ctx), &ctx.client_version)
        {
            self.retire(Piece::File(path));
            self.retire(Piece::Item(ItemRef::new(
                ctx.id(),
                Item::ClientKey,
                version,
            )));
        }
    }

    fn retire_token(&mut self, ctx: &Context) {
        if let Some(version) = &ctx.token_version {
            self.retire(Piece::Item(ItemRef::new(ctx.id(), Item::Token, version)));
        }
    }

    /// Retires every piece of a context that is going away, and its directory.
    pub fn retire_context(&mut self, name: &str, ctx: &Context) {
        if ctx.is_legacy() {
            return;
        }
        self.names.insert(ctx.id().to_owned(), name.to_owned());
        for piece in pieces_of(self.store, ctx) {
            self.retire(piece);
        }
        self.retire(Piece::Dir(self.store.cert_dir(ctx.id())));
    }

    /// The name of the context a piece belongs to, as this change knows it; empty if none.
    fn name_of(&self, piece: &Piece) -> &str {
        let Piece::Item(item) = piece else {
            return "";
        };
        self.names.get(&item.context).map_or("", String::as_str)
    }

    /// Commits `config` (atomically), then removes the retired pieces. A removal that fails
    /// is a warning: the piece stays in the journal for `doctor`.
    pub fn commit(mut self, config: &Config) -> Result<()> {
        note(self.store, &self.retired)?;
        self.store.save(config, self.lock)?;
        self.committed = true;
        checkpoint("config-saved")?;
        // The change is committed: what fails from here on is a warning, never an error
        // (that would say the change failed).
        // Only the contexts this change touched: others' links are doctor's to check.
        let touched = config
            .contexts
            .values()
            .filter(|c| self.names.contains_key(c.id()));
        for ctx in touched {
            if let Err(e) = self.store.link_certs(ctx) {
                crate::text::warn(&format!("{e:#}; `nomadctx doctor --repair` links it later"));
            }
        }
        let mut settled = std::mem::take(&mut self.written);
        for piece in std::mem::take(&mut self.retired) {
            if piece.is_live(self.store, config) {
                settled.push(piece);
                continue;
            }
            match remove_piece(self.keychain, self.name_of(&piece), &piece) {
                Ok(()) => settled.push(piece),
                Err(e) => crate::text::warn(&format!(
                    "{e:#}; `nomadctx doctor --repair` removes it later"
                )),
            }
            checkpoint("retired-removed")?;
        }
        settle(self.store, &settled)
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        let mut settled = Vec::new();
        for piece in self.written.iter().rev() {
            match remove_piece(self.keychain, self.name_of(piece), piece) {
                Ok(()) => settled.push(piece.clone()),
                Err(e) => crate::text::warn(&format!(
                    "{e:#}; `nomadctx doctor --repair` removes it later"
                )),
            }
        }
        // Retired pieces stay live when the config was not committed.
        settled.extend(self.retired.iter().cloned());
        let _ = settle(self.store, &settled);
    }
}

/// Removes a piece the config no longer points at; `name` is its context's, for messages
/// (empty when it has none).
pub fn remove_piece(keychain: &Keychain, name: &str, piece: &Piece) -> Result<()> {
    match piece {
        Piece::Item(item) => keychain.delete(name, item).map(|_| ()),
        Piece::File(path) => {
            remove_if_present(path)?;
            // A directory the change emptied goes too.
            if let Some(dir) = path.parent() {
                let _ = std::fs::remove_dir(dir);
            }
            Ok(())
        }
        Piece::Dir(path) => match std::fs::remove_dir_all(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("could not remove {}", path.display()))
            }
            _ => Ok(()),
        },
    }
}

//! `keychain use NEW --migrate`: every secret of a configuration moved to another keychain
//! as one change. All are read first, written to NEW and read back; then config.toml is
//! switched; only then are the old items deleted. Each copy is named in a journal
//! (`moving`, beside config.toml) before it is written, so what a killed run leaves behind (new
//! copies before the switch, old items after it) is deleted by the next `keychain` command,
//! and a context never points at a keychain that lacks its secrets.

use anyhow::{Result, bail};

use crate::change::Piece;
use crate::change::pieces_of;
use crate::fs::{remove_if_present, write_atomic};
use crate::keychain::{Backend, Item, ItemRef, Keychain};
use crate::secret::Secret;
use crate::store::{Config, Lock, Store, checkpoint};

const JOURNAL: &str = "moving";

/// A copy of an item in a keychain other than the one it may end up in.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Copy {
    backend: Backend,
    item: ItemRef,
}

impl Copy {
    fn to_line(&self) -> String {
        format!(
            "{} {} {} {}\n",
            self.backend.name(),
            self.item.context,
            self.item.kind.suffix(),
            self.item.version
        )
    }

    fn from_line(line: &str) -> Option<Self> {
        let words: Vec<&str> = line.split(' ').collect();
        let [backend, context, kind, version] = words.as_slice() else {
            return None;
        };
        Some(Self {
            backend: Backend::from_name(backend)?,
            item: ItemRef::new(context, Item::from_suffix(kind)?, version),
        })
    }
}

/// Every secret the config points at, with its context's name.
pub fn live_items(store: &Store, config: &Config) -> Vec<(String, ItemRef)> {
    config
        .contexts
        .iter()
        .flat_map(|(name, ctx)| {
            pieces_of(store, ctx)
                .into_iter()
                .filter_map(|piece| match piece {
                    Piece::Item(item) => Some((name.clone(), item)),
                    _ => None,
                })
        })
        .collect()
}

fn journal(store: &Store) -> Vec<Copy> {
    std::fs::read_to_string(store.config_path().with_file_name(JOURNAL))
        .map(|text| text.lines().filter_map(Copy::from_line).collect())
        .unwrap_or_default()
}

fn write_journal(store: &Store, copies: &[Copy]) -> Result<()> {
    let path = store.config_path().with_file_name(JOURNAL);
    if copies.is_empty() {
        return remove_if_present(&path);
    }
    let text: String = copies.iter().map(Copy::to_line).collect();
    write_atomic(&path, text.as_bytes())
}

/// Moves every secret of `config` from `from` to `to`, and commits `config` naming `to`.
/// `keychain_for` opens a keychain of this store by backend (to clear what a failed run
/// wrote).
/// Every secret a move takes, read from the keychain it leaves: first, so that a secret the
/// old keychain lacks, or a locked one, stops the move before anything else is asked or done.
pub fn read_secrets(
    store: &Store,
    config: &Config,
    from: &Keychain,
) -> Result<Vec<(String, ItemRef, Secret)>> {
    live_items(store, config)
        .into_iter()
        .map(|(name, item)| {
            let secret = from.require(&name, &item)?;
            Ok((name, item, secret))
        })
        .collect()
}

/// Writes `secrets` (from [`read_secrets`]) to `to`, reads them back, and commits the
/// configuration's new keychain; then the old copies go.
pub fn move_secrets(
    store: &Store,
    lock: &Lock,
    mut config: Config,
    from: &Keychain,
    secrets: &[(String, ItemRef, Secret)],
    to: &Keychain,
    keychain_for: &dyn Fn(Backend) -> Keychain,
) -> Result<()> {
    let copies = |backend: Backend| -> Vec<Copy> {
        secrets
            .iter()
            .map(|(_, item, _)| Copy {
                backend,
                item: item.clone(),
            })
            .collect()
    };
    let mut journaled = journal(store);
    journaled.extend(copies(to.backend()));
    write_journal(store, &journaled)?;
    let written = (|| -> Result<()> {
        for (name, item, secret) in secrets {
            to.set(name, item, secret)?;
            checkpoint("move-written")?;
        }
        for (name, item, secret) in secrets {
            match to.get(name, item)? {
                Some(back) if back.expose() == secret.expose() => {}
                _ => bail!(
                    "{} did not give back the {} of context {name:?} as it was written; nothing was moved",
                    to.backend().describe(),
                    item.kind.what()
                ),
            }
        }
        Ok(())
    })();
    if let Err(e) = written {
        tidy(store, &config, keychain_for);
        return Err(e);
    }
    journaled.extend(copies(from.backend()));
    write_journal(store, &journaled)?;
    config.keychain = Some(to.backend());
    store.save(&config, lock)?;
    checkpoint("move-committed")?;
    tidy(store, &config, keychain_for);
    Ok(())
}

/// Settles the journal against `config` as committed: copies in the keychain it chose are
/// its own now; copies anywhere else are deleted. A deletion that fails is a warning, and
/// the entry stays for the next run.
pub fn tidy(store: &Store, config: &Config, keychain_for: &dyn Fn(Backend) -> Keychain) {
    let copies = journal(store);
    if copies.is_empty() {
        return;
    }
    let chosen = config.chosen_keychain();
    let mut left = Vec::new();
    for copy in copies {
        if copy.backend == chosen {
            continue;
        }
        match keychain_for(copy.backend).delete("", &copy.item) {
            Ok(_) => {
                if checkpoint("move-removed").is_err() {
                    return;
                }
            }
            Err(e) => {
                crate::text::warn(&format!(
                    "{e:#}; the next `nomadctx keychain use` tries again"
                ));
                left.push(copy);
            }
        }
    }
    if let Err(e) = write_journal(store, &left) {
        crate::text::warn(&format!("{e:#}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_lines_read_back() {
        let copy = Copy {
            backend: Backend::File,
            item: ItemRef::new("c1", Item::Token, "v1"),
        };
        assert_eq!(copy.to_line(), "file c1 token v1\n");
        assert_eq!(Copy::from_line(copy.to_line().trim_end()), Some(copy));
        for bad in ["", "file c1 token", "nowhere c1 token v1", "file c1 key v1"] {
            assert_eq!(Copy::from_line(bad), None, "{bad:?}");
        }
    }
}

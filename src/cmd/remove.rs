//! `nomadctx remove`: contexts go with their certificates and keychain items.

use anyhow::{Result, bail};

use crate::cli::RemoveArgs;
use crate::cmd::{App, warn};
use crate::keychain::Item;
use crate::store::{Rollback, checkpoint};

pub fn run(app: &App, args: RemoveArgs) -> Result<()> {
    let lock = app.store.lock()?;
    let mut config = app.store.load()?;
    let missing: Vec<&str> = args
        .names
        .iter()
        .filter(|n| !config.contexts.contains_key(n.as_str()))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        bail!(
            "no context named {}; nothing was removed; {}",
            missing.join(", "),
            config.known_names()
        );
    }
    let keychain = app.keychain(&config)?;
    let mut doomed = Vec::new();
    for name in &args.names {
        let Some(context) = config.contexts.remove(name) else {
            continue;
        };
        // Asking for each item first makes a locked or absent keychain stop the removal
        // before anything has changed.
        for (item, held) in [
            (Item::ClientKey, context.client_cert),
            (Item::Token, context.token),
        ] {
            if held && keychain.get(name, item)?.is_some() {
                doomed.push((name.as_str(), item));
            }
        }
        if config.default.as_deref() == Some(name) {
            config.default = None;
        }
    }
    // The config goes first: a crash after it leaves only orphans (keychain items, files)
    // that `doctor --repair` removes, never a context without its key.
    let names: Vec<&str> = args.names.iter().map(String::as_str).collect();
    let mut rollback = Rollback::default();
    app.store.begin(&names, &lock, &mut rollback)?;
    app.store.save(&config, &lock)?;
    rollback.commit();
    checkpoint("config-saved")?;
    for (name, item) in doomed {
        if let Err(e) = keychain.delete(name, item) {
            warn(&format!(
                "{e:#}; `nomadctx doctor --repair` removes it later"
            ));
        }
        checkpoint("keychain-deleted")?;
    }
    for name in &args.names {
        let dir = app.store.cert_dir(name);
        if dir.exists()
            && let Err(e) = std::fs::remove_dir_all(&dir)
        {
            warn(&format!("could not remove {}: {e}", dir.display()));
        }
        eprintln!("nomadctx: removed context {name:?}");
    }
    app.store.finish(&names, &lock)
}

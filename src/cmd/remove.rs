//! `nomadctx remove`: contexts go with their certificates and keychain items, all or none.

use anyhow::{Result, bail};

use crate::cli::RemoveArgs;
use crate::cmd::App;
use crate::keychain::Item;
use crate::store::Rollback;

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
    let mut rollback = Rollback::default();
    for name in &args.names {
        let Some(context) = config.contexts.remove(name) else {
            continue;
        };
        let held = [
            (Item::ClientKey, context.client_cert),
            (Item::Token, context.token),
        ];
        for (item, _) in held.into_iter().filter(|(_, held)| *held) {
            // Kept in memory so a failed config write can put it back.
            let Some(secret) = keychain.get(name, item)? else {
                continue;
            };
            keychain.delete(name, item)?;
            let (keychain, name) = (keychain.clone(), name.clone());
            rollback.on_failure(move || {
                let _ = keychain.set(&name, item, &secret);
            });
        }
        if config.default.as_deref() == Some(name) {
            config.default = None;
        }
    }
    app.store.save(&config, &lock)?;
    rollback.commit();
    for name in &args.names {
        let dir = app.store.cert_dir(name);
        if dir.exists()
            && let Err(e) = std::fs::remove_dir_all(&dir)
        {
            crate::cmd::warn(&format!("could not remove {}: {e}", dir.display()));
        }
        eprintln!("nomadctx: removed context {name:?}");
    }
    Ok(())
}

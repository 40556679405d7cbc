//! `nomadctx remove`: contexts go with their certificates and keychain items, as one change.

use anyhow::{Result, bail};

use crate::app::App;
use crate::change::Transaction;
use crate::cli::RemoveArgs;
use crate::keychain::Keychain;

pub fn run(app: &App, args: RemoveArgs) -> Result<()> {
    let lock = app.store.lock()?;
    let mut config = app.load_locked(&lock)?;
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
    let keychain = Keychain::for_config(&config)?;
    let mut change = Transaction::begin(&app.store, &keychain, &lock);
    for name in &args.names {
        if let Some(context) = config.contexts.remove(name) {
            change.retire_context(name, &context);
        }
        if config.default.as_deref() == Some(name) {
            config.default = None;
        }
    }
    // The config goes first: a crash after it leaves only orphans (keychain items, files)
    // that `doctor --repair` removes, never a context without its key.
    change.commit(&config)?;
    for name in &args.names {
        eprintln!("nomadctx: removed context {name:?}");
    }
    Ok(())
}

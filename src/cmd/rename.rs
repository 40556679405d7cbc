//! `nomadctx rename`: the context, its certificates and its keychain items move together.

use anyhow::{Context as _, Result};

use crate::cli::RenameArgs;
use crate::cmd::{App, warn};
use crate::context::validate_name;
use crate::keychain::Item;
use crate::store::{Rollback, require_absent};

pub fn run(app: &App, args: RenameArgs) -> Result<()> {
    let (old, new) = (args.old, args.new);
    validate_name(&new)?;
    let lock = app.store.lock()?;
    let mut config = app.store.load()?;
    let context = config.get(&old)?.clone();
    require_absent(&config, &new, false)?;
    let keychain = app.keychain(&config)?;
    let mut rollback = Rollback::default();

    let held = [
        (Item::ClientKey, context.client_cert),
        (Item::Token, context.token),
    ];
    for (item, _) in held.iter().filter(|(_, held)| *held) {
        let secret = keychain.require(&old, *item)?;
        keychain.set(&new, *item, &secret)?;
        let (keychain, new) = (keychain.clone(), new.clone());
        let item = *item;
        rollback.on_failure(move || {
            let _ = keychain.delete(&new, item);
        });
    }
    let (old_dir, new_dir) = (app.store.cert_dir(&old), app.store.cert_dir(&new));
    if old_dir.exists() {
        std::fs::rename(&old_dir, &new_dir).with_context(|| {
            format!(
                "could not move {} to {}",
                old_dir.display(),
                new_dir.display()
            )
        })?;
        let (o, n) = (old_dir.clone(), new_dir.clone());
        rollback.on_failure(move || {
            let _ = std::fs::rename(&n, &o);
        });
    }
    config.contexts.remove(&old);
    config.contexts.insert(new.clone(), context);
    if config.default.as_deref() == Some(old.as_str()) {
        config.default = Some(new.clone());
    }
    app.store.save(&config, &lock)?;
    rollback.commit();

    for (item, _) in held.iter().filter(|(_, held)| *held) {
        if let Err(e) = keychain.delete(&old, *item) {
            warn(&format!("{e:#}"));
        }
    }
    eprintln!("nomadctx: renamed context {old:?} to {new:?}");
    Ok(())
}

//! `nomadctx rename`: the context, its certificates and its keychain items move together.

use anyhow::{Context as _, Result};

use crate::cli::RenameArgs;
use crate::cmd::{App, warn};
use crate::context::validate_name;
use crate::keychain::Item;
use crate::store::{Rollback, checkpoint, replace_file, require_absent};

pub fn run(app: &App, args: RenameArgs) -> Result<()> {
    let (old, new) = (args.old, args.new);
    validate_name(&new)?;
    let lock = app.store.lock()?;
    let mut config = app.store.load()?;
    let context = config.get(&old)?.clone();
    require_absent(&config, &new, false)?;
    let keychain = app.keychain(&config)?;
    let mut rollback = Rollback::default();
    app.store.begin(&[&old, &new], &lock, &mut rollback)?;

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
    // Copies, not moves: until the config names the new context, the old one stays whole.
    for (from, to) in [
        (app.store.ca_path(&old), app.store.ca_path(&new)),
        (
            app.store.client_cert_path(&old),
            app.store.client_cert_path(&new),
        ),
    ] {
        if from.exists() {
            let pem = std::fs::read(&from)
                .with_context(|| format!("could not read {}", from.display()))?;
            replace_file(&to, Some(&pem), &mut rollback)?;
        }
    }
    let new_dir = app.store.cert_dir(&new);
    rollback.on_failure(move || {
        let _ = std::fs::remove_dir(new_dir);
    });
    config.contexts.remove(&old);
    config.contexts.insert(new.clone(), context);
    if config.default.as_deref() == Some(old.as_str()) {
        config.default = Some(new.clone());
    }
    app.store.save(&config, &lock)?;
    rollback.commit();
    checkpoint("config-saved")?;

    for (item, _) in held.iter().filter(|(_, held)| *held) {
        if let Err(e) = keychain.delete(&old, *item) {
            warn(&format!(
                "{e:#}; `nomadctx doctor --repair` removes it later"
            ));
        }
    }
    let old_dir = app.store.cert_dir(&old);
    if old_dir.exists()
        && let Err(e) = std::fs::remove_dir_all(&old_dir)
    {
        warn(&format!("could not remove {}: {e}", old_dir.display()));
    }
    app.store.finish(&[&old, &new], &lock)?;
    eprintln!("nomadctx: renamed context {old:?} to {new:?}");
    Ok(())
}

//! `nomadctx add`: validate everything, then store certificates, secrets and config as one
//! change.

use std::path::Path;

use anyhow::{Context as _, Result, anyhow, bail};

use crate::app::App;
use crate::change::import;
use crate::change::inputs::{Inputs, apply_settings, validate_context, warn_plain_http};
use crate::change::{Change, Transaction, Update, journal};
use crate::cli::AddArgs;
use crate::context::{Context, fresh_id, validate_name};
use crate::keychain::{Backend, Keychain};
use crate::store::require_absent;
use crate::text::warn;
use crate::tls;

pub fn run(app: &App, args: AddArgs) -> Result<()> {
    let name = args.name;
    validate_name(&name)?;
    let mut settings = args.settings.into_settings();
    let in_context = |e: anyhow::Error| e.context(format!("context {name:?}"));
    if let Some(dir) = &args.from_dir {
        import::from_dir(&mut settings, dir).map_err(in_context)?;
    }
    let env_token = if args.from_env {
        import::from_env(&mut settings).map_err(in_context)?
    } else {
        None
    };
    let Some(address) = settings.address.clone() else {
        bail!("context {name:?} needs an address: add --address https://HOST:4646");
    };
    let mut context = Context {
        address,
        ..Context::default()
    };
    let mut inputs = Inputs::read(&name, &settings, None)?;
    inputs.token = inputs.token.or(env_token);
    apply_settings(&mut context, &settings);
    validate_context(&name, &context)?;

    context.client_cert_not_after = inputs.check_chain(&app.store, &name, None)?;
    let stores_key = inputs.client.is_some();
    if args.remove_key_file {
        let Some(key) = settings.key.as_deref() else {
            bail!(
                "context {name:?}: --remove-key-file removes the key file given with --key, and there is none; drop --remove-key-file"
            );
        };
        key_file_removable(&name, key)?;
    }

    let lock = app.store.lock()?;
    let mut config = app.load_locked(&lock)?;
    require_absent(&config, &name, args.force)?;
    let backend = Backend::choose(config.keychain)?;
    refuse_to_remove_the_only_copy(&name, backend, args.remove_key_file, args.force)?;
    let update = Update {
        ca: inputs.ca.map_or(Change::Keep, |(certs, _)| {
            Change::Put(tls::pem::certificates_to_pem(&certs))
        }),
        client: inputs.client.map_or(Change::Keep, |((certs, _), key)| {
            Change::Put((tls::pem::certificates_to_pem(&certs), key))
        }),
        token: inputs.token.map_or(Change::Keep, Change::Put),
    };
    warn_plain_http(&name, &context, &update);
    context.id = Some(fresh_id(8)?);

    // A new store id is saved before any item is written under it, so that `doctor` can
    // find what a crash leaves; if the change fails and leaves nothing, it goes again.
    let first_id = config
        .store
        .is_none()
        .then(|| app.store.read_raw())
        .transpose()?;
    if first_id.is_some() {
        config.ensure_store_id()?;
        config.store_dir = app.store.fingerprint();
        app.store.save(&config, &lock)?;
    }
    let keychain = Keychain::for_config(&config)?;
    let stored = (|| {
        let mut change = Transaction::begin(&app.store, &keychain, &lock);
        change.apply(&name, &mut context, update)?;
        if let Some(replaced) = config.contexts.get(&name) {
            change.retire_context(&name, replaced);
        }
        config.contexts.insert(name.clone(), context);
        change.commit(&config)
    })();
    if let (Err(_), Some(before)) = (&stored, first_id)
        && journal(&app.store).is_empty()
    {
        app.store.restore_raw(before.as_deref())?;
    }
    stored?;
    eprintln!(
        "nomadctx: added context {name:?}; switch to it with: eval \"$(nomadctx use {name})\""
    );
    if stores_key && !keychain.backend().is_durable() {
        warn(&format!(
            "the key of context {name:?} is in the kernel keyring: lost at reboot, so keep the key file, or choose a durable keychain (docs/headless.md)"
        ));
    }
    if let Some(key) = settings.key.as_deref().filter(|_| args.remove_key_file) {
        remove_key_file(&name, key, &keychain)?;
    }
    Ok(())
}

/// After `--remove-key-file` the keychain item is the key; in the kernel keyring it would
/// not outlive the next reboot.
fn refuse_to_remove_the_only_copy(
    name: &str,
    backend: Backend,
    remove_key_file: bool,
    force: bool,
) -> Result<()> {
    if remove_key_file && !force && !backend.is_durable() {
        bail!(
            "context {name:?}: not removing the key file (--remove-key-file): {} loses its keys at reboot, so the file would be the only lasting copy; keep the file, choose a durable keychain, or pass --force to remove it anyway",
            backend.describe()
        );
    }
    Ok(())
}

/// Deletes the original key file once the key is in the keychain, as asked.
fn remove_key_file(name: &str, key: &Path, keychain: &Keychain) -> Result<()> {
    key_file_removable(name, key)?;
    std::fs::remove_file(key).map_err(|e| {
        anyhow!(
            "context {name:?} was added, but its key file {} could not be removed: {e}; remove it yourself",
            key.display()
        )
    })?;
    eprintln!(
        "nomadctx: removed the key file {}; the key of context {name:?} is now only in {}",
        key.display(),
        keychain.backend().describe()
    );
    Ok(())
}

/// Removing a symlink, or one of several hard links, would leave the key on disk while
/// nomadctx said it is gone; such a key file is left to the user, and said so before
/// anything is added.
fn key_file_removable(name: &str, key: &Path) -> Result<()> {
    let meta = std::fs::symlink_metadata(key).with_context(|| {
        format!(
            "context {name:?}: could not inspect key file {}",
            key.display()
        )
    })?;
    if meta.file_type().is_symlink() {
        let target = std::fs::canonicalize(key).map_or_else(
            |_| "a file it names".to_owned(),
            |t| t.display().to_string(),
        );
        bail!(
            "context {name:?}: --remove-key-file: {} is a symlink, and removing it would leave the key in {target}; give the file itself with --key, or drop --remove-key-file",
            key.display()
        );
    }
    if let Some(links) = crate::platform::link_count(&meta).filter(|n| *n > 1) {
        bail!(
            "context {name:?}: --remove-key-file: {} has {links} hard links, and the key would stay in the others; remove those yourself, or drop --remove-key-file",
            key.display(),
        );
    }
    Ok(())
}

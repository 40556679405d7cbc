//! `nomadctx unlock` and `nomadctx lock`: the file store's session.

use anyhow::{Context as _, Result, bail};

use crate::app::App;
use crate::cli::UnlockArgs;
use crate::duration::format_duration;
use crate::keychain::Backend;
use crate::keychain::file::FileStore;
use crate::keychain::file::passphrase;
use crate::keychain::file::unlock_cache;
use crate::store::Config;

pub fn unlock(app: &App, args: UnlockArgs) -> Result<()> {
    // A copied config directory gets a store of its own only once its secrets can be read
    // (each is encrypted again, bound to the new store id), so it is unlocked first, under
    // the identity it shares with the original.
    let raw = app.store.load()?;
    let config = if crate::change::copied_config::needed(&app.store, &raw) {
        raw
    } else {
        app.load()?
    };
    let store = file_store(&config)?;
    if !store.has_identity() {
        bail!(
            "there is no file store at {} yet; create it with `nomadctx keychain use file`",
            store.dir().display()
        );
    }
    // Piped in or from the file, one passphrase: only a person typing gets three tries.
    let tries = if args.passphrase_stdin || passphrase::from_file()?.is_some() {
        1
    } else {
        crate::keychain::file::TRIES
    };
    let identity = store.open_with(tries, || {
        passphrase::current(
            args.passphrase_stdin,
            "pipe it in with --passphrase-stdin, or set NOMADCTX_PASSPHRASE_FILE",
        )
    })?;
    let ttl = args.duration.unwrap_or_else(|| config.unlock_for());
    if unlock_cache::AVAILABLE {
        store.cache(&identity, ttl).context(
            "the passphrase is right, but the store could not be kept unlocked; commands will ask for it each time",
        )?;
        eprintln!(
            "nomadctx: the file store is unlocked for {}; `nomadctx lock` locks it sooner",
            format_duration(ttl)
        );
    } else {
        eprintln!(
            "nomadctx: the passphrase is right; this system has no session cache (that is the Linux kernel keyring), so each command that needs a secret asks for it, or reads NOMADCTX_PASSPHRASE_FILE"
        );
    }
    // A copy gets its own store, and a store written before secrets carried their binding
    // is bound, now that the identity is at hand.
    if crate::change::copied_config::needed(&app.store, &config)
        || crate::change::rekey::binding_due(&config)
    {
        let lock = app.store.lock()?;
        let now = app.load_locked(&lock)?;
        // The copy's store has an id of its own, and is unlocked under it too.
        if now.store != config.store {
            crate::keychain::file_store_of(&now)?.cache_quietly(&identity, ttl);
        }
        crate::change::rekey::bind_if_due(&app.store, &lock, now, Some(&identity))?;
    }
    Ok(())
}

/// Drops the cached identity whatever keychain the configuration uses now (a move out of
/// the file store may have left one).
pub fn lock(app: &App) -> Result<()> {
    let config = app.store.load()?;
    let store_id = config.store.as_deref().unwrap_or_default();
    if !store_id.is_empty() && unlock_cache::forget(store_id)? {
        eprintln!("nomadctx: the file store is locked");
    } else {
        eprintln!("nomadctx: the file store was not unlocked");
    }
    Ok(())
}

/// This configuration's file store: the one it uses, or one it has (to unlock before a
/// move back into it); an error that says so when it has none.
fn file_store(config: &Config) -> Result<FileStore> {
    let backend = Backend::choose(config.keychain)?;
    let store = crate::keychain::file_store_of(config);
    match store {
        Ok(store) if backend == Backend::File || store.has_identity() => Ok(store),
        _ if backend != Backend::File => bail!(
            "this configuration keeps its secrets in {}, which nomadctx does not lock or unlock; unlock and lock are for the file store (`nomadctx keychain use file`)",
            backend.describe()
        ),
        other => other,
    }
}

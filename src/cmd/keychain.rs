//! `nomadctx keychain`: where this configuration keeps its secrets, choosing another (and
//! moving them there), and the file store's passphrase.

use age::x25519;
use anyhow::{Result, anyhow, bail};

use crate::app::App;
use crate::change::moving::{live_items, move_secrets, read_secrets, tidy};
use crate::cli::{KeychainAction, KeychainArgs, KeychainUseArgs, PassphraseArgs};
use crate::duration::format_duration;
use crate::keychain::file::passphrase;
use crate::keychain::file::unlock_cache;
use crate::keychain::{Backend, Keychain};
use crate::settings::{self, KEYCHAIN_VAR};
use crate::store::Config;

pub fn run(app: &App, args: KeychainArgs) -> Result<()> {
    match args.action {
        None => show(app),
        Some(KeychainAction::Use(args)) => choose(app, args),
        Some(KeychainAction::Passphrase(args)) => passphrase(app, args),
    }
}

fn show(app: &App) -> Result<()> {
    let config = app.store.load()?;
    let backend = Backend::choose(config.keychain)?;
    let chosen_by = if settings::non_empty(KEYCHAIN_VAR).is_some() {
        &format!("{KEYCHAIN_VAR}, for this command only")
    } else if config.keychain.is_some() {
        "config.toml"
    } else {
        "nothing: the default on this system (`nomadctx keychain use NAME` chooses)"
    };
    let durable = if backend.is_durable() {
        "yes, it survives a reboot"
    } else {
        "no: it forgets every key at reboot"
    };
    let mut out = format!(
        "keychain:   {}: {}\nchosen by:  {chosen_by}\ndurable:    {durable}\n",
        backend.name(),
        backend.describe()
    );
    let keychain = Keychain::for_backend(&config, backend);
    let live = live_items(&app.store, &config);
    let reachable = match keychain.list() {
        Ok(Some(items)) => {
            let missing = live.iter().filter(|(_, i)| !items.contains(i)).count();
            let mut text = format!(
                "yes, {} item(s) of this configuration, {} in use",
                items.len(),
                live.len()
            );
            if missing > 0 {
                text.push_str(&format!(
                    "; {missing} MISSING (`nomadctx show NAME` says whose; store them again with `nomadctx set NAME --key FILE` or `--token-stdin`)"
                ));
            }
            text
        }
        Ok(None) => "yes".to_owned(),
        // The first line says why; the choices that follow it are for `add`.
        Err(e) => format!(
            "no: {}",
            format!("{e:#}").lines().next().unwrap_or_default()
        ),
    };
    out.push_str(&format!("reachable:  {reachable}\n"));
    if backend == Backend::File {
        let store = keychain.file_store()?;
        out.push_str(&format!("directory:  {}\n", store.dir().display()));
        let state = if !store.has_identity() {
            "there is no identity.age yet: `nomadctx keychain use file` creates it".to_owned()
        } else if !unlock_cache::AVAILABLE {
            "each command asks for the passphrase (no session cache on this system)".to_owned()
        } else if store.is_unlocked()? {
            let left = unlock_cache::time_left(store.store_id())
                .map(|t| format!(" ({t} left)"))
                .unwrap_or_default();
            format!("no, unlocked{left}; `nomadctx lock` locks it")
        } else {
            "yes: `nomadctx unlock` unlocks it for this session".to_owned()
        };
        out.push_str(&format!("locked:     {state}\n"));
        out.push_str(&format!(
            "unlock for: {} (config.toml's unlock_for, or `nomadctx unlock --for DURATION`)\n",
            format_duration(config.unlock_for())
        ));
    }
    let others: Vec<&str> = Backend::available()
        .into_iter()
        .filter(|b| *b != backend)
        .map(Backend::name)
        .collect();
    out.push_str(&format!(
        "others:     {} (`nomadctx keychain use NAME --migrate` moves every secret there)\n",
        others.join(", ")
    ));
    crate::cmd::output::print(&out)
}

fn choose(app: &App, args: KeychainUseArgs) -> Result<()> {
    let new = Backend::from_name(&args.backend)
        .filter(|b| Backend::available().contains(b))
        .ok_or_else(|| {
            anyhow!(
                "{} is not a keychain on this system; choose one of: {}",
                args.backend,
                Backend::names()
            )
        })?;
    // The move and what a killed one leaves are judged by config.toml's choice; a variable
    // that overrides it would make the secrets' keychain and the config's disagree.
    if let Some(set) = settings::non_empty(KEYCHAIN_VAR) {
        bail!(
            "{KEYCHAIN_VAR}={} is set, and it would override the choice in config.toml in this shell; unset it first (`unset {KEYCHAIN_VAR}`). If your secrets are in that keychain, tell config.toml with `nomadctx keychain use {}`, then run this command again",
            set.to_string_lossy(),
            set.to_string_lossy()
        );
    }
    let lock = app.store.lock()?;
    let mut config = app.load_locked(&lock)?;
    tidy(&app.store, &config, &|b| Keychain::for_backend(&config, b));
    if config.store.is_none() {
        config.ensure_store_id()?;
        config.store_dir = app.store.fingerprint();
        app.store.save(&config, &lock)?;
    }
    let from = Keychain::for_backend(&config, config.chosen_keychain());
    let items = live_items(&app.store, &config);
    let moving = args.migrate && from.backend() != new && !items.is_empty();
    if !moving && from.backend() != new && !items.is_empty() && !args.force {
        refuse_to_strand(&config, &items, &from, new)?;
    }
    // What moves is read before a passphrase for the new store is asked for: a locked or
    // unreachable keychain says so first.
    let secrets = if moving {
        read_secrets(&app.store, &config, &from)?
    } else {
        Vec::new()
    };
    let identity = match new {
        Backend::File => open_file_store(&mut config, &args, moving)?,
        _ => None,
    };
    // Every secret the file store will then hold is written by this version, bound.
    if new == Backend::File && (moving || items.is_empty()) {
        config.file_bound = true;
    }
    let to = Keychain::for_backend(&config, new);
    if let Some(identity) = identity {
        to.file_store()?.adopt(identity)?;
    }
    if moving {
        let settings = config.clone();
        move_secrets(&app.store, &lock, config, &from, &secrets, &to, &|b| {
            Keychain::for_backend(&settings, b)
        })?;
        eprintln!(
            "nomadctx: moved {} secret(s) from {} to {}; this configuration now uses {}",
            items.len(),
            from.backend().describe(),
            new.describe(),
            new.name()
        );
    } else {
        let already = config.keychain == Some(new);
        config.keychain = Some(new);
        app.store.save(&config, &lock)?;
        if already {
            eprintln!("nomadctx: this configuration already uses {}", new.name());
        } else {
            eprintln!(
                "nomadctx: this configuration now uses {} ({})",
                new.name(),
                new.describe()
            );
        }
    }
    // Nothing is left to unlock once the secrets have left the file store.
    if from.backend() == Backend::File && new != Backend::File {
        let _ = unlock_cache::forget(from.store_id());
    }
    Ok(())
}

/// Refuses a switch (without --migrate) that would leave contexts pointing at secrets the
/// new keychain does not have.
fn refuse_to_strand(
    config: &Config,
    items: &[(String, crate::keychain::ItemRef)],
    from: &Keychain,
    new: Backend,
) -> Result<()> {
    let to = Keychain::for_backend(config, new);
    let mut missing = Vec::new();
    for (name, item) in items {
        let there = to.contains(name, item).map_err(|e| {
            anyhow!(
                "could not tell whether {} holds the secrets of context {name:?}: {}; nothing was changed",
                new.describe(),
                format!("{e:#}").lines().next().unwrap_or_default()
            )
        })?;
        if !there && !missing.contains(&name.as_str()) {
            missing.push(name.as_str());
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    bail!(
        "the secrets of context(s) {} are in {}, not in {}; `nomadctx keychain use {} --migrate` moves them (or --force switches without them, and they must be stored again with `nomadctx set NAME --key FILE`); nothing was changed",
        missing.join(", "),
        from.backend().describe(),
        new.describe(),
        new.name()
    )
}

/// Makes sure the file store exists and config.toml has its recipient: creates it (a new
/// passphrase, twice) when there is none, or opens identity.age with the passphrase when
/// the recipient is missing or secrets are about to move in. A store whose identity.age does
/// not open with a passphrase the user knows must never receive the only copies, so a move
/// in asks even when the store is unlocked. Returns the identity when it was opened, and
/// caches it as `unlock` would.
fn open_file_store(
    config: &mut Config,
    args: &KeychainUseArgs,
    moving: bool,
) -> Result<Option<x25519::Identity>> {
    let store = crate::keychain::file_store_of(config)?;
    let identity = if !store.has_identity() {
        let passphrase = if args.passphrase_stdin {
            passphrase::from_stdin("passphrase")?
        } else {
            passphrase::from_terminal(
                "New passphrase for nomadctx's file store: ",
                Some("Repeat it: "),
                "pipe it in with --passphrase-stdin",
            )?
        };
        passphrase::warn_if_short(&passphrase);
        let identity = store.create_identity(&passphrase)?;
        eprintln!(
            "nomadctx: created the file store {}; without its passphrase none of its keys can be read, so keep it somewhere safe",
            store.dir().display()
        );
        identity
    } else if config.file_recipient.is_none() || moving {
        let passphrase = passphrase::current(
            args.passphrase_stdin,
            &format!(
                "the file store {} exists, and its passphrase is needed to move secrets into it: pipe it in with --passphrase-stdin, or set NOMADCTX_PASSPHRASE_FILE",
                store.dir().display()
            ),
        )?;
        store.open_identity(&passphrase)?
    } else {
        return Ok(None);
    };
    config.file_recipient = Some(identity.to_public().to_string());
    store.cache_quietly(&identity, config.unlock_for());
    Ok(Some(identity))
}

fn passphrase(app: &App, args: PassphraseArgs) -> Result<()> {
    let lock = app.store.lock()?;
    let config = app.load_locked(&lock)?;
    let store = crate::keychain::file_store_of(&config)?;
    if !store.has_identity() {
        bail!(
            "there is no file store at {}; create it with `nomadctx keychain use file`",
            store.dir().display()
        );
    }
    let (old, new) = if args.passphrase_stdin {
        passphrase::two_from_stdin()?
    } else {
        let none = "pipe the current and the new passphrase in with --passphrase-stdin";
        let old = passphrase::from_terminal("Current passphrase: ", None, none)?;
        let new = passphrase::from_terminal("New passphrase: ", Some("Repeat it: "), none)?;
        (old, new)
    };
    let identity = store.open_identity(&old)?;
    passphrase::warn_if_short(&new);
    if args.rekey {
        return rekey(app, &lock, config, identity, &new);
    }
    store.write_identity(&identity, &new)?;
    eprintln!(
        "nomadctx: the file store's passphrase is changed: {} is encrypted again with it. The identity inside is the same, and so are the secrets: a copy of the old identity.age (a backup) still opens with the old passphrase, and opens every secret stored before and after this change. If the old passphrase may be known to someone, run `nomadctx keychain passphrase --rekey`: it makes a new identity and encrypts every secret to it again",
        store.identity_path().display()
    );
    Ok(())
}

/// `keychain passphrase --rekey`: a new identity, every secret encrypted to it again.
fn rekey(
    app: &App,
    lock: &crate::store::Lock,
    config: Config,
    old: x25519::Identity,
    passphrase: &str,
) -> Result<()> {
    let new = x25519::Identity::generate();
    let config = crate::change::rekey::rekey(&app.store, lock, config, old, &new, passphrase)?;
    let store = crate::keychain::file_store_of(&config)?;
    // The cache held the old identity, which no longer opens anything this store uses.
    store.cache_quietly(&new, config.unlock_for());
    eprintln!(
        "nomadctx: the file store has a new identity and passphrase: every secret is encrypted to it again and config.toml's file_recipient is {}; the old identity.age and passphrase open nothing stored from now on. Back up the new {}: copies of the old one are no use for it",
        new.to_public(),
        store.identity_path().display()
    );
    Ok(())
}

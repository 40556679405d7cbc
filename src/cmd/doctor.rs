//! `nomadctx doctor`: check that the config, the certificate files and the keychain agree,
//! and on request repair what an interrupted change left behind.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::Result;

use crate::cli::DoctorArgs;
use crate::cmd::App;
use crate::keychain::{Item, Keychain, SERVICE, account};
use crate::secret::Secret;
use crate::store::Config;
use crate::tls;

/// What can be out of step after a crash or a hand edit.
#[derive(Debug)]
enum Problem {
    /// A keychain item no context uses: left by an interrupted add, remove or rename.
    OrphanItem(String, Item),
    /// A certificate directory of a name that is no context.
    OrphanDir(String),
    /// A context that needs an item the keychain does not have.
    MissingItem(String, Item),
    /// A context whose copied certificate file is gone.
    MissingFile(String, PathBuf),
    /// A client key that does not belong to the context's certificate.
    KeyMismatch(String),
}

pub fn run(app: &App, args: DoctorArgs) -> Result<u8> {
    let lock = app.store.lock()?;
    let config = app.store.load()?;
    let keychain = app.keychain(&config)?;
    let pending = app.store.pending();
    let mut problems = find_problems(app, &config, &keychain, &pending)?;
    let checked = format!(
        "{} context(s) in {} and {}",
        config.contexts.len(),
        app.store.config_path().display(),
        keychain.backend().describe()
    );
    if problems.is_empty() {
        app.store.finish(&names(&pending), &lock)?;
        eprintln!("nomadctx: doctor: all consistent: {checked}");
        return Ok(0);
    }
    if args.repair {
        problems = repair(app, &keychain, problems)?;
        if problems.is_empty() {
            app.store.finish(&names(&pending), &lock)?;
            eprintln!("nomadctx: doctor: repaired; all consistent: {checked}");
            return Ok(0);
        }
    }
    eprintln!(
        "nomadctx: doctor: {} problem(s) in {checked}:",
        problems.len()
    );
    for problem in &problems {
        eprintln!("  {}", describe(problem, args.repair));
    }
    Ok(1)
}

fn names(pending: &BTreeSet<String>) -> Vec<&str> {
    pending.iter().map(String::as_str).collect()
}

fn find_problems(
    app: &App,
    config: &Config,
    keychain: &Keychain,
    pending: &BTreeSet<String>,
) -> Result<Vec<Problem>> {
    let mut problems = Vec::new();
    for (name, ctx) in &config.contexts {
        if ctx.ca_cert && !app.store.ca_path(name).is_file() {
            problems.push(Problem::MissingFile(name.clone(), app.store.ca_path(name)));
        }
        let cert_path = app.store.client_cert_path(name);
        if ctx.client_cert && !cert_path.is_file() {
            problems.push(Problem::MissingFile(name.clone(), cert_path.clone()));
        }
        for (item, needed) in [(Item::ClientKey, ctx.client_cert), (Item::Token, ctx.token)] {
            if !needed {
                continue;
            }
            match keychain.get(name, item)? {
                None => problems.push(Problem::MissingItem(name.clone(), item)),
                Some(key) if item == Item::ClientKey && cert_path.is_file() => {
                    if !key_fits(&cert_path, &key) {
                        problems.push(Problem::KeyMismatch(name.clone()));
                    }
                }
                Some(_) => {}
            }
        }
    }

    // Items to look at: everything the keychain lists, else what the journal names, which
    // may not exist and are asked for one by one.
    let (accounts, listed): (BTreeSet<String>, bool) = match keychain.accounts()? {
        Some(accounts) => (accounts.into_iter().collect(), true),
        None => (
            pending
                .iter()
                .flat_map(|name| Item::ALL.map(|item| account(name, item)))
                .collect(),
            false,
        ),
    };
    for account in &accounts {
        let Some((name, item)) = Item::parse_account(account) else {
            continue;
        };
        let used = config.contexts.get(name).is_some_and(|ctx| match item {
            Item::ClientKey => ctx.client_cert,
            Item::Token => ctx.token,
        });
        if !used && (listed || keychain.get(name, item)?.is_some()) {
            problems.push(Problem::OrphanItem(name.to_owned(), item));
        }
    }
    for name in app.store.cert_dir_names()? {
        if !config.contexts.contains_key(&name) {
            problems.push(Problem::OrphanDir(name));
        }
    }
    Ok(problems)
}

fn key_fits(cert_path: &std::path::Path, key: &Secret) -> bool {
    tls::read_certificates(cert_path, "client certificate")
        .and_then(|certs| tls::check_key_matches(&certs, key, cert_path, cert_path))
        .is_ok()
}

/// Removes orphans; a missing client key is put back from an orphan that fits the
/// context's certificate (as a rename cut short leaves it). Returns what is left.
fn repair(app: &App, keychain: &Keychain, problems: Vec<Problem>) -> Result<Vec<Problem>> {
    let mut orphans: Vec<(String, Item)> = problems
        .iter()
        .filter_map(|p| match p {
            Problem::OrphanItem(name, item) => Some((name.clone(), *item)),
            _ => None,
        })
        .collect();
    let mut left = Vec::new();
    for problem in problems {
        match problem {
            Problem::MissingItem(name, Item::ClientKey) => {
                let cert_path = app.store.client_cert_path(&name);
                let mut restored = false;
                for (orphan, _) in orphans.iter().filter(|(_, i)| *i == Item::ClientKey) {
                    if let Some(key) = keychain.get(orphan, Item::ClientKey)?
                        && key_fits(&cert_path, &key)
                    {
                        keychain.set(&name, Item::ClientKey, &key)?;
                        eprintln!(
                            "nomadctx: doctor: put the client key of {name:?} back from the item of {orphan:?}"
                        );
                        restored = true;
                        break;
                    }
                }
                if !restored {
                    left.push(Problem::MissingItem(name, Item::ClientKey));
                }
            }
            Problem::OrphanItem(..) => {}
            Problem::OrphanDir(name) => {
                let dir = app.store.cert_dir(&name);
                std::fs::remove_dir_all(&dir)
                    .map_err(|e| anyhow::anyhow!("could not remove {}: {e}", dir.display()))?;
                eprintln!("nomadctx: doctor: removed {}", dir.display());
            }
            other => left.push(other),
        }
    }
    for (name, item) in orphans.drain(..) {
        keychain.delete(&name, item)?;
        eprintln!(
            "nomadctx: doctor: deleted keychain item {SERVICE}/{}",
            account(&name, item)
        );
    }
    Ok(left)
}

fn describe(problem: &Problem, repaired: bool) -> String {
    let later = if repaired {
        ""
    } else {
        " (`nomadctx doctor --repair` deletes it)"
    };
    match problem {
        Problem::OrphanItem(name, item) => format!(
            "keychain item {SERVICE}/{} belongs to no context{later}",
            account(name, *item)
        ),
        Problem::OrphanDir(name) => format!("certs/{name} belongs to no context{later}"),
        Problem::MissingItem(name, Item::ClientKey) => format!(
            "context {name:?} has no client key in the keychain; store it with `nomadctx set {name} --cert FILE --key FILE` or `nomadctx remove {name}`"
        ),
        Problem::MissingItem(name, Item::Token) => format!(
            "context {name:?} has no ACL token in the keychain; store it with `nomadctx set {name} --token-stdin` or drop it with `nomadctx set {name} --clear-token`"
        ),
        Problem::MissingFile(name, path) => format!(
            "context {name:?} is missing {}; store it again with `nomadctx set {name} --ca FILE` (or --cert FILE --key FILE)",
            path.display()
        ),
        Problem::KeyMismatch(name) => format!(
            "the client key of context {name:?} does not belong to its certificate; store a matching pair with `nomadctx set {name} --cert FILE --key FILE`"
        ),
    }
}

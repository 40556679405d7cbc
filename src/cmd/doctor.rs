//! `nomadctx doctor`: check that the config, the certificate files and the keychain agree,
//! and on request (after showing the plan) repair what an interrupted change left behind.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};

use crate::app::App;
use crate::change::{Change, Piece, Transaction, Update, journal, pieces_of, remove_piece, settle};
use crate::cli::DoctorArgs;
use crate::fs::list_dir;
use crate::keychain::{Item, ItemRef, Keychain, Refused, SERVICE};
use crate::store::{CA_LINK, CLIENT_LINK, Config, Store, is_id};
use crate::tls;

/// What can be out of step after a crash, a timeout or a hand edit.
#[derive(Debug)]
enum Problem {
    /// A keychain item or certificate file of this store that no context points at.
    Orphan(Piece),
    /// A context that points at a keychain item the keychain does not have.
    MissingItem(String, ItemRef),
    /// A context whose certificate file is gone.
    MissingFile(String, PathBuf),
    /// A client key that does not belong to the context's certificate.
    KeyMismatch(String),
    /// `certs/ID/ca.pem` or `client.pem` does not name the live version (a change was cut
    /// short after its commit).
    StaleLink(String),
    /// A secret's file that is not what nomadctx wrote for it (damaged, swapped, forged):
    /// the message says whose and which.
    Refused(String),
}

pub fn run(app: &App, args: DoctorArgs) -> Result<u8> {
    let lock = app.store.lock()?;
    let config = app.load_locked(&lock)?;
    let keychain = Keychain::for_config(&config)?;
    let problems = find_problems(&app.store, &config, &keychain)?;
    let checked = format!(
        "{} context(s) in {} and {}",
        config.contexts.len(),
        app.store.config_path().display(),
        keychain.backend().describe()
    );
    if problems.is_empty() {
        settle(&app.store, &journal(&app.store))?;
        eprintln!("nomadctx: doctor: all consistent: {checked}");
        return Ok(0);
    }
    eprintln!(
        "nomadctx: doctor: {} problem(s) in {checked}:",
        problems.len()
    );
    for problem in &problems {
        eprintln!("  {}", describe(&config, &keychain, problem));
    }
    if !args.repair {
        eprintln!("nomadctx: doctor: `nomadctx doctor --repair` shows what it would do and asks");
        return Ok(1);
    }
    let plan = plan(&app.store, &config, &keychain, &problems)?;
    if plan.steps.is_empty() {
        let kept = plan
            .kept
            .map(|why| format!("; no orphan is deleted, since {why}"))
            .unwrap_or_default();
        eprintln!("nomadctx: doctor: nothing here can be repaired automatically{kept}; see above");
        return Ok(1);
    }
    eprintln!("nomadctx: doctor: the repair would:");
    for step in &plan.steps {
        eprintln!("  {}", step.describe(&config));
    }
    if let Some(why) = &plan.kept {
        eprintln!("  and delete nothing, since {why}");
    }
    if !args.yes && !confirm()? {
        bail!("nothing repaired; run `nomadctx doctor --repair --yes` to carry out the plan above");
    }
    let config = carry_out(app, &lock, config, &keychain, plan.steps)?;
    let left = find_problems(&app.store, &config, &keychain)?;
    if left.is_empty() {
        settle(&app.store, &journal(&app.store))?;
        eprintln!("nomadctx: doctor: repaired; all consistent: {checked}");
        return Ok(0);
    }
    eprintln!("nomadctx: doctor: {} problem(s) left:", left.len());
    for problem in &left {
        eprintln!("  {}", describe(&config, &keychain, problem));
    }
    Ok(1)
}

fn find_problems(store: &Store, config: &Config, keychain: &Keychain) -> Result<Vec<Problem>> {
    let mut problems = Vec::new();
    let mut live = BTreeSet::new();
    for (name, ctx) in &config.contexts {
        if !store.links_current(ctx) {
            problems.push(Problem::StaleLink(name.clone()));
        }
        for piece in pieces_of(store, ctx) {
            match &piece {
                Piece::File(path) if !path.is_file() => {
                    problems.push(Problem::MissingFile(name.clone(), path.clone()));
                }
                Piece::Item(item) => match keychain.get(name, item) {
                    // A file swapped, forged or damaged is reported, not a reason to stop.
                    Err(e) if e.is::<Refused>() => problems.push(Problem::Refused(e.to_string())),
                    Err(e) => return Err(e),
                    Ok(None) => problems.push(Problem::MissingItem(name.clone(), item.clone())),
                    Ok(Some(key)) if item.kind == Item::ClientKey => {
                        if let Some(cert) = store.client_cert_file(ctx)
                            && cert.is_file()
                            && !tls::pem::key_fits(&cert, &key)
                        {
                            problems.push(Problem::KeyMismatch(name.clone()));
                        }
                    }
                    Ok(Some(_)) => {}
                },
                _ => {}
            }
            live.insert(piece.clone());
        }
    }

    // This store's items: listed where the keychain can list; else those the journal names
    // that the keychain has.
    let items: Vec<ItemRef> = match keychain.list()? {
        Some(items) => items,
        None => {
            let mut held = Vec::new();
            for piece in journal(store) {
                if let Piece::Item(item) = piece
                    && keychain.get("", &item)?.is_some()
                {
                    held.push(item);
                }
            }
            held
        }
    };
    for item in items {
        let piece = Piece::Item(item);
        if !live.contains(&piece) {
            problems.push(Problem::Orphan(piece));
        }
    }
    let ids: BTreeSet<&str> = config.contexts.values().map(|c| c.id()).collect();
    // Only what nomadctx names so: anything else under certs/ is someone else's.
    for dir_name in store.cert_dir_names()? {
        let dir = store.cert_dir(&dir_name);
        if !is_id(&dir_name, 16) || !dir.is_dir() {
            continue;
        }
        if !ids.contains(dir_name.as_str()) {
            problems.push(Problem::Orphan(Piece::Dir(dir)));
            continue;
        }
        for file in list_dir(&dir)?.into_iter().filter(|f| is_cert_file_name(f)) {
            let piece = Piece::File(dir.join(file));
            if !live.contains(&piece) {
                problems.push(Problem::Orphan(piece));
            }
        }
    }
    Ok(problems)
}

/// `ca-VERSION.pem` and `client-VERSION.pem`, and what a killed write of one leaves
/// (`.ca-VERSION.pem.PID.tmp`, `.ca.pem.PID.tmp` for a link).
fn is_cert_file_name(name: &str) -> bool {
    let versioned = |name: &str| {
        ["ca-", "client-"].iter().any(|prefix| {
            name.strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix(".pem"))
                .is_some_and(|version| is_id(version, 16))
        })
    };
    let temporary = name
        .strip_prefix('.')
        .and_then(|rest| rest.strip_suffix(".tmp"))
        .and_then(|rest| rest.rsplit_once('.'))
        .is_some_and(|(file, pid)| {
            pid.bytes().all(|b| b.is_ascii_digit())
                && (versioned(file) || file == CA_LINK || file == CLIENT_LINK)
        });
    versioned(name) || temporary
}

/// One thing `--repair` does.
#[derive(Debug)]
enum Step {
    /// Store the orphan's key as a new version of the context's client key.
    PutBack(String, ItemRef),
    Relink(String),
    Delete(Piece),
}

impl Step {
    fn describe(&self, config: &Config) -> String {
        match self {
            Self::PutBack(name, orphan) => format!(
                "put back the client key of context {name:?} from the orphan item {}",
                item_label(config, orphan)
            ),
            Self::Delete(piece) => format!("delete {}", piece_label(config, piece)),
            Self::Relink(name) => {
                format!("point the certificate links of context {name:?} at its certificates")
            }
        }
    }
}

#[derive(Debug)]
struct Plan {
    steps: Vec<Step>,
    /// Why no orphan is deleted, when none is.
    kept: Option<String>,
}

/// What `--repair` would do: put back missing client keys from orphans that fit, and
/// delete orphans only when no context still lacks something an orphan could supply.
fn plan(store: &Store, config: &Config, keychain: &Keychain, problems: &[Problem]) -> Result<Plan> {
    let orphan_keys: Vec<&ItemRef> = problems
        .iter()
        .filter_map(|p| match p {
            Problem::Orphan(Piece::Item(item)) if item.kind == Item::ClientKey => Some(item),
            _ => None,
        })
        .collect();
    let mut steps = Vec::new();
    let mut unrepaired = Vec::new();
    for problem in problems {
        match problem {
            Problem::MissingItem(name, item) if item.kind == Item::ClientKey => {
                let ctx = config.get(name)?;
                let fitting = store
                    .client_cert_file(ctx)
                    .filter(|c| c.is_file())
                    .and_then(|cert| {
                        orphan_keys.iter().find(|orphan| {
                            keychain
                                .get("", orphan)
                                .ok()
                                .flatten()
                                .is_some_and(|key| tls::pem::key_fits(&cert, &key))
                        })
                    });
                match fitting {
                    Some(orphan) => steps.push(Step::PutBack(name.clone(), (*orphan).clone())),
                    None => unrepaired.push(problem),
                }
            }
            Problem::Orphan(_) => {}
            Problem::StaleLink(name) => steps.push(Step::Relink(name.clone())),
            other => unrepaired.push(other),
        }
    }
    let kept = (!unrepaired.is_empty()).then(|| {
        format!(
            "{} problem(s) above need you first, and an orphan may be what one of them lacks",
            unrepaired.len()
        )
    });
    if kept.is_none() {
        for problem in problems {
            if let Problem::Orphan(piece) = problem {
                steps.push(Step::Delete(piece.clone()));
            }
        }
    }
    Ok(Plan { steps, kept })
}

/// Asks on the terminal; without one, the answer is no.
fn confirm() -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .context("could not open the terminal (/dev/tty) to ask")?;
    let mut out = tty.try_clone().context("could not use the terminal")?;
    write!(out, "nomadctx: doctor: go ahead? [y/N] ").context("could not write to the terminal")?;
    out.flush().context("could not write to the terminal")?;
    let mut answer = String::new();
    BufReader::new(tty)
        .read_line(&mut answer)
        .context("could not read from the terminal")?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

fn carry_out(
    app: &App,
    lock: &crate::store::Lock,
    mut config: Config,
    keychain: &Keychain,
    steps: Vec<Step>,
) -> Result<Config> {
    for step in steps {
        match step {
            Step::PutBack(name, orphan) => {
                let key = keychain.require("", &orphan)?;
                let mut ctx = config.get(&name)?.clone();
                let cert = app.store.client_cert_file(&ctx).with_context(|| {
                    format!("context {name:?} has no client certificate to pair the key with")
                })?;
                let pem = std::fs::read(&cert)
                    .with_context(|| format!("could not read {}", cert.display()))?;
                let mut change = Transaction::begin(&app.store, keychain, lock);
                let update = Update {
                    ca: Change::Keep,
                    client: Change::Put((pem, key)),
                    token: Change::Keep,
                };
                change.apply(&name, &mut ctx, update)?;
                config.contexts.insert(name.clone(), ctx);
                change.commit(&config)?;
                eprintln!(
                    "nomadctx: doctor: put back the client key of {name:?} from {}",
                    item_label(&config, &orphan)
                );
            }
            Step::Relink(name) => {
                app.store.link_certs(config.get(&name)?)?;
                eprintln!("nomadctx: doctor: linked the certificates of {name:?}");
            }
            Step::Delete(piece) => {
                remove_piece(keychain, "", &piece)?;
                eprintln!("nomadctx: doctor: deleted {}", piece_label(&config, &piece));
            }
        }
    }
    Ok(config)
}

fn item_label(config: &Config, item: &ItemRef) -> String {
    let owner = config
        .contexts
        .iter()
        .find(|(_, c)| c.id() == item.context)
        .map_or_else(
            || "a context no longer here".to_owned(),
            |(n, _)| format!("context {n:?}"),
        );
    format!(
        "{SERVICE} {} of {owner} (id {}, version {})",
        item.kind.what(),
        item.context,
        item.version
    )
}

fn piece_label(config: &Config, piece: &Piece) -> String {
    match piece {
        Piece::Item(item) => format!("keychain item: {}", item_label(config, item)),
        Piece::File(path) => format!("file {}", path.display()),
        Piece::Dir(path) => format!("directory {}", path.display()),
    }
}

fn describe(config: &Config, keychain: &Keychain, problem: &Problem) -> String {
    let why = if keychain.backend().is_durable() {
        ""
    } else {
        " (lost at reboot: kernel keyring)"
    };
    match problem {
        Problem::Orphan(piece) => format!("{} belongs to no context", piece_label(config, piece)),
        Problem::MissingItem(name, item) if item.kind == Item::ClientKey => format!(
            "context {name:?} has no client key in the keychain{why}; store it with `nomadctx set {name} --key FILE` or `nomadctx remove {name}`"
        ),
        Problem::MissingItem(name, _) => format!(
            "context {name:?} has no ACL token in the keychain{why}; store it with `nomadctx set {name} --token-stdin` or drop it with `nomadctx set {name} --clear-token`"
        ),
        Problem::MissingFile(name, path) => format!(
            "context {name:?} is missing {}; store it again with `nomadctx set {name} --ca FILE` (or --cert FILE --key FILE)",
            path.display()
        ),
        Problem::Refused(message) => message.clone(),
        Problem::StaleLink(name) => format!(
            "the certificate links of context {name:?} (certs/ID/ca.pem, client.pem) do not point at its certificates; `nomadctx doctor --repair` points them"
        ),
        Problem::KeyMismatch(name) => format!(
            "the client key of context {name:?} does not belong to its certificate; store a matching pair with `nomadctx set {name} --cert FILE --key FILE`"
        ),
    }
}

//! One module per subcommand, and what they share: the store, resolving which context a
//! command means, the keychain, and writing to stdout.

mod add;
mod check;
mod completions;
mod current;
mod default;
mod doctor;
mod exec;
mod export_p12;
mod init;
mod keychain;
mod list;
mod man;
mod remove;
mod rename;
mod set;
mod show;
mod subshell;
mod unlock;
mod use_;

use std::io::Write;
use std::path::Path;

use anyhow::{Context as _, Result, anyhow};
use rustls_pki_types::PrivateKeyDer;
use zeroize::Zeroizing;

use crate::cli::{Cli, Command};
use crate::context::{CONTEXT_VAR, Context, Materials, non_empty_env};
use crate::keychain::{Backend, Item, ItemRef, Keychain};
use crate::secret::Secret;
use crate::store::{Config, Lock, Store};
use crate::text::warn;
use crate::{fork, migrate};

/// Runs the command and returns the process exit code.
pub fn run(cli: Cli) -> Result<u8> {
    let app = App {
        store: Store::from_env()?,
        context_flag: cli.context,
    };
    match cli.command {
        Command::Add(args) => add::run(&app, args),
        Command::List(args) => list::run(&app, args),
        Command::Show(args) => show::run(&app, args),
        Command::Set(args) => set::run(&app, args),
        Command::Remove(args) => remove::run(&app, args),
        Command::Rename(args) => rename::run(&app, args),
        Command::Default(args) => default::run(&app, args),
        Command::Current => current::run(&app),
        Command::Use(args) => use_::run(&app, args),
        Command::Exec(args) => return exec::run(&app, args),
        Command::Shell(args) => return subshell::run(&app, args),
        Command::Doctor(args) => return doctor::run(&app, args),
        Command::Check(args) => check::run(&app, args),
        Command::ExportP12(args) => export_p12::run(&app, args),
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args),
        Command::Init(args) => init::run(args),
        Command::Keychain(args) => keychain::run(&app, args),
        Command::Unlock(args) => unlock::unlock(&app, args),
        Command::Lock => unlock::lock(&app),
    }
    .map(|()| 0)
}

/// What every command starts from.
#[derive(Debug)]
pub struct App {
    pub store: Store,
    context_flag: Option<String>,
}

/// Where the name of the context in use came from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Argument,
    Flag,
    Environment,
    Default,
}

impl App {
    /// The context a command means: its NAME argument, then `--context`, then
    /// `NOMADCTX_CONTEXT` (set by `use`), then the configured default.
    pub fn resolve(&self, config: &Config, explicit: Option<&str>) -> Result<(String, Source)> {
        let (name, source) = match explicit {
            Some(name) => (name.to_owned(), Source::Argument),
            None => self.current_name(config).ok_or_else(|| {
                anyhow!(
                    "no context given and none is current: pass a NAME, use --context, run `nomadctx use NAME`, or set a default with `nomadctx default NAME`; {}",
                    config.known_names()
                )
            })?,
        };
        if !config.contexts.contains_key(&name) {
            let origin = match source {
                Source::Argument => String::new(),
                Source::Flag => " (from --context)".to_owned(),
                Source::Environment => format!(
                    " (from {CONTEXT_VAR}; run `nomadctx use --unset` or use another context)"
                ),
                Source::Default => {
                    " (the default; change it with `nomadctx default NAME`)".to_owned()
                }
            };
            return Err(anyhow!(
                "no context named {name:?}{origin}; {}",
                config.known_names()
            ));
        }
        Ok((name, source))
    }

    /// The current context without a NAME argument, if any; does not check it exists.
    pub fn current_name(&self, config: &Config) -> Option<(String, Source)> {
        if let Some(flag) = &self.context_flag {
            return Some((flag.clone(), Source::Flag));
        }
        if let Some(env) = non_empty_env(CONTEXT_VAR).and_then(|v| v.into_string().ok()) {
            return Some((env, Source::Environment));
        }
        config.default.clone().map(|d| (d, Source::Default))
    }

    pub fn keychain(&self, config: &Config) -> Result<Keychain> {
        Ok(Self::keychain_for(
            config,
            Backend::choose(config.keychain)?,
        ))
    }

    /// This configuration's keychain of `backend`, with its file store's settings.
    pub fn keychain_for(config: &Config, backend: Backend) -> Keychain {
        Keychain::new(backend, config.store.as_deref().unwrap_or_default())
            .with_file_store(config.file_recipient.as_deref(), config.unlock_for())
    }

    /// The config, migrated first if it was written before store and context ids. Commands
    /// that use a context's certificates or secrets read it this way.
    pub fn load(&self) -> Result<Config> {
        let config = self.store.load()?;
        if !migrate::needed(&self.store, &config) && !fork::needed(&self.store, &config) {
            return Ok(config);
        }
        let lock = self.store.lock()?;
        self.load_locked(&lock)
    }

    /// As [`App::load`], for commands that hold the lock to change the config. A copied
    /// config directory gets its own store id first.
    pub fn load_locked(&self, lock: &Lock) -> Result<Config> {
        let config = self.store.load()?;
        let config = migrate::migrate(&self.store, lock, config)?;
        fork::fork(&self.store, lock, config)
    }

    /// Paths of the context's certificate files, as Nomad variables want them: the links
    /// that follow `set` when `linked` (they named ctx's versions when its secrets were
    /// read), else the versions' own files.
    pub fn cert_materials(&self, ctx: &Context, linked: bool) -> Result<Materials<'static>> {
        let path = |p: &Path| -> Result<String> {
            p.to_str().map(str::to_owned).ok_or_else(|| {
                anyhow!(
                    "the path {} is not UTF-8; set NOMADCTX_CONFIG_DIR to a UTF-8 path",
                    p.display()
                )
            })
        };
        let (ca_cert, client_cert) = if linked {
            self.store.cert_links(ctx)
        } else {
            (self.store.ca_file(ctx), self.store.client_cert_file(ctx))
        };
        Ok(Materials {
            ca_cert: ca_cert.as_deref().map(path).transpose()?,
            client_cert: client_cert.as_deref().map(path).transpose()?,
            client_key: None,
            token: None,
        })
    }
}

/// The key and token a context needs, fetched from the keychain.
#[derive(Debug, Default)]
pub struct Secrets {
    /// The client key as stored: DER.
    pub key: Option<Secret>,
    pub token: Option<Secret>,
    /// Whether the context's certificate links named its versions when this was read.
    pub linked: bool,
}

impl Secrets {
    /// The secrets of context `name` as `ctx` names them, and the context they belong to:
    /// when an item is missing because a change committed since `ctx` was read (and removed
    /// the version it replaced), the context as the config now has it. Also warns, on
    /// stderr, when the client certificate is about to expire.
    pub fn fetch(
        store: &Store,
        keychain: &Keychain,
        name: &str,
        mut ctx: Context,
    ) -> Result<(Context, Self)> {
        if let Some(warning) = ctx
            .client_cert_not_after
            .and_then(|t| crate::tls::expiry::expiry_warning(name, t))
        {
            warn(&warning);
        }
        // A few changes committing one after another while we read is plenty.
        let mut retries = 3;
        loop {
            store.check_cert_dir(&ctx)?;
            let (secrets, missing) = Self::read(keychain, name, &ctx)?;
            // Links that do not name ctx's certificates mean a change committed meanwhile
            // (or was cut short, when the config is as read).
            let linked = store.links_current(&ctx);
            if missing.is_none() && linked {
                store.require_cert_files(name, &ctx)?;
                return Ok((ctx, Self { linked, ..secrets }));
            }
            match store.load()?.contexts.remove(name) {
                Some(now) if now != ctx && retries > 0 => {
                    ctx = now;
                    retries -= 1;
                }
                _ => {
                    return match missing {
                        Some(missing) => Err(keychain.missing(name, &missing)),
                        None => store
                            .require_cert_files(name, &ctx)
                            .map(|()| (ctx, Self { linked, ..secrets })),
                    };
                }
            }
        }
    }

    /// What the keychain holds of `ctx`'s secrets, and the first item it lacks.
    fn read(keychain: &Keychain, name: &str, ctx: &Context) -> Result<(Self, Option<ItemRef>)> {
        let items: Vec<ItemRef> = [
            (Item::ClientKey, &ctx.client_version),
            (Item::Token, &ctx.token_version),
        ]
        .into_iter()
        .filter_map(|(kind, version)| Some(ItemRef::new(ctx.id(), kind, version.as_deref()?)))
        .collect();
        let mut secrets = Self::default();
        for (item, secret) in items.iter().zip(keychain.get_all(name, &items)?) {
            let Some(secret) = secret else {
                return Ok((secrets, Some(item.clone())));
            };
            match item.kind {
                Item::ClientKey => secrets.key = Some(secret),
                Item::Token => secrets.token = Some(secret),
            }
        }
        Ok((secrets, None))
    }

    /// The key as PEM, for the file (or memfd) Nomad reads.
    pub fn key_pem(&self, name: &str) -> Result<Option<Secret>> {
        self.key
            .as_ref()
            .map(|key| crate::tls::pem::key_to_pem(key).with_context(|| damaged_key(name)))
            .transpose()
    }

    /// The key as rustls takes it, for `check`; wiped when dropped.
    pub fn key_der(&self, name: &str) -> Result<Option<Zeroizing<PrivateKeyDer<'static>>>> {
        self.key
            .as_ref()
            .map(|key| {
                crate::tls::pem::private_key_der(key)
                    .map(|der| Zeroizing::new(der.clone_key()))
                    .ok_or_else(|| anyhow!(damaged_key(name)))
            })
            .transpose()
    }

    /// The token as text, held to the rule tokens from every source obey (a hand-stored
    /// item with a line break would add HTTP headers of its own).
    pub fn token_str(&self, name: &str) -> Result<Option<&str>> {
        self.token
            .as_ref()
            .map(|t| {
                crate::secret::parse_token(t.expose())
                    .ok()
                    .filter(|parsed| parsed == t)
                    .and_then(|_| t.expose_str())
                    .ok_or_else(|| {
                        anyhow!("the ACL token of context {name:?} in the keychain is not one line of text; store it again with `nomadctx set {name} --token-stdin`")
                    })
            })
            .transpose()
    }
}

fn damaged_key(name: &str) -> String {
    format!(
        "the client key of context {name:?} in the keychain is damaged; store it again with `nomadctx set {name} --key FILE`"
    )
}

/// Writes to stdout, returning (rather than panicking on) a broken pipe.
pub fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("could not write to standard output")
}

/// Writes binary output to stdout, as `print` does text.
pub fn print_bytes(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .context("could not write to standard output")
}

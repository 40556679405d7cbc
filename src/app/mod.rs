//! What every command starts from: the config directory and the `--context` flag, and from
//! them the config, the context meant, and its certificate paths as commands read them.

pub mod picker;
pub mod resolve;

use std::path::Path;

use anyhow::{Result, anyhow};

use crate::change::copied_config;
use crate::change::migrate;
use crate::change::rekey;
use crate::context::{Context, Materials};
use crate::store::{Config, Lock, Store};

#[derive(Debug)]
pub struct App {
    pub store: Store,
    context_flag: Option<String>,
}

impl App {
    pub fn new(store: Store, context_flag: Option<String>) -> Self {
        Self {
            store,
            context_flag,
        }
    }

    /// The context a command means (see [`resolve::resolve`]); `explicit` is its NAME.
    pub fn resolve(&self, config: &Config, explicit: Option<&str>) -> Result<String> {
        resolve::resolve(config, explicit, self.context_flag.as_deref())
    }

    /// The current context, if any; it need not exist.
    pub fn current(&self, config: &Config) -> Option<String> {
        resolve::current(config, self.context_flag.as_deref())
    }

    /// The config, migrated first if it was written before store and context ids. Commands
    /// that use a context's certificates or secrets read it this way.
    pub fn load(&self) -> Result<Config> {
        let config = self.store.load()?;
        if !migrate::needed(&self.store, &config)
            && !copied_config::needed(&self.store, &config)
            && !rekey::needed(&self.store)
            && !rekey::binding_due(&config)
        {
            return Ok(config);
        }
        let lock = self.store.lock()?;
        self.load_locked(&lock)
    }

    /// As [`App::load`], for commands that hold the lock to change the config. A re-key of
    /// the file store cut short is finished or undone, a copied config directory gets its
    /// own store id (the re-key first: the fork copies identity.age as it finds it), and an
    /// unlocked file store written before secrets were bound is bound.
    pub fn load_locked(&self, lock: &Lock) -> Result<Config> {
        let config = self.store.load()?;
        let config = migrate::migrate(&self.store, lock, config)?;
        rekey::settle(&self.store, lock, &config)?;
        let config = copied_config::fork(&self.store, lock, config)?;
        rekey::bind_if_due(&self.store, lock, config, None)
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

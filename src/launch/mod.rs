//! Starting a command in a context: its secrets fetched, the key handed over, its
//! environment built, and its exit status returned (`exec` and `shell`).
//!
//! Below: `supervise` (waiting, signals, exit status per platform), `runtime` (where key
//! files go), `use_keys` (`use`'s, one per shell), `child_key` (`exec`'s) and
//! `process_guard` (no core dumps, no debugger).

mod child_key;
pub mod process_guard;
mod runtime;
pub mod supervise;
pub mod use_keys;

use std::ffi::{OsStr, OsString};
use std::path::Path;

use anyhow::Result;

use crate::app::App;
use crate::context::{EnvVar, environment};
use crate::keychain::{Keychain, Secrets};
use crate::launch::child_key::ChildKey;
use crate::launch::supervise::{ChildEnv, Supervisor};
use crate::store::Config;
use crate::tls::expiry::warn_if_expiring;

/// One command, ready to be run in any context.
#[derive(Debug)]
pub struct Run<'a> {
    pub app: &'a App,
    pub config: &'a Config,
    pub keychain: &'a Keychain,
    /// The program as found on PATH, and as the user named it (its argv[0]).
    pub path: &'a Path,
    pub program: &'a OsStr,
    pub args: &'a [OsString],
    pub supervisor: Supervisor,
}

impl Run<'_> {
    /// Runs the command with `name`'s variables (and `extra` ones) and returns its exit code.
    pub fn in_context(&self, name: &str, extra: &[EnvVar]) -> Result<u8> {
        self.supervisor.idle()?;
        let context = self.config.get(name)?.clone();
        warn_if_expiring(name, context.client_cert_not_after);
        // A connection for this context alone: dropped before the command starts, so that
        // what opens the keychain (the file store's identity above all) is wiped, not kept
        // in memory for as long as the command runs.
        let keychain = self.keychain.fresh();
        let (context, secrets) = Secrets::fetch(&self.app.store, &keychain, name, context)?;
        drop(keychain);
        let context = &context;
        let key = secrets
            .key_pem(name)?
            .as_ref()
            .map(ChildKey::new)
            .transpose()?;
        let mut materials = self.app.cert_materials(context, secrets.linked)?;
        materials.client_key = key.as_ref().map(|k| k.path().to_owned());
        materials.token = secrets.token_str(name)?;

        // The variables the context controls replace ours, or are left out when it does not
        // set them; the user's other NOMAD_* settings (NOMAD_CLI_NO_COLOR, …) pass, as with
        // `use`.
        let ours = environment(name, context, &materials);
        let mut env = ChildEnv::default();
        for (var, value) in std::env::vars_os() {
            let inherited = var.to_string_lossy();
            if !ours.iter().chain(extra).any(|(v, _)| *v == inherited) {
                env.push(&var, &value)?;
            }
        }
        for (var, value) in ours.iter().chain(extra) {
            if let Some(value) = value {
                env.push(OsStr::new(var), OsStr::new(value.as_str()))?;
            }
        }
        drop(ours);
        drop(secrets);
        let code = self
            .supervisor
            .run(self.path, self.program, self.args, env)?;
        // The key stays readable until the command (and whatever it waited for) has finished.
        drop(key);
        Ok(code)
    }
}

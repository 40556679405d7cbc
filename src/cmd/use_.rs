//! `nomadctx use`: print the statements that switch the calling shell to a context.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::cli::UseArgs;
use crate::cmd::{App, Secrets, print, warn};
use crate::context::{CONTEXT_VAR, EnvVar, NOMAD_VARS, environment};
use crate::runtime;
use crate::shell::{Shell, render};

pub fn run(app: &App, args: UseArgs) -> Result<()> {
    let shell = match args.shell {
        Some(shell) => shell,
        None => Shell::detect()?,
    };
    let target = args.name.as_deref().unwrap_or("NAME");
    if std::io::stdout().is_terminal() {
        bail!(
            "`use` prints shell code for your shell to run; run it as: eval \"$(nomadctx use {target})\" (or `nomadctx init` for a shell function)"
        );
    }
    // The key file of the context this shell used before, if `use` wrote it.
    let previous_key = std::env::var_os("NOMAD_CLIENT_KEY").map(PathBuf::from);

    let Some(name) = args.name.filter(|_| !args.unset) else {
        let vars: Vec<EnvVar> = NOMAD_VARS
            .iter()
            .chain([&CONTEXT_VAR])
            .map(|v| (*v, None))
            .collect();
        print(&render(shell, &vars))?;
        return remove_previous(previous_key);
    };

    let config = app.store.load()?;
    let context = config.get(&name)?;
    let keychain = app.keychain(&config)?;
    let secrets = Secrets::fetch(&keychain, &name, context)?;
    let mut materials = app.cert_materials(&name, context)?;
    // Everything that can fail comes before the key file is written, so an error leaves
    // no key behind.
    materials.token = secrets.token_str(&name)?;
    let key_pem = secrets.key_pem(&name)?;
    let key_file = key_pem
        .map(|pem| runtime::write_use_key(&name, &pem))
        .transpose()?;
    materials.client_key = key_file.as_ref().map(|p| p.display().to_string());
    if let Err(e) = print(&render(shell, &environment(&name, context, &materials))) {
        if let Some(file) = &key_file {
            let _ = std::fs::remove_file(file);
        }
        return Err(e);
    }
    remove_previous(previous_key.filter(|p| Some(p) != key_file.as_ref()))
}

fn remove_previous(previous_key: Option<PathBuf>) -> Result<()> {
    if let Some(path) = previous_key
        && let Err(e) = runtime::remove_use_key(&path)
    {
        warn(&format!("{e:#}"));
    }
    Ok(())
}

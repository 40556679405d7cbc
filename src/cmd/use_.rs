//! `nomadctx use`: print the statements that switch the calling shell to a context.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Result, anyhow, bail};
use zeroize::Zeroizing;

use crate::app::App;
use crate::app::picker;
use crate::cli::UseArgs;
use crate::cmd::output::print;
use crate::context::{EnvVar, NOMAD_VARS, environment};
use crate::keychain::{Keychain, Secrets};
use crate::launch::use_keys::UseKeys;
use crate::settings::{CONTEXT_VAR, PREVIOUS_VAR, non_empty};
use crate::shell::{Shell, render};
use crate::store::{Config, checkpoint};
use crate::text::warn;
use crate::tls::expiry::warn_if_expiring;

/// The argument that means "the context this shell used before".
const PREVIOUS: &str = "-";

/// direnv sets this while it evaluates an .envrc (in bash, whatever $SHELL says).
const IN_DIRENV: &str = "DIRENV_IN_ENVRC";

pub fn run(app: &App, args: UseArgs) -> Result<()> {
    let in_direnv = std::env::var_os(IN_DIRENV).is_some_and(|v| v == "1");
    let shell = match args.shell {
        Some(shell) => shell,
        None if in_direnv => Shell::Bash,
        None => Shell::detect()?,
    };
    if std::io::stdout().is_terminal() {
        let target = args.name.as_deref().unwrap_or("NAME");
        let init = match shell {
            Shell::Bash | Shell::Zsh | Shell::Fish | Shell::Powershell => format!(
                ", or set up `nomadctx init {}` once (see `nomadctx init --help`) and run plain `nomadctx use {target}`",
                shell.name()
            ),
            Shell::Sh | Shell::Nu | Shell::Elvish => String::new(),
        };
        let eval = match shell {
            Shell::Elvish => format!("eval (nomadctx use {target} --shell elvish | slurp)"),
            Shell::Nu => format!("nomadctx use {target} --shell nu | from json | load-env"),
            _ => format!("eval \"$(nomadctx use {target})\""),
        };
        bail!("`use` prints shell code for your shell to run; run it as: {eval}{init}");
    }
    let current = env_string(CONTEXT_VAR);

    if args.unset {
        let mut vars: Vec<EnvVar> = NOMAD_VARS
            .iter()
            .chain([&CONTEXT_VAR])
            .map(|v| (*v, None))
            .collect();
        // `use -` after `use --unset` brings the context back.
        if let Some(current) = current {
            vars.push((PREVIOUS_VAR, Some(Zeroizing::new(current))));
        }
        print(&render(shell, &vars))?;
        clean_up(UseKeys::existing(), None);
        return Ok(());
    }

    let config = app.load()?;
    let name = match args.name.as_deref() {
        Some(PREVIOUS) => previous(&config)?,
        Some(name) => name.to_owned(),
        None => pick(&config, current.as_deref())?,
    };
    let keychain = Keychain::for_config(&config)?;
    let context = config.get(&name)?.clone();
    // Where the key file goes is checked before the keychain is asked: a runtime dir that
    // is refused after a passphrase prompt has already unlocked the store for hours.
    let keys = context.has_client().then(UseKeys::create).transpose()?;
    warn_if_expiring(&name, context.client_cert_not_after);
    let (context, secrets) = Secrets::fetch(&app.store, &keychain, &name, context)?;
    let context = &context;
    let mut materials = app.cert_materials(context, secrets.linked)?;
    // Everything that can fail comes before the key file is written, so an error leaves
    // no key behind.
    materials.token = secrets.token_str(&name)?;
    let key_pem = secrets.key_pem(&name)?;
    let shared = args.shared_key_file || in_direnv;
    let (keys, key_file) = match key_pem {
        Some(pem) => {
            let keys = match keys {
                Some(keys) => keys,
                None => UseKeys::create()?,
            };
            let file = if shared {
                keys.write_shared(&name, &pem)?
            } else {
                keys.write(&name, &pem)?
            };
            (Ok(Some(keys)), Some(file))
        }
        None => (UseKeys::existing(), None),
    };
    materials.client_key = key_file.as_ref().map(|p| p.display().to_string());
    let mut vars = environment(&name, context, &materials);
    if let Some(current) = current.filter(|c| *c != name) {
        vars.push((PREVIOUS_VAR, Some(Zeroizing::new(current))));
    }
    // A `use` killed here leaves its key file for this shell's next `use` (or, once the
    // shell has exited, any `use`) to sweep.
    let printed = checkpoint("use-print").and_then(|()| print(&render(shell, &vars)));
    if let Err(e) = printed {
        if let Some(file) = key_file.as_ref().filter(|_| !shared) {
            let _ = std::fs::remove_file(file);
        }
        return Err(e);
    }
    clean_up(keys, key_file.as_deref().filter(|_| !shared));
    Ok(())
}

/// Without a NAME: a picker on a terminal; otherwise the list, on stderr so that an
/// `eval` does not run it, and an error.
fn pick(config: &Config, current: Option<&str>) -> Result<String> {
    if !std::io::stdin().is_terminal() {
        if config.contexts.is_empty() {
            bail!("{}", config.known_names());
        }
        let names: String = config.contexts.keys().map(|n| format!("  {n}\n")).collect();
        eprint!("{names}");
        bail!(
            "no context given and no terminal to pick one on; name one of the above: `nomadctx use NAME`"
        );
    }
    picker::pick(config, current)
}

/// The context `use -` means: the one this shell used before, if it still exists.
fn previous(config: &Config) -> Result<String> {
    let name = env_string(PREVIOUS_VAR).ok_or_else(|| {
        anyhow!(
            "this shell has no previous context: `nomadctx use -` goes back to the one in use before the last `nomadctx use NAME`"
        )
    })?;
    if !config.contexts.contains_key(&name) {
        bail!(
            "the previous context {name:?} (from {PREVIOUS_VAR}) no longer exists; {}",
            config.known_names()
        );
    }
    Ok(name)
}

fn env_string(var: &str) -> Option<String> {
    non_empty(var).and_then(|v| v.into_string().ok())
}

/// After the statements are out: removes this shell's earlier key files (all but `keep`)
/// and those of shells that have exited. The switch has happened, so a failure here is only
/// a warning.
fn clean_up(keys: Result<Option<UseKeys>>, keep: Option<&Path>) {
    let swept = keys.and_then(|keys| keys.map_or(Ok(()), |keys| keys.sweep(keep)));
    if let Err(e) = swept {
        warn(&format!("{e:#}"));
    }
}

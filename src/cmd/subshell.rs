//! `nomadctx shell`: an interactive $SHELL in a context, the key handed over as for `exec`.

use std::ffi::OsString;

use anyhow::{Result, bail};
use zeroize::Zeroizing;

use crate::app::App;
use crate::cli::ShellArgs;
use crate::keychain::Keychain;
use crate::launch::Run;
use crate::launch::supervise::Supervisor;
use crate::settings::{SHELL_VAR, non_empty};

/// Used when $SHELL is unset or empty: /bin/sh, or on Windows %ComSpec% (cmd.exe).
#[cfg(unix)]
fn fallback_shell() -> OsString {
    OsString::from("/bin/sh")
}

#[cfg(windows)]
fn fallback_shell() -> OsString {
    non_empty("ComSpec").unwrap_or_else(|| OsString::from("cmd.exe"))
}

pub fn run(app: &App, args: ShellArgs) -> Result<u8> {
    let config = app.load()?;
    let name = app.resolve(&config, args.name.as_deref())?;
    if let Some(outer) = non_empty(SHELL_VAR)
        && !args.force
    {
        bail!(
            "this is already a nomadctx shell (context {:?}); type `exit` to leave it before starting one for {name:?}, or pass --force to start it inside",
            outer.to_string_lossy()
        );
    }
    let program = non_empty("SHELL").unwrap_or_else(fallback_shell);
    let Ok(path) = which::which(&program) else {
        bail!(
            "cannot start the shell {:?} from $SHELL for context {name:?}; set SHELL to a shell on your PATH",
            program.to_string_lossy()
        );
    };
    let keychain = Keychain::for_config(&config)?;
    let run = Run {
        app,
        config: &config,
        keychain: &keychain,
        path: &path,
        program: &program,
        args: &[],
        supervisor: Supervisor::default(),
    };
    run.in_context(&name, &[(SHELL_VAR, Some(Zeroizing::new(name.clone())))])
}

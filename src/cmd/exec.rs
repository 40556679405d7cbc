//! `nomadctx exec`: run one command in a context and exit with its status.

use std::ffi::OsStr;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::Command;

use anyhow::{Context as _, Result};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use signal_hook::iterator::SignalsInfo;
use signal_hook::iterator::exfiltrator::WithOrigin;
use signal_hook::low_level::siginfo::Cause;

use crate::cli::ExecArgs;
use crate::cmd::{App, Secrets};
use crate::context::environment;
use crate::runtime::ChildKey;

/// What a shell reports for a command it cannot find, or cannot run.
const NOT_FOUND: u8 = 127;
const NOT_EXECUTABLE: u8 = 126;

pub fn run(app: &App, args: ExecArgs) -> Result<u8> {
    let config = app.store.load()?;
    let (name, _) = app.resolve(&config, args.name.as_deref())?;
    let context = config.get(&name)?;
    let (program, rest) = args
        .command
        .split_first()
        .context("no command given after --")?;
    let Ok(path) = which::which(program) else {
        eprintln!(
            "nomadctx: command {:?} not found (context {name:?}); check the name and your PATH",
            program
        );
        return Ok(NOT_FOUND);
    };

    let keychain = app.keychain(&config)?;
    let secrets = Secrets::fetch(&keychain, &name, context)?;
    let key = secrets
        .key_pem(&name)?
        .as_ref()
        .map(ChildKey::new)
        .transpose()?;
    let mut materials = app.cert_materials(&name, context)?;
    materials.client_key = key.as_ref().map(|k| k.path().to_owned());
    materials.token = secrets.token_str(&name)?;

    let mut command = Command::new(&path);
    command.arg0(program).args(rest);
    for (var, _) in std::env::vars_os() {
        if var.to_string_lossy().starts_with("NOMAD_") {
            command.env_remove(&var);
        }
    }
    // Every NOMAD_* variable is gone by now, so only the ones the context sets are added.
    for (var, value) in environment(&name, context, &materials) {
        if let Some(value) = value {
            command.env(var, value.as_str());
        }
    }
    drop(secrets);
    let code = supervise(command, program)?;
    // The key stays readable until the command (and whatever it waited for) has finished.
    drop(key);
    Ok(code)
}

/// Runs the child, forwarding signals sent to nomadctx, and returns its exit code (128+N
/// when signal N killed it).
fn supervise(mut command: Command, program: &OsStr) -> Result<u8> {
    let mut signals = SignalsInfo::<WithOrigin>::new([SIGINT, SIGTERM, SIGHUP, SIGQUIT])
        .context("could not set up signal forwarding")?;
    let handle = signals.handle();
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            eprintln!("nomadctx: could not run {program:?}: {e}");
            return Ok(if e.kind() == std::io::ErrorKind::PermissionDenied {
                NOT_EXECUTABLE
            } else {
                NOT_FOUND
            });
        }
    };
    let pid = Pid::from_raw(child.id() as i32);
    let forwarder = std::thread::spawn(move || {
        for origin in signals.forever() {
            // A terminal's Ctrl-C, Ctrl-\ or hang-up comes from the kernel to the whole
            // foreground process group, child included; forwarding it too would deliver it
            // twice. Signals sent to nomadctx alone (kill, a supervisor) are passed on.
            if matches!(origin.cause, Cause::Sent(_))
                && let Ok(signal) = Signal::try_from(origin.signal)
            {
                let _ = kill(pid, signal);
            }
        }
    });
    let status = child.wait().context("could not wait for the command")?;
    handle.close();
    let _ = forwarder.join();
    Ok(match (status.code(), status.signal()) {
        (Some(code), _) => code as u8,
        (None, Some(signal)) => 128u8.saturating_add(signal as u8),
        (None, None) => 1,
    })
}

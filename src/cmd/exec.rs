//! `nomadctx exec`: run one command in a context and exit with its status.

use std::ffi::{OsStr, OsString};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use signal_hook::iterator::SignalsInfo;
use signal_hook::iterator::exfiltrator::WithOrigin;
use signal_hook::low_level::siginfo::Cause;

use crate::cli::ExecArgs;
use crate::cmd::{App, Secrets, print};
use crate::context::{EnvVar, environment, matches_pattern};
use crate::keychain::Keychain;
use crate::runtime::ChildKey;
use crate::store::Config;

/// What a shell reports for a command it cannot find, or cannot run.
const NOT_FOUND: u8 = 127;
const NOT_EXECUTABLE: u8 = 126;
/// Exit codes from 129 up mean the command was killed by a signal.
const KILLED_BY_SIGNAL: u8 = 128;

pub fn run(app: &App, args: ExecArgs) -> Result<u8> {
    let config = app.store.load()?;
    let many = args.all || args.pattern.is_some();
    let names = if many {
        matching_contexts(&config, args.pattern.as_deref())?
    } else {
        vec![app.resolve(&config, args.name.as_deref())?.0]
    };
    let (program, rest) = args
        .command
        .split_first()
        .context("no command given after --")?;
    let Ok(path) = which::which(program) else {
        eprintln!(
            "nomadctx: command {program:?} not found (context {}); check the name and your PATH",
            names.join(", ")
        );
        return Ok(NOT_FOUND);
    };
    let keychain = app.keychain(&config)?;
    let run = Run {
        app,
        config: &config,
        keychain: &keychain,
        path: &path,
        program,
        args: rest,
    };
    if !many {
        return run.in_context(&names[0], &[]);
    }

    let mut status = 0;
    for (i, name) in names.iter().enumerate() {
        if !args.no_headers {
            print(&format!(
                "{}==> {name} <==\n",
                if i == 0 { "" } else { "\n" }
            ))?;
        }
        let code = run.in_context(name, &[]).unwrap_or_else(|e| {
            eprintln!("nomadctx: {e:#}");
            1
        });
        if status == 0 {
            status = code;
        }
        // As xargs does: a command killed by a signal (a Ctrl-C, say) stops the whole run.
        if code > KILLED_BY_SIGNAL && i + 1 < names.len() {
            eprintln!(
                "nomadctx: stopping: {program:?} in context {name:?} was killed by signal {}; not run in: {}",
                code - KILLED_BY_SIGNAL,
                names[i + 1..].join(", ")
            );
            break;
        }
    }
    Ok(status)
}

/// The contexts `--all` (no pattern) or `--match PATTERN` select, in name order.
fn matching_contexts(config: &Config, pattern: Option<&str>) -> Result<Vec<String>> {
    let names: Vec<String> = config
        .contexts
        .keys()
        .filter(|name| pattern.is_none_or(|p| matches_pattern(p, name)))
        .cloned()
        .collect();
    if names.is_empty() {
        match pattern {
            Some(p) => bail!("no context matches {p:?}; {}", config.known_names()),
            None => bail!("{}", config.known_names()),
        }
    }
    Ok(names)
}

/// One command, ready to be run in any context.
pub struct Run<'a> {
    pub app: &'a App,
    pub config: &'a Config,
    pub keychain: &'a Keychain,
    /// The program as found on PATH, and as the user named it (its argv[0]).
    pub path: &'a Path,
    pub program: &'a OsStr,
    pub args: &'a [OsString],
}

impl Run<'_> {
    /// Runs the command with `name`'s variables (and `extra` ones) and returns its exit code.
    pub fn in_context(&self, name: &str, extra: &[EnvVar]) -> Result<u8> {
        let context = self.config.get(name)?;
        let secrets = Secrets::fetch(self.keychain, name, context)?;
        let key = secrets
            .key_pem(name)?
            .as_ref()
            .map(ChildKey::new)
            .transpose()?;
        let mut materials = self.app.cert_materials(name, context)?;
        materials.client_key = key.as_ref().map(|k| k.path().to_owned());
        materials.token = secrets.token_str(name)?;

        let mut command = Command::new(self.path);
        command.arg0(self.program).args(self.args);
        for (var, _) in std::env::vars_os() {
            if var.to_string_lossy().starts_with("NOMAD_") {
                command.env_remove(&var);
            }
        }
        // Every NOMAD_* variable is gone by now, so only the ones the context sets are added.
        for (var, value) in environment(name, context, &materials).iter().chain(extra) {
            match value {
                Some(value) => command.env(var, value.as_str()),
                None => command.env_remove(var),
            };
        }
        drop(secrets);
        let code = supervise(command, self.program)?;
        // The key stays readable until the command (and whatever it waited for) has finished.
        drop(key);
        Ok(code)
    }
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

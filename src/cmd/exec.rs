//! `nomadctx exec`: run one command in a context and exit with its status.

use std::ffi::{CStr, CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use zeroize::Zeroizing;

use crate::cli::ExecArgs;
use crate::cmd::{App, Secrets, print};
use crate::context::{EnvVar, environment, matches_pattern};
use crate::keychain::Keychain;
use crate::runtime::ChildKey;
use crate::store::Config;
use crate::supervise::{KILLED_BY_SIGNAL, NOT_FOUND, Supervisor};

pub fn run(app: &App, args: ExecArgs) -> Result<u8> {
    let config = app.load()?;
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
        supervisor: Supervisor::default(),
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
            eprintln!(
                "nomadctx: {}",
                crate::text::printable_message(&format!("{e:#}"))
            );
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
    pub supervisor: Supervisor,
}

impl Run<'_> {
    /// Runs the command with `name`'s variables (and `extra` ones) and returns its exit code.
    pub fn in_context(&self, name: &str, extra: &[EnvVar]) -> Result<u8> {
        self.supervisor.idle();
        let context = self.config.get(name)?.clone();
        let (context, secrets) = Secrets::fetch(&self.app.store, self.keychain, name, context)?;
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
        let mut env = Vec::new();
        for (var, value) in std::env::vars_os() {
            let inherited = var.to_string_lossy();
            if !ours.iter().chain(extra).any(|(v, _)| *v == inherited) {
                env.push(EnvEntry::new(var.as_bytes(), value.as_bytes())?);
            }
        }
        for (var, value) in ours.iter().chain(extra) {
            if let Some(value) = value {
                env.push(EnvEntry::new(var.as_bytes(), value.as_bytes())?);
            }
        }
        drop(ours);
        drop(secrets);
        let mut argv = vec![c_string(self.program.as_bytes())?];
        for arg in self.args {
            argv.push(c_string(arg.as_bytes())?);
        }
        let code = self.supervisor.run(self.path, &argv, env, self.program)?;
        // The key stays readable until the command (and whatever it waited for) has finished.
        drop(key);
        Ok(code)
    }
}

/// One `NAME=value` of the child's environment, NUL-terminated, in a buffer that is wiped
/// when dropped: the token is among them, and std's `Command` would keep unwiped copies.
struct EnvEntry(Zeroizing<Vec<u8>>);

impl EnvEntry {
    fn new(var: &[u8], value: &[u8]) -> Result<Self> {
        if var.contains(&0) || value.contains(&0) {
            bail!(
                "the environment variable {} holds a NUL byte",
                String::from_utf8_lossy(var)
            );
        }
        let mut entry = Zeroizing::new(Vec::with_capacity(var.len() + value.len() + 2));
        entry.extend_from_slice(var);
        entry.push(b'=');
        entry.extend_from_slice(value);
        entry.push(0);
        Ok(Self(entry))
    }
}

impl AsRef<CStr> for EnvEntry {
    fn as_ref(&self) -> &CStr {
        CStr::from_bytes_with_nul(&self.0).expect("checked for NUL bytes in EnvEntry::new")
    }
}

fn c_string(bytes: &[u8]) -> Result<CString> {
    CString::new(bytes).context("an argument holds a NUL byte")
}

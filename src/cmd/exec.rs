//! `nomadctx exec`: run one command in a context and exit with its status.

use std::ffi::{OsStr, OsString};
use std::path::Path;

use anyhow::{Context as _, Result, bail};

use crate::cli::ExecArgs;
use crate::cmd::{App, Secrets, print};
use crate::context::{EnvVar, environment, matches_pattern};
use crate::keychain::Keychain;
use crate::runtime::ChildKey;
use crate::store::Config;
use crate::supervise::{ChildEnv, KILLED_BY_SIGNAL, NOT_FOUND, Supervisor};

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
        self.supervisor.idle()?;
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

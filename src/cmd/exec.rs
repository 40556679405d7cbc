//! `nomadctx exec`: run one command in a context and exit with its status.

use anyhow::{Context as _, Result, bail};

use crate::app::App;
use crate::cli::ExecArgs;
use crate::cmd::output::print;
use crate::context::matches_pattern;
use crate::keychain::Keychain;
use crate::launch::Run;
use crate::launch::supervise::{NOT_FOUND, Supervisor, killing_signal};
use crate::store::Config;

pub fn run(app: &App, args: ExecArgs) -> Result<u8> {
    let config = app.load()?;
    let many = args.all || args.pattern.is_some();
    let names = if many {
        matching_contexts(&config, args.pattern.as_deref())?
    } else {
        vec![app.resolve(&config, args.name.as_deref())?]
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
    let keychain = Keychain::for_config(&config)?;
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
        if let Some(signal) = killing_signal(code).filter(|_| i + 1 < names.len()) {
            eprintln!(
                "nomadctx: stopping: {program:?} in context {name:?} was killed by signal {signal}; not run in: {}",
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

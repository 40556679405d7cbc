//! Which context a command means: its NAME argument, then `--context`, then
//! `NOMADCTX_CONTEXT` (set by `use`), then the configured default.

use anyhow::{Result, anyhow};

use crate::settings::{CONTEXT_VAR, non_empty};
use crate::store::Config;

/// Where the name of the context in use came from, for the message when it names none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Argument,
    Flag,
    Environment,
    Default,
}

/// The context a command means, which must exist: `explicit` (a NAME argument), else the
/// current one (see [`current`]); `flag` is `--context`.
pub fn resolve(config: &Config, explicit: Option<&str>, flag: Option<&str>) -> Result<String> {
    let (name, source) = match explicit {
        Some(name) => (name.to_owned(), Source::Argument),
        None => current_with_source(config, flag).ok_or_else(|| {
            anyhow!(
                "no context given and none is current: pass a NAME, use --context, run `nomadctx use NAME`, or set a default with `nomadctx default NAME`; {}",
                config.known_names()
            )
        })?,
    };
    if !config.contexts.contains_key(&name) {
        let origin = match source {
            Source::Argument => String::new(),
            Source::Flag => " (from --context)".to_owned(),
            Source::Environment => {
                format!(" (from {CONTEXT_VAR}; run `nomadctx use --unset` or use another context)")
            }
            Source::Default => " (the default; change it with `nomadctx default NAME`)".to_owned(),
        };
        return Err(anyhow!(
            "no context named {name:?}{origin}; {}",
            config.known_names()
        ));
    }
    Ok(name)
}

/// The current context without a NAME argument, if any: `--context` (`flag`), then
/// `NOMADCTX_CONTEXT`, then the default. It need not exist.
pub fn current(config: &Config, flag: Option<&str>) -> Option<String> {
    current_with_source(config, flag).map(|(name, _)| name)
}

fn current_with_source(config: &Config, flag: Option<&str>) -> Option<(String, Source)> {
    if let Some(flag) = flag {
        return Some((flag.to_owned(), Source::Flag));
    }
    if let Some(env) = non_empty(CONTEXT_VAR).and_then(|v| v.into_string().ok()) {
        return Some((env, Source::Environment));
    }
    config.default.clone().map(|d| (d, Source::Default))
}

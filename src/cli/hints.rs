//! Usage errors with a hint where clap's own message leaves a newcomer guessing.

use std::ffi::OsString;

use clap::Parser;
use clap::error::{ContextKind, ContextValue, ErrorKind};

use super::Cli;

/// The command line, parsed; on a usage error, clap's message (with a hint of ours where it
/// helps) and exit code 2.
pub fn parse() -> Cli {
    let args: Vec<OsString> = std::env::args_os().collect();
    Cli::try_parse_from(&args).unwrap_or_else(|mut err| {
        if let Some(hint) = hint(&err, &args) {
            err.insert(
                ContextKind::Suggested,
                ContextValue::StyledStrs(vec![hint.into()]),
            );
        }
        err.exit()
    })
}

/// `nomadctx exec prod nomad node status`: the command needs `--` before it, which clap
/// reports as an unexpected argument (or, without a name, a missing command).
fn hint(err: &clap::Error, args: &[OsString]) -> Option<String> {
    if !matches!(
        err.kind(),
        ErrorKind::UnknownArgument | ErrorKind::MissingRequiredArgument
    ) {
        return None;
    }
    let words: Vec<String> = args
        .iter()
        .skip(1)
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    let exec = words.iter().position(|word| word == "exec")?;
    let after = &words[exec + 1..];
    if after.iter().any(|word| word == "--") {
        return None;
    }
    // exec's options stay in front; then the context's name (unless --all or --match
    // chose the contexts) and the rest is the command, as the user most likely meant.
    let mut options = Vec::new();
    let mut words = after.iter();
    let mut rest = Vec::new();
    while let Some(word) = words.next() {
        if word == "--match" || word == "--context" {
            options.push(word.clone());
            options.extend(words.next().cloned());
        } else if word.starts_with('-') {
            options.push(word.clone());
        } else {
            rest.push(word.clone());
            rest.extend(words.by_ref().cloned());
        }
    }
    let many = options.iter().any(|o| o == "--all" || o == "--match");
    let split = usize::from(!many).min(rest.len());
    let (before, command) = rest.split_at(split);
    let example = if command.is_empty() {
        "nomadctx exec prod -- nomad node status".to_owned()
    } else {
        let front: Vec<&String> = options.iter().chain(before).collect();
        let front: Vec<&str> = front.iter().map(|w| w.as_str()).collect();
        format!(
            "nomadctx exec {}{}-- {}",
            front.join(" "),
            if front.is_empty() { "" } else { " " },
            command.join(" ")
        )
    };
    Some(format!("put `--` before the command: {example}"))
}

//! Choosing a context on the terminal: fzf when it is installed (as kubectx does), else a
//! numbered menu. Both talk to /dev/tty, so the choice works inside `eval "$(...)"`.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result, bail};

use crate::store::Config;

/// Set to anything but `0` to get the built-in menu even when fzf is installed.
use crate::settings::IGNORE_FZF_VAR as IGNORE_FZF;

/// fzf's exit status when the user pressed Esc or Ctrl-C.
const FZF_CANCELLED: i32 = 130;

pub fn pick(config: &Config, current: Option<&str>) -> Result<String> {
    if config.contexts.is_empty() {
        bail!("{}", config.known_names());
    }
    let ignore_fzf = std::env::var_os(IGNORE_FZF).is_some_and(|v| !v.is_empty() && v != "0");
    match which::which("fzf") {
        Ok(fzf) if !ignore_fzf => with_fzf(&fzf, &lines(config, current)),
        _ => with_menu(config, &lines(config, current)),
    }
}

/// One line per context: its name, then its address (and whether it is the current one).
fn lines(config: &Config, current: Option<&str>) -> Vec<(String, String)> {
    config
        .contexts
        .iter()
        .map(|(name, ctx)| {
            let mark = if current == Some(name.as_str()) {
                "  (current)"
            } else {
                ""
            };
            (name.clone(), format!("{}{mark}", ctx.address))
        })
        .collect()
}

fn with_fzf(fzf: &Path, lines: &[(String, String)]) -> Result<String> {
    let mut child = Command::new(fzf)
        .args([
            "--prompt",
            "nomadctx> ",
            "--header",
            "pick a context (Esc cancels)",
        ])
        .args(["--height", "40%", "--reverse", "--no-multi"])
        .args(["--delimiter", "\t", "--nth", "1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start {}", fzf.display()))?;
    let input: String = lines
        .iter()
        .map(|(name, about)| format!("{name}\t{about}\n"))
        .collect();
    // fzf may exit before reading everything (Esc at once); its status says what happened.
    let _ = child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input.as_bytes());
    let output = child.wait_with_output().context("could not wait for fzf")?;
    match output.status.code() {
        Some(0) => {}
        Some(FZF_CANCELLED) | None => bail!("no context picked"),
        Some(_) => bail!("no context picked (fzf found no match)"),
    }
    let chosen = String::from_utf8_lossy(&output.stdout);
    let name = chosen.split('\t').next().unwrap_or_default().trim();
    match lines.iter().find(|(n, _)| n == name) {
        Some((name, _)) => Ok(name.clone()),
        None => bail!("fzf returned {name:?}, which is not a context"),
    }
}

fn with_menu(config: &Config, lines: &[(String, String)]) -> Result<String> {
    let tty = crate::platform::open_terminal().context("could not open the terminal (/dev/tty) for the picker; name a context instead: `nomadctx use NAME`")?;
    let mut out = tty.try_clone().context("could not use the terminal")?;
    let mut input = BufReader::new(tty);
    let width = lines.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let mut menu = String::new();
    for (i, (name, about)) in lines.iter().enumerate() {
        menu.push_str(&format!("{:>3}) {name:<width$}  {about}\n", i + 1));
    }
    write_tty(&mut out, &menu)?;
    loop {
        write_tty(&mut out, "context number or name (Enter cancels): ")?;
        let mut answer = String::new();
        if input
            .read_line(&mut answer)
            .context("could not read the terminal")?
            == 0
        {
            bail!("no context picked");
        }
        let answer = answer.trim();
        if answer.is_empty() {
            bail!("no context picked");
        }
        let by_number = answer
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| lines.get(i));
        if let Some((name, _)) = by_number.or_else(|| lines.iter().find(|(n, _)| n == answer)) {
            return Ok(name.clone());
        }
        write_tty(
            &mut out,
            &format!(
                "{answer:?} is neither a number from 1 to {} nor a context name\n",
                config.contexts.len()
            ),
        )?;
    }
}

fn write_tty(tty: &mut File, text: &str) -> Result<()> {
    tty.write_all(text.as_bytes())
        .and_then(|()| tty.flush())
        .context("could not write to the terminal")
}

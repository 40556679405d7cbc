//! `nomadctx man`: man pages generated from the clap definition, one per subcommand.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use clap::CommandFactory;

use crate::cli::{Cli, ManArgs};

/// The date in each page's header: that of the last change to the help text. A fixed date
/// keeps the committed pages reproducible.
const DATE: &str = "2026-11-23";

/// mandoc's lint asks for input lines of at most this many bytes.
const MAX_LINE: usize = 80;

pub fn run(args: ManArgs) -> Result<()> {
    if let Some(dir) = args.dir {
        return write_pages(&dir);
    }
    let beside = beside_the_binary()?;
    match write_pages(&beside) {
        Err(refused) if is_permission_denied(&refused) => write_to_own(&beside, refused),
        other => other,
    }
}

/// Every page, into `dir` (created).
fn write_pages(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))?;
    let mut root = Cli::command().disable_help_subcommand(true);
    root.build();
    let version = root.get_version().unwrap_or_default().to_owned();
    let mut pages = vec![root.clone()];
    pages.extend(root.get_subcommands().filter(|c| !c.is_hide_set()).cloned());
    for cmd in pages {
        let name = cmd
            .get_display_name()
            .unwrap_or_else(|| cmd.get_name())
            .to_owned();
        let man = clap_mangen::Man::new(cmd)
            .title(name.to_uppercase())
            .date(DATE)
            .source(format!("nomadctx {version}"))
            .manual("nomadctx manual");
        let mut roff = Vec::new();
        man.render(&mut roff)
            .with_context(|| format!("could not render the page for {name}"))?;
        write_page(&dir.join(format!("{name}.1")), &tidy(&roff))?;
    }
    eprintln!("nomadctx: man pages written to {}", dir.display());
    Ok(())
}

fn is_permission_denied(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied)
    })
}

/// A binary in /usr/local/bin run by a normal user: the pages go to the user's own
/// ~/.local/share/man instead, and the message says how `man` finds them there.
fn write_to_own(beside: &Path, refused: anyhow::Error) -> Result<()> {
    let Some(data) = directories::BaseDirs::new().map(|dirs| dirs.data_dir().to_path_buf()) else {
        return Err(refused.context(
            "pass a directory of yours instead, e.g. `nomadctx man ~/.local/share/man/man1`",
        ));
    };
    eprintln!(
        "nomadctx: {} is not yours to write, so the man pages go to your own {}",
        beside.display(),
        data.join("man").display()
    );
    write_pages(&data.join("man/man1"))?;
    eprintln!(
        "nomadctx: man finds them when {} is on PATH; otherwise add MANPATH=\"{}:\" to your shell's startup file",
        data.parent().unwrap_or(&data).join("bin").display(),
        data.join("man").display()
    );
    Ok(())
}

/// BIN/../share/man/man1: man-db and mandoc look in DIR/../share/man for each DIR on PATH,
/// so pages there are found wherever the binary was installed (~/.cargo/bin, /usr/local/bin).
fn beside_the_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("could not find where nomadctx is installed")?;
    let prefix = exe
        .parent()
        .and_then(Path::parent)
        .with_context(|| format!("{} has no parent directory; pass DIR", exe.display()))?;
    Ok(prefix.join("share/man/man1"))
}

fn write_page(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("could not write {}", path.display()))
}

/// Drops trailing blanks, blank lines and repeated `.br` (clap_mangen's spacing before a
/// list of values) and breaks long text lines at spaces. None of this changes the rendered
/// page (text is filled), but it keeps `mandoc -Tlint` quiet.
fn tidy(roff: &[u8]) -> String {
    let mut out = String::new();
    for line in String::from_utf8_lossy(roff).lines() {
        let line = line.trim_end();
        if line.is_empty() || (line == ".br" && out.ends_with(".br\n")) {
            continue;
        }
        if line.starts_with(['.', '\'']) || line.len() <= MAX_LINE {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let mut current = String::new();
        for word in line.split(' ') {
            if !current.is_empty() && current.len() + 1 + word.len() > MAX_LINE {
                push_text_line(&mut out, &current);
                current.clear();
            }
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(word);
        }
        push_text_line(&mut out, &current);
    }
    out
}

/// A text line that would start with `.` or `'` would be read as a request; `\&` prevents it.
fn push_text_line(out: &mut String, line: &str) {
    if line.starts_with(['.', '\'']) {
        out.push_str("\\&");
    }
    out.push_str(line);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidy_wraps_text_but_not_requests() {
        let long = format!("{} .hidden 'quoted", "word ".repeat(20).trim_end());
        let roff = format!(".TH X 1 \n{long}\n.br\n\n.br\n.TP {}\n", "x".repeat(90));
        let tidied = tidy(roff.as_bytes());
        assert!(tidied.starts_with(".TH X 1\n"), "{tidied}");
        assert_eq!(tidied.matches(".br").count(), 1, "{tidied}");
        assert!(
            tidied
                .lines()
                .filter(|l| !l.starts_with(".TP"))
                .all(|l| l.len() <= MAX_LINE)
        );
        assert!(tidied.contains(&format!(".TP {}", "x".repeat(90))));
        // The words survive in order.
        let text: Vec<&str> = tidied
            .lines()
            .filter(|l| !l.starts_with(['.']))
            .flat_map(|l| l.trim_start_matches("\\&").split(' '))
            .collect();
        assert_eq!(text.join(" "), long);
    }
}

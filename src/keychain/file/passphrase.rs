//! Passphrases and passwords a person types: on the terminal with echo off, one line from
//! standard input, or a file kept for unattended hosts. Never from argv or the environment.

use std::io::{IsTerminal, Read, Write};
use std::path::Path;

use anyhow::{Context as _, Result, anyhow, bail};
use zeroize::Zeroizing;

use crate::fs::trust::{ANY_ACCESS, Private};
use crate::platform;

/// The longest line read as a passphrase.
const MAX_LEN: u64 = 4096;

/// `NOMADCTX_PASSPHRASE_FILE`: a file whose first line is the file store's passphrase.
pub use crate::settings::PASSPHRASE_FILE_VAR as FILE_VAR;

const PASSPHRASE_FILE: Private = Private {
    what: "passphrase file",
    forbidden: ANY_ACCESS,
    at_stake: "another user could read the passphrase and open every key in the file store",
    not_yours: "point NOMADCTX_PASSPHRASE_FILE at a file of your own, mode 0600",
};

/// Whether a person is there to answer a prompt: a controlling terminal, and standard
/// input or standard error on it (a cron job or a pipeline in a script has neither, and a
/// test harness with piped streams is not asked).
pub fn person_present() -> bool {
    (std::io::stdin().is_terminal() || std::io::stderr().is_terminal()) && open_tty().is_ok()
}

fn open_tty() -> std::io::Result<std::fs::File> {
    platform::open_terminal()
}

/// Asks on the terminal with echo off; with `again`, asks a second time and requires the
/// same answer. `none` says what to do when there is no terminal.
pub fn from_terminal(prompt: &str, again: Option<&str>, none: &str) -> Result<Zeroizing<String>> {
    let tty = open_tty().map_err(|_| anyhow!("there is no terminal to ask on; {none}"))?;
    let first = ask(&tty, prompt)?;
    if first.is_empty() {
        bail!("the entry was empty; nothing was changed");
    }
    if let Some(again) = again {
        let second = ask(&tty, again)?;
        if *first != *second {
            bail!("the two entries did not match; nothing was changed");
        }
    }
    Ok(first)
}

/// The file store's passphrase, from where the user said: standard input with
/// `--passphrase-stdin`, else NOMADCTX_PASSPHRASE_FILE, else the terminal; `none` says what
/// to do when there is no terminal.
pub fn current(stdin: bool, none: &str) -> Result<Zeroizing<String>> {
    if stdin {
        return from_stdin("passphrase");
    }
    match from_file()? {
        Some(passphrase) => Ok(passphrase),
        None => from_terminal("Passphrase of nomadctx's file store: ", None, none),
    }
}

/// A new passphrase shorter than this gets a warning: scrypt makes each guess cost about a
/// second, which a short one does not survive for long.
const SHORT: usize = 12;

/// Warns about a new passphrase that is easy to guess from a copy of identity.age.
pub fn warn_if_short(passphrase: &str) {
    let len = passphrase.chars().count();
    if len < SHORT {
        crate::text::warn(&format!(
            "the passphrase has {len} characters; anyone with a copy of identity.age can try guesses offline (each costs about a second), so a passphrase of {SHORT} or more characters, or a few random words, is safer"
        ));
    }
}

/// One line typed with echo off; the terminal is put back as it was, also on error.
///
/// The terminal is read a key at a time with its signal keys turned off, so that Ctrl-C
/// cancels here (the terminal restored) instead of killing nomadctx with echo still off.
/// Backspace and Ctrl-U edit the line as the terminal would.
fn ask(tty: &std::fs::File, prompt: &str) -> Result<Zeroizing<String>> {
    platform::keys_without_echo(tty, |erase| {
        let mut writer = tty;
        write!(writer, "{prompt}")?;
        writer.flush()?;
        let line = read_keys(&mut &*tty, erase);
        writeln!(writer)?;
        line
    })
}

/// Ctrl-C, Ctrl-D, Ctrl-U, and the two bytes terminals send for Backspace.
const INTERRUPT: u8 = 0x03;
const END: u8 = 0x04;
const KILL_LINE: u8 = 0x15;
const BACKSPACE: [u8; 2] = [0x08, 0x7f];

/// Keys up to Enter, edited as a terminal in line mode would; Ctrl-C (or Ctrl-D on an
/// empty line) cancels.
fn read_keys(reader: &mut impl Read, erase: u8) -> Result<Zeroizing<String>> {
    let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_LEN as usize));
    let mut key = Zeroizing::new([0u8; 1]);
    loop {
        match reader.read(&mut *key) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("could not read from the terminal"),
        }
        match key[0] {
            b'\r' | b'\n' => break,
            INTERRUPT => bail!("cancelled; nothing was changed"),
            END if bytes.is_empty() => bail!("cancelled; nothing was changed"),
            KILL_LINE => bytes.clear(),
            k if k == erase || BACKSPACE.contains(&k) => {
                // One character, however many bytes of UTF-8 it took.
                while let Some(b) = bytes.pop() {
                    if b & 0xc0 != 0x80 {
                        break;
                    }
                }
            }
            _ if bytes.len() as u64 >= MAX_LEN => {
                bail!("the entry is longer than {MAX_LEN} bytes; nothing was changed")
            }
            k => bytes.push(k),
        }
    }
    let text = std::str::from_utf8(&bytes).context("the entry is not UTF-8 text")?;
    Ok(Zeroizing::new(text.to_owned()))
}

/// One line from standard input (at most 4 KiB, the line break dropped); `what` names it.
pub fn from_stdin(what: &str) -> Result<Zeroizing<String>> {
    let line = read_line(&mut raw_stdin()?, "standard input")?;
    if line.is_empty() {
        bail!("standard input held an empty {what} (or nothing at all); nothing was changed");
    }
    Ok(line)
}

/// Two lines from standard input: the current passphrase, then the new one.
pub fn two_from_stdin() -> Result<(Zeroizing<String>, Zeroizing<String>)> {
    let mut stdin = raw_stdin()?;
    let old = read_line(&mut stdin, "standard input")?;
    let new = read_line(&mut stdin, "standard input")?;
    if old.is_empty() || new.is_empty() {
        bail!(
            "--passphrase-stdin reads two lines, the current passphrase and then the new one, and one was empty; nothing was changed"
        );
    }
    Ok((old, new))
}

/// The first line of `NOMADCTX_PASSPHRASE_FILE`, when it is set; the file must be yours and
/// readable by nobody else.
pub fn from_file() -> Result<Option<Zeroizing<String>>> {
    let Some(path) = std::env::var_os(FILE_VAR).filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let path = Path::new(&path);
    if !path.is_absolute() {
        bail!(
            "{FILE_VAR}={} is not an absolute path; give its full path",
            path.display()
        );
    }
    // Without O_NONBLOCK a named pipe there would hang an unattended run for ever; opened
    // so, it is refused by the check like any other file that is not a regular one.
    let file = platform::nonblocking(std::fs::OpenOptions::new().read(true))
        .open(path)
        .with_context(|| {
            format!(
                "could not read the passphrase file {} ({FILE_VAR})",
                path.display()
            )
        })?;
    PASSPHRASE_FILE.check_file(path, &file)?;
    let line = read_line(&mut &file, "the passphrase file")?;
    if line.is_empty() {
        bail!(
            "the passphrase file {} ({FILE_VAR}) starts with an empty line; put the passphrase on its first line",
            path.display()
        );
    }
    Ok(Some(line))
}

/// Standard input without std's buffer, which would keep a copy of what it read for as
/// long as the process runs.
fn raw_stdin() -> Result<std::fs::File> {
    platform::unbuffered_stdin().context("could not read standard input")
}

/// Reads up to a line break, a byte at a time (so nothing past the line is consumed and no
/// buffer but this one sees it), into a buffer sized up front that is wiped when dropped.
fn read_line(reader: &mut impl Read, from: &str) -> Result<Zeroizing<String>> {
    let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_LEN as usize));
    let mut byte = Zeroizing::new([0u8; 1]);
    loop {
        match reader.read(&mut *byte) {
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) if bytes.len() as u64 >= MAX_LEN => {
                bail!(
                    "the line read from {from} is longer than {MAX_LEN} bytes; nothing was changed"
                )
            }
            Ok(_) => bytes.push(byte[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).with_context(|| format!("could not read from {from}")),
        }
    }
    if bytes.last() == Some(&b'\r') {
        bytes.pop();
    }
    let text = std::str::from_utf8(&bytes)
        .with_context(|| format!("the line read from {from} is not UTF-8 text"))?;
    Ok(Zeroizing::new(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_loses_its_break_and_nothing_else() {
        assert_eq!(
            *read_line(&mut &b"p a s s\r\nrest"[..], "t").unwrap(),
            "p a s s"
        );
        assert_eq!(*read_line(&mut &b" x "[..], "t").unwrap(), " x ");
        assert_eq!(*read_line(&mut &b""[..], "t").unwrap(), "");
    }

    #[test]
    fn keys_are_edited_as_a_terminal_would_and_ctrl_c_cancels() {
        let typed = |keys: &[u8]| read_keys(&mut &keys[..], 0x7f).map(|l| (*l).clone());
        assert_eq!(typed(b"secret\r").unwrap(), "secret");
        assert_eq!(typed(b"secrex\x7ft\r").unwrap(), "secret");
        assert_eq!(typed("caf\u{e9}\x7fe\r".as_bytes()).unwrap(), "cafe");
        assert_eq!(typed(b"wrong\x15right\n").unwrap(), "right");
        assert!(typed(b"sec\x03ret\r").is_err());
        assert!(typed(b"\x04").is_err());
    }

    #[test]
    fn overlong_lines_are_refused_not_cut() {
        let long = vec![b'x'; MAX_LEN as usize + 1];
        assert!(read_line(&mut &long[..], "t").is_err());
        let fits = vec![b'x'; MAX_LEN as usize];
        assert_eq!(
            read_line(&mut &fits[..], "t").unwrap().len(),
            MAX_LEN as usize
        );
    }
}

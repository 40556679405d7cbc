//! Rendering variables as statements for each shell, with one quote function per shell.
//!
//! `process`: the shell process that ran `use`, whose key file is its own.

pub mod process;

use std::fmt::Write as _;

use anyhow::{Result, bail};
use clap::ValueEnum;

use crate::context::EnvVar;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Sh,
    Fish,
    #[value(alias = "pwsh")]
    Powershell,
    #[value(alias = "nushell")]
    Nu,
    Elvish,
}

impl Shell {
    /// The name `--shell` and `init` take.
    pub fn name(self) -> &'static str {
        match self {
            Self::Bash => "bash",
            Self::Zsh => "zsh",
            Self::Sh => "sh",
            Self::Fish => "fish",
            Self::Powershell => "powershell",
            Self::Nu => "nu",
            Self::Elvish => "elvish",
        }
    }

    /// The shell named by `$SHELL` (its last path component).
    pub fn detect() -> Result<Self> {
        let var = std::env::var_os("SHELL").unwrap_or_default();
        let path = std::path::Path::new(&var);
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let shell = match name {
            "bash" => Self::Bash,
            "zsh" => Self::Zsh,
            "sh" | "dash" | "ash" | "ksh" | "mksh" | "busybox" => Self::Sh,
            "fish" => Self::Fish,
            "pwsh" | "powershell" | "pwsh.exe" | "powershell.exe" => Self::Powershell,
            "nu" => Self::Nu,
            "elvish" => Self::Elvish,
            "" => bail!(
                "$SHELL is not set, so nomadctx cannot tell which shell to print for; pass --shell bash|zsh|sh|fish|powershell|nu|elvish"
            ),
            other => bail!(
                "$SHELL is {other:?}, a shell nomadctx does not know; pass --shell bash|zsh|sh|fish|powershell|nu|elvish"
            ),
        };
        Ok(shell)
    }
}

/// What `nomadctx init` writes a function for: a shell, or direnv's stdlib (an .envrc's
/// `use nomadctx NAME`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Integration {
    Shell(Shell),
    Direnv,
}

impl ValueEnum for Integration {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            Self::Shell(Shell::Bash),
            Self::Shell(Shell::Zsh),
            Self::Shell(Shell::Fish),
            Self::Shell(Shell::Powershell),
            Self::Direnv,
        ]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        match self {
            Self::Shell(shell) => shell.to_possible_value(),
            Self::Direnv => Some(
                clap::builder::PossibleValue::new("direnv")
                    .help("A `use_nomadctx` function for ~/.config/direnv/lib/"),
            ),
        }
    }
}

/// The shells clap_complete writes a completion script for.
pub const COMPLETION_SHELLS: [Shell; 5] = [
    Shell::Bash,
    Shell::Elvish,
    Shell::Fish,
    Shell::Powershell,
    Shell::Zsh,
];

/// One statement per line, each ending in `;`, values quoted for `shell`.
pub fn render(shell: Shell, vars: &[EnvVar]) -> String {
    if shell == Shell::Nu {
        return render_nu(vars);
    }
    let mut out = String::new();
    for (name, value) in vars {
        let _ = match (shell, value) {
            (Shell::Bash | Shell::Zsh, Some(v)) => {
                writeln!(out, "export {name}={};", quote_bash(v))
            }
            (Shell::Sh, Some(v)) => writeln!(out, "export {name}={};", quote_sh(v)),
            (Shell::Bash | Shell::Zsh | Shell::Sh, None) => writeln!(out, "unset {name};"),
            (Shell::Fish, Some(v)) => writeln!(out, "set -gx {name} {};", quote_fish(v)),
            // `set -e` of an unset variable fails, and fish's `set` keeps the last status,
            // so without `or true` a whole `| source` would report failure.
            (Shell::Fish, None) => writeln!(out, "set -e {name}; or true;"),
            (Shell::Powershell, Some(v)) => writeln!(out, "$Env:{name}={};", quote_powershell(v)),
            (Shell::Powershell, None) => {
                writeln!(out, "Remove-Item -ErrorAction SilentlyContinue Env:{name};")
            }
            (Shell::Elvish, Some(v)) => writeln!(out, "set-env {name} {};", quote_elvish(v)),
            (Shell::Elvish, None) => writeln!(out, "unset-env {name};"),
            (Shell::Nu, _) => unreachable!("nushell is rendered as JSON above"),
        };
    }
    out
}

/// `$'...'` with every byte outside a small safe set written as `\xHH`: no whitespace or
/// glob character survives, so unquoted `eval $(...)` cannot split or expand it.
pub fn quote_bash(value: &str) -> String {
    let mut out = String::from("$'");
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out.push('\'');
    out
}

/// POSIX sh has no `$'...'`: single quotes, with `'` as `'\''`. Whitespace stays raw, so sh
/// users must quote the substitution (`eval "$(nomadctx use prod --shell sh)"`).
pub fn quote_sh(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// fish single quotes know only `\'` and `\\`; control characters go outside the quotes as
/// `\xHH` escapes so a value never spans lines of `eval (nomadctx use prod)`.
pub fn quote_fish(value: &str) -> String {
    if value.is_empty() {
        return "''".to_owned();
    }
    let mut out = String::new();
    let mut quoted = false;
    for c in value.chars() {
        let control = c.is_ascii_control();
        // Control characters go outside the quotes, everything else inside.
        if control == quoted {
            out.push('\'');
            quoted = !quoted;
        }
        match c {
            c if control => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    if quoted {
        out.push('\'');
    }
    out
}

/// PowerShell single quotes: `'` and its typographic twins (which PowerShell also treats as
/// quotes) are doubled.
pub fn quote_powershell(value: &str) -> String {
    let mut out = String::from("'");
    for c in value.chars() {
        if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}') {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// Elvish single quotes: only `'` is special, written twice; anything else, a line break
/// included, stands for itself (`eval (nomadctx use prod | slurp)`).
pub fn quote_elvish(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// nushell: a JSON record for `from json | load-env`. load-env cannot unset, so variables
/// the context does not set become empty strings, which Nomad treats as unset.
fn render_nu(vars: &[EnvVar]) -> String {
    let record: serde_json::Map<String, serde_json::Value> = vars
        .iter()
        .map(|(name, value)| {
            let v = value.as_ref().map_or("", |v| v.as_str());
            ((*name).to_owned(), serde_json::Value::String(v.to_owned()))
        })
        .collect();
    let mut out = serde_json::to_string(&record).unwrap_or_default();
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    const HOSTILE: [&str; 9] = [
        "",
        "'",
        "\\",
        "a\nb",
        "$HOME",
        "`id`",
        "two  spaces",
        "prød ✓",
        "*",
    ];

    #[test]
    fn bash_quoting_has_no_raw_whitespace_or_quotes() {
        assert_eq!(quote_bash(""), "$''");
        assert_eq!(quote_bash("'"), "$'\\x27'");
        assert_eq!(quote_bash("\\"), "$'\\x5c'");
        assert_eq!(quote_bash("a\nb"), "$'a\\x0ab'");
        assert_eq!(quote_bash("$x"), "$'\\x24x'");
        assert_eq!(quote_bash("`id`"), "$'\\x60id\\x60'");
        assert_eq!(quote_bash("a b"), "$'a\\x20b'");
        assert_eq!(quote_bash("é"), "$'\\xc3\\xa9'");
        assert_eq!(quote_bash("https://n:4646"), "$'https://n:4646'");
        for v in HOSTILE {
            let q = quote_bash(v);
            assert!(
                !q.contains(char::is_whitespace) && !q.contains(['*', '?', '[', '`', '"']),
                "{q}"
            );
        }
    }

    #[test]
    fn sh_quoting() {
        assert_eq!(quote_sh(""), "''");
        assert_eq!(quote_sh("'"), r"''\'''");
        assert_eq!(quote_sh("\\ $x `id`"), "'\\ $x `id`'");
        assert_eq!(quote_sh("a\nb"), "'a\nb'");
        assert_eq!(quote_sh("é"), "'é'");
    }

    #[test]
    fn fish_quoting() {
        assert_eq!(quote_fish(""), "''");
        assert_eq!(quote_fish("'"), r"'\''");
        assert_eq!(quote_fish("\\"), r"'\\'");
        assert_eq!(quote_fish("a\nb"), r"'a'\x0a'b'");
        assert_eq!(quote_fish("\n"), r"\x0a");
        assert_eq!(quote_fish("$x `id` a  b"), "'$x `id` a  b'");
        assert_eq!(quote_fish("é"), "'é'");
        for v in HOSTILE {
            assert!(!quote_fish(v).contains('\n'));
        }
    }

    #[test]
    fn powershell_quoting() {
        assert_eq!(quote_powershell(""), "''");
        assert_eq!(quote_powershell("'"), "''''");
        assert_eq!(quote_powershell("\u{2019}"), "'\u{2019}\u{2019}'");
        assert_eq!(quote_powershell("\\ $x `id` a\nb é"), "'\\ $x `id` a\nb é'");
    }

    #[test]
    fn elvish_quoting() {
        assert_eq!(quote_elvish(""), "''");
        assert_eq!(quote_elvish("'"), "''''");
        assert_eq!(quote_elvish("\\"), "'\\'");
        assert_eq!(quote_elvish("a\nb"), "'a\nb'");
        assert_eq!(quote_elvish("$x `id` a  b"), "'$x `id` a  b'");
        assert_eq!(quote_elvish("é"), "'é'");
    }

    #[test]
    fn render_sets_and_unsets_with_one_statement_a_line() {
        let vars: Vec<EnvVar> = vec![
            ("NOMAD_ADDR", Some(Zeroizing::new("https://n:4646".into()))),
            ("NOMAD_TOKEN", None),
        ];
        assert_eq!(
            render(Shell::Bash, &vars),
            "export NOMAD_ADDR=$'https://n:4646';\nunset NOMAD_TOKEN;\n"
        );
        assert_eq!(
            render(Shell::Fish, &vars),
            "set -gx NOMAD_ADDR 'https://n:4646';\nset -e NOMAD_TOKEN; or true;\n"
        );
        assert_eq!(
            render(Shell::Powershell, &vars),
            "$Env:NOMAD_ADDR='https://n:4646';\nRemove-Item -ErrorAction SilentlyContinue Env:NOMAD_TOKEN;\n"
        );
        assert_eq!(
            render(Shell::Elvish, &vars),
            "set-env NOMAD_ADDR 'https://n:4646';\nunset-env NOMAD_TOKEN;\n"
        );
        assert_eq!(
            render(Shell::Nu, &vars),
            "{\"NOMAD_ADDR\":\"https://n:4646\",\"NOMAD_TOKEN\":\"\"}\n"
        );
    }
}

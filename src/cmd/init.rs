//! `nomadctx init`: a shell function so that `nomadctx use` changes the shell it runs in.
//!
//! A program cannot change its parent's variables, so `use` prints statements and the
//! function evaluates them, as `zoxide init` and `direnv hook` do. Help and version output
//! pass through untouched, and everything but `use` runs as it would without the function.

use anyhow::{Result, bail};

use crate::cli::InitArgs;
use crate::cmd::output::print;
use crate::shell::{Integration, Shell};

/// bash and zsh share one function; SHELL, RC and DEPTH (the shell's subshell counter) are
/// filled in by [`run`]. In a subshell (`eval "$(nomadctx use prod)"`, the form `add`
/// suggests) the function prints the statements for the shell above to evaluate: evaluated
/// there, they would be lost with the subshell. Not "stdout is not a terminal", which would
/// break `nomadctx use prod > /dev/null` in the shell itself.
const BASH_OR_ZSH: &str = r#"# nomadctx shell integration, from `eval "$(nomadctx init SHELL)"` in RC:
# `nomadctx use NAME`, `nomadctx use -` and `nomadctx use --unset` change this shell;
# `eval "$(nomadctx use NAME)"` works as it does without the integration.
nomadctx() {
    if [ "${1-}" = use ]; then
        local arg statements
        for arg in "$@"; do
            case $arg in -h | --help | -V | --version) command nomadctx "$@"; return ;; esac
        done
        if [ "${DEPTH:-0}" -gt 0 ]; then
            command nomadctx "$@" --shell SHELL
            return
        fi
        statements="$(command nomadctx "$@" --shell SHELL)" || return
        eval "$statements"
    else
        command nomadctx "$@"
    fi
}
"#;

const FISH: &str = r#"# nomadctx shell integration, from `nomadctx init fish | source` in ~/.config/fish/config.fish:
# `nomadctx use NAME`, `nomadctx use -` and `nomadctx use --unset` change this shell.
function nomadctx --description 'nomadctx; `use` changes this shell'
    if set -q argv[1]; and test $argv[1] = use
        and not contains -- -h $argv; and not contains -- --help $argv
        and not contains -- -V $argv; and not contains -- --version $argv
        command nomadctx $argv --shell fish | source
        return $pipestatus[1]
    end
    command nomadctx $argv
end
"#;

const POWERSHELL: &str = r#"# nomadctx shell integration, from `Invoke-Expression (& nomadctx init powershell | Out-String)` in $PROFILE:
# `nomadctx use NAME`, `nomadctx use -` and `nomadctx use --unset` change this shell.
function nomadctx {
    $exe = (Get-Command -Name nomadctx -CommandType Application -ErrorAction Stop | Select-Object -First 1).Source
    $passthrough = $args | Where-Object { $_ -in '-h', '--help', '-V', '--version' }
    if ($args.Count -gt 0 -and $args[0] -eq 'use' -and -not $passthrough) {
        $statements = & $exe @args --shell powershell
        if ($LASTEXITCODE -ne 0) { return }
        Invoke-Expression ($statements -join "`n")
    } else {
        & $exe @args
    }
}
"#;

const DIRENV: &str = r#"# use_nomadctx: `use nomadctx NAME` in an .envrc gives the directory that nomadctx context.
# Install with: nomadctx init direnv > ~/.config/direnv/lib/use_nomadctx.sh
use_nomadctx() {
    if [[ $# -ne 1 ]]; then
        log_error "use nomadctx: name one context, as in: use nomadctx prod"
        return 1
    fi
    local statements
    statements="$(nomadctx use --shell bash --shared-key-file -- "$1")" || return
    eval "$statements"
}
"#;

pub fn run(args: InitArgs) -> Result<()> {
    let posix = |shell: &str, rc: &str, depth: &str| {
        BASH_OR_ZSH
            .replace("SHELL", shell)
            .replace("RC", rc)
            .replace("DEPTH", depth)
    };
    print(&match args.shell {
        Integration::Shell(Shell::Bash) => posix("bash", "~/.bashrc", "BASH_SUBSHELL"),
        Integration::Shell(Shell::Zsh) => posix("zsh", "~/.zshrc", "ZSH_SUBSHELL"),
        Integration::Shell(Shell::Fish) => FISH.to_owned(),
        Integration::Shell(Shell::Powershell) => POWERSHELL.to_owned(),
        Integration::Direnv => DIRENV.to_owned(),
        Integration::Shell(other @ (Shell::Sh | Shell::Nu | Shell::Elvish)) => bail!(
            "there is no `init` function for {0}; run `use` through eval instead, e.g. eval \"$(nomadctx use NAME --shell {0})\"",
            other.name()
        ),
    })
}

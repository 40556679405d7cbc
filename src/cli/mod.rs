//! Every clap definition: the command-line surface and its help text. Here the commands;
//! their arguments in args.rs.

mod args;
mod hints;

pub use args::*;
pub use hints::parse;

use clap::{Parser, Subcommand};
use clap_complete::engine::{ArgValueCandidates, CompletionCandidate};

/// The variable the completion scripts set when they ask nomadctx for candidates.
pub use crate::settings::COMPLETE_VAR;

/// Named HashiCorp Nomad contexts, with the mTLS client key in the OS keychain.
///
/// Store each cluster once with `nomadctx add`, then switch a shell with
/// `eval "$(nomadctx use prod)"` (or `nomadctx use prod` after `nomadctx init`), or run one
/// command with `nomadctx exec prod -- nomad node status`. Each command has a page of its
/// own: man nomadctx-use, man nomadctx-exec, and so on.
///
/// Example: nomadctx add prod --from-dir ~/nomad_certs --address https://nomad.prod:4646
#[derive(Debug, Parser)]
#[command(
    name = "nomadctx",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Context to use when a command takes no NAME (overrides NOMADCTX_CONTEXT and the default).
    #[arg(long, global = true, value_name = "NAME", add = contexts())]
    pub context: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a context from an address and the CA, certificate and key files.
    ///
    /// Everything is checked before anything is written: the address, every PEM file, and
    /// that the key belongs to the certificate. The key goes into the OS keychain; the
    /// certificates are copied next to the config.
    ///
    /// Example: nomadctx add prod --address https://nomad.prod:4646 --ca nomad-ca.pem --cert cli.pem --key cli-key.pem
    Add(AddArgs),

    /// List contexts (`*` marks the one this shell uses).
    ///
    /// Example: nomadctx list --names
    List(ListArgs),

    /// Show one context; key and token bytes are never printed.
    ///
    /// Example: nomadctx show prod --json
    Show(ShowArgs),

    /// Change an existing context; options as for `add`.
    ///
    /// A new certificate and key replace the old ones together.
    ///
    /// Example: nomadctx set prod --namespace web --token-stdin < token.txt
    Set(SetArgs),

    /// Remove contexts, with their certificates and keychain items.
    ///
    /// Example: nomadctx remove staging old-dev
    #[command(visible_alias = "rm")]
    Remove(RemoveArgs),

    /// Rename a context: only its label changes (its keychain items and certificate files are
    /// keyed by its id), so nothing is copied or deleted.
    ///
    /// Example: nomadctx rename prod prod-eu
    Rename(RenameArgs),

    /// Show the default context, or set it.
    ///
    /// The default is used by commands without NAME when neither --context nor
    /// NOMADCTX_CONTEXT is set.
    ///
    /// Example: nomadctx default prod
    Default(DefaultArgs),

    /// Print the context this shell uses (--context, NOMADCTX_CONTEXT, then the default).
    ///
    /// Example: nomadctx current
    Current,

    /// Print shell statements that switch this shell to a context.
    ///
    /// The statements set every NOMAD_* variable the context sets, unset the others, and set
    /// NOMADCTX_CONTEXT (for prompts) and NOMADCTX_PREVIOUS (for `use -`). The client key is
    /// written to a 0600 file in a private runtime directory ($XDG_RUNTIME_DIR/nomadctx),
    /// named after the shell: the next `use` or `use --unset` in the same shell removes it,
    /// a child shell or direnv never does, and any `use` removes the files of shells that
    /// have exited.
    ///
    /// `use -` switches back to the context this shell used before. `use` without a name
    /// offers a picker on a terminal (fzf when installed, else a numbered menu; set
    /// NOMADCTX_IGNORE_FZF=1 for the menu). After `nomadctx init SHELL` the `eval` is done
    /// for you: `nomadctx use prod`, `nomadctx use -`, `nomadctx use --unset`.
    ///
    /// Example: eval "$(nomadctx use prod)"
    Use(UseArgs),

    /// Start a shell in a context: your $SHELL with the context's NOMAD_* variables set.
    ///
    /// The client key is handed over as for `exec` (in memory on Linux) and stays readable
    /// until the shell exits. NOMADCTX_CONTEXT is set for prompts and
    /// NOMADCTX_SHELL marks the shell, so starting another context shell inside it is refused
    /// unless you pass --force. `exit` returns to the shell you came from.
    ///
    /// Example: nomadctx shell prod
    Shell(ShellArgs),

    /// Run a command with a context's NOMAD_* variables set, in one context or many.
    ///
    /// Nomad's connection variables that the context does not set (a stale NOMAD_TOKEN, say)
    /// are removed; other NOMAD_* settings such as NOMAD_CLI_NO_COLOR stay. Where the client
    /// key is while the command runs: on Linux in a sealed in-memory file that never touches
    /// a disk; on macOS in a 0600 file in your per-user $TMPDIR, on Windows in a file in
    /// %TEMP%\nomadctx, each removed when the command ends (or by the next run if nomadctx
    /// was killed). Signals sent to nomadctx go to the command (on macOS except those a
    /// terminal sends it itself: SIGINT, SIGQUIT and the stop signals), and when the command
    /// stops (Ctrl-Z) nomadctx stops with it. Exits
    /// with the command's status (128+N when it is killed by signal N). With --all or --match
    /// the command runs once per context, one after another, each after a header line
    /// `==> NAME <==`; the exit status is the first non-zero one.
    ///
    /// Example: nomadctx exec staging -- nomad node status
    ///
    /// Example: nomadctx exec --match 'prod-*' -- nomad server members
    Exec(ExecArgs),

    /// Check a context: its certificates, then a live mutual-TLS request to the cluster.
    ///
    /// Asks GET /v1/agent/self and /v1/status/leader with the context's CA, client
    /// certificate, key and token, and prints the Nomad version, region and leader. Each
    /// failure (refused connection, plain HTTP, wrong CA, wrong server name, client
    /// certificate rejected, ACL 403) is explained with what to do. Exits 0 only on success.
    ///
    /// Example: nomadctx check prod
    Check(CheckArgs),

    /// Write the client certificate, its chain and key as a PKCS#12 bundle for a browser.
    ///
    /// The Nomad web UI over mTLS needs the client certificate in the browser; this makes
    /// the bundle `openssl pkcs12 -export` would, straight from the keychain, protected by a
    /// password asked on the terminal (or read with --password-stdin), written with mode 0600.
    ///
    /// Example: nomadctx export-p12 prod -o prod.p12
    #[command(name = "export-p12")]
    ExportP12(ExportP12Args),

    /// Check that the config, the certificate files and the keychain agree.
    ///
    /// Finds this configuration's keychain items and certificate files that belong to no
    /// context (left by a change that was killed or timed out half-way), contexts whose key,
    /// token or certificate file is missing, and keys that do not fit their certificate. It
    /// only ever looks at items that carry this configuration's store id: never another
    /// configuration's, never another program's. --repair prints its plan and asks on the
    /// terminal (--yes for scripts): it puts back a missing client key from an orphan that
    /// fits the certificate, and deletes orphans only when no context lacks anything an
    /// orphan could supply. Exits 0 when everything agrees (after repair).
    ///
    /// Example: nomadctx doctor --repair
    Doctor(DoctorArgs),

    /// Show where this configuration keeps keys and tokens, or choose another keychain.
    ///
    /// Without a subcommand: the keychain this configuration uses (config.toml's `keychain`,
    /// or NOMADCTX_KEYCHAIN for one command), whether it survives a reboot, whether it
    /// answers, and for the file store where it is and whether it is unlocked.
    ///
    /// The keychains: `secret-service` (the Linux desktop's: GNOME Keyring, KWallet,
    /// KeePassXC), `file` (encrypted files, for servers without a desktop; a passphrase once
    /// per session), `keyutils` (the Linux kernel keyring: no passphrase, lost at reboot),
    /// `macos` and `windows`.
    ///
    /// Example: nomadctx keychain use file --migrate
    Keychain(KeychainArgs),

    /// Unlock the file store for this session: ask the passphrase once.
    ///
    /// On Linux the store's identity then waits in the kernel's user keyring (readable by you
    /// only, gone at reboot) for --for, or config.toml's `unlock_for`, or 8h; `use`, `exec`,
    /// `shell`, `check` and `export-p12` need no passphrase until then. Without an unlock
    /// they ask on the terminal themselves (and unlock for the same time), and without a
    /// terminal they fail with "the file store is locked". On macOS and Windows there is no
    /// such cache: `unlock` only checks the passphrase, and each command that needs a secret
    /// asks for it (or reads NOMADCTX_PASSPHRASE_FILE).
    ///
    /// For unattended hosts NOMADCTX_PASSPHRASE_FILE names a file whose first line is the
    /// passphrase (yours, mode 0600); anyone who can read it can open every key.
    ///
    /// Example: nomadctx unlock --for 2h
    Unlock(UnlockArgs),

    /// Lock the file store: drop its unlocked identity from the kernel keyring now.
    ///
    /// Example: nomadctx lock
    Lock,

    /// Print a shell completion script.
    ///
    /// The script asks nomadctx for candidates on each TAB, so context names complete
    /// wherever a context is expected (read from the config file; the keychain is never
    /// touched). Install it once where your shell looks for completions.
    ///
    /// Example: nomadctx completions bash > ~/.local/share/bash-completion/completions/nomadctx
    Completions(CompletionsArgs),

    /// Print a shell function that makes `nomadctx use` change the current shell.
    ///
    /// With it, `nomadctx use prod`, `nomadctx use -` and `nomadctx use --unset` work without
    /// `eval`; every other command runs as before. Add the line for your shell to its startup
    /// file: bash `eval "$(nomadctx init bash)"` in ~/.bashrc, zsh `eval "$(nomadctx init
    /// zsh)"` in ~/.zshrc, fish `nomadctx init fish | source` in ~/.config/fish/config.fish,
    /// PowerShell `Invoke-Expression (& nomadctx init powershell | Out-String)` in $PROFILE.
    ///
    /// `nomadctx init direnv` prints instead a `use_nomadctx` function for direnv's lib
    /// directory, so that an .envrc can say `use nomadctx prod`.
    ///
    /// Example: eval "$(nomadctx init bash)"
    Init(InitArgs),

    /// Install man pages for nomadctx and each subcommand.
    ///
    /// Without DIR they go next to the binary, in BIN/../share/man/man1 (for `cargo install`,
    /// ~/.cargo/share/man/man1), where `man` looks for every directory on PATH, so that
    /// `man nomadctx-use` works with no MANPATH set.
    ///
    /// Example: nomadctx man
    Man(ManArgs),
}

/// Completes context names from the config file; never touches the keychain.
fn contexts() -> ArgValueCandidates {
    ArgValueCandidates::new(|| {
        let Ok(config) = crate::store::Store::from_env().and_then(|store| store.load()) else {
            return Vec::new();
        };
        config
            .contexts
            .iter()
            .map(|(name, ctx)| {
                CompletionCandidate::new(name).help(Some(ctx.address.clone().into()))
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}

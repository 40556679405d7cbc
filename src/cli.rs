//! Every clap definition: the command-line surface and its help text.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::engine::{ArgValueCandidates, CompletionCandidate};

use crate::inputs::Settings;
use crate::shell::{COMPLETION_SHELLS, Integration, Shell};

/// The variable the completion scripts set when they ask nomadctx for candidates.
pub const COMPLETE_VAR: &str = "NOMADCTX_COMPLETE";

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
    /// As with `exec`, the client key is handed over in memory and never touches a disk; it
    /// stays readable until the shell exits. NOMADCTX_CONTEXT is set for prompts and
    /// NOMADCTX_SHELL marks the shell, so starting another context shell inside it is refused
    /// unless you pass --force. `exit` returns to the shell you came from.
    ///
    /// Example: nomadctx shell prod
    Shell(ShellArgs),

    /// Run a command with a context's NOMAD_* variables set, in one context or many.
    ///
    /// Nomad's connection variables that the context does not set (a stale NOMAD_TOKEN, say)
    /// are removed; other NOMAD_* settings such as NOMAD_CLI_NO_COLOR stay. On Linux the
    /// client key is handed over in memory and never touches a disk. Signals sent to nomadctx
    /// go to the command, and when the command stops (Ctrl-Z) nomadctx stops with it. Exits
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

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct KeychainArgs {
    #[command(subcommand)]
    pub action: Option<KeychainAction>,
}

#[derive(Debug, Subcommand)]
pub enum KeychainAction {
    /// Choose the keychain this configuration keeps its secrets in (written to config.toml).
    ///
    /// With --migrate every key and token moves as one change: all are written to the new
    /// keychain and read back, then config.toml is switched, then the old items are deleted;
    /// a run killed at any step loses nothing, and the next `keychain use` clears what it
    /// left. Choosing `file` the first time creates the store and asks for its new passphrase
    /// twice on the terminal (or reads it once with --passphrase-stdin).
    ///
    /// Example: nomadctx keychain use file --migrate
    Use(KeychainUseArgs),

    /// Change the file store's passphrase (only its identity is encrypted again).
    ///
    /// Asks for the current passphrase and the new one twice on the terminal; with
    /// --passphrase-stdin reads two lines, the current passphrase and the new one.
    ///
    /// Example: nomadctx keychain passphrase
    Passphrase(PassphraseArgs),
}

#[derive(Debug, Args)]
pub struct KeychainUseArgs {
    /// The keychain: secret-service, file, keyutils, macos or windows.
    #[arg(value_parser = ["secret-service", "file", "keyutils", "macos", "windows"])]
    pub backend: String,

    /// Move every secret of this configuration from the keychain it uses now.
    #[arg(long)]
    pub migrate: bool,

    /// Switch although the contexts' secrets are in the old keychain and not moved: they
    /// then have to be stored again with `nomadctx set NAME --key FILE`.
    #[arg(long, conflicts_with = "migrate")]
    pub force: bool,

    /// Read the file store's passphrase from the first line of standard input.
    #[arg(long)]
    pub passphrase_stdin: bool,
}

#[derive(Debug, Args)]
pub struct PassphraseArgs {
    /// Read the current and the new passphrase as two lines of standard input.
    #[arg(long)]
    pub passphrase_stdin: bool,
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// How long the store stays unlocked: 8h, 30m, 90s, 2d, 1h30m.
    #[arg(long = "for", value_name = "DURATION", value_parser = crate::unlock_cache::parse_duration)]
    pub duration: Option<std::time::Duration>,

    /// Read the passphrase from the first line of standard input.
    #[arg(long)]
    pub passphrase_stdin: bool,
}

/// The settings a context holds; shared by `add` and `set`.
#[derive(Debug, Args, Default)]
pub struct ContextArgs {
    /// Nomad HTTP API address, an http(s) URL (NOMAD_ADDR).
    #[arg(long, value_name = "URL")]
    pub address: Option<String>,

    /// CA certificate or bundle in PEM (NOMAD_CACERT), or a directory of them (NOMAD_CAPATH).
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,

    /// Client certificate in PEM, optionally followed by intermediates (NOMAD_CLIENT_CERT).
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,

    /// Unencrypted private key of the client certificate in PEM; stored in the keychain. With
    /// `set` it may come alone: a new copy of the key of the stored certificate.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,

    /// Nomad region (NOMAD_REGION); an empty value clears it.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// Nomad namespace (NOMAD_NAMESPACE); an empty value clears it.
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,

    /// Name to expect in the server certificate, e.g. server.global.nomad
    /// (NOMAD_TLS_SERVER_NAME); an empty value clears it.
    #[arg(long, value_name = "NAME")]
    pub tls_server_name: Option<String>,

    /// Skip verification of the server certificate (NOMAD_SKIP_VERIFY); insecure.
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        default_missing_value = "true",
        hide_possible_values = true
    )]
    pub skip_verify: Option<bool>,

    /// Read an ACL token (NOMAD_TOKEN) from standard input; stored in the keychain.
    #[arg(long)]
    pub token_stdin: bool,
}

impl ContextArgs {
    pub fn into_settings(self) -> Settings {
        Settings {
            address: self.address,
            ca: self.ca,
            cert: self.cert,
            key: self.key,
            region: self.region,
            namespace: self.namespace,
            tls_server_name: self.tls_server_name,
            skip_verify: self.skip_verify,
            token_stdin: self.token_stdin,
        }
    }
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Name of the new context: letters, digits, '.', '_' and '-', at most 64.
    pub name: String,

    #[command(flatten)]
    pub settings: ContextArgs,

    /// Take the CA, CLI certificate and key from a directory made by the guide's cfssl
    /// commands (nomad-ca.pem, cli.pem, cli-key.pem) or by `nomad tls`
    /// (nomad-agent-ca.pem, REGION-cli-nomad.pem, REGION-cli-nomad-key.pem).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["ca", "cert", "key", "from_env"])]
    pub from_dir: Option<PathBuf>,

    /// Take everything from the current NOMAD_* variables (NOMAD_ADDR, NOMAD_CACERT,
    /// NOMAD_CAPATH, NOMAD_CLIENT_CERT, NOMAD_CLIENT_KEY, NOMAD_REGION, NOMAD_NAMESPACE,
    /// NOMAD_TLS_SERVER_NAME, NOMAD_SKIP_VERIFY, NOMAD_TOKEN); options given too win.
    #[arg(long)]
    pub from_env: bool,

    /// After the key is safely in the keychain, delete the key file it came from.
    ///
    /// A symlink, or a file with other hard links, is refused (the key would stay on disk).
    /// With the kernel keyring, which loses keys at reboot, it needs --force too.
    #[arg(long)]
    pub remove_key_file: bool,

    /// Replace an existing context of the same name (and let --remove-key-file delete the
    /// key file when the keychain is the kernel keyring).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// Context to change.
    #[arg(add = contexts())]
    pub name: String,

    #[command(flatten)]
    pub settings: ContextArgs,

    /// Remove the stored ACL token.
    #[arg(long, conflicts_with = "token_stdin")]
    pub clear_token: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print one name a line, for scripts and completions.
    #[arg(long, conflicts_with = "json")]
    pub names: bool,

    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Context to show (default: the current one).
    #[arg(add = contexts())]
    pub name: Option<String>,

    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// Contexts to remove.
    #[arg(required = true, add = contexts())]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RenameArgs {
    /// Context to rename.
    #[arg(add = contexts())]
    pub old: String,
    /// Its new name.
    pub new: String,
}

#[derive(Debug, Args)]
pub struct DefaultArgs {
    /// Context to make the default.
    #[arg(conflicts_with = "clear", add = contexts())]
    pub name: Option<String>,

    /// Clear the default.
    #[arg(long)]
    pub clear: bool,
}

#[derive(Debug, Args)]
pub struct UseArgs {
    /// Context to switch to; `-` for the previous one. Without it a terminal gets a picker.
    #[arg(add = contexts())]
    pub name: Option<String>,

    /// Shell to print for (default: from $SHELL).
    #[arg(long, value_enum)]
    pub shell: Option<Shell>,

    /// Unset every NOMAD_* variable and remove this shell's key file.
    #[arg(long, conflicts_with = "name")]
    pub unset: bool,

    /// Write the key to one file per context that repeated calls share (shared-NAME.pem in
    /// the runtime directory) instead of a new file per call. For direnv, which re-runs
    /// .envrc on every `cd` and cannot clean up; on by default inside an .envrc.
    #[arg(long, conflicts_with = "unset")]
    pub shared_key_file: bool,
}

#[derive(Debug, Args)]
pub struct ShellArgs {
    /// Context for the shell (default: --context, NOMADCTX_CONTEXT, then the default context).
    #[arg(add = contexts())]
    pub name: Option<String>,

    /// Start it even inside another nomadctx shell.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Context to run in (default: --context, NOMADCTX_CONTEXT, then the default context).
    #[arg(conflicts_with_all = ["all", "pattern"], add = contexts())]
    pub name: Option<String>,

    /// Run the command in every context, in name order.
    #[arg(long, conflicts_with = "pattern")]
    pub all: bool,

    /// Run the command in each context whose name matches PATTERN (`*`, `?`, `[a-z]`);
    /// quote it so the shell does not expand it.
    #[arg(long = "match", value_name = "PATTERN")]
    pub pattern: Option<String>,

    /// With --all or --match, leave out the `==> NAME <==` line before each run.
    #[arg(long)]
    pub no_headers: bool,

    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Context to check (default: the current one).
    #[arg(conflicts_with = "all", add = contexts())]
    pub name: Option<String>,

    /// Check every context and print a table.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct ExportP12Args {
    /// Context to export (default: the current one).
    #[arg(add = contexts())]
    pub name: Option<String>,

    /// File to write (mode 0600); without it the bundle goes to stdout, never to a terminal.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Read the bundle's password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Put back what can be put back and delete orphans, after showing the plan.
    #[arg(long)]
    pub repair: bool,

    /// Carry out the plan without asking (without a terminal, --repair needs it).
    #[arg(long, requires = "repair")]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    #[arg(value_parser = completion_shells())]
    pub shell: Shell,
}

/// bash, elvish, fish, powershell or zsh: the shells with a completion script.
fn completion_shells() -> impl TypedValueParser<Value = Shell> {
    PossibleValuesParser::new(COMPLETION_SHELLS.map(Shell::name))
        .map(|name| Shell::from_str(&name, false).expect("one of COMPLETION_SHELLS"))
}

#[derive(Debug, Args)]
pub struct InitArgs {
    #[arg(value_enum)]
    pub shell: Integration,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Directory to write the pages into (created if missing) [default: BIN/../share/man/man1].
    pub dir: Option<PathBuf>,
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

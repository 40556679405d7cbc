//! The arguments of each subcommand, with their help text.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Subcommand, ValueEnum};

use super::contexts;
use crate::change::inputs::Settings;
use crate::shell::{COMPLETION_SHELLS, Integration, Shell};

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

    /// Change the file store's passphrase; with --rekey, its identity too.
    ///
    /// Without --rekey only identity.age is encrypted again, with the new passphrase: the
    /// identity inside it stays, and so do the secrets, so an old copy of identity.age (a
    /// backup) still opens with the old passphrase, and opens every secret stored before and
    /// after the change. When the old passphrase may be known to someone, use --rekey.
    ///
    /// Asks for the current passphrase and the new one twice on the terminal; with
    /// --passphrase-stdin reads two lines, the current passphrase and the new one.
    ///
    /// Example: nomadctx keychain passphrase --rekey
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

    /// Make a new identity as well: every secret is encrypted to it again and config.toml's
    /// file_recipient follows, as one change that a crash at any step leaves whole (the next
    /// command finishes or undoes it); the old secret files are deleted once the new ones
    /// read back. The old identity.age and passphrase then open nothing stored from now on.
    #[arg(long)]
    pub rekey: bool,
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// How long the store stays unlocked: 8h, 30m, 90s, 2d, 1h30m.
    #[arg(long = "for", value_name = "DURATION", value_parser = crate::duration::parse_duration)]
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

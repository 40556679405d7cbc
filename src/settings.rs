//! Every `NOMADCTX_*` variable nomadctx reads or sets, named here and only here (as zoxide's
//! config.rs names every `_ZO_*`): messages, clap's help and the variables set for shells and
//! children all use these names. docs/reference.md has them in one table.

use std::ffi::OsString;

/// The configuration directory (config.toml, certificates), instead of the platform's.
pub const CONFIG_DIR_VAR: &str = "NOMADCTX_CONFIG_DIR";
/// Where the file store keeps identity.age and the secrets, instead of the data dir.
pub const DATA_DIR_VAR: &str = "NOMADCTX_DATA_DIR";
/// Where `use` writes key files, instead of `$XDG_RUNTIME_DIR/nomadctx`.
pub const RUNTIME_DIR_VAR: &str = "NOMADCTX_RUNTIME_DIR";
/// The keychain for one command, overriding config.toml's choice.
pub const KEYCHAIN_VAR: &str = "NOMADCTX_KEYCHAIN";
/// How long a keychain may take to answer, in seconds.
pub const KEYCHAIN_TIMEOUT_VAR: &str = "NOMADCTX_KEYCHAIN_TIMEOUT";
/// A file whose first line is the file store's passphrase (unattended hosts).
pub const PASSPHRASE_FILE_VAR: &str = "NOMADCTX_PASSPHRASE_FILE";
/// `plain` lets secrets cross the session bus unencrypted (Linux's Secret Service only).
#[cfg(target_os = "linux")]
pub const SECRET_SERVICE_SESSION_VAR: &str = "NOMADCTX_SECRET_SERVICE_SESSION";
/// Set by the completion scripts when they ask nomadctx for candidates.
pub const COMPLETE_VAR: &str = "NOMADCTX_COMPLETE";
/// Set: the picker does not use fzf even when it is installed.
pub const IGNORE_FZF_VAR: &str = "NOMADCTX_IGNORE_FZF";
/// Set by `use` (and `exec`, `shell`): the context a shell or command is in.
pub const CONTEXT_VAR: &str = "NOMADCTX_CONTEXT";
/// Set by `use`: the context before the last `use`, for `use -`.
pub const PREVIOUS_VAR: &str = "NOMADCTX_PREVIOUS";
/// Set inside `nomadctx shell` to its context, so that a second one is not nested by accident.
pub const SHELL_VAR: &str = "NOMADCTX_SHELL";
/// Debug builds only: the file store's scrypt work factor, for fast tests.
pub const SCRYPT_LOG_N_VAR: &str = "NOMADCTX_SCRYPT_LOG_N";
/// Debug builds only: fail at the named step of a change (crash tests).
pub const FAILPOINT_VAR: &str = "NOMADCTX_FAILPOINT";
/// Debug builds only: stop at the named step of a change until killed (crash tests).
pub const PAUSE_AT_VAR: &str = "NOMADCTX_PAUSE_AT";

/// A variable's value when it is set and not empty (an empty one counts as unset).
pub fn non_empty(var: &str) -> Option<OsString> {
    std::env::var_os(var).filter(|v| !v.is_empty())
}

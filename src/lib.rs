//! The modules behind the `nomadctx` binary. They are a library only so that the fuzz
//! targets under fuzz/ can reach the config, PEM and HTTP response parsers; there is no
//! stable API.

pub mod app;
pub mod change;
pub mod cli;
pub mod cmd;
pub mod context;
pub mod file_store;
pub mod fork;
pub mod import;
pub mod inputs;
#[cfg(target_os = "linux")]
pub mod kernel_keyring;
pub mod keychain;
pub mod keychain_move;
pub mod launch;
pub mod migrate;
pub mod output;
pub mod passphrase;
pub mod picker;
pub mod pkcs12;
pub mod platform;
pub mod probe;
pub mod process_guard;
pub mod runtime;
pub mod secret;
#[cfg(target_os = "linux")]
pub mod secret_service;
pub mod shell;
pub mod shell_process;
pub mod store;
pub mod supervise;
pub mod text;
pub mod tls;
pub mod trust;
pub mod unlock_cache;

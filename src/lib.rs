//! The modules behind the `nomadctx` binary. They are a library only so that the fuzz
//! targets under fuzz/ can reach the config and PEM parsers; there is no stable API.

pub mod cli;
pub mod cmd;
pub mod context;
pub mod import;
pub mod keychain;
pub mod picker;
pub mod runtime;
pub mod secret;
pub mod shell;
pub mod store;
pub mod tls;

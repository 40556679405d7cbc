//! What commands write to standard output: text, bytes, and the JSON view of a context.

use std::io::Write;

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::context::Context;

/// Writes to stdout, returning (rather than panicking on) a broken pipe.
pub fn print(text: &str) -> Result<()> {
    print_bytes(text.as_bytes())
}

/// Writes binary output to stdout, as `print` does text.
pub fn print_bytes(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .context("could not write to standard output")
}

/// What `list --json` and `show --json` print for one context: no secret bytes.
#[derive(Debug, Serialize)]
pub struct View<'a> {
    pub name: &'a str,
    #[serde(flatten)]
    pub context: &'a Context,
    /// Whether the context holds a CA bundle, a client certificate and key, an ACL token.
    pub ca_cert: bool,
    pub client_cert: bool,
    pub token: bool,
    pub current: bool,
    pub default: bool,
}

impl<'a> View<'a> {
    pub fn new(name: &'a str, context: &'a Context, current: bool, default: bool) -> Self {
        Self {
            name,
            context,
            ca_cert: context.has_ca() || context.ca_cert,
            client_cert: context.has_client() || context.client_cert,
            token: context.has_token() || context.token,
            current,
            default,
        }
    }
}

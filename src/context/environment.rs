//! The Nomad variables a context sets or unsets, and nomadctx's own.

use crate::settings::CONTEXT_VAR;
use zeroize::Zeroizing;

use super::Context;

/// Every variable the Nomad CLI reads (hashicorp/nomad `api.DefaultConfig()`); a context
/// either sets one or unsets it, so nothing leaks from the previous context.
pub const NOMAD_VARS: [&str; 11] = [
    "NOMAD_ADDR",
    "NOMAD_REGION",
    "NOMAD_NAMESPACE",
    "NOMAD_HTTP_AUTH",
    "NOMAD_CACERT",
    "NOMAD_CAPATH",
    "NOMAD_CLIENT_CERT",
    "NOMAD_CLIENT_KEY",
    "NOMAD_TLS_SERVER_NAME",
    "NOMAD_SKIP_VERIFY",
    "NOMAD_TOKEN",
];

/// What one variable becomes: a value to set, or `None` to unset it.
pub type EnvVar = (&'static str, Option<Zeroizing<String>>);

/// Paths and secrets that exist only once a context is materialised for a command.
#[derive(Debug, Default)]
pub struct Materials<'a> {
    pub ca_cert: Option<String>,
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
    pub token: Option<&'a str>,
}

/// The full set of variables for `name`: each of [`NOMAD_VARS`] plus [`CONTEXT_VAR`].
pub fn environment(name: &str, ctx: &Context, materials: &Materials) -> Vec<EnvVar> {
    let owned = |v: &Option<String>| v.as_deref().map(|s| Zeroizing::new(s.to_owned()));
    NOMAD_VARS
        .iter()
        .map(|&var| {
            let value = match var {
                "NOMAD_ADDR" => Some(Zeroizing::new(ctx.address.clone())),
                "NOMAD_REGION" => owned(&ctx.region),
                "NOMAD_NAMESPACE" => owned(&ctx.namespace),
                "NOMAD_CACERT" => owned(&materials.ca_cert),
                "NOMAD_CLIENT_CERT" => owned(&materials.client_cert),
                "NOMAD_CLIENT_KEY" => owned(&materials.client_key),
                "NOMAD_TLS_SERVER_NAME" => owned(&ctx.tls_server_name),
                "NOMAD_SKIP_VERIFY" => ctx.skip_verify.then(|| Zeroizing::new("true".into())),
                "NOMAD_TOKEN" => materials.token.map(|t| Zeroizing::new(t.to_owned())),
                _ => None,
            };
            (var, value)
        })
        .chain([(CONTEXT_VAR, Some(Zeroizing::new(name.to_owned())))])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_unsets_what_the_context_does_not_set() {
        let ctx = Context {
            address: "https://n:4646".into(),
            region: Some("eu".into()),
            ..Context::default()
        };
        let env = environment("prod", &ctx, &Materials::default());
        let get = |k: &str| {
            env.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.as_ref().map(|v| v.as_str().to_owned()))
        };
        assert_eq!(get("NOMAD_ADDR"), Some(Some("https://n:4646".into())));
        assert_eq!(get("NOMAD_REGION"), Some(Some("eu".into())));
        assert_eq!(get("NOMAD_TOKEN"), Some(None));
        assert_eq!(get("NOMAD_CAPATH"), Some(None));
        assert_eq!(get(CONTEXT_VAR), Some(Some("prod".into())));
        assert_eq!(env.len(), NOMAD_VARS.len() + 1);
    }
}

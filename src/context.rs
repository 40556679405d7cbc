//! The Context type, the rules its name and address obey, and the Nomad variables it sets.

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// One named Nomad cluster as stored in config.toml. The name is only the table's key: the
/// certificate files (`certs/ID/`) and the keychain items are keyed by the context's id and
/// a fresh version per change, so a rename (by command or by hand) moves nothing, and a
/// change writes new pieces beside the live ones before the config points at them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Context {
    /// Random and immutable. `None` only in a config written before ids, which the first
    /// command that needs a certificate or a secret migrates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_server_name: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub skip_verify: bool,
    /// Version of the CA bundle, `certs/ID/ca-VERSION.pem`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_version: Option<String>,
    /// Version of the client certificate, `certs/ID/client-VERSION.pem`, and of the keychain
    /// item that holds its key: the two are one piece.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_version: Option<String>,
    /// When the client certificate stops being valid (Unix seconds), kept so that `use`,
    /// `exec` and `list` can warn without parsing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert_not_after: Option<i64>,
    /// Version of the keychain item that holds the ACL token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_version: Option<String>,
    /// Before ids: `certs/NAME/ca.pem` held the CA bundle. Read for the migration only.
    #[serde(default, skip_serializing)]
    pub ca_cert: bool,
    /// Before ids: `certs/NAME/client.pem` and the keychain account `NAME/client-key`.
    #[serde(default, skip_serializing)]
    pub client_cert: bool,
    /// Before ids: the keychain account `NAME/token`.
    #[serde(default, skip_serializing)]
    pub token: bool,
}

impl Context {
    pub fn has_ca(&self) -> bool {
        self.ca_version.is_some()
    }

    pub fn has_client(&self) -> bool {
        self.client_version.is_some()
    }

    pub fn has_token(&self) -> bool {
        self.token_version.is_some()
    }

    /// The id; empty only for a legacy context, which commands that use it migrate first.
    pub fn id(&self) -> &str {
        self.id.as_deref().unwrap_or_default()
    }

    /// Written before ids (and migrated by the next command that needs its pieces).
    pub fn is_legacy(&self) -> bool {
        self.id.is_none()
    }
}

/// A fresh random id of `bytes` bytes as hex, from the operating system's generator: 8 for
/// contexts and piece versions, 16 for a store.
pub fn fresh_id(bytes: usize) -> Result<String> {
    use ring::rand::SecureRandom;
    let mut buf = vec![0u8; bytes];
    ring::rand::SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| anyhow::anyhow!("the operating system's random number generator failed"))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn is_false(b: &bool) -> bool {
    !*b
}

pub const MAX_NAME_LEN: usize = 64;

/// Names become file names and keychain accounts, so they are kept to a safe alphabet.
pub fn validate_name(name: &str) -> Result<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() {
        bail!("a context name cannot be empty");
    }
    if name.len() > MAX_NAME_LEN {
        bail!(
            "context name {:?} is {} characters long; the limit is {MAX_NAME_LEN}",
            name,
            name.chars().count()
        );
    }
    if let Some(bad) = name.chars().find(|c| !allowed(*c)) {
        bail!("context name {name:?} contains {bad:?}; use only letters, digits, '.', '_' and '-'");
    }
    if name.starts_with('-') {
        bail!("context name {name:?} starts with '-'; it would be read as an option");
    }
    if name == "." || name == ".." {
        bail!("context name {name:?} is reserved; choose another");
    }
    Ok(())
}

/// A context's address, parsed once as Nomad's Go client reads it: `add`, `set` and `import`
/// validate with it, and `check` connects with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// `https`: TLS; `http`: plain.
    pub tls: bool,
    /// A name or an IP literal, without the brackets of an IPv6 one.
    pub host: String,
    /// As given, else the scheme's: 443 or 80.
    pub port: u16,
    /// The path before Nomad's `/v1/...`, without a trailing `/`; usually empty.
    pub prefix: String,
}

impl Address {
    /// The address must be an absolute http(s) URL without credentials.
    pub fn parse(address: &str) -> Result<Self> {
        let hint = "give an http(s) URL such as https://nomad.example.com:4646";
        let Some((scheme, rest)) = address.split_once("://") else {
            bail!("address {address:?} is not a URL; {hint}");
        };
        if scheme != "https" && scheme != "http" {
            bail!("address {address:?} uses scheme {scheme:?}, not http or https; {hint}");
        }
        if let Some(bad) = address
            .chars()
            .find(|c| c.is_whitespace() || c.is_control())
        {
            bail!("address {address:?} contains {bad:?}; {hint}");
        }
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, after) = rest.split_at(authority_end);
        if authority.contains('@') {
            bail!(
                "address {address:?} carries credentials; remove them from the URL (HTTP basic auth is not stored by nomadctx)"
            );
        }
        let (host, port) = split_host_port(authority);
        let host = if let Some(v6) = host.strip_prefix('[') {
            v6.strip_suffix(']').filter(|ip| {
                !ip.is_empty()
                    && ip
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
            })
        } else {
            Some(host).filter(|host| {
                !host.is_empty()
                    && host
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            })
        };
        let Some(host) = host else {
            bail!("address {address:?} has no valid host name; {hint}");
        };
        let tls = scheme == "https";
        let port = match port {
            None if tls => 443,
            None => 80,
            Some(port) => match port.parse::<u16>() {
                Ok(port) if port != 0 => port,
                _ => bail!(
                    "address {address:?} has port {port:?}, which is not a number from 1 to 65535"
                ),
            },
        };
        let path = after.split(['?', '#']).next().unwrap_or_default();
        Ok(Self {
            tls,
            host: host.to_owned(),
            port,
            prefix: path.trim_end_matches('/').to_owned(),
        })
    }

    /// `host:port`, an IPv6 literal in brackets: for the Host header and for messages.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Whether `address` is one that [`Address::parse`] accepts.
pub fn validate_address(address: &str) -> Result<()> {
    Address::parse(address).map(|_| ())
}

fn split_host_port(authority: &str) -> (&str, Option<&str>) {
    let port_sep = if authority.starts_with('[') {
        authority.rfind("]:").map(|i| i + 1)
    } else {
        authority.rfind(':')
    };
    match port_sep {
        Some(i) => (&authority[..i], Some(&authority[i + 1..])),
        None => (authority, None),
    }
}

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

/// An environment variable that is set to something: an empty value counts as unset, as
/// shells treat `VAR=` in practice.
pub fn non_empty_env(var: &str) -> Option<std::ffi::OsString> {
    std::env::var_os(var).filter(|v| !v.is_empty())
}

/// The variable through which prompts and `exec` without a name learn the context.
pub const CONTEXT_VAR: &str = "NOMADCTX_CONTEXT";

/// The context a shell used before its last `use`, for `use -`.
pub const PREVIOUS_VAR: &str = "NOMADCTX_PREVIOUS";

/// Set inside `nomadctx shell` to its context, so a second one is not nested by accident.
pub const SHELL_VAR: &str = "NOMADCTX_SHELL";

/// Whether a context name matches a shell-style pattern: `*` any run, `?` one character,
/// `[abc]`, `[a-z]` and `[!a-z]` one character of (or not of) a set. Names are ASCII.
pub fn matches_pattern(pattern: &str, name: &str) -> bool {
    glob(pattern.as_bytes(), name.as_bytes())
}

/// Two-pointer matching: on a mismatch, retry from the last `*` one character later, so
/// the cost stays linear in the name for each `*` instead of exponential.
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut last_star: Option<(usize, usize)> = None;
    while n < name.len() {
        if pattern.get(p) == Some(&b'*') {
            p += 1;
            last_star = Some((p, n));
            continue;
        }
        match pattern.get(p).map(|_| element(pattern, p, name[n])) {
            Some((true, next)) => {
                p = next;
                n += 1;
            }
            _ => match last_star {
                Some((after_star, tried)) => {
                    p = after_star;
                    n = tried + 1;
                    last_star = Some((after_star, n));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

/// Whether the pattern element at `p` (not `*`) matches `c`, and where the next one starts.
fn element(pattern: &[u8], p: usize, c: u8) -> (bool, usize) {
    match pattern[p] {
        b'?' => (true, p + 1),
        b'[' => match class(&pattern[p + 1..], c) {
            Some((found, len)) => (found, p + 1 + len),
            // An unclosed `[` is an ordinary character, as in the shell.
            None => (c == b'[', p + 1),
        },
        literal => (literal == c, p + 1),
    }
}

/// Tests `c` against the bracket expression after a `[`; returns the outcome and the
/// length of the expression up to and including its `]`, or `None` when it is unclosed.
fn class(body: &[u8], c: u8) -> Option<(bool, usize)> {
    let negated = matches!(body.first(), Some(b'!' | b'^'));
    let start = usize::from(negated);
    // A `]` right after the opening is a member, not the end.
    let end = start + 1 + body.get(start + 1..)?.iter().position(|&b| b == b']')?;
    let members = &body[start..end];
    let mut found = false;
    let mut i = 0;
    while i < members.len() {
        if i + 2 < members.len() && members[i + 1] == b'-' {
            found |= (members[i]..=members[i + 2]).contains(&c);
            i += 3;
        } else {
            found |= members[i] == c;
            i += 1;
        }
    }
    Some((found != negated, end + 1))
}

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
    fn patterns_match_like_the_shell() {
        let cases = [
            ("prod-*", "prod-eu", true),
            ("prod-*", "prod-", true),
            ("prod-*", "staging", false),
            ("*", "anything", true),
            ("*-eu", "prod-eu", true),
            ("*-eu", "prod-us", false),
            ("p?od", "prod", true),
            ("p?od", "pod", false),
            ("[ps]*", "staging", true),
            ("[!ps]*", "staging", false),
            ("[a-c]x", "bx", true),
            ("[a-c]x", "dx", false),
            ("[]x]", "]", true),
            ("a[b", "a[b", true),
            ("prod", "prod", true),
            ("prod", "prod2", false),
            ("*a*b*", "xaybz", true),
            ("", "", true),
            ("", "x", false),
            ("**", "", true),
            ("a*", "b", false),
        ];
        for (pattern, name, expected) in cases {
            assert_eq!(
                matches_pattern(pattern, name),
                expected,
                "{pattern} vs {name}"
            );
        }
        // Many stars against a long name that almost matches must not take exponential time.
        let name = "a".repeat(64);
        assert!(!matches_pattern("*a*a*a*a*a*a*a*a*a*a*b", &name));
    }

    #[test]
    fn names_follow_the_documented_alphabet() {
        for ok in ["prod", "eu-west_1.staging", "A", &"x".repeat(64)] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-rf",
            "../x",
            "a/b",
            "a b",
            "prød",
            "a\nb",
            ".",
            "..",
            &"x".repeat(65),
        ] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn addresses_must_be_http_urls() {
        for ok in [
            "https://127.0.0.1:4646",
            "http://localhost:4646",
            "https://nomad.example.com",
            "https://[::1]:4646/",
            "https://nomad.prod:4646/ui",
        ] {
            assert!(validate_address(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "nomad.prod:4646",
            "ftp://x",
            "https://",
            "https://:4646",
            "https://a b",
            "https://host:99999",
            "https://host:0",
            "https://host:abc",
            "https://user:pw@host",
            "https://[zz]:1",
        ] {
            assert!(validate_address(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn addresses_parse_into_their_parts() {
        let parts = |a: &str| {
            let a = Address::parse(a).unwrap();
            let authority = a.authority();
            (a.tls, a.host, a.port, a.prefix, authority)
        };
        let own = |s: &str| s.to_owned();
        assert_eq!(
            parts("https://nomad.prod:4646/base/"),
            (
                true,
                own("nomad.prod"),
                4646,
                own("/base"),
                own("nomad.prod:4646")
            )
        );
        assert_eq!(
            parts("http://[::1]:4646"),
            (false, own("::1"), 4646, own(""), own("[::1]:4646"))
        );
        assert_eq!(parts("https://nomad").2, 443);
        assert_eq!(parts("http://nomad/").2, 80);
        assert_eq!(parts("https://[::1]").2, 443);
        assert_eq!(parts("https://n:1/ui?x=1#top").3, "/ui");
        assert_eq!(parts("https://n:1?x=/y").3, "");
        let err = |a: &str| format!("{:#}", Address::parse(a).unwrap_err());
        assert!(err("nomad:4646").contains("is not a URL"));
        assert!(err("ftp://n").contains("scheme \"ftp\""));
        assert!(err("https://n:4646x").contains("not a number from 1 to 65535"));
        assert!(err("https://n:").contains("not a number from 1 to 65535"));
        assert!(err("https://u@n").contains("credentials"));
        assert!(err("https://[::1").contains("no valid host name"));
        assert!(err("https://n\u{1b}[2J").contains("contains"));
    }

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

//! What `add` and `set` take from the command line: the settings given, and the
//! certificate and key files and the token from standard input, read and checked before a
//! change is made.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use rustls_pki_types::CertificateDer;

use crate::change::{Change, Update};
use crate::context::{Context, validate_address};
use crate::secret::{Secret, TokenProblem, parse_token};
use crate::store::Store;
use crate::text::warn;
use crate::tls;

/// A context's settings as given (`--address`, `--ca`, ...), or found by `add --from-dir`
/// and `--from-env`; `None` leaves a setting as it is.
#[derive(Debug, Default, Clone)]
pub struct Settings {
    pub address: Option<String>,
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub region: Option<String>,
    pub namespace: Option<String>,
    pub tls_server_name: Option<String>,
    pub skip_verify: Option<bool>,
    /// Read the ACL token from standard input.
    pub token_stdin: bool,
}

/// Certificates as parsed, with the file they came from (for messages).
pub type Certs = (Vec<CertificateDer<'static>>, PathBuf);

/// Files and secrets from the command line, read and checked before anything is written.
#[derive(Debug, Default)]
pub struct Inputs {
    pub ca: Option<Certs>,
    pub client: Option<(Certs, Secret)>,
    pub token: Option<Secret>,
}

impl Inputs {
    /// `stored_cert` is the client certificate the context already holds, if any: `set NAME
    /// --key FILE` alone pairs a new key with it (as after a reboot emptied the kernel
    /// keyring).
    pub fn read(name: &str, settings: &Settings, stored_cert: Option<&Path>) -> Result<Self> {
        let in_context = |e: anyhow::Error| e.context(format!("context {name:?}"));
        let ca = settings
            .ca
            .as_ref()
            .map(|path| -> Result<Certs> {
                let certs = tls::pem::read_ca(path)?;
                tls::checks::check_ca_bundle(&certs, path)?;
                Ok((certs, path.clone()))
            })
            .transpose()
            .map_err(in_context)?;
        let cert_path = settings
            .cert
            .as_deref()
            .or(stored_cert.filter(|_| settings.key.is_some()));
        let client = match (cert_path, &settings.key) {
            (Some(cert_path), Some(key_path)) => {
                let cert_bytes =
                    tls::pem::read_input(cert_path, "certificate file").map_err(in_context)?;
                let certs =
                    tls::pem::parse_certificates(&cert_bytes, cert_path, "certificate file")
                        .map_err(in_context)?;
                let key_bytes = tls::pem::read_input(key_path, "key file").map_err(in_context)?;
                let key = tls::pem::parse_private_key(&key_bytes, key_path).map_err(in_context)?;
                tls::pem::check_key_matches(&certs, &key, cert_path, key_path)
                    .map_err(in_context)?;
                Some(((certs, cert_path.to_path_buf()), key))
            }
            (None, None) => None,
            (None, Some(_)) => bail!(
                "context {name:?}: --key needs --cert, since the context holds no client certificate to pair it with"
            ),
            (Some(_), None) => bail!("context {name:?}: --cert and --key go together; give both"),
        };
        let token = settings.token_stdin.then(|| read_token(name)).transpose()?;
        Ok(Self { ca, client, token })
    }

    /// Checks the client certificate that the context will hold against the CA it will
    /// hold, each either new or already stored, and returns the certificate's expiry.
    pub fn check_chain(
        &self,
        store: &Store,
        name: &str,
        before: Option<&Context>,
    ) -> Result<Option<i64>> {
        if self.ca.is_none() && self.client.is_none() {
            return Ok(before.and_then(|b| b.client_cert_not_after));
        }
        let stored = |path: Option<PathBuf>| -> Result<Option<Certs>> {
            let Some(path) = path else {
                return Ok(None);
            };
            Ok(Some((
                tls::pem::read_certificates(&path, "stored certificate")?,
                path,
            )))
        };
        let ca = match &self.ca {
            Some(ca) => Some(ca.clone()),
            None => stored(before.and_then(|b| store.ca_file(b)))?,
        };
        let client = match &self.client {
            Some((certs, _)) => Some(certs.clone()),
            None => stored(before.and_then(|b| store.client_cert_file(b)))?,
        };
        let Some((certs, cert_path)) = client else {
            return Ok(None);
        };
        let ca = ca.as_ref().map(|(c, p)| (c.as_slice(), p.as_path()));
        let not_after = tls::checks::check_client_certificate(&certs, &cert_path, ca)
            .with_context(|| format!("context {name:?}"))?;
        if self.client.is_some()
            && let Some(agent) = certs.first().and_then(tls::details::agent_identity)
        {
            warn(&format!(
                "context {name:?}: the certificate {} names {agent}, a Nomad agent's identity: it is a server or client agent's certificate, not one for the CLI; use the guide's CLI certificate (cli.pem, from `nomad tls cert create -cli` or cfssl's client profile)",
                cert_path.display()
            ));
        }
        if let Some(warning) = tls::expiry::expiry_warning(name, not_after) {
            warn(&warning);
        }
        Ok(Some(not_after))
    }
}

/// Certificates with a plain http:// address are almost always a mistake.
pub fn warn_plain_http(name: &str, context: &Context, update: &Update) {
    let certs = matches!(update.ca, Change::Put(_)) || matches!(update.client, Change::Put(_));
    if context.address.starts_with("http://") && (certs || context.has_ca() || context.has_client())
    {
        warn(&format!(
            "context {name:?} has certificates but its address {} is plain http://; Nomad with mTLS needs https://",
            context.address
        ));
    }
}

/// An ACL token from stdin: surrounding whitespace dropped, and it must be one line of text.
fn read_token(name: &str) -> Result<Secret> {
    const MAX_TOKEN: usize = 64 * 1024;
    // Sized for the most that is read, so the buffer never moves and leaves a copy behind.
    let mut raw = Vec::with_capacity(MAX_TOKEN + 1);
    let read = std::io::stdin()
        .lock()
        .take(MAX_TOKEN as u64 + 1)
        .read_to_end(&mut raw);
    let raw = Secret::new(raw);
    read.map_err(|e| {
        anyhow!("context {name:?}: could not read the ACL token from standard input: {e}")
    })?;
    if raw.expose().len() > MAX_TOKEN {
        bail!(
            "context {name:?}: standard input holds more than {} KiB, too much for an ACL token; pipe in the token alone",
            MAX_TOKEN / 1024
        );
    }
    parse_token(raw.expose()).map_err(|problem| match problem {
        TokenProblem::Empty => anyhow!(
            "context {name:?}: --token-stdin read no token; pipe it in, e.g. `nomadctx add {name} ... --token-stdin < token.txt`"
        ),
        TokenProblem::NotOneLine => anyhow!(
            "context {name:?}: the ACL token read from standard input {problem}; pipe in the token alone"
        ),
    })
}

/// Copies the plain settings given on the command line into `context`; an empty string
/// clears an optional one.
pub fn apply_settings(context: &mut Context, settings: &Settings) {
    let set = |field: &mut Option<String>, given: &Option<String>| {
        if let Some(value) = given {
            *field = (!value.is_empty()).then(|| value.clone());
        }
    };
    if let Some(address) = &settings.address {
        context.address = address.clone();
    }
    set(&mut context.region, &settings.region);
    set(&mut context.namespace, &settings.namespace);
    set(&mut context.tls_server_name, &settings.tls_server_name);
    if let Some(skip) = settings.skip_verify {
        context.skip_verify = skip;
    }
}

/// Checks that hold for the finished context, whether built by `add` or changed by `set`.
pub fn validate_context(name: &str, context: &Context) -> Result<()> {
    validate_address(&context.address).with_context(|| format!("context {name:?}"))?;
    for (flag, value) in [
        ("--region", &context.region),
        ("--namespace", &context.namespace),
        ("--tls-server-name", &context.tls_server_name),
    ] {
        if let Some(v) = value
            && v.chars().any(char::is_control)
        {
            bail!("context {name:?}: {flag} {v:?} contains control characters");
        }
    }
    Ok(())
}

//! `nomadctx check`: validate a context's material and make a live mutual-TLS request to
//! its cluster, turning each way it can fail into its cause and remedy.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore,
};
use zeroize::Zeroizing;

use crate::cli::CheckArgs;
use crate::cmd::{App, Secrets, print};
use crate::context::{Context, split_host_port};
use crate::keychain::Keychain;
use crate::tls;

const TIMEOUT: Duration = Duration::from_secs(5);

pub fn run(app: &App, args: CheckArgs) -> Result<()> {
    let config = app.load()?;
    let keychain = app.keychain(&config)?;
    if !args.all {
        let (name, _) = app.resolve(&config, args.name.as_deref())?;
        let report = check(app, &keychain, &name, config.get(&name)?)?;
        return print(&format!(
            "context {name:?}: OK, {} answered over {}\n  nomad version  {}\n  region         {}\n  leader         {}\n",
            config.get(&name)?.address,
            if report.tls {
                "mutual TLS"
            } else {
                "plain HTTP"
            },
            report.version,
            report.region,
            report.leader
        ));
    }
    let mut failed = 0;
    let mut out = String::from("NAME\tRESULT\n");
    for (name, context) in &config.contexts {
        match check(app, &keychain, name, context) {
            Ok(report) => out.push_str(&format!(
                "{name}\tOK (Nomad {}, region {})\n",
                report.version, report.region
            )),
            Err(e) => {
                failed += 1;
                out.push_str(&format!("{name}\tFAILED: {e:#}\n"));
            }
        }
    }
    print(&out)?;
    if failed > 0 {
        bail!(
            "{failed} of {} contexts failed the check",
            config.contexts.len()
        );
    }
    Ok(())
}

/// What a reachable cluster told us.
#[derive(Debug)]
struct Report {
    tls: bool,
    version: String,
    region: String,
    leader: String,
}

fn check(app: &App, keychain: &Keychain, name: &str, context: &Context) -> Result<Report> {
    let in_context = |e: anyhow::Error| anyhow!("context {name:?}: {e:#}");
    let (context, secrets) = Secrets::fetch(&app.store, keychain, name, context.clone())?;
    let context = &context;
    let target = Target::parse(&context.address).map_err(in_context)?;
    let ca_path = app.store.ca_file(context);
    let ca = ca_path
        .as_deref()
        .map(tls::read_ca)
        .transpose()
        .map_err(in_context)?;
    let client = if let Some(path) = app.store.client_cert_file(context) {
        let certs = tls::read_certificates(&path, "stored certificate").map_err(in_context)?;
        let ca_ref = ca.as_deref().zip(ca_path.as_deref());
        let not_after = tls::check_client_certificate(&certs, &path, ca_ref).map_err(in_context)?;
        if let Some(warning) = tls::expiry_warning(name, not_after) {
            crate::cmd::warn(&warning);
        }
        Some(certs)
    } else {
        None
    };
    let token = secrets.token_str(name)?;
    let key = secrets
        .key
        .as_ref()
        .map(|key| {
            tls::private_key_der(key).map(|der| der.clone_key()).ok_or_else(|| {
                anyhow!("the client key in the keychain is damaged; store it again with `nomadctx set {name} --cert FILE --key FILE`")
            })
        })
        .transpose()
        .map_err(in_context)?;
    let explain =
        |e: anyhow::Error| anyhow!("context {name:?}: {}", explain(&e, name, &target, context));
    let tls_config = target
        .tls
        .then(|| client_config(context, ca.as_deref(), client, key))
        .transpose()
        .map_err(explain)?
        .map(Arc::new);
    let get = |path: &str| {
        request(
            &target,
            tls_config.clone(),
            context.tls_server_name.as_deref(),
            path,
            token,
        )
    };
    let (status, body) = get("/v1/agent/self").map_err(explain)?;
    let (version, region) = match status {
        200 => agent_facts(&body),
        403 => bail!(
            "context {name:?}: {} refused the request with HTTP 403: the ACL token is {}; store a valid one with `nomadctx set {name} --token-stdin`",
            context.address,
            if token.is_some() {
                "not allowed to read the agent (or is wrong)"
            } else {
                "missing"
            }
        ),
        _ => (
            "unknown".to_owned(),
            context
                .region
                .clone()
                .unwrap_or_else(|| "unknown".to_owned()),
        ),
    };
    let (leader_status, leader) = get("/v1/status/leader").map_err(explain)?;
    if status != 200 && leader_status != 200 {
        bail!(
            "context {name:?}: {} answered HTTP {status} to /v1/agent/self and HTTP {leader_status} to /v1/status/leader; is this a Nomad HTTP API address?",
            context.address
        );
    }
    let leader = String::from_utf8_lossy(&leader)
        .trim()
        .trim_matches('"')
        .to_owned();
    Ok(Report {
        tls: target.tls,
        version,
        region,
        leader: if leader.is_empty() {
            "none".to_owned()
        } else {
            leader
        },
    })
}

fn agent_facts(body: &[u8]) -> (String, String) {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let config = &json["config"];
    let version = config["Version"]["Version"]
        .as_str()
        .unwrap_or("unknown")
        .to_owned();
    let region = config["Region"].as_str().unwrap_or("unknown").to_owned();
    (version, region)
}

/// Host, port and path prefix of a context's address.
#[derive(Debug)]
struct Target {
    tls: bool,
    host: String,
    port: u16,
    prefix: String,
}

impl Target {
    fn parse(address: &str) -> Result<Self> {
        let (scheme, rest) = address
            .split_once("://")
            .ok_or_else(|| anyhow!("address {address:?} is not a URL"))?;
        let tls = scheme == "https";
        let (authority, prefix) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (host, port) = split_host_port(authority);
        let port = match port {
            Some(port) => port
                .parse()
                .with_context(|| format!("address {address:?} has a bad port"))?,
            None if tls => 443,
            None => 80,
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        Ok(Self {
            tls,
            host,
            port,
            prefix: prefix.trim_end_matches('/').to_owned(),
        })
    }
}

fn client_config(
    context: &Context,
    ca: Option<&[CertificateDer<'static>]>,
    client: Option<Vec<CertificateDer<'static>>>,
    key: Option<PrivateKeyDer<'static>>,
) -> Result<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = if context.skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(SkipVerify(provider)))
    } else {
        let mut roots = RootCertStore::empty();
        let Some(ca) = ca else {
            bail!("it has no CA certificate to verify the server with; add one with `--ca FILE`");
        };
        roots.add_parsable_certificates(ca.iter().cloned());
        builder.with_root_certificates(roots)
    };
    Ok(match (client, key) {
        (Some(certs), Some(key)) => builder.with_client_auth_cert(certs, key)?,
        _ => builder.with_no_client_auth(),
    })
}

/// One GET over a fresh connection; returns the status and the (de-chunked) body.
fn request(
    target: &Target,
    tls_config: Option<Arc<ClientConfig>>,
    server_name: Option<&str>,
    path: &str,
    token: Option<&str>,
) -> Result<(u16, Vec<u8>)> {
    let addr = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .with_context(|| format!("could not resolve {}", target.host))?
        .next()
        .ok_or_else(|| anyhow!("{} has no address", target.host))?;
    let tcp = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    tcp.set_read_timeout(Some(TIMEOUT))?;
    tcp.set_write_timeout(Some(TIMEOUT))?;
    // Holds the ACL token, so it is wiped when dropped.
    let mut request = Zeroizing::new(format!(
        "GET {}{path} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: nomadctx/{}\r\nAccept: application/json\r\nConnection: close\r\n",
        target.prefix,
        target.host,
        target.port,
        env!("CARGO_PKG_VERSION")
    ));
    if let Some(token) = token {
        request.push_str("X-Nomad-Token: ");
        request.push_str(token);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    let mut raw = Vec::new();
    match tls_config {
        Some(config) => {
            let name = ServerName::try_from(server_name.unwrap_or(&target.host).to_owned())
                .map_err(|_| {
                    anyhow!(
                        "{:?} is not a valid TLS server name",
                        server_name.unwrap_or(&target.host)
                    )
                })?;
            let conn = rustls::ClientConnection::new(config, name)?;
            let mut stream = rustls::StreamOwned::new(conn, tcp);
            stream.write_all(request.as_bytes())?;
            read_all(&mut stream, &mut raw)?;
        }
        None => {
            let mut tcp = tcp;
            tcp.write_all(request.as_bytes())?;
            read_all(&mut tcp, &mut raw)?;
        }
    }
    parse_response(&raw)
}

/// Reads until the peer closes; a TLS peer that closes without close_notify is fine once
/// we have a response.
fn read_all(stream: &mut impl Read, out: &mut Vec<u8>) -> std::io::Result<()> {
    match stream.read_to_end(out) {
        Err(e) if e.kind() == ErrorKind::UnexpectedEof && !out.is_empty() => Ok(()),
        other => other.map(|_| ()),
    }
}

fn parse_response(raw: &[u8]) -> Result<(u16, Vec<u8>)> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow!("the server's answer is not HTTP"))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .filter(|_| head.starts_with("HTTP/"))
        .ok_or_else(|| anyhow!("the server's answer is not HTTP"))?;
    let body = &raw[split + 4..];
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    Ok((
        status,
        if chunked {
            dechunk(body)
        } else {
            body.to_vec()
        },
    ))
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = body.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&body[..eol])
                .split(';')
                .next()
                .unwrap_or("")
                .trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 || body.len() < eol + 2 + size {
            break;
        }
        out.extend_from_slice(&body[eol + 2..eol + 2 + size]);
        body = &body[(eol + 4 + size).min(body.len())..];
    }
    out
}

/// Maps a failed request to one sentence with its cause and remedy.
fn explain(err: &anyhow::Error, name: &str, target: &Target, context: &Context) -> String {
    let addr = format!("{}:{}", target.host, target.port);
    let io = err.chain().find_map(|c| c.downcast_ref::<std::io::Error>());
    let rustls_err = err
        .chain()
        .find_map(|c| c.downcast_ref::<rustls::Error>())
        .or_else(|| {
            io.and_then(|e| e.get_ref())
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
    let region = context.region.as_deref().unwrap_or("global");
    match (rustls_err, io.map(std::io::Error::kind)) {
        (Some(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)), _) => format!(
            "the server at {addr} presented a certificate that this context's CA did not sign; give the CA of this cluster with `nomadctx set {name} --ca FILE`"
        ),
        (
            Some(rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
                expected,
                presented,
            })),
            _,
        ) => format!(
            "the server's certificate is for {} and not for {:?}; set the name it holds, e.g. `nomadctx set {name} --tls-server-name server.{region}.nomad`",
            presented
                .iter()
                .map(|p| plain_name(p))
                .collect::<Vec<_>>()
                .join(", "),
            expected.to_str()
        ),
        (Some(rustls::Error::InvalidCertificate(CertificateError::NotValidForName)), _) => format!(
            "the server's certificate does not name {:?}; set the name it holds with `nomadctx set {name} --tls-server-name server.{region}.nomad`",
            target.host
        ),
        (Some(rustls::Error::InvalidCertificate(other)), _) => {
            format!("the server's certificate was refused: {other:?}")
        }
        (Some(rustls::Error::AlertReceived(alert)), _)
            if matches!(
                alert,
                AlertDescription::CertificateRequired
                    | AlertDescription::UnknownCA
                    | AlertDescription::BadCertificate
                    | AlertDescription::CertificateUnknown
                    | AlertDescription::DecryptError
            ) =>
        {
            format!(
                "the server at {addr} rejected our client certificate (TLS alert {alert:?}); it expects a certificate from its own CA: check --cert/--key, or that the cluster uses this CA"
            )
        }
        (Some(rustls::Error::InvalidMessage(_)), _) => format!(
            "the server at {addr} does not speak TLS (plain HTTP?); use an http:// address, or enable TLS on the agent"
        ),
        (Some(other), _) => format!("TLS with {addr} failed: {other}"),
        (None, Some(ErrorKind::ConnectionRefused)) => format!(
            "connection to {addr} was refused; is Nomad running there and is the address right?"
        ),
        (None, Some(ErrorKind::TimedOut | ErrorKind::WouldBlock)) => format!(
            "no answer from {addr} within {} seconds; check the address and any firewall",
            TIMEOUT.as_secs()
        ),
        (None, Some(ErrorKind::ConnectionReset | ErrorKind::UnexpectedEof)) if target.tls => {
            format!(
                "the server at {addr} closed the connection during TLS; it may want a client certificate this context lacks, or not speak TLS"
            )
        }
        _ => format!("request to {addr} failed: {err:#}"),
    }
}

/// `DnsName("a.b")` or `IpAddress(1.2.3.4)` as rustls shows them, reduced to the name.
fn plain_name(presented: &str) -> &str {
    presented.split_once('(').map_or(presented, |(_, rest)| {
        rest.trim_end_matches(')').trim_matches('"')
    })
}

/// `skip_verify` contexts: the server's certificate is not checked, as NOMAD_SKIP_VERIFY does.
#[derive(Debug)]
struct SkipVerify(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for SkipVerify {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_from_addresses() {
        let t = Target::parse("https://nomad.prod:4646/base/").unwrap();
        assert_eq!(
            (t.tls, t.host.as_str(), t.port, t.prefix.as_str()),
            (true, "nomad.prod", 4646, "/base")
        );
        let t = Target::parse("http://[::1]:4646").unwrap();
        assert_eq!((t.tls, t.host.as_str(), t.port), (false, "::1", 4646));
        assert_eq!(Target::parse("https://nomad").unwrap().port, 443);
    }

    #[test]
    fn chunked_bodies_are_joined() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response(raw).unwrap(), (200, b"abcde".to_vec()));
        assert!(parse_response(b"garbage").is_err());
    }
}

//! The live exchange `check` makes with a Nomad agent (TLS client set-up, two GETs under one
//! deadline and a size cap, the response parser) and what each way it fails means.

use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore,
};
use zeroize::Zeroizing;

use crate::context::{Address, Context};
use crate::text::printable;

/// Everything one check does (connecting, TLS, both requests and their answers) ends by
/// then: a server that answers a byte at a time cannot keep it waiting longer.
const DEADLINE: Duration = Duration::from_secs(10);

/// The most a whole answer (head and body) may hold. An agent's self-description is tens
/// of kilobytes; a server that sends more is something else, or hostile.
pub const MAX_RESPONSE: usize = 1024 * 1024;

/// Each of several addresses gets a share of the time left, but at least this, as Go's
/// dialer does it.
const MIN_CONNECT: Duration = Duration::from_secs(2);

/// What a context presents to its cluster, as `check` read it from the store and keychain.
#[derive(Default)]
pub struct Credentials<'a> {
    pub ca: Option<Vec<CertificateDer<'static>>>,
    /// The key is wiped when dropped, whether or not a TLS configuration took a copy.
    pub client: Option<(
        Vec<CertificateDer<'static>>,
        Zeroizing<PrivateKeyDer<'static>>,
    )>,
    pub token: Option<&'a str>,
}

impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("ca", &self.ca.as_ref().map(Vec::len))
            .field("client", &self.client.is_some())
            .field("token", &self.token.map(|_| "(redacted)"))
            .finish()
    }
}

/// What a reachable cluster told us, as it told it: escape it before printing.
#[derive(Debug)]
pub struct Report {
    pub tls: bool,
    pub version: String,
    pub region: String,
    pub leader: String,
}

/// An HTTP answer: its status and its body, de-chunked.
#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Ways a server fails us that are neither a TLS error nor a plain I/O error.
#[derive(Debug)]
pub enum Failure {
    /// Every address of the host refused or timed out, each with its error.
    Unreachable(Vec<(SocketAddr, io::Error)>),
    /// The answer went past [`MAX_RESPONSE`].
    TooLarge,
    /// The answer does not start as HTTP does; holds its first bytes.
    NotHttp(String),
    /// An HTTP answer whose framing is broken.
    Malformed(&'static str),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreachable(tried) => write!(f, "could not connect: {}", attempts(tried)),
            Self::TooLarge => write!(
                f,
                "the server sent more than {} MiB; it is probably not a Nomad agent",
                MAX_RESPONSE / (1024 * 1024)
            ),
            Self::NotHttp(start) if start.is_empty() => {
                write!(f, "the server closed the connection without an answer")
            }
            Self::NotHttp(start) => write!(
                f,
                "the server's answer is not HTTP (it begins \"{}\")",
                printable(start)
            ),
            Self::Malformed(what) => write!(f, "the server's answer is malformed: {what}"),
        }
    }
}

impl std::error::Error for Failure {}

/// Asks the agent at `address` who it is and who leads its cluster, presenting the
/// context's credentials; a failure comes back as one sentence with its cause and remedy.
pub fn check(
    name: &str,
    context: &Context,
    address: &Address,
    credentials: Credentials<'_>,
) -> Result<Report> {
    let deadline = Instant::now() + DEADLINE;
    let addrs: Vec<SocketAddr> = (address.host.as_str(), address.port)
        .to_socket_addrs()
        .map_err(|e| anyhow!("could not resolve {}: {e}; check the address", address.host))?
        .collect();
    let explained = |e: anyhow::Error| anyhow!(explain(&e, name, address, context));
    // Its errors are the context's settings, not the network's: they say what to set.
    let session = Session::new(name, context, address, addrs, credentials, deadline)?;
    let agent = session.get("/v1/agent/self").map_err(explained)?;
    let (version, region) = match agent.status {
        200 => agent_facts(&agent.body),
        403 => bail!(
            "{} refused the request with HTTP 403: the ACL token is {}; store a valid one with `nomadctx set {name} --token-stdin`",
            context.address,
            if session.token.is_some() {
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
    let leader = session.get("/v1/status/leader").map_err(explained)?;
    if agent.status != 200 && leader.status != 200 {
        bail!(
            "{} answered HTTP {} to /v1/agent/self and HTTP {} to /v1/status/leader; is this a Nomad HTTP API address?",
            context.address,
            agent.status,
            leader.status
        );
    }
    Ok(Report {
        tls: address.tls,
        version,
        region,
        leader: leader_of(&leader),
    })
}

/// The leader's address from /v1/status/leader: a JSON string, only from a 200 answer (an
/// error page, or a proxy echoing the request with its token, is no leader), and short.
fn leader_of(answer: &Response) -> String {
    const MAX_LEADER: usize = 256;
    if answer.status != 200 {
        return format!("unknown (HTTP {})", answer.status);
    }
    let leader = serde_json::from_slice::<String>(&answer.body).unwrap_or_else(|_| {
        String::from_utf8_lossy(&answer.body)
            .trim()
            .trim_matches('"')
            .to_owned()
    });
    match leader.char_indices().nth(MAX_LEADER) {
        _ if leader.is_empty() => "none".to_owned(),
        Some((cut, _)) => format!("{}...", &leader[..cut]),
        None => leader,
    }
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

/// The connections of one check: where to, over what, with which token, until when.
struct Session<'a> {
    address: &'a Address,
    /// In the order to try them: the one that answered last comes first, so the second
    /// request does not spend the time left on addresses that timed out in the first.
    addrs: std::cell::RefCell<Vec<SocketAddr>>,
    tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    token: Option<&'a str>,
    deadline: Instant,
}

impl<'a> Session<'a> {
    fn new(
        name: &str,
        context: &Context,
        address: &'a Address,
        addrs: Vec<SocketAddr>,
        credentials: Credentials<'a>,
        deadline: Instant,
    ) -> Result<Self> {
        let tls = if address.tls {
            let config = client_config(context.skip_verify, credentials.ca, credentials.client)?
                .ok_or_else(|| {
                    anyhow!(
                        "it has no CA certificate to verify the server with; add one with `nomadctx set {name} --ca FILE` (or, to skip the check as NOMAD_SKIP_VERIFY does, `--skip-verify`)"
                    )
                })?;
            let shown = context.tls_server_name.as_deref().unwrap_or(&address.host);
            let server = ServerName::try_from(shown.to_owned()).map_err(|_| {
                anyhow!(
                    "{:?} is not a valid TLS server name; set the name the server's certificate holds with `nomadctx set {name} --tls-server-name NAME`",
                    printable(shown)
                )
            })?;
            Some((Arc::new(config), server))
        } else {
            None
        };
        Ok(Self {
            address,
            addrs: std::cell::RefCell::new(addrs),
            tls,
            token: credentials.token,
            deadline,
        })
    }

    /// One GET over a fresh connection.
    fn get(&self, path: &str) -> Result<Response> {
        let (tcp, reached) = connect(&self.addrs.borrow(), self.deadline)?;
        let mut addrs = self.addrs.borrow_mut();
        if let Some(i) = addrs.iter().position(|a| *a == reached) {
            addrs[..=i].rotate_right(1);
        }
        drop(addrs);
        let mut stream = Timed {
            tcp,
            deadline: self.deadline,
        };
        let request = self.request(path);
        let raw = match &self.tls {
            Some((config, name)) => {
                let conn = rustls::ClientConnection::new(config.clone(), name.clone())?;
                let mut stream = rustls::StreamOwned::new(conn, stream);
                stream.write_all(request.as_bytes())?;
                read_capped(&mut stream)?
            }
            None => {
                stream.write_all(request.as_bytes())?;
                read_capped(&mut stream)?
            }
        };
        Ok(parse_response(&raw)?)
    }

    /// The request text; it holds the ACL token, so it is wiped when dropped.
    fn request(&self, path: &str) -> Zeroizing<String> {
        let head = format!(
            "GET {}{path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: nomadctx/{}\r\nAccept: application/json\r\nConnection: close\r\n",
            self.address.prefix,
            self.address.authority(),
            env!("CARGO_PKG_VERSION")
        );
        // Sized up front: a buffer that grew after the token was in it would leave a copy
        // behind in the memory it gave back, which nothing wipes.
        const TOKEN_HEADER: &str = "X-Nomad-Token: \r\n\r\n";
        let mut request = Zeroizing::new(String::with_capacity(
            head.len() + TOKEN_HEADER.len() + self.token.map_or(0, str::len),
        ));
        request.push_str(&head);
        if let Some(token) = self.token {
            request.push_str("X-Nomad-Token: ");
            request.push_str(token);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        request
    }
}

/// Tries each address in turn, as Nomad's Go client does (so `localhost` works whether the
/// agent listens on 127.0.0.1 or ::1), each with its share of the time left.
fn connect(addrs: &[SocketAddr], deadline: Instant) -> Result<(TcpStream, SocketAddr), Failure> {
    let mut tried = Vec::new();
    for (i, addr) in addrs.iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            tried.push((*addr, io::Error::from(ErrorKind::TimedOut)));
            break;
        }
        let share = (left / u32::try_from(addrs.len() - i).unwrap_or(u32::MAX))
            .max(MIN_CONNECT)
            .min(left);
        match TcpStream::connect_timeout(addr, share) {
            Ok(tcp) => return Ok((tcp, *addr)),
            Err(e) => tried.push((*addr, e)),
        }
    }
    Err(Failure::Unreachable(tried))
}

/// A connection that gives up at a deadline: each read and write may wait only for the
/// time left, so the deadline holds however the server paces its bytes.
#[derive(Debug)]
struct Timed {
    tcp: TcpStream,
    deadline: Instant,
}

impl Timed {
    fn time_left(&self) -> io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ErrorKind::TimedOut.into());
        }
        Ok(left)
    }
}

/// A socket timeout shows as WouldBlock on Unix; it means the deadline passed.
fn timed_out(err: io::Error) -> io::Error {
    if err.kind() == ErrorKind::WouldBlock {
        ErrorKind::TimedOut.into()
    } else {
        err
    }
}

impl Read for Timed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tcp.set_read_timeout(Some(self.time_left()?))?;
        self.tcp.read(buf).map_err(timed_out)
    }
}

impl Write for Timed {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tcp.set_write_timeout(Some(self.time_left()?))?;
        self.tcp.write(buf).map_err(timed_out)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

/// Reads until the peer closes, refusing more than [`MAX_RESPONSE`]. A TLS peer that closes
/// without close_notify is fine once it has answered.
fn read_capped(stream: &mut impl Read) -> Result<Vec<u8>> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => return Ok(raw),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == ErrorKind::UnexpectedEof && !raw.is_empty() => return Ok(raw),
            Err(e) => return Err(e.into()),
        };
        if raw.len() + n > MAX_RESPONSE {
            return Err(Failure::TooLarge.into());
        }
        raw.extend_from_slice(&buf[..n]);
    }
}

/// Parses a whole HTTP/1.x answer (the server closed the connection after it): the status,
/// and the body as Content-Length or chunked transfer coding delimits it.
pub fn parse_response(raw: &[u8]) -> Result<Response, Failure> {
    if raw.len() > MAX_RESPONSE {
        return Err(Failure::TooLarge);
    }
    let not_http = || {
        let line = raw.split(|&b| b == b'\n').next().unwrap_or_default();
        Failure::NotHttp(String::from_utf8_lossy(&line[..line.len().min(40)]).into_owned())
    };
    let split = find(raw, b"\r\n\r\n").ok_or_else(not_http)?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(status_code).ok_or_else(not_http)?;
    let mut chunked = false;
    let mut length = None;
    for (name, value) in lines.filter_map(|line| line.split_once(':')) {
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked |= value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("content-length") {
            let n = Some(value)
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<usize>().ok())
                .ok_or(Failure::Malformed("its Content-Length is not a number"))?;
            if length.is_some_and(|l| l != n) {
                return Err(Failure::Malformed("it has two different Content-Lengths"));
            }
            length = Some(n);
        }
    }
    let body = &raw[split + 4..];
    let body = match (chunked, length) {
        (true, _) => dechunk(body)?,
        (false, Some(n)) => body
            .get(..n)
            .ok_or(Failure::Malformed("it ends before its Content-Length"))?
            .to_vec(),
        (false, None) => body.to_vec(),
    };
    Ok(Response { status, body })
}

/// The status of `HTTP/1.1 200 OK`: three digits after the version.
fn status_code(line: &str) -> Option<u16> {
    let (version, rest) = line.split_once(' ')?;
    let code = rest.split(' ').next()?;
    (version.starts_with("HTTP/") && code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()))
        .then(|| code.parse().ok())
        .flatten()
}

/// Joins the chunks of a chunked body; trailers after the last chunk are ignored.
fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, Failure> {
    let mut out = Vec::new();
    loop {
        let eol = find(rest, b"\r\n").ok_or(Failure::Malformed("a chunk size line is cut off"))?;
        let size = std::str::from_utf8(&rest[..eol])
            .ok()
            .and_then(|line| line.split(';').next())
            .map(str::trim)
            .filter(|hex| !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|hex| usize::from_str_radix(hex, 16).ok())
            .ok_or(Failure::Malformed(
                "a chunk size is not a hexadecimal number",
            ))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        let end = size
            .checked_add(2)
            .filter(|&end| end <= rest.len())
            .ok_or(Failure::Malformed("a chunk is larger than what follows it"))?;
        if &rest[size..end] != b"\r\n" {
            return Err(Failure::Malformed(
                "a chunk does not end where its size says",
            ));
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[end..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn client_config(
    skip_verify: bool,
    ca: Option<Vec<CertificateDer<'static>>>,
    client: Option<(
        Vec<CertificateDer<'static>>,
        Zeroizing<PrivateKeyDer<'static>>,
    )>,
) -> Result<Option<ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = if skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(SkipVerify(provider)))
    } else {
        let Some(ca) = ca else {
            return Ok(None);
        };
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(ca);
        builder.with_root_certificates(roots)
    };
    Ok(Some(match client {
        // rustls wipes its copy when the configuration goes; the caller's goes with it.
        Some((certs, key)) => builder.with_client_auth_cert(certs, key.clone_key())?,
        None => builder.with_no_client_auth(),
    }))
}

/// Maps a failed request to one sentence with its cause and remedy. What the server or
/// its certificate put in it is escaped.
fn explain(err: &anyhow::Error, name: &str, address: &Address, context: &Context) -> String {
    let addr = address.authority();
    let io = err.chain().find_map(|c| c.downcast_ref::<io::Error>());
    let rustls_err = err
        .chain()
        .find_map(|c| c.downcast_ref::<rustls::Error>())
        .or_else(|| {
            io.and_then(|e| e.get_ref())
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
    let failure = err.chain().find_map(|c| c.downcast_ref::<Failure>());
    let region = context.region.as_deref().unwrap_or("global");
    let message = match (failure, rustls_err, io.map(io::Error::kind)) {
        (Some(Failure::Unreachable(tried)), _, _) => unreachable(&addr, tried),
        (Some(Failure::TooLarge), _, _) => format!(
            "the server at {addr} sent more than {} MiB without ending its answer; it is probably not a Nomad agent: check the address",
            MAX_RESPONSE / (1024 * 1024)
        ),
        // A TLS record (an alert or a handshake) in answer to plain HTTP.
        (Some(Failure::NotHttp(start)), _, _)
            if !address.tls
                && (start.starts_with("\u{15}\u{3}") || start.starts_with("\u{16}\u{3}")) =>
        {
            format!("the server at {addr} speaks TLS; use an https:// address")
        }
        (Some(other), _, _) => format!("{addr} did not answer as a Nomad agent: {other}"),
        (_, Some(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)), _) => {
            format!(
                "the server at {addr} presented a certificate that this context's CA did not sign; give the CA of this cluster with `nomadctx set {name} --ca FILE`"
            )
        }
        (
            _,
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
        (_, Some(rustls::Error::InvalidCertificate(CertificateError::NotValidForName)), _) => {
            format!(
                "the server's certificate does not name {:?}; set the name it holds with `nomadctx set {name} --tls-server-name server.{region}.nomad`",
                address.host
            )
        }
        (_, Some(rustls::Error::InvalidCertificate(other)), _) => {
            format!("the server's certificate was refused: {other:?}")
        }
        (_, Some(rustls::Error::AlertReceived(alert)), _)
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
        (_, Some(rustls::Error::InvalidMessage(_)), _) => format!(
            "the server at {addr} does not speak TLS (plain HTTP?); use an http:// address, or enable TLS on the agent"
        ),
        (_, Some(other), _) => format!("TLS with {addr} failed: {other}"),
        (_, None, Some(ErrorKind::TimedOut | ErrorKind::WouldBlock)) => too_slow(&addr),
        (_, None, Some(ErrorKind::ConnectionReset | ErrorKind::UnexpectedEof)) if address.tls => {
            format!(
                "the server at {addr} closed the connection during TLS; it may want a client certificate this context lacks, or not speak TLS"
            )
        }
        _ => format!("request to {addr} failed: {err:#}"),
    };
    printable(&message).into_owned()
}

fn too_slow(addr: &str) -> String {
    format!(
        "no complete answer from {addr} within {} seconds: the server is silent or too slow; check the address and any firewall",
        DEADLINE.as_secs()
    )
}

/// Why no address of the host took the connection, naming the addresses tried when they
/// are not just the one in the context's address.
fn unreachable(addr: &str, tried: &[(SocketAddr, io::Error)]) -> String {
    let addresses = tried
        .iter()
        .map(|(a, _)| a.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let shown = if addresses == addr {
        addr.to_owned()
    } else {
        format!("{addr} (tried {addresses})")
    };
    let all = |kinds: &[ErrorKind]| tried.iter().all(|(_, e)| kinds.contains(&e.kind()));
    if tried.is_empty() {
        format!("{addr} has no address; check the host name")
    } else if all(&[ErrorKind::ConnectionRefused]) {
        format!(
            "connection to {shown} was refused; is Nomad running there and is the address right?"
        )
    } else if all(&[ErrorKind::TimedOut, ErrorKind::WouldBlock]) {
        format!(
            "no answer from {shown} within {} seconds; check the address and any firewall",
            DEADLINE.as_secs()
        )
    } else {
        format!("could not connect to {addr}: {}", attempts(tried))
    }
}

/// `127.0.0.1:4646 (Connection refused ...), [::1]:4646 (...)`.
fn attempts(tried: &[(SocketAddr, io::Error)]) -> String {
    tried
        .iter()
        .map(|(addr, err)| format!("{addr} ({err})"))
        .collect::<Vec<_>>()
        .join(", ")
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

    fn parsed(raw: &[u8]) -> Result<(u16, Vec<u8>), String> {
        parse_response(raw)
            .map(|r| (r.status, r.body))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn answers_are_parsed_by_their_framing() {
        let ok = |raw: &[u8], body: &[u8]| assert_eq!(parsed(raw), Ok((200, body.to_vec())));
        ok(b"HTTP/1.0 200 OK\r\nContent-Type: x\r\n\r\n{}", b"{}");
        ok(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabcd", b"ab");
        ok(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nTrailer: t\r\n\r\n",
            b"abcde",
        );
        ok(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n",
            b"0123456789",
        );
        assert_eq!(parsed(b"HTTP/1.1 403\r\n\r\n"), Ok((403, Vec::new())));
        for (raw, error) in [
            (&b"garbage"[..], "not HTTP (it begins \"garbage\")"),
            (b"SSH-2.0-OpenSSH\r\n\r\n", "not HTTP"),
            (b"HTTP/1.1 20 OK\r\n\r\n", "not HTTP"),
            (b"HTTP/1.1 2000 OK\r\n\r\n", "not HTTP"),
            (b"\x1b[2J\x1b]52;c;aGk=\x07\r\n\r\n", "\\u{1b}[2J\\u{1b}]52"),
            (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "not a number"),
            (b"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\nx", "not a number"),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                "not a number",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
                "two different",
            ),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", "ends before"),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nab\r\n0\r\n\r\n",
                "larger than what follows",
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\nab",
                "not a hexadecimal number",
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab",
                "not a hexadecimal number",
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
                "does not end where",
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n",
                "cut off",
            ),
        ] {
            let err = parsed(raw).unwrap_err();
            assert!(err.contains(error), "{raw:?}: {err}");
            assert!(!err.contains('\x1b'), "{err}");
        }
    }

    #[test]
    fn failures_are_explained_with_their_remedy() {
        let context = Context {
            address: "http://nomad:4646".into(),
            ..Context::default()
        };
        let address = Address::parse(&context.address).unwrap();
        let explained = |failure: Failure| explain(&failure.into(), "prod", &address, &context);
        let tls_alert = parse_response(b"\x15\x03\x03\x00\x02\x02\x46").unwrap_err();
        assert_eq!(
            explained(tls_alert),
            "the server at nomad:4646 speaks TLS; use an https:// address"
        );
        assert_eq!(
            explained(parse_response(b"").unwrap_err()),
            "nomad:4646 did not answer as a Nomad agent: the server closed the connection without an answer"
        );
        assert!(explained(Failure::TooLarge).contains("more than 1 MiB"));
        let slow = io::Error::from(ErrorKind::TimedOut);
        let message = explain(&slow.into(), "prod", &address, &context);
        assert!(message.contains("within 10 seconds"), "{message}");
    }

    #[test]
    fn more_than_the_cap_is_refused_by_reader_and_parser() {
        let mut endless = io::repeat(b'x');
        let err = read_capped(&mut endless).unwrap_err();
        assert!(
            matches!(err.downcast_ref(), Some(Failure::TooLarge)),
            "{err}"
        );
        let mut exact = io::repeat(b'x').take(MAX_RESPONSE as u64);
        assert_eq!(read_capped(&mut exact).unwrap().len(), MAX_RESPONSE);
        let mut big = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
        big.resize(MAX_RESPONSE + 1, b'x');
        assert!(matches!(parse_response(&big), Err(Failure::TooLarge)));
        assert!(Failure::TooLarge.to_string().contains("more than 1 MiB"));
    }

    #[test]
    fn every_resolved_address_is_tried_in_order() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // What `localhost` resolves to where ::1 comes first and nothing listens there.
        let v6: SocketAddr = format!("[::1]:{port}").parse().unwrap();
        let v4: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let deadline = Instant::now() + DEADLINE;
        let (tcp, reached) = connect(&[v6, v4], deadline).unwrap();
        assert_eq!((tcp.peer_addr().unwrap(), reached), (v4, v4));

        drop(listener);
        let Err(Failure::Unreachable(tried)) = connect(&[v6, v4], deadline) else {
            panic!("connected to a closed port");
        };
        assert_eq!(tried.iter().map(|(a, _)| *a).collect::<Vec<_>>(), [v6, v4]);
        let message = unreachable(&format!("localhost:{port}"), &tried);
        assert!(
            message.contains(&format!("tried [::1]:{port}, 127.0.0.1:{port}")),
            "{message}"
        );
        let one = unreachable(&v4.to_string(), &tried[1..]);
        assert!(!one.contains("tried"), "{one}");
    }

    /// A server that sends a byte every 100 ms is cut off at the deadline, not kept
    /// alive by each byte resetting a per-read timeout.
    #[test]
    fn the_deadline_holds_against_a_drip() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut tcp, _) = listener.accept().unwrap();
            for _ in 0..30 {
                if tcp.write_all(b"H").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let start = Instant::now();
        let mut stream = Timed {
            tcp: TcpStream::connect(addr).unwrap(),
            deadline: start + Duration::from_millis(450),
        };
        let err = read_capped(&mut stream).unwrap_err();
        let elapsed = start.elapsed();
        assert_eq!(
            err.downcast_ref::<io::Error>().map(io::Error::kind),
            Some(ErrorKind::TimedOut),
            "{err}"
        );
        assert!(elapsed < Duration::from_millis(2500), "{elapsed:?}");
        drop(stream);
        server.join().unwrap();
    }
}

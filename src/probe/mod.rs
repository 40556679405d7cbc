//! The live exchange `check` makes with a Nomad agent: each address under one deadline, two GETs.

pub mod explain;
pub mod http;
mod tls_config;

use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use rustls::ClientConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use zeroize::Zeroizing;

use crate::context::{Address, Context};
use crate::text::printable;
use explain::explain;
use http::{Failure, Response, parse_response, read_capped};
use tls_config::client_config;

/// Everything one check does (connecting, TLS, both requests and their answers) ends by
/// then: a server that answers a byte at a time cannot keep it waiting longer.
const DEADLINE: Duration = Duration::from_secs(10);

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
        200 => agent_facts(&agent.body).ok_or_else(|| not_nomad(context, address, &agent))?,
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
    if !address.tls && agent.status == 400 && leader.status == 400 {
        // Go's TLS listeners answer plain HTTP with 400 "Client sent an HTTP request to an
        // HTTPS server".
        bail!(explain::wants_https(name, address));
    }
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
        leader: leader_of(&leader).ok_or_else(|| not_nomad(context, address, &leader))?,
    })
}

/// A server answered, but not as a Nomad agent does: say what answered.
fn not_nomad(context: &Context, address: &Address, answer: &Response) -> anyhow::Error {
    let what = match &answer.content_type {
        Some(kind) => format!("`{}`", printable(kind)),
        None => "something without a Content-Type".to_owned(),
    };
    anyhow!(
        "{} is {} server that is not a Nomad agent: it answered {what}; check the address (Nomad's HTTP API listens on port 4646 by default)",
        context.address,
        if address.tls { "a TLS" } else { "an HTTP" },
    )
}

/// The leader's address from /v1/status/leader, only from a 200 answer (an error page, or a
/// proxy echoing the request with its token, is no leader): a JSON string that is empty (no
/// leader) or `IP:PORT`, as Nomad answers; anything else is not Nomad's answer.
fn leader_of(answer: &Response) -> Option<String> {
    if answer.status != 200 {
        return Some(format!("unknown (HTTP {})", answer.status));
    }
    let leader = serde_json::from_slice::<String>(&answer.body).ok()?;
    if leader.is_empty() {
        return Some("none".to_owned());
    }
    leader.parse::<SocketAddr>().ok().map(|_| leader)
}

/// Version and region from /v1/agent/self, which must be Nomad's JSON: an object with the
/// agent's `config` and its gossip `member`.
fn agent_facts(body: &[u8]) -> Option<(String, String)> {
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    if !json["config"].is_object() || !json["member"].is_object() {
        return None;
    }
    let config = &json["config"];
    let version = config["Version"]["Version"]
        .as_str()
        .unwrap_or("unknown")
        .to_owned();
    let region = config["Region"].as_str().unwrap_or("unknown").to_owned();
    Some((version, region))
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

#[cfg(test)]
mod tests {
    use super::explain::unreachable;
    use super::*;

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

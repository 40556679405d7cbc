//! What each way a check fails means: the Failure kinds, and each error as cause and remedy.

use std::io::{self, ErrorKind};
use std::net::SocketAddr;

use rustls::{AlertDescription, CertificateError};

use super::DEADLINE;
use super::http::{Failure, MAX_RESPONSE, attempts};
use crate::context::{Address, Context};
use crate::text::printable;

/// its certificate put in it is escaped.
pub(super) fn explain(
    err: &anyhow::Error,
    name: &str,
    address: &Address,
    context: &Context,
) -> String {
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
        (Some(Failure::Unreachable(tried)), _, _) => {
            let message = unreachable(&addr, tried);
            if address.port_given {
                message
            } else {
                format!(
                    "{message}; the address names no port, so {} was used, but Nomad's HTTP API listens on 4646 by default: `nomadctx set {name} --address {}`",
                    address.port,
                    address.with_nomad_port()
                )
            }
        }
        (Some(Failure::TooLarge), _, _) => format!(
            "the server at {addr} sent more than {} MiB without ending its answer; it is probably not a Nomad agent: check the address",
            MAX_RESPONSE / (1024 * 1024)
        ),
        // A TLS record (an alert or a handshake) in answer to plain HTTP, or nothing at all:
        // a TLS listener given plain HTTP.
        (Some(Failure::NotHttp(start)), _, _)
            if !address.tls
                && (start.is_empty()
                    || start.starts_with("\u{15}\u{3}")
                    || start.starts_with("\u{16}\u{3}")) =>
        {
            wants_https(name, address)
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
        (_, None, Some(ErrorKind::ConnectionReset | ErrorKind::UnexpectedEof)) if !address.tls => {
            wants_https(name, address)
        }
        (_, None, Some(ErrorKind::ConnectionReset | ErrorKind::UnexpectedEof)) => {
            format!(
                "the server at {addr} closed the connection during TLS; it may want a client certificate this context lacks, or not speak TLS"
            )
        }
        _ => format!("request to {addr} failed: {err:#}"),
    };
    printable(&message).into_owned()
}

/// A plain-HTTP address for a server that speaks TLS: what to change.
pub(super) fn wants_https(name: &str, address: &Address) -> String {
    format!(
        "the server at {} did not answer plain HTTP, and a Nomad agent with TLS (as mutual TLS needs) expects https://; the context's address is http://: change it with `nomadctx set {name} --address https://{}{}`",
        address.authority(),
        address.authority(),
        address.prefix
    )
}

fn too_slow(addr: &str) -> String {
    format!(
        "no complete answer from {addr} within {} seconds: the server is silent or too slow; check the address and any firewall",
        DEADLINE.as_secs()
    )
}

/// Why no address of the host took the connection, naming the addresses tried when they
/// are not just the one in the context's address.
pub(super) fn unreachable(addr: &str, tried: &[(SocketAddr, io::Error)]) -> String {
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

/// `DnsName("a.b")` or `IpAddress(1.2.3.4)` as rustls shows them, reduced to the name.
fn plain_name(presented: &str) -> &str {
    presented.split_once('(').map_or(presented, |(_, rest)| {
        rest.trim_end_matches(')').trim_matches('"')
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::http::parse_response;

    #[test]
    fn failures_are_explained_with_their_remedy() {
        let context = Context {
            address: "http://nomad:4646".into(),
            ..Context::default()
        };
        let address = Address::parse(&context.address).unwrap();
        let explained = |failure: Failure| explain(&failure.into(), "prod", &address, &context);
        let tls_alert = parse_response(b"\x15\x03\x03\x00\x02\x02\x46").unwrap_err();
        let wants_https = "the server at nomad:4646 did not answer plain HTTP, and a Nomad agent with TLS (as mutual TLS needs) expects https://; the context's address is http://: change it with `nomadctx set prod --address https://nomad:4646`";
        assert_eq!(explained(tls_alert), wants_https);
        assert_eq!(explained(parse_response(b"").unwrap_err()), wants_https);
        assert_eq!(
            explained(parse_response(b"SSH-2.0-OpenSSH_9.2\r\n").unwrap_err()),
            "nomad:4646 did not answer as a Nomad agent: the server's answer is not HTTP (it begins \"SSH-2.0-OpenSSH_9.2\\u{d}\")"
        );
        assert!(explained(Failure::TooLarge).contains("more than 1 MiB"));
        let slow = io::Error::from(ErrorKind::TimedOut);
        let message = explain(&slow.into(), "prod", &address, &context);
        assert!(message.contains("within 10 seconds"), "{message}");
    }
}

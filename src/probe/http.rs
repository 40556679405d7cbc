//! Reading the agent's HTTP answer: at most MAX_RESPONSE bytes, its status, its framed body,
//! and the ways an answer (or its absence) is not what a Nomad agent gives.

use std::io::{ErrorKind, Read};

use anyhow::Result;

use std::fmt;
use std::io;
use std::net::SocketAddr;

use crate::text::printable;

/// The most a whole answer (head and body) may hold. An agent's self-description is tens
/// of kilobytes; a server that sends more is something else, or hostile.
pub const MAX_RESPONSE: usize = 1024 * 1024;

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

/// `127.0.0.1:4646 (Connection refused ...), [::1]:4646 (...)`.
pub(super) fn attempts(tried: &[(SocketAddr, io::Error)]) -> String {
    tried
        .iter()
        .map(|(addr, err)| format!("{addr} ({err})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An HTTP answer: its status, what it says its body is, and the body, de-chunked.
#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// Reads until the peer closes, refusing more than [`MAX_RESPONSE`]. A TLS peer that closes
/// without close_notify is fine once it has answered.
pub(super) fn read_capped(stream: &mut impl Read) -> Result<Vec<u8>> {
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
    let mut content_type = None;
    for (name, value) in lines.filter_map(|line| line.split_once(':')) {
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
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
    Ok(Response {
        status,
        content_type,
        body,
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

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
}

//! A context's address: an http(s) URL of a Nomad agent, and its parts.

use anyhow::{Result, bail};

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
    /// Whether the URL gave the port (Nomad's is 4646, not the scheme's).
    pub port_given: bool,
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
        let port_given = port.is_some();
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
            port_given,
            prefix: path.trim_end_matches('/').to_owned(),
        })
    }

    /// The address with Nomad's default port 4646 where it gave none.
    pub fn with_nomad_port(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{host}:4646{}", self.prefix)
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

//! TLS peers: a Nomad-shaped HTTPS server (Python) and a rustls server.

use super::*;

/// tests/support/mtls_server.py: a Nomad-shaped HTTPS server on 127.0.0.1 that requires a
/// client certificate from `client_ca` (a pki file), presenting `cert` (a pki identity);
/// `plain` makes it speak plain HTTP instead.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Server {
    pub fn start(client_ca: &str, cert: &str, plain: bool) -> Self {
        let pki = pki();
        Self::start_with(
            &pki.path(client_ca),
            &pki.path(&format!("{cert}.pem")),
            &pki.path(&format!("{cert}-key.pem")),
            plain,
        )
    }

    /// The same server with certificate files from anywhere.
    pub fn start_with(client_ca: &Path, cert: &Path, key: &Path, plain: bool) -> Self {
        require_tool("python3");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/mtls_server.py");
        let mut cmd = Command::new("python3");
        cmd.arg(script).arg(client_ca).arg(cert).arg(key);
        if plain {
            cmd.arg("plain");
        }
        let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
        let line = first_line(child.stdout.take().unwrap());
        Self {
            child,
            port: line.trim().parse().expect("server port"),
        }
    }

    pub fn url(&self, host: &str) -> String {
        format!("https://{host}:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Nomad-shaped HTTPS server built on rustls, in a thread of the test: it demands a client
/// certificate issued by `client_ca` and answers /v1/agent/self and /v1/status/leader.
/// It serves at most 32 connections, so a failed test cannot leave it spinning.
pub fn rustls_server(client_ca: &Path, cert: &Path, key: &Path) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use std::io::Read;
    use std::sync::Arc;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(
        CertificateDer::pem_file_iter(client_ca)
            .unwrap()
            .map(Result::unwrap),
    );
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let certs: Vec<_> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, PrivateKeyDer::from_pem_file(key).unwrap())
        .unwrap();
    let config = Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for tcp in listener.incoming().take(32).flatten() {
            let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut stream = rustls::StreamOwned::new(conn, tcp);
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&request);
            let body = if text.starts_with("GET /v1/status/leader") {
                "\"10.1.1.1:4647\"".to_owned()
            } else {
                r#"{"config":{"Version":{"Version":"1.10.0"},"Region":"rustls"},"member":{"Name":"rustls"}}"#.to_owned()
            };
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            if stream.write_all(response.as_bytes()).is_ok() {
                stream.conn.send_close_notify();
                let _ = stream.flush();
            }
        }
    });
    port
}

//! The TLS client set-up of a check: the CA's roots or no verification, and the client key.

use std::sync::Arc;

use anyhow::Result;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore};
use zeroize::Zeroizing;

pub(super) fn client_config(
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

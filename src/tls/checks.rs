//! Certificate checks: a CA file holds only CAs; a client certificate is in date and chains.

use std::path::Path;

use anyhow::{Result, anyhow, bail};
use rustls_pki_types::CertificateDer;

use super::details::{decode, subject};
use super::expiry::{format_time, now};

fn is_ca(cert: &x509_cert::Certificate) -> bool {
    use x509_cert::der::Decode;
    use x509_cert::ext::pkix::BasicConstraints;
    cert.tbs_certificate.extensions.iter().flatten().any(|ext| {
        ext.extn_id == x509_cert::der::oid::db::rfc5280::ID_CE_BASIC_CONSTRAINTS
            && BasicConstraints::from_der(ext.extn_value.as_bytes()).is_ok_and(|bc| bc.ca)
    })
}

/// Every certificate in a CA file must be a CA: a server or CLI certificate there is the
/// classic mix-up of the guide's file names.
pub fn check_ca_bundle(ca_certs: &[CertificateDer<'_>], ca_path: &Path) -> Result<()> {
    for cert in ca_certs {
        let decoded = decode(cert).map_err(|e| anyhow!("CA file {}: {e}", ca_path.display()))?;
        if !is_ca(&decoded) {
            bail!(
                "CA file {} holds {}, which is not a CA certificate; give the CA (nomad-ca.pem or nomad-agent-ca.pem), not a server or CLI certificate",
                ca_path.display(),
                subject(&decoded)
            );
        }
    }
    Ok(())
}

/// Checks the client certificate's validity period and, given the CA, that it chains to it
/// with the clientAuth usage. Returns the end of its validity (Unix seconds).
pub fn check_client_certificate(
    certs: &[CertificateDer<'static>],
    cert_path: &Path,
    ca: Option<(&[CertificateDer<'static>], &Path)>,
) -> Result<i64> {
    let shown = cert_path.display();
    let leaf = decode(&certs[0]).map_err(|e| anyhow!("certificate file {shown}: {e}"))?;
    let validity = &leaf.tbs_certificate.validity;
    let not_before = validity.not_before.to_unix_duration().as_secs() as i64;
    let not_after = validity.not_after.to_unix_duration().as_secs() as i64;
    let now = now();
    if now > not_after {
        bail!(
            "the certificate in {shown} ({}) expired on {}; issue a new CLI certificate (e.g. `nomad tls cert create -cli` or cfssl with -profile=client) and add it",
            subject(&leaf),
            format_time(not_after)
        );
    }
    if now < not_before {
        bail!(
            "the certificate in {shown} ({}) is not valid before {}; check this machine's clock or wait",
            subject(&leaf),
            format_time(not_before)
        );
    }
    if is_ca(&leaf) {
        bail!(
            "the certificate in {shown} ({}) is a CA certificate; give the CLI certificate (cli.pem)",
            subject(&leaf)
        );
    }
    if let Some((ca_certs, ca_path)) = ca {
        verify_chain(certs, &leaf, cert_path, ca_certs, ca_path)?;
    }
    Ok(not_after)
}

fn verify_chain(
    certs: &[CertificateDer<'static>],
    leaf: &x509_cert::Certificate,
    cert_path: &Path,
    ca_certs: &[CertificateDer<'static>],
    ca_path: &Path,
) -> Result<()> {
    let anchors = ca_certs
        .iter()
        .map(|c| webpki::anchor_from_trusted_cert(c).map(|a| a.to_owned()))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| {
            anyhow!(
                "CA file {} cannot be used as a trust anchor: {e}",
                ca_path.display()
            )
        })?;
    let end_entity = webpki::EndEntityCert::try_from(&certs[0]).map_err(|e| {
        anyhow!(
            "certificate file {}: {}",
            cert_path.display(),
            describe_webpki(&e)
        )
    })?;
    let algorithms = rustls::crypto::ring::default_provider().signature_verification_algorithms;
    let verified = end_entity.verify_for_usage(
        algorithms.all,
        &anchors,
        &certs[1..],
        rustls_pki_types::UnixTime::now(),
        webpki::KeyUsage::client_auth(),
        None,
        None,
    );
    verified.map(|_| ()).map_err(|e| {
        let (cert, ca, who) = (cert_path.display(), ca_path.display(), subject(leaf));
        match e {
            webpki::Error::UnknownIssuer => anyhow!(
                "the certificate in {cert} ({who}) was not issued by the CA in {ca}; give the CA that signed it, or a certificate from this CA"
            ),
            webpki::Error::RequiredEkuNotFoundContext(_) => anyhow!(
                "the certificate in {cert} ({who}) is not allowed for client authentication (no clientAuth extended key usage); issue it with cfssl -profile=client or `nomad tls cert create -cli`"
            ),
            other => anyhow!("the certificate in {cert} ({who}) does not verify against the CA in {ca}: {}", describe_webpki(&other)),
        }
    })
}

fn describe_webpki(e: &webpki::Error) -> String {
    match e {
        webpki::Error::UnsupportedCertVersion => {
            "it is an X.509 version 1 certificate; Nomad's tools make version 3, so issue a new one"
                .to_owned()
        }
        other => format!("{other:?}"),
    }
}

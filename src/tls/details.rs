//! What a certificate says: decoding it, its subject for messages, the details `show` prints.

use anyhow::{Result, anyhow};
use rustls_pki_types::CertificateDer;

use super::expiry::format_time;

pub(super) fn decode(cert: &CertificateDer<'_>) -> Result<x509_cert::Certificate> {
    use x509_cert::der::Decode;
    x509_cert::Certificate::from_der(cert.as_ref())
        .map_err(|e| anyhow!("certificate cannot be decoded: {e}"))
}

/// The subject for messages, escaped: a certificate's names are anyone's text, and
/// x509-cert escapes C0 controls but not C1 or bidi ones.
pub(super) fn subject(cert: &x509_cert::Certificate) -> String {
    crate::text::printable(&cert.tbs_certificate.subject.to_string()).into_owned()
}

/// What `show` tells about a certificate.
#[derive(Debug, serde::Serialize)]
pub struct CertDetails {
    pub subject: String,
    pub issuer: String,
    pub sans: Vec<String>,
    pub serial: String,
    pub not_before: String,
    pub not_after: String,
    pub key_type: String,
    pub sha256: String,
}

pub fn certificate_details(cert: &CertificateDer<'_>) -> Result<CertDetails> {
    let decoded = decode(cert)?;
    let tbs = &decoded.tbs_certificate;
    let hex = |bytes: &[u8], sep: &str| {
        bytes
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(sep)
    };
    Ok(CertDetails {
        subject: tbs.subject.to_string(),
        issuer: tbs.issuer.to_string(),
        sans: subject_alt_names(&decoded),
        serial: hex(tbs.serial_number.as_bytes(), ":"),
        not_before: format_time(tbs.validity.not_before.to_unix_duration().as_secs() as i64),
        not_after: format_time(tbs.validity.not_after.to_unix_duration().as_secs() as i64),
        key_type: key_type(&tbs.subject_public_key_info),
        sha256: hex(
            ring::digest::digest(&ring::digest::SHA256, cert.as_ref()).as_ref(),
            ":",
        ),
    })
}

/// The Nomad agent identity a certificate names (`server.REGION.nomad` or
/// `client.REGION.nomad`, in its DNS names or common name), if it names one: the guide's
/// server and client certificates allow client auth too, so one works as the CLI's, but
/// it is an agent's key to hand out.
pub fn agent_identity(cert: &CertificateDer<'_>) -> Option<String> {
    let decoded = decode(cert).ok()?;
    let common_name = decoded
        .tbs_certificate
        .subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|atv| atv.oid == x509_cert::der::oid::db::rfc4519::CN)
        .filter_map(|atv| {
            use x509_cert::der::asn1::{PrintableStringRef, Utf8StringRef};
            let value = &atv.value;
            Utf8StringRef::try_from(value)
                .map(|s| s.as_str().to_owned())
                .or_else(|_| PrintableStringRef::try_from(value).map(|s| s.as_str().to_owned()))
                .ok()
        });
    let dns = subject_alt_names(&decoded)
        .into_iter()
        .filter_map(|name| name.strip_prefix("DNS:").map(str::to_owned));
    dns.chain(common_name).find(|name| is_agent_name(name))
}

fn is_agent_name(name: &str) -> bool {
    let mut labels = name.split('.');
    matches!(
        (labels.next(), labels.next(), labels.next(), labels.next()),
        (Some("server" | "client"), Some(region), Some("nomad"), None) if !region.is_empty()
    )
}

fn subject_alt_names(cert: &x509_cert::Certificate) -> Vec<String> {
    use x509_cert::der::Decode;
    use x509_cert::ext::pkix::SubjectAltName;
    use x509_cert::ext::pkix::name::GeneralName;
    let Some(ext) = cert
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == x509_cert::der::oid::db::rfc5280::ID_CE_SUBJECT_ALT_NAME)
    else {
        return Vec::new();
    };
    let Ok(SubjectAltName(names)) = SubjectAltName::from_der(ext.extn_value.as_bytes()) else {
        return vec!["(unreadable)".to_owned()];
    };
    names
        .iter()
        .map(|name| match name {
            GeneralName::DnsName(dns) => format!("DNS:{}", dns.as_str()),
            GeneralName::Rfc822Name(mail) => format!("email:{}", mail.as_str()),
            GeneralName::UniformResourceIdentifier(uri) => format!("URI:{}", uri.as_str()),
            GeneralName::IpAddress(ip) => match ip.as_bytes() {
                [a, b, c, d] => format!("IP:{}", std::net::Ipv4Addr::new(*a, *b, *c, *d)),
                bytes => <[u8; 16]>::try_from(bytes)
                    .map(|v6| format!("IP:{}", std::net::Ipv6Addr::from(v6)))
                    .unwrap_or_else(|_| "IP:(unreadable)".to_owned()),
            },
            other => format!("{other:?}"),
        })
        .collect()
}

fn key_type(spki: &x509_cert::spki::SubjectPublicKeyInfoOwned) -> String {
    const RSA: &str = "1.2.840.113549.1.1.1";
    const EC: &str = "1.2.840.10045.2.1";
    const ED25519: &str = "1.3.101.112";
    let params = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<x509_cert::der::oid::ObjectIdentifier>().ok());
    match (
        spki.algorithm.oid.to_string().as_str(),
        params.map(|p| p.to_string()),
    ) {
        (RSA, _) => rsa_bits(spki.subject_public_key.raw_bytes())
            .map_or_else(|| "RSA".to_owned(), |bits| format!("RSA {bits} bits")),
        (EC, Some(curve)) if curve == "1.2.840.10045.3.1.7" => "ECDSA P-256".to_owned(),
        (EC, Some(curve)) if curve == "1.3.132.0.34" => "ECDSA P-384".to_owned(),
        (EC, curve) => format!("ECDSA ({})", curve.unwrap_or_default()),
        (ED25519, _) => "Ed25519".to_owned(),
        (other, _) => format!("unknown ({other})"),
    }
}

/// The length of an RSA modulus, from the RSAPublicKey DER (SEQUENCE { n, e }).
fn rsa_bits(der: &[u8]) -> Option<usize> {
    use x509_cert::der::{Reader, SliceReader, asn1::UintRef};
    let mut reader = SliceReader::new(der).ok()?;
    reader
        .sequence(|r| {
            let modulus: UintRef<'_> = r.decode()?;
            let _exponent: UintRef<'_> = r.decode()?;
            Ok(modulus.as_bytes().len() * 8)
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_names_are_server_or_client_in_a_region() {
        assert!(is_agent_name("server.global.nomad"));
        assert!(is_agent_name("client.eu-west.nomad"));
        for name in [
            "cli.global.nomad",
            "server.nomad",
            "server..nomad",
            "a.server.global.nomad",
            "server.global.nomad.example",
        ] {
            assert!(!is_agent_name(name), "{name}");
        }
    }
}

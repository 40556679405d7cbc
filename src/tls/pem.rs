//! PEM in and out: certificate and key files read safely, key/cert match, DER re-encoded.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, Result, anyhow, bail};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::{self, SectionKind};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use zeroize::Zeroizing;

use crate::secret::Secret;

/// Certificates and keys are small; a larger file is not one, and reading it whole would
/// let a mistaken path (or /dev/zero) exhaust memory.
const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// Reads a PEM file given on the command line, refusing anything that is not a regular
/// file of sane size. `what` names the file for the user ("CA file").
pub fn read_input(path: &Path, what: &str) -> Result<Zeroizing<Vec<u8>>> {
    let shown = path.display();
    let meta = std::fs::metadata(path).with_context(|| format!("could not read {what} {shown}"))?;
    if !meta.is_file() {
        bail!("{what} {shown} is not a regular file; give the path of a PEM file");
    }
    if meta.len() > MAX_PEM_BYTES {
        bail!(
            "{what} {shown} is {} bytes, too large for a PEM certificate or key; check the path",
            meta.len()
        );
    }
    let file =
        std::fs::File::open(path).with_context(|| format!("could not read {what} {shown}"))?;
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(MAX_PEM_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("could not read {what} {shown}"))?;
    if bytes.len() as u64 > MAX_PEM_BYTES {
        bail!("{what} {shown} is too large for a PEM certificate or key; check the path");
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        bail!("{what} {shown} is empty; give the PEM file it should hold");
    }
    Ok(bytes)
}

/// All certificates in a PEM file, read with the same limits as any input.
pub fn read_certificates(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    parse_certificates(&read_input(path, what)?, path, what)
}

/// The CA certificates in a PEM file, or in every `.pem`/`.crt` file of a directory (as
/// NOMAD_CAPATH names one).
pub fn read_ca(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    if !path.is_dir() {
        return read_certificates(path, "CA file");
    }
    let mut files: Vec<_> = std::fs::read_dir(path)
        .with_context(|| format!("could not read CA directory {}", path.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "pem" || x == "crt"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("CA directory {} holds no .pem or .crt file", path.display());
    }
    let mut certs = Vec::new();
    for file in files {
        certs.extend(read_certificates(&file, "CA file")?);
    }
    Ok(certs)
}

/// The PEM sections a file holds, in order. Unknown labels are skipped by the parser.
fn sections(bytes: &[u8]) -> std::result::Result<Vec<(SectionKind, Vec<u8>)>, pem::Error> {
    let mut reader = bytes;
    let mut found = Vec::new();
    while let Some(section) = pem::from_buf(&mut reader)? {
        found.push(section);
    }
    Ok(found)
}

/// A short account of what a file holds when it is not what was asked for.
fn describe(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if is_encrypted(&text) {
        return "it holds an encrypted private key".to_owned();
    }
    if !text.contains("-----BEGIN ") {
        return if bytes.first() == Some(&0x30) {
            "it looks like binary DER or PKCS#12, not PEM text".to_owned()
        } else {
            "it is not PEM (no -----BEGIN line)".to_owned()
        };
    }
    match sections(bytes) {
        Err(_) => "its PEM is damaged or truncated".to_owned(),
        Ok(found) if found.is_empty() => {
            let label = text
                .lines()
                .find_map(|l| l.strip_prefix("-----BEGIN ")?.strip_suffix("-----"))
                .unwrap_or("unknown");
            format!("it holds a {label} block")
        }
        Ok(found) => {
            let kinds: Vec<&str> = found.iter().map(|(kind, _)| kind_name(*kind)).collect();
            format!("it holds {}", kinds.join(", "))
        }
    }
}

fn kind_name(kind: SectionKind) -> &'static str {
    match kind {
        SectionKind::Certificate => "a certificate",
        SectionKind::PublicKey => "a public key",
        SectionKind::RsaPrivateKey | SectionKind::PrivateKey | SectionKind::EcPrivateKey => {
            "a private key"
        }
        SectionKind::Crl => "a certificate revocation list",
        SectionKind::Csr => "a certificate signing request",
        _ => "an unknown block",
    }
}

fn is_encrypted(text: &str) -> bool {
    text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || text.contains("Proc-Type: 4,ENCRYPTED")
}

/// All certificates in a PEM file, failing unless there is at least one and every block
/// parses. Private keys that share the file are ignored, never copied.
pub fn parse_certificates(
    bytes: &[u8],
    path: &Path,
    what: &str,
) -> Result<Vec<CertificateDer<'static>>> {
    let shown = path.display();
    let found = sections(bytes)
        .map_err(|_| anyhow!("{what} {shown} is not valid PEM: {}", describe(bytes)))?;
    let certs: Vec<CertificateDer<'static>> = found
        .into_iter()
        .filter(|(kind, _)| *kind == SectionKind::Certificate)
        .map(|(_, der)| CertificateDer::from(der))
        .collect();
    if certs.is_empty() {
        bail!("{what} {shown} holds no certificate: {}", describe(bytes));
    }
    for (i, cert) in certs.iter().enumerate() {
        webpki::EndEntityCert::try_from(cert).map_err(|e| {
            anyhow!(
                "certificate {} in {what} {shown} cannot be parsed: {e}",
                i + 1
            )
        })?;
    }
    Ok(certs)
}

/// The one private key in a PEM file, as DER bytes for the keychain.
pub fn parse_private_key(bytes: &[u8], path: &Path) -> Result<Secret> {
    let shown = path.display();
    let text = String::from_utf8_lossy(bytes);
    if is_encrypted(&text) {
        bail!(
            "key file {shown} is encrypted; Nomad needs an unencrypted key. Decrypt a copy with `openssl pkey -in {shown} -out cli-key-plain.pem` and add that"
        );
    }
    let found = sections(bytes)
        .map_err(|_| anyhow!("key file {shown} is not valid PEM: {}", describe(bytes)))?;
    let mut keys = found.into_iter().filter_map(|(kind, der)| match kind {
        SectionKind::RsaPrivateKey | SectionKind::PrivateKey | SectionKind::EcPrivateKey => {
            Some(Secret::new(der))
        }
        _ => None,
    });
    let Some(key) = keys.next() else {
        bail!("key file {shown} holds no private key: {}", describe(bytes));
    };
    if keys.next().is_some() {
        bail!(
            "key file {shown} holds more than one private key; give a file with only the client key"
        );
    }
    Ok(key)
}

/// Fails unless the key can sign and its public half is the certificate's.
pub fn check_key_matches(
    certs: &[CertificateDer<'static>],
    key: &Secret,
    cert_path: &Path,
    key_path: &Path,
) -> Result<()> {
    let der = private_key_der(key).ok_or_else(|| {
        anyhow!(
            "key file {} holds a key in an unknown format",
            key_path.display()
        )
    })?;
    let provider = rustls::crypto::ring::default_provider();
    let signing_key = provider.key_provider.load_private_key(der.clone_key()).map_err(|_| {
        anyhow!(
            "key file {} holds a key nomadctx cannot use (supported: RSA 2048 bits or more, ECDSA P-256/P-384, Ed25519); convert it with `openssl pkey -in {} -out cli-key-pkcs8.pem`",
            key_path.display(),
            key_path.display()
        )
    })?;
    let certified = CertifiedKey::new(certs.to_vec(), Arc::clone(&signing_key));
    certified.keys_match().map_err(|_| {
        anyhow!(
            "key file {} does not belong to the certificate in {}; give the key that was created with that certificate",
            key_path.display(),
            cert_path.display()
        )
    })
}

/// The key's DER, borrowed: no unzeroized copy of the key is made to learn its kind.
pub fn private_key_der(key: &Secret) -> Option<PrivateKeyDer<'_>> {
    PrivateKeyDer::try_from(key.expose()).ok()
}

/// The key as PEM with the label of its format (PKCS#1, SEC1 or PKCS#8), as Go's
/// `tls.LoadX509KeyPair` expects.
pub fn key_to_pem(key: &Secret) -> Result<Secret> {
    let label = match private_key_der(key) {
        Some(PrivateKeyDer::Pkcs1(_)) => "RSA PRIVATE KEY",
        Some(PrivateKeyDer::Sec1(_)) => "EC PRIVATE KEY",
        Some(PrivateKeyDer::Pkcs8(_)) => "PRIVATE KEY",
        _ => bail!("the stored client key is not a private key nomadctx recognises"),
    };
    Ok(pem_encode_secret(label, key.expose()))
}

/// The key as PKCS#8 DER, which PKCS#12 bundles carry: PKCS#1 and SEC1 keys are wrapped with
/// their algorithm (and, for EC, the curve their SEC1 encoding names).
pub fn key_to_pkcs8(key: &Secret) -> Result<Secret> {
    const RSA: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    const EC: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    let algorithm = match private_key_der(key) {
        Some(PrivateKeyDer::Pkcs8(_)) => return Ok(key.clone()),
        Some(PrivateKeyDer::Pkcs1(_)) => RSA.to_vec(),
        Some(PrivateKeyDer::Sec1(_)) => {
            let curve = sec1_curve(key.expose())
                .ok_or_else(|| anyhow!("the stored EC key does not name its curve"))?;
            [EC, &curve].concat()
        }
        _ => bail!("the stored client key is not a private key nomadctx recognises"),
    };
    let body = Zeroizing::new(
        [
            &[0x02, 0x01, 0x00][..],
            &der_tlv(0x30, &algorithm),
            &der_tlv(0x04, key.expose()),
        ]
        .concat(),
    );
    Ok(Secret::new(der_tlv(0x30, &body)))
}

/// The curve OID (as a whole DER element) in a SEC1 key's `[0]` parameters.
fn sec1_curve(der: &[u8]) -> Option<Vec<u8>> {
    use x509_cert::der::asn1::{BitStringRef, ContextSpecific, OctetStringRef};
    use x509_cert::der::oid::ObjectIdentifier;
    use x509_cert::der::{Encode, Reader, SliceReader, TagNumber};
    let mut reader = SliceReader::new(der).ok()?;
    let oid = reader
        .sequence(|r| {
            let _version: u8 = r.decode()?;
            let _private: OctetStringRef<'_> = r.decode()?;
            let curve = ContextSpecific::<ObjectIdentifier>::decode_explicit(r, TagNumber::N0)?;
            let _public = ContextSpecific::<BitStringRef<'_>>::decode_explicit(r, TagNumber::N1)?;
            Ok(curve)
        })
        .ok()??;
    oid.value.to_der().ok()
}

fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// Certificates re-encoded as PEM, so that only certificates are ever copied.
pub fn certificates_to_pem(certs: &[CertificateDer<'_>]) -> Vec<u8> {
    certs
        .iter()
        .map(|c| pem_encode("CERTIFICATE", c.as_ref()))
        .collect::<String>()
        .into_bytes()
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    String::from_utf8(pem_encode_secret(label, der).expose().to_vec()).unwrap_or_default()
}

/// PEM into a buffer sized exactly up front: growing it would leave copies of key text in
/// freed memory that nothing wipes.
fn pem_encode_secret(label: &str, der: &[u8]) -> Secret {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let (begin, end) = (
        format!("-----BEGIN {label}-----\n"),
        format!("-----END {label}-----\n"),
    );
    let b64_len = der.len().div_ceil(3) * 4;
    let mut out = Vec::with_capacity(begin.len() + b64_len + b64_len.div_ceil(64) + end.len());
    out.extend_from_slice(begin.as_bytes());
    let mut column = 0;
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                ALPHABET[(n >> (18 - 6 * i)) as usize & 63]
            } else {
                b'='
            });
            column += 1;
            if column == 64 {
                out.push(b'\n');
                column = 0;
            }
        }
    }
    if column > 0 {
        out.push(b'\n');
    }
    out.extend_from_slice(end.as_bytes());
    debug_assert_eq!(out.len(), out.capacity(), "the PEM buffer grew");
    Secret::new(out)
}

/// Whether `key` belongs to the first certificate in the PEM file at `cert_path` (an
/// unreadable file fits nothing).
pub fn key_fits(cert_path: &Path, key: &Secret) -> bool {
    read_certificates(cert_path, "client certificate")
        .and_then(|certs| check_key_matches(&certs, key, cert_path, cert_path))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_encoding_round_trips_through_the_parser() {
        for len in [0usize, 1, 2, 3, 47, 48, 49, 100] {
            let der: Vec<u8> = (0..len).map(|i| (i * 37 % 256) as u8).collect();
            let pem = pem_encode("CERTIFICATE", &der);
            let found = sections(pem.as_bytes()).unwrap();
            if len == 0 {
                continue;
            }
            assert_eq!(found, vec![(SectionKind::Certificate, der)], "len {len}");
        }
        assert_eq!(
            pem_encode("X", b"Man"),
            "-----BEGIN X-----\nTWFu\n-----END X-----\n"
        );
        assert_eq!(
            pem_encode("X", b"Ma"),
            "-----BEGIN X-----\nTWE=\n-----END X-----\n"
        );
    }

    #[test]
    fn encrypted_and_foreign_files_are_named() {
        let enc =
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let err = parse_private_key(enc, Path::new("k.pem"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("encrypted") && err.contains("openssl pkey"),
            "{err}"
        );
        let csr = pem_encode("CERTIFICATE REQUEST", b"\x30\x00");
        let err = parse_private_key(csr.as_bytes(), Path::new("k.pem"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("signing request"), "{err}");
        let err = parse_certificates(b"\x30\x82\x01", Path::new("c.pem"), "CA file")
            .unwrap_err()
            .to_string();
        assert!(err.contains("DER"), "{err}");
    }
}

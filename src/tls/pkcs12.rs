//! The PKCS#12 bundle `export-p12` writes, as OpenSSL 3 and NSS read it without their legacy
//! algorithms: the key in a PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) shrouded key bag, the
//! certificates in a PBES2-encrypted SafeContents, and an HMAC-SHA256 MAC keyed with the
//! PKCS#12 key derivation (RFC 7292 appendix B) — the layout `openssl pkcs12 -export` makes.
//! The DER is written here with a small TLV writer; the cryptography is ring's and
//! RustCrypto's.

use aes::cipher::{BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
use anyhow::{Result, anyhow};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

/// PBKDF2 and MAC iterations: far above OpenSSL's default of 2,048, still a fraction of a
/// second for a browser's import.
const ITERATIONS: u32 = 100_000;

mod oid {
    pub const DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
    pub const ENCRYPTED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x06];
    pub const SHROUDED_KEY_BAG: &[u8] = &[
        0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x02,
    ];
    pub const CERT_BAG: &[u8] = &[
        0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x03,
    ];
    pub const X509_CERTIFICATE: &[u8] =
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x16, 0x01];
    pub const FRIENDLY_NAME: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x14];
    pub const LOCAL_KEY_ID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x15];
    pub const PBES2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d];
    pub const PBKDF2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0c];
    pub const HMAC_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x09];
    pub const AES256_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a];
    pub const SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
}

/// A DER element: tag, definite length, contents.
fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let len = contents.len();
    let mut out = Vec::with_capacity(len + 6);
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(contents);
    out
}

fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

fn set(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x31, &parts.concat())
}

fn oid(value: &[u8]) -> Vec<u8> {
    tlv(0x06, value)
}

fn octets(value: &[u8]) -> Vec<u8> {
    tlv(0x04, value)
}

/// `[0] EXPLICIT`.
fn explicit0(inner: &[u8]) -> Vec<u8> {
    tlv(0xa0, inner)
}

fn integer(value: u32) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count().min(3);
    let mut contents = bytes[skip..].to_vec();
    if contents[0] & 0x80 != 0 {
        contents.insert(0, 0);
    }
    tlv(0x02, &contents)
}

const NULL: [u8; 2] = [0x05, 0x00];

/// The password as PKCS#12's MAC key derivation takes it: UTF-16BE with a terminating NUL.
fn bmp_password(password: &str) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(password.len() * 2 + 2));
    for unit in password.encode_utf16() {
        out.extend_from_slice(&unit.to_be_bytes());
    }
    out.extend_from_slice(&[0, 0]);
    out
}

/// RFC 7292 appendix B.2 with SHA-256 (u = 32, v = 64): `n` bytes of key material of kind
/// `id` (3 is the MAC key).
fn pkcs12_kdf(
    id: u8,
    password: &[u8],
    salt: &[u8],
    iterations: u32,
    n: usize,
) -> Zeroizing<Vec<u8>> {
    const U: usize = 32;
    const V: usize = 64;
    // S and P each repeated to a multiple of v bytes, built in one wiped buffer: I holds
    // the password.
    let mut i = Zeroizing::new(Vec::new());
    for input in [salt, password] {
        if !input.is_empty() {
            let len = V * input.len().div_ceil(V);
            i.extend(input.iter().copied().cycle().take(len));
        }
    }
    let mut out = Zeroizing::new(Vec::with_capacity(n + U));
    while out.len() < n {
        let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
        hash.update(&[id; V]);
        hash.update(&i);
        let mut a = Zeroizing::new([0u8; U]);
        a.copy_from_slice(hash.finish().as_ref());
        for _ in 1..iterations {
            let next = ring::digest::digest(&ring::digest::SHA256, &*a);
            a.copy_from_slice(next.as_ref());
        }
        out.extend_from_slice(&*a);
        // I_j = (I_j + B + 1) mod 2^(8v), B being A repeated to v bytes.
        for block in i.chunks_mut(V) {
            let mut carry = 1u16;
            for k in (0..V).rev() {
                let sum = u16::from(block[k]) + u16::from(a[k % U]) + carry;
                block[k] = sum as u8;
                carry = sum >> 8;
            }
        }
    }
    out.truncate(n);
    out
}

fn random<const N: usize>(rng: &SystemRandom) -> Result<[u8; N]> {
    let mut out = [0u8; N];
    rng.fill(&mut out)
        .map_err(|_| anyhow!("the operating system's random number generator failed"))?;
    Ok(out)
}

/// PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC: the algorithm identifier and the
/// ciphertext of `plain`.
fn pbes2_encrypt(password: &str, plain: &[u8], rng: &SystemRandom) -> Result<(Vec<u8>, Vec<u8>)> {
    let salt: [u8; 16] = random(rng)?;
    let iv: [u8; 16] = random(rng)?;
    let mut key = Zeroizing::new([0u8; 32]);
    ring::pbkdf2::derive(
        ring::pbkdf2::PBKDF2_HMAC_SHA256,
        std::num::NonZeroU32::new(ITERATIONS).expect("non-zero"),
        &salt,
        password.as_bytes(),
        &mut *key,
    );
    let ciphertext = cbc::Encryptor::<aes::Aes256>::new(&(*key).into(), &iv.into())
        .encrypt_padded_vec_mut::<Pkcs7>(plain);
    let algorithm = seq(&[
        &oid(oid::PBES2),
        &seq(&[
            &seq(&[
                &oid(oid::PBKDF2),
                &seq(&[
                    &octets(&salt),
                    &integer(ITERATIONS),
                    &seq(&[&oid(oid::HMAC_SHA256), &NULL]),
                ]),
            ]),
            &seq(&[&oid(oid::AES256_CBC), &octets(&iv)]),
        ]),
    ]);
    Ok((algorithm, ciphertext))
}

/// The bag attributes OpenSSL writes: the key id that pairs the key with its certificate,
/// and the name a browser shows.
fn attributes(local_key_id: &[u8], name: &str) -> Vec<u8> {
    let bmp: Vec<u8> = name.encode_utf16().flat_map(u16::to_be_bytes).collect();
    set(&[
        &seq(&[&oid(oid::LOCAL_KEY_ID), &set(&[&octets(local_key_id)])]),
        &seq(&[&oid(oid::FRIENDLY_NAME), &set(&[&tlv(0x1e, &bmp)])]),
    ])
}

/// The bundle: `chain` starts with the client certificate, `key_pkcs8` is its key as
/// PKCS#8 DER, and `name` is the friendly name of both.
pub fn bundle(name: &str, chain: &[&[u8]], key_pkcs8: &[u8], password: &str) -> Result<Vec<u8>> {
    let rng = SystemRandom::new();
    let Some(leaf) = chain.first() else {
        return Err(anyhow!("a PKCS#12 bundle needs the client certificate"));
    };
    let local_key_id = ring::digest::digest(&ring::digest::SHA256, leaf);
    let local_key_id = &local_key_id.as_ref()[..20];

    let cert_bags: Vec<Vec<u8>> = chain
        .iter()
        .enumerate()
        .map(|(i, cert)| {
            let value = seq(&[&oid(oid::X509_CERTIFICATE), &explicit0(&octets(cert))]);
            let bag = [oid(oid::CERT_BAG), explicit0(&value)].concat();
            let attrs = if i == 0 {
                attributes(local_key_id, name)
            } else {
                Vec::new()
            };
            seq(&[&bag, &attrs])
        })
        .collect();
    let certs = seq(&cert_bags.iter().map(Vec::as_slice).collect::<Vec<_>>());
    let (algorithm, encrypted_certs) = pbes2_encrypt(password, &certs, &rng)?;
    let encrypted_data = seq(&[
        &integer(0),
        &seq(&[&oid(oid::DATA), &algorithm, &tlv(0x80, &encrypted_certs)]),
    ]);
    let certs_info = seq(&[&oid(oid::ENCRYPTED_DATA), &explicit0(&encrypted_data)]);

    let (algorithm, encrypted_key) = pbes2_encrypt(password, key_pkcs8, &rng)?;
    let key_bag = seq(&[
        &oid(oid::SHROUDED_KEY_BAG),
        &explicit0(&seq(&[&algorithm, &octets(&encrypted_key)])),
        &attributes(local_key_id, name),
    ]);
    let key_info = seq(&[&oid(oid::DATA), &explicit0(&octets(&seq(&[&key_bag])))]);

    let auth_safe = seq(&[&certs_info, &key_info]);
    let mac_salt: [u8; 16] = random(&rng)?;
    let mac_key = pkcs12_kdf(3, &bmp_password(password), &mac_salt, ITERATIONS, 32);
    let mac = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &mac_key),
        &auth_safe,
    );
    let mac_data = seq(&[
        &seq(&[&seq(&[&oid(oid::SHA256), &NULL]), &octets(mac.as_ref())]),
        &octets(&mac_salt),
        &integer(ITERATIONS),
    ]);
    Ok(seq(&[
        &integer(3),
        &seq(&[&oid(oid::DATA), &explicit0(&octets(&auth_safe))]),
        &mac_data,
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths_and_integers_are_minimal() {
        assert_eq!(tlv(0x04, &[1, 2]), [0x04, 2, 1, 2]);
        assert_eq!(&tlv(0x04, &[0; 200])[..3], [0x04, 0x81, 200]);
        assert_eq!(&tlv(0x04, &[0; 300])[..4], [0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(integer(0), [0x02, 1, 0]);
        assert_eq!(integer(3), [0x02, 1, 3]);
        assert_eq!(integer(128), [0x02, 2, 0, 128]);
        assert_eq!(integer(100_000), [0x02, 3, 0x01, 0x86, 0xa0]);
    }

    #[test]
    fn the_mac_key_derivation_matches_rfc_7292() {
        // OpenSSL 3's PKCS12KDF with SHA-256, ID 3, the password "pw" as the BMPString it
        // takes (00 70 00 77 00 00), salt 8 bytes of 0x01, 2048 iterations, 32 bytes:
        // `openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt hexpass:007000770000
        // -kdfopt hexsalt:0101010101010101 -kdfopt iter:2048 -kdfopt id:3 PKCS12KDF`.
        let key = pkcs12_kdf(3, &bmp_password("pw"), &[1; 8], 2048, 32);
        let hex: String = key.iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(
            hex,
            "DC1574E416790AADA3BBA825A957EAAE7F4C07801E185709806DE7C14CB1D211"
        );
        assert_eq!(bmp_password("pw").as_slice(), [0, b'p', 0, b'w', 0, 0]);
    }
}

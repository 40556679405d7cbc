//! The transport encryption of a Secret Service session: the spec's
//! `dh-ietf1024-sha256-aes128-cbc-pkcs7` (Diffie-Hellman in the second Oakley group, HKDF-SHA256
//! to an AES-128 key, AES-CBC with PKCS#7 padding), or `plain` when the user opted in.
//!
//! Why this is ours and not the store crates': they draw the private key from `fastrand`
//! (not a cryptographic generator) and exponentiate with a variable-time square-and-multiply
//! loop over `BigUint` (about 3 ms each, two per session). Here the private exponent is 256 bits
//! from the operating system's CSPRNG (`ring::rand::SystemRandom`, which is getrandom(2) on
//! Linux), and both exponentiations are crypto-bigint's constant-time Montgomery
//! multiplication (a fixed 4-bit window with constant-time table look-ups) with the prime's
//! parameters computed at compile time; HKDF is ring's, AES-CBC RustCrypto's.
//!
//! A 256-bit exponent, not a 1024-bit one: a 1024-bit MODP group is worth about 80 bits of
//! security, and the best attack on a short exponent (Pollard's lambda) costs 2^128, so a
//! longer exponent buys nothing (RFC 3526 §8, NIST SP 800-56A's 2x rule) while costing four
//! times as long.

use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
use crypto_bigint::modular::{ConstMontyForm, ConstMontyParams};
use crypto_bigint::{U1024, const_monty_params};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::secret::Secret;

pub const DH: &str = "dh-ietf1024-sha256-aes128-cbc-pkcs7";
pub const PLAIN: &str = "plain";

const_monty_params!(
    Oakley2,
    U1024,
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF",
    "The 1024-bit MODP prime of RFC 2409 §6.2 (the second Oakley group), generator 2: the group the Secret Service spec names for dh-ietf1024."
);

type Element = ConstMontyForm<Oakley2, { U1024::LIMBS }>;

/// Bits of the private exponent; see the module's opening.
const EXPONENT_BITS: u32 = 256;
/// Bytes of the prime, and so of every public value and of the shared secret.
const PRIME_BYTES: usize = 128;

/// Why a session could not be set up, or a secret not be read.
#[derive(Debug)]
pub enum SessionError {
    Random,
    BadPublicKey,
    BadSecret,
}

impl std::fmt::Display for SessionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Random => "the operating system's random number generator failed",
            Self::BadPublicKey => {
                "the Secret Service answered the key exchange with an invalid public key"
            }
            Self::BadSecret => {
                "a secret from the Secret Service did not decrypt with the session's key"
            }
        })
    }
}

/// Our half of a key exchange: a private exponent (wiped when dropped) and its public value.
pub struct KeyPair {
    private: Zeroizing<U1024>,
    public: [u8; PRIME_BYTES],
}

impl KeyPair {
    /// A fresh key pair: 32 bytes from the OS CSPRNG as the exponent.
    pub fn generate() -> Result<Self, SessionError> {
        let mut bytes = Zeroizing::new([0u8; PRIME_BYTES]);
        loop {
            SystemRandom::new()
                .fill(&mut bytes[PRIME_BYTES - EXPONENT_BITS as usize / 8..])
                .map_err(|_| SessionError::Random)?;
            let private = Zeroizing::new(U1024::from_be_slice(&*bytes));
            // Zero would make the public value 1 (probability 2^-256, but it costs nothing).
            if !bool::from(private.is_zero()) {
                let public = generator().pow_bounded_exp(&private, EXPONENT_BITS);
                return Ok(Self {
                    private,
                    public: public.retrieve().to_be_bytes().into(),
                });
            }
        }
    }

    /// The public value as OpenSession takes it: big-endian, the prime's length.
    pub fn public(&self) -> &[u8] {
        &self.public
    }

    /// The AES key both sides derive from the service's public value: HKDF-SHA256 of the
    /// shared secret (big-endian, padded to the prime's length), no salt, no info, 16 bytes.
    pub fn aes_key(&self, theirs: &[u8]) -> Result<Zeroizing<[u8; 16]>, SessionError> {
        let theirs = public_value(theirs).ok_or(SessionError::BadPublicKey)?;
        let shared = Zeroizing::new(
            Element::new(&theirs)
                .pow_bounded_exp(&self.private, EXPONENT_BITS)
                .retrieve(),
        );
        let ikm = Zeroizing::new(<[u8; PRIME_BYTES]>::from(shared.to_be_bytes()));
        let mut key = Zeroizing::new([0u8; 16]);
        hkdf::Salt::new(hkdf::HKDF_SHA256, &[])
            .extract(&*ikm)
            .expand(&[], AesKeyLen)
            .and_then(|okm| okm.fill(&mut *key))
            .map_err(|_| SessionError::BadPublicKey)?;
        Ok(key)
    }
}

fn generator() -> Element {
    Element::new(&U1024::from_u8(2))
}

/// The service's public value, when it is one: 2 <= y <= p - 2 (0, 1 and p - 1 would make
/// the shared secret one of three known values).
fn public_value(bytes: &[u8]) -> Option<U1024> {
    // Some services send the value without its leading zero bytes, some with one too many.
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    let digits = &bytes[start..];
    if digits.len() > PRIME_BYTES {
        return None;
    }
    let mut padded = [0u8; PRIME_BYTES];
    padded[PRIME_BYTES - digits.len()..].copy_from_slice(digits);
    let y = U1024::from_be_slice(&padded);
    let p_minus_1 = Oakley2::PARAMS.modulus().get().wrapping_sub(&U1024::ONE);
    (y > U1024::ONE && y < p_minus_1).then_some(y)
}

struct AesKeyLen;

impl hkdf::KeyType for AesKeyLen {
    fn len(&self) -> usize {
        16
    }
}

/// How secrets cross the bus in a session.
pub enum Cipher {
    Plain,
    Aes(Zeroizing<[u8; 16]>),
}

impl Cipher {
    /// The `parameters` (IV) and `value` of a Secret struct carrying `plain` (the value
    /// wiped when dropped: in the plain session it is the secret itself).
    pub fn encrypt(&self, plain: &[u8]) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>), SessionError> {
        match self {
            Self::Plain => Ok((Vec::new(), Zeroizing::new(plain.to_vec()))),
            Self::Aes(key) => {
                let mut iv = [0u8; 16];
                SystemRandom::new()
                    .fill(&mut iv)
                    .map_err(|_| SessionError::Random)?;
                let sealed = cbc::Encryptor::<aes::Aes128>::new(&(**key).into(), &iv.into())
                    .encrypt_padded_vec_mut::<Pkcs7>(plain);
                Ok((iv.to_vec(), Zeroizing::new(sealed)))
            }
        }
    }

    /// The secret a Secret struct's `parameters` and `value` carry.
    pub fn decrypt(&self, parameters: &[u8], value: Vec<u8>) -> Result<Secret, SessionError> {
        match self {
            Self::Plain => Ok(Secret::new(value)),
            Self::Aes(key) => {
                let iv: [u8; 16] = parameters.try_into().map_err(|_| SessionError::BadSecret)?;
                // In place, in a buffer wiped whatever happens: a block that fails the padding
                // check leaves the blocks before it decrypted.
                let mut buffer = Zeroizing::new(value);
                let len = cbc::Decryptor::<aes::Aes128>::new(&(**key).into(), &iv.into())
                    .decrypt_padded_mut::<Pkcs7>(&mut buffer)
                    .map_err(|_| SessionError::BadSecret)?
                    .len();
                Ok(Secret::new(buffer[..len].to_vec()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_derive_the_same_key() {
        let (ours, theirs) = (KeyPair::generate().unwrap(), KeyPair::generate().unwrap());
        let key = ours.aes_key(theirs.public()).unwrap();
        assert_eq!(*key, *theirs.aes_key(ours.public()).unwrap());
        let cipher = Cipher::Aes(key);
        let (iv, sealed) = cipher.encrypt(b"the key").unwrap();
        assert_ne!(sealed.as_slice(), b"the key");
        assert_eq!(
            cipher.decrypt(&iv, sealed.to_vec()).unwrap().expose(),
            b"the key"
        );
    }

    #[test]
    fn the_private_exponent_is_fresh_random_each_time() {
        // Two sessions never share a public value (a seeded or fixed generator would), and the
        // exponent is the full 256 bits drawn, not a handful.
        let publics: Vec<_> = (0..16)
            .map(|_| KeyPair::generate().unwrap().public)
            .collect();
        for (i, a) in publics.iter().enumerate() {
            assert!(publics[i + 1..].iter().all(|b| a != b));
        }
        let pair = KeyPair::generate().unwrap();
        assert!(
            pair.private.bit_width() > 200,
            "{} bits",
            pair.private.bit_width()
        );
        assert!(pair.private.bit_width() <= EXPONENT_BITS);
    }

    #[test]
    fn known_answer_for_the_exchange() {
        // g^1 = 2 and (2)^x = the public value: a check of the group and encoding that does
        // not depend on our own generator.
        let one = KeyPair {
            private: Zeroizing::new(U1024::ONE),
            public: [0; PRIME_BYTES],
        };
        let pair = KeyPair::generate().unwrap();
        let mut two = [0u8; PRIME_BYTES];
        two[PRIME_BYTES - 1] = 2;
        // x = 1: the shared secret is their public value itself.
        let via_one = one.aes_key(pair.public()).unwrap();
        let mut expected = Zeroizing::new([0u8; 16]);
        hkdf::Salt::new(hkdf::HKDF_SHA256, &[])
            .extract(pair.public())
            .expand(&[], AesKeyLen)
            .unwrap()
            .fill(&mut *expected)
            .unwrap();
        assert_eq!(*via_one, *expected);
        // Their side with our public value 2.
        assert_eq!(
            *pair.aes_key(&two).unwrap(),
            *one.aes_key(pair.public()).unwrap()
        );
    }

    #[test]
    fn known_answer_independent_of_our_code() {
        // x = 1 and the service's value 2: HKDF-SHA256 of 2 as 128 big-endian bytes, no salt,
        // no info, 16 bytes, computed with Python's hmac module.
        let one = KeyPair {
            private: Zeroizing::new(U1024::ONE),
            public: [0; PRIME_BYTES],
        };
        let key = one.aes_key(&[2]).unwrap();
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "fded2eddc1597b0c98d213751caef29d");
    }

    #[test]
    fn degenerate_public_values_are_refused() {
        let pair = KeyPair::generate().unwrap();
        let p = Oakley2::PARAMS.modulus().get().to_be_bytes();
        let p_minus_1 = Oakley2::PARAMS
            .modulus()
            .get()
            .wrapping_sub(&U1024::ONE)
            .to_be_bytes();
        for bad in [
            &[][..],
            &[0],
            &[1],
            &[0, 0, 1],
            &p_minus_1[..],
            &p[..],
            &[0xff; 129],
        ] {
            assert!(pair.aes_key(bad).is_err(), "{bad:?}");
        }
        assert!(pair.aes_key(&[2]).is_ok());
        let mut with_leading_zero = vec![0u8];
        with_leading_zero.extend_from_slice(pair.public());
        assert!(pair.aes_key(&with_leading_zero).is_ok());
    }

    #[test]
    fn a_tampered_secret_does_not_decrypt() {
        let cipher = Cipher::Aes(Zeroizing::new([7; 16]));
        let (iv, mut sealed) = cipher.encrypt(b"0123456789abcdef0123").unwrap();
        *sealed.last_mut().unwrap() ^= 1;
        assert!(cipher.decrypt(&iv, sealed.to_vec()).is_err());
        assert!(cipher.decrypt(&[0; 15], vec![0; 16]).is_err());
    }
}

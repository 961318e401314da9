//! The server's AEAD keyring: sealing what must not rest in plaintext (MCP credential
//! secrets, idempotent replays of responses that carry keys or tokens) with
//! AES-256-GCM (ring): a random 96-bit nonce per seal, the row's identity as
//! associated data (so a ciphertext cannot be moved to another row), and the id of the
//! key that sealed it (so keys can be rotated).

use std::collections::HashMap;
use std::fmt;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

/// A sealed secret as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub nonce: Vec<u8>,
    /// Ciphertext followed by the 16-byte tag.
    pub ciphertext: Vec<u8>,
}

/// Why a cipher could not be built or a secret not opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    #[error("a key must be 32 bytes (64 hex characters)")]
    KeyLength,
    #[error("no key with id {0}")]
    UnknownKey(String),
    #[error("the secret does not open with its key (tampered, moved, or wrong key)")]
    Open,
    #[error("sealing failed")]
    Seal,
}

/// The keyring: the current key seals; every key opens what it sealed.
pub struct Cipher {
    current: String,
    keys: HashMap<String, LessSafeKey>,
    rng: SystemRandom,
}

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cipher")
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

fn key(bytes: &[u8]) -> Result<LessSafeKey, CipherError> {
    UnboundKey::new(&AES_256_GCM, bytes)
        .map(LessSafeKey::new)
        .map_err(|_| CipherError::KeyLength)
}

/// Decodes 64 hex characters into a 32-byte key.
///
/// # Errors
/// Anything else.
pub fn parse_hex_key(hex: &str) -> Result<Vec<u8>, CipherError> {
    let hex = hex.trim();
    if hex.len() != 64 || !hex.is_ascii() {
        return Err(CipherError::KeyLength);
    }
    (0..32)
        .map(|i| u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).map_err(|_| CipherError::KeyLength))
        .collect()
}

impl Cipher {
    /// A keyring whose current key is `(current_id, current)`; `older` keys only open.
    ///
    /// # Errors
    /// A key that is not 32 bytes.
    pub fn new(
        current_id: &str,
        current: &[u8],
        older: &[(String, Vec<u8>)],
    ) -> Result<Self, CipherError> {
        let mut keys = HashMap::new();
        for (id, bytes) in older {
            keys.insert(id.clone(), key(bytes)?);
        }
        keys.insert(current_id.to_owned(), key(current)?);
        Ok(Self {
            current: current_id.to_owned(),
            keys,
            rng: SystemRandom::new(),
        })
    }

    /// Seals `plaintext`, bound to `aad`.
    ///
    /// # Errors
    /// `Seal` if the system has no randomness.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Sealed, CipherError> {
        let key = self
            .keys
            .get(&self.current)
            .ok_or_else(|| CipherError::UnknownKey(self.current.clone()))?;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| CipherError::Seal)?;
        let mut buf = plaintext.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut buf,
        )
        .map_err(|_| CipherError::Seal)?;
        Ok(Sealed {
            key_id: self.current.clone(),
            nonce: nonce.to_vec(),
            ciphertext: buf,
        })
    }

    /// Opens a sealed secret bound to `aad`.
    ///
    /// # Errors
    /// `UnknownKey` for a key not in the ring; `Open` for anything tampered or moved.
    pub fn open(&self, sealed: &Sealed, aad: &[u8]) -> Result<Vec<u8>, CipherError> {
        let key = self
            .keys
            .get(&sealed.key_id)
            .ok_or_else(|| CipherError::UnknownKey(sealed.key_id.clone()))?;
        let nonce: [u8; NONCE_LEN] = sealed
            .nonce
            .as_slice()
            .try_into()
            .map_err(|_| CipherError::Open)?;
        let mut buf = sealed.ciphertext.clone();
        let plain = key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut buf,
            )
            .map_err(|_| CipherError::Open)?;
        Ok(plain.to_vec())
    }
}

//! Encrypted secrets in configuration files: `enc:v1:` tokens and the key file.
//!
//! A token is `enc:v1:` followed by base64 of a random 96-bit nonce and the AES-256-GCM ciphertext
//! (with its authentication tag), so a wrong key or a damaged token is detected, never decrypted
//! into garbage. The key file holds `trailhound-key:v1:` and base64 of 32 random bytes; it is
//! created with mode 0600. No error message here ever contains a secret or a token.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

/// What every encrypted value starts with.
pub const ENCRYPTED_PREFIX: &str = "enc:";
const TOKEN_PREFIX: &str = "enc:v1:";
const KEY_PREFIX: &str = "trailhound-key:v1:";
const NONCE_BYTES: usize = 12;

/// A problem with the key file or a token.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The key file cannot be read.
    #[error("cannot read key file {path}: {source}")]
    KeyFileUnreadable {
        /// The key file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The key file is not a Trailhound key.
    #[error("key file {path} is not a Trailhound key (expected a line starting with {KEY_PREFIX})")]
    KeyFileInvalid {
        /// The key file.
        path: PathBuf,
    },
    /// The key file cannot be created.
    #[error("cannot create key file {path}: {source}")]
    KeyFileUncreatable {
        /// The key file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The token was made with another key, or was damaged.
    #[error("cannot decrypt: the value was encrypted with another key, or it was damaged")]
    WrongKeyOrDamaged,
    /// The token is not `enc:v1:<base64>`.
    #[error("not a valid encrypted value (expected enc:v1: followed by base64)")]
    Malformed,
    /// The token has a version this build does not know.
    #[error("encrypted with an unknown format (this build reads enc:v1: values)")]
    UnknownVersion,
}

/// The key that encrypts and decrypts configuration secrets.
pub struct SecretKey(Key<Aes256Gcm>);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

impl SecretKey {
    /// A new random key.
    pub fn generate() -> Self {
        SecretKey(Aes256Gcm::generate_key(OsRng))
    }

    /// Reads a key file.
    pub fn load(path: &Path) -> Result<Self, SecretError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| SecretError::KeyFileUnreadable { path: path.to_path_buf(), source })?;
        let invalid = || SecretError::KeyFileInvalid { path: path.to_path_buf() };
        let encoded = text.trim().strip_prefix(KEY_PREFIX).ok_or_else(invalid)?;
        let bytes = BASE64.decode(encoded).map_err(|_| invalid())?;
        if bytes.len() != 32 {
            return Err(invalid());
        }
        if let Ok(metadata) = std::fs::metadata(path)
            && metadata.permissions().mode() & 0o077 != 0
        {
            tracing::warn!("key file {} can be read by other users; run chmod 600 on it", path.display());
        }
        Ok(SecretKey(*Key::<Aes256Gcm>::from_slice(&bytes)))
    }

    /// Writes this key to a new file with mode 0600; never overwrites an existing file.
    pub fn save_new(&self, path: &Path) -> Result<(), SecretError> {
        let uncreatable = |source| SecretError::KeyFileUncreatable { path: path.to_path_buf(), source };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(uncreatable)?;
        }
        let mut file =
            OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(uncreatable)?;
        writeln!(file, "{KEY_PREFIX}{}", BASE64.encode(self.0)).map_err(uncreatable)?;
        file.sync_all().map_err(uncreatable)
    }

    /// The key in `path`, created there first when the file does not exist. True when created.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), SecretError> {
        match std::fs::metadata(path) {
            Ok(_) => Ok((Self::load(path)?, false)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate();
                key.save_new(path)?;
                Ok((key, true))
            }
            Err(source) => Err(SecretError::KeyFileUnreadable { path: path.to_path_buf(), source }),
        }
    }

    /// Encrypts a secret into an `enc:v1:` token.
    pub fn encrypt(&self, plain: &str) -> String {
        let nonce = Aes256Gcm::generate_nonce(OsRng);
        let sealed = Aes256Gcm::new(&self.0)
            .encrypt(&nonce, plain.as_bytes())
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{TOKEN_PREFIX}{}", BASE64.encode(bytes))
    }

    /// Decrypts an `enc:v1:` token.
    pub fn decrypt(&self, token: &str) -> Result<String, SecretError> {
        let Some(encoded) = token.strip_prefix(TOKEN_PREFIX) else {
            return Err(if token.starts_with(ENCRYPTED_PREFIX) {
                SecretError::UnknownVersion
            } else {
                SecretError::Malformed
            });
        };
        let bytes = BASE64.decode(encoded.trim()).map_err(|_| SecretError::Malformed)?;
        if bytes.len() <= NONCE_BYTES {
            return Err(SecretError::Malformed);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let plain = Aes256Gcm::new(&self.0)
            .decrypt(Nonce::from_slice(nonce), sealed)
            .map_err(|_| SecretError::WrongKeyOrDamaged)?;
        String::from_utf8(plain).map_err(|_| SecretError::WrongKeyOrDamaged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_fresh_nonces() {
        let key = SecretKey::generate();
        let first = key.encrypt("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        let second = key.encrypt("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        assert!(first.starts_with("enc:v1:"));
        assert_ne!(first, second, "every token has its own nonce");
        assert_eq!(key.decrypt(&first).unwrap(), "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    }

    #[test]
    fn wrong_keys_damage_and_garbage_are_errors_that_show_nothing() {
        let key = SecretKey::generate();
        let token = key.encrypt("hunter2");
        let other = SecretKey::generate();
        assert!(matches!(other.decrypt(&token), Err(SecretError::WrongKeyOrDamaged)));
        let mut damaged = token.clone().into_bytes();
        let last = damaged.len() - 3;
        damaged[last] = if damaged[last] == b'A' { b'B' } else { b'A' };
        assert!(matches!(
            key.decrypt(std::str::from_utf8(&damaged).unwrap()),
            Err(SecretError::WrongKeyOrDamaged)
        ));
        assert!(matches!(key.decrypt("enc:v1:!!!"), Err(SecretError::Malformed)));
        assert!(matches!(key.decrypt("enc:v9:abc"), Err(SecretError::UnknownVersion)));
        for error in [other.decrypt(&token).unwrap_err(), key.decrypt("enc:v1:!!!").unwrap_err()] {
            assert!(!error.to_string().contains("hunter2") && !error.to_string().contains(&token));
        }
    }

    #[test]
    fn key_files_are_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/trailhound.key");
        let (key, created) = SecretKey::load_or_create(&path).unwrap();
        assert!(created);
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let (again, created) = SecretKey::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(again.decrypt(&key.encrypt("x")).unwrap(), "x");
        assert!(matches!(SecretKey::generate().save_new(&path), Err(SecretError::KeyFileUncreatable { .. })));
        std::fs::write(dir.path().join("bad.key"), "not a key").unwrap();
        assert!(matches!(
            SecretKey::load(&dir.path().join("bad.key")),
            Err(SecretError::KeyFileInvalid { .. })
        ));
    }
}

//! TLS client settings shared by the `syslog` (`tls://`) and `http` (`https://`) sinks.
//!
//! Trust is the system's certificate store plus, optionally, a PEM file of extra CAs (a private
//! PKI is the common case for a SIEM's receiver). A client certificate and key may be presented
//! for mutual TLS. The crypto provider is aws-lc-rs, the one the AWS SDK already links.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use crate::config::TlsSettings;

/// A TLS setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("{what} {path}: {reason}")]
    Pem {
        /// Which setting.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// No certificate to trust at all.
    #[error("no trusted CA certificate: the system store is empty and no ca_file is set")]
    NoRoots,
    /// rustls refused the configuration (a key that does not match its certificate, …).
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A client configuration for `settings`.
pub(super) fn client_config(settings: &TlsSettings) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    // Unreadable system certificates are skipped, as every TLS client does.
    for certificate in rustls_native_certs::load_native_certs().certs {
        roots.add(certificate).ok();
    }
    if let Some(path) = &settings.ca_file {
        for certificate in certificates(path, "ca_file")? {
            roots.add(certificate).map_err(|error| TlsError::Pem {
                what: "ca_file",
                path: path.clone(),
                reason: error.to_string(),
            })?;
        }
    }
    if roots.is_empty() {
        return Err(TlsError::NoRoots);
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let config = match (&settings.client_cert_file, &settings.client_key_file) {
        (Some(cert), Some(key)) => {
            let chain = certificates(cert, "client_cert_file")?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|error| TlsError::Pem {
                what: "client_key_file",
                path: key.clone(),
                reason: error.to_string(),
            })?;
            builder.with_client_auth_cert(chain, key)?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

fn certificates(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let problem = |reason: String| TlsError::Pem { what, path: path.to_path_buf(), reason };
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|error| problem(error.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| problem(error.to_string()))?;
    if certificates.is_empty() {
        return Err(problem("no PEM certificate in it".into()));
    }
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_certificates_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let settings = TlsSettings { ca_file: Some(path.clone()), ..TlsSettings::default() };
        let error = client_config(&settings).unwrap_err().to_string();
        assert_eq!(error, format!("ca_file {}: no PEM certificate in it", path.display()));
    }

    #[test]
    fn a_missing_key_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let ca = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let cert = dir.path().join("cert.pem");
        std::fs::write(&cert, ca.cert.pem()).unwrap();
        let settings = TlsSettings {
            ca_file: Some(cert.clone()),
            client_cert_file: Some(cert),
            client_key_file: Some(dir.path().join("missing.key")),
            server_name: None,
        };
        let error = client_config(&settings).unwrap_err().to_string();
        assert!(error.starts_with("client_key_file ") && error.contains("missing.key"), "{error}");
    }
}

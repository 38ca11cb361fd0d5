//! TLS client set-up and classification of TLS failures.
//!
//! Certificates are verified against the platform's trust store (rustls-platform-verifier),
//! plus the CA certificates of an optional per-mailbox `ca_file`. Nothing here can turn
//! verification off.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mailcanary_core::Category;
use rustls::pki_types::CertificateDer;
use rustls::{CertificateError, ClientConfig};

/// Why TLS could not be set up (before any connection).
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// The CA file cannot be read.
    #[error("cannot read CA file {path}: {source}")]
    CaFileUnreadable {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The CA file holds no PEM certificate.
    #[error("CA file {0} holds no PEM certificate")]
    CaFileEmpty(PathBuf),
    /// rustls refused the configuration.
    #[error("TLS set-up failed: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Reads the extra trusted CA certificates from a PEM file.
pub fn load_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let bytes = std::fs::read(path).map_err(|source| TlsSetupError::CaFileUnreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut bytes.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|source| TlsSetupError::CaFileUnreadable {
            path: path.to_path_buf(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsSetupError::CaFileEmpty(path.to_path_buf()));
    }
    Ok(certs)
}

/// A verified TLS client configuration with the platform's roots plus `extra_roots`.
pub fn client_config(
    extra_roots: Vec<CertificateDer<'static>>,
) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra_roots, provider.clone())?;
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous() // only to install the platform verifier, which verifies
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Finds a rustls error anywhere in an error's source chain (also inside `io::Error`s).
pub fn find_rustls_error<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(r) = inner.downcast_ref::<rustls::Error>()
        {
            return Some(r);
        }
        cur = e.source();
    }
    None
}

/// The category of a TLS handshake failure.
pub fn classify_rustls(err: &rustls::Error) -> Category {
    match err {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                Category::TlsExpired
            }
            _ => Category::TlsUntrusted,
        },
        _ => Category::ProtocolError,
    }
}

/// Reads issuer and validity from a server certificate (DER).
pub fn describe_certificate(
    der: &[u8],
    protocol: mailcanary_core::config::Protocol,
    server: &str,
    now_unix: i64,
) -> Option<mailcanary_core::report::TlsInfo> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let not_after = cert.validity().not_after.timestamp();
    Some(mailcanary_core::report::TlsInfo {
        protocol,
        server: server.to_string(),
        issuer: cert.issuer().to_string(),
        not_after: mailcanary_core::report::iso8601_utc((not_after.max(0) as u64) * 1000),
        days_left: (not_after - now_unix).div_euclid(86_400),
    })
}

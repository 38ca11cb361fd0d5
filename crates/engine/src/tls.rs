//! TLS client set-up and classification of TLS failures.
//!
//! Certificates are verified against the platform's trust store (rustls-platform-verifier),
//! plus the CA certificates of an optional per-mailbox `ca_file`. Nothing here can turn
//! verification off.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// How long a built configuration is handed out again: a trust store changed on the system
/// (a CA added or removed) is seen by connections made after that.
const SHARED_FOR: Duration = Duration::from_secs(3600);

/// How many configurations (distinct sets of extra roots) are kept.
const SHARED_AT_MOST: usize = 16;

/// Configurations built, by their extra roots: (roots, built at, configuration).
type Built = Vec<(Vec<CertificateDer<'static>>, Instant, Arc<ClientConfig>)>;

static BUILT: Mutex<Built> = Mutex::new(Vec::new());

/// A verified TLS client configuration with the platform's roots plus `extra_roots`.
///
/// One configuration serves every connection with the same extra roots. Its verifier holds
/// the platform's trust store once loaded (about 150 certificates on Debian, read from disk and
/// parsed: a few milliseconds), and a connection keeps its configuration for as long as it is
/// open, so a configuration per connection would cost that time on every check and that memory
/// for every held-open connection (an IMAP watch per mailbox).
pub fn client_config(
    extra_roots: Vec<CertificateDer<'static>>,
) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    built.retain(|(_, at, _)| at.elapsed() < SHARED_FOR);
    if let Some((_, _, config)) = built.iter().find(|(roots, _, _)| *roots == extra_roots) {
        return Ok(config.clone());
    }
    let config = build_client_config(extra_roots.clone())?;
    if built.len() >= SHARED_AT_MOST {
        built.remove(0); // the oldest
    }
    built.push((extra_roots, Instant::now(), config.clone()));
    Ok(config)
}

fn build_client_config(
    extra_roots: Vec<CertificateDer<'static>>,
) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra_roots, provider.clone())?;
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous() // only to install the platform verifier, which verifies
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    // Every handshake verifies the server's certificate: a resumed session would skip it, and
    // each check must see the certificate the server presents now (a new, expired or
    // intercepting one).
    config.resumption = rustls::client::Resumption::disabled();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_configuration_serves_the_same_roots() {
        let a = client_config(Vec::new()).unwrap();
        let b = client_config(Vec::new()).unwrap();
        assert!(
            Arc::ptr_eq(&a, &b),
            "the same roots share one configuration"
        );
        // Any real CA certificate will do as an extra root: one of the system's.
        let system = load_ca_file(Path::new("/etc/ssl/certs/ca-certificates.crt")).unwrap();
        let c = client_config(system[..1].to_vec()).unwrap();
        let d = client_config(system[..1].to_vec()).unwrap();
        assert!(
            !Arc::ptr_eq(&a, &c),
            "other roots get their own configuration"
        );
        assert!(Arc::ptr_eq(&c, &d));
    }
}

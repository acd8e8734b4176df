//! TLS for the benchmark server (`--tls-cert`, `--tls-key`), so `https://`
//! and `wss://` clients can be tested against a local endpoint; and the
//! reading of such a pair, which `envload coordinator`'s link uses too.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A PEM certificate chain and its private key, read and checked.
pub struct PemPair {
    /// The files as read.
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    /// What they hold.
    pub certs: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

/// Reads `--tls-cert` and `--tls-key`; a file that cannot be read or holds
/// no certificate (no key) is an error naming the flag and the file.
pub fn read_pair(cert: &Path, key: &Path) -> Result<PemPair, String> {
    let read = |flag: &str, p: &Path| {
        std::fs::read(p).map_err(|e| format!("{flag} {}: cannot read it: {e}", p.display()))
    };
    let (cert_pem, key_pem) = (read("--tls-cert", cert)?, read("--tls-key", key)?);
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("--tls-cert {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "--tls-cert {}: holds no PEM certificate",
            cert.display()
        ));
    }
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        format!(
            "--tls-key {}: holds no PEM private key ({e})",
            key.display()
        )
    })?;
    Ok(PemPair {
        cert_pem,
        key_pem,
        certs,
        key: key_der,
    })
}

/// Builds a server configuration from PEM files (HTTP/1.1 only).
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, String> {
    let pair = read_pair(cert, key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(pair.certs, pair.key)
        .map_err(|e| format!("--tls-cert/--tls-key do not form a usable pair: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

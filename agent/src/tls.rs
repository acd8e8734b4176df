//! TLS for `https://` and `wss://` targets (Hugging Face Spaces and the
//! like): rustls with the ring provider, the system's root certificates plus
//! any `--ca-cert`, or no verification at all with `--insecure`.

use std::sync::{Arc, Once};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// How a share verifies servers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Extra trusted CA certificates (PEM), from `--ca-cert`.
    pub ca_pem: Option<Vec<u8>>,
    /// Accept any certificate (`--insecure`).
    pub insecure: bool,
}

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    /// The CA file holds no certificate.
    #[error("--ca-cert holds no PEM certificate")]
    NoCertificate,
    /// A certificate was rejected.
    #[error("--ca-cert: {0}")]
    BadCertificate(String),
    /// rustls refused the protocol setup.
    #[error("TLS setup failed: {0}")]
    Setup(String),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Makes ring the process's default rustls provider (once), for any TLS
/// configuration a library builds on its own.
pub fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A configuration for clients that never speak TLS (plain `http://`
/// targets): no roots at all, so building the share's HTTP client does not
/// read the system's certificate store (hundreds of files per client).
pub fn plain_only() -> Arc<ClientConfig> {
    init();
    let cfg = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("the provider supports the default versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    Arc::new(cfg)
}

/// Parses PEM certificates, failing on none.
pub fn parse_ca(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsConfigError::BadCertificate(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsConfigError::NoCertificate);
    }
    Ok(certs)
}

/// The client configuration for `opts` (HTTP/1.1 only: WebSocket upgrades
/// and the reference's HTTP sessions both use it).
pub fn client_config(opts: &TlsOptions) -> Result<Arc<ClientConfig>, TlsConfigError> {
    init();
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsConfigError::Setup(e.to_string()))?;
    let trust = if opts.insecure {
        Trust::Any
    } else {
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        let mut pinned = Vec::new();
        if let Some(pem) = &opts.ca_pem {
            for cert in parse_ca(pem)? {
                roots
                    .add(cert.clone())
                    .map_err(|e| TlsConfigError::BadCertificate(e.to_string()))?;
                pinned.push(cert);
            }
        }
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| TlsConfigError::Setup(e.to_string()))?;
        Trust::Verified { webpki, pinned }
    };
    let mut config = builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Verifier { trust, provider }))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Which server certificates a share trusts.
#[derive(Debug)]
enum Trust {
    /// `--insecure`: any certificate.
    Any,
    /// The usual verification (system roots plus `--ca-cert`), and one
    /// thing more: a certificate given with `--ca-cert` is trusted as the
    /// server's own even when it is marked as a CA, which is what `openssl
    /// req -x509` makes and what Python's and curl's TLS accept. The host
    /// name is still checked.
    Verified {
        webpki: Arc<WebPkiServerVerifier>,
        pinned: Vec<CertificateDer<'static>>,
    },
}

/// The certificate check of [`Trust`]; handshake signatures are always
/// verified, so the handshake itself stays sound even with `--insecure`.
#[derive(Debug)]
struct Verifier {
    trust: Trust,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Trust::Verified { webpki, pinned } = &self.trust else {
            return Ok(ServerCertVerified::assertion());
        };
        let verdict =
            webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now);
        match verdict {
            Err(e)
                if format!("{e:?}").contains("CaUsedAsEndEntity")
                    && pinned.iter().any(|p| p.as_ref() == end_entity.as_ref()) =>
            {
                let cert = rustls::server::ParsedCertificate::try_from(end_entity)?;
                rustls::client::verify_server_name(&cert, server_name)?;
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The rustls error somewhere in `e`'s source chain (also inside an
/// `io::Error`, as tokio-rustls and hyper wrap it).
pub fn rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        // An io::Error's `source` skips what it wraps; look inside instead.
        cur = match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

/// A TLS failure with `url`, in plain words that name the flag that fixes
/// it.
pub fn describe(e: &rustls::Error, url: &str) -> String {
    use rustls::CertificateError as C;
    let what = match e {
        rustls::Error::InvalidCertificate(C::UnknownIssuer) => {
            "its certificate is not signed by a CA envload trusts: pass that CA (or the \
             self-signed certificate itself) with --ca-cert FILE, or --insecure to skip verification"
                .to_string()
        }
        rustls::Error::InvalidCertificate(
            C::NotValidForName | C::NotValidForNameContext { .. },
        ) => "its certificate is not issued for this host name: connect by a name the \
             certificate lists, or --insecure to skip verification"
            .to_string(),
        rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            "its certificate has expired: renew it, or --insecure to skip verification".to_string()
        }
        rustls::Error::InvalidCertificate(C::NotValidYet | C::NotValidYetContext { .. }) => {
            "its certificate is not valid yet (check both clocks), or --insecure".to_string()
        }
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            "it does not speak TLS: for a plain server use http:// or ws://".to_string()
        }
        rustls::Error::AlertReceived(alert) => {
            format!("the server refused the TLS handshake (alert {alert:?})")
        }
        other => other.to_string(),
    };
    format!("TLS with {url} failed: {what} ({e})")
}

/// Classifies a failed TLS handshake (tokio-rustls reports it as I/O).
pub fn handshake_failure(e: &std::io::Error, url: &str) -> crate::Failure {
    let message = match rustls_error(e) {
        Some(r) => describe(r, url),
        None => format!("TLS handshake with {url} failed: {e}"),
    };
    crate::Failure::new(crate::ErrorType::TlsError, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_certificates_is_refused() {
        assert!(matches!(
            parse_ca(b"hello"),
            Err(TlsConfigError::NoCertificate)
        ));
        let opts = TlsOptions {
            ca_pem: Some(b"nothing here".to_vec()),
            insecure: false,
        };
        assert!(client_config(&opts).is_err());
    }

    #[test]
    fn system_roots_and_insecure_configs_build() {
        assert!(client_config(&TlsOptions::default()).is_ok());
        assert!(client_config(&TlsOptions {
            ca_pem: None,
            insecure: true
        })
        .is_ok());
    }
}

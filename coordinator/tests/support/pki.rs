//! A throwaway PKI for TLS tests: a CA and a certificate it signs for
//! `localhost` and `127.0.0.1`, made with rcgen.

use std::path::PathBuf;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

use super::out_dir;

pub struct Pki {
    /// The CA certificate (PEM).
    pub ca: PathBuf,
    /// The leaf certificate for localhost and 127.0.0.1, signed by the CA.
    pub cert: PathBuf,
    /// The leaf's key.
    pub key: PathBuf,
    /// The files' folder, removed with the Pki.
    pub _dir: super::OutDir,
}

/// A CA and a leaf certificate for localhost/127.0.0.1 in a fresh folder.
pub fn make_pki(name: &str) -> Pki {
    let dir = out_dir(&format!("pki-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "envload test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let leaf = leaf_params
        .signed_by(&leaf_key, &Issuer::new(ca_params, ca_key))
        .unwrap();
    let pki = Pki {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
        _dir: dir,
    };
    std::fs::write(&pki.ca, ca_cert.pem()).unwrap();
    std::fs::write(&pki.cert, leaf.pem()).unwrap();
    std::fs::write(&pki.key, leaf_key.serialize_pem()).unwrap();
    pki
}

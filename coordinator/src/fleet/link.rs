//! What guards the agents' link to a coordinator: TLS (`--tls-cert`,
//! `--tls-key`), so agents across hosts do not send the run token and
//! receive their assignments in the clear, and the run token — the one
//! given, or, when the coordinator listens beyond loopback without one, a
//! random one it makes, prints once and writes to a file only its user can
//! read. No open door by default: any host reaching the port could
//! otherwise join as an agent and report results into the run.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use tonic::transport::{Identity, ServerTlsConfig};

use crate::error::UsageError;

/// The coordinator's TLS identity: a PEM certificate chain and its key,
/// both checked when read.
#[derive(Clone)]
pub struct LinkTls {
    cert: Vec<u8>,
    key: Vec<u8>,
}

impl std::fmt::Debug for LinkTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkTls { .. }")
    }
}

impl LinkTls {
    /// Reads `--tls-cert` and `--tls-key`; a file that cannot be read or
    /// holds no certificate (no key) is a usage error naming it.
    pub fn load(cert: &Path, key: &Path) -> Result<Self, UsageError> {
        let pair = envload_benchenv::tls::read_pair(cert, key).map_err(UsageError)?;
        Ok(LinkTls {
            cert: pair.cert_pem,
            key: pair.key_pem,
        })
    }

    /// The gRPC server's TLS configuration.
    pub fn server_config(&self) -> ServerTlsConfig {
        ServerTlsConfig::new().identity(Identity::from_pem(&self.cert, &self.key))
    }
}

/// Where a made token is written unless `--token-file` says: the user's
/// own `~/.envload/coordinator.token`.
pub fn default_token_file() -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".envload").join("coordinator.token")
}

/// The token agents must present: `given` when there is one (an empty one
/// is none); else, listening beyond loopback, a new random token written to
/// `file` (mode 0600, its folder 0700 when made) and announced on stderr
/// once; else (loopback only) none.
pub fn run_token(
    given: Option<String>,
    listen: SocketAddr,
    file: &Path,
) -> anyhow::Result<Option<String>> {
    if let Some(t) = given.filter(|t| !t.is_empty()) {
        return Ok(Some(t));
    }
    if listen.ip().is_loopback() {
        return Ok(None);
    }
    let token: String = (0..32)
        .map(|_| format!("{:x}", rand::random::<u8>() & 0xf))
        .collect();
    write_private(file, &token)?;
    eprintln!(
        "envload coordinator: no --token given and listening on {listen}, beyond loopback: agents must present this run's token\n  --token {token}\n  (written to {}, readable by this user only; give --token or ENVLOAD_TOKEN to choose one)",
        file.display()
    );
    Ok(Some(token))
}

/// Writes `token` to `file`, readable and writable by its owner only.
fn write_private(file: &Path, token: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(file)
        .map_err(|e| anyhow::anyhow!("cannot write the token to {}: {e}", file.display()))?;
    // An existing file keeps its mode through open: make it private too.
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    writeln!(f, "{token}")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_token_is_made_only_beyond_loopback_and_kept_private() {
        let dir = std::env::temp_dir().join(format!("envload-link-{}", std::process::id()));
        let file = dir.join("sub").join("coordinator.token");
        let lo: SocketAddr = "127.0.0.1:7700".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:7700".parse().unwrap();
        assert_eq!(run_token(None, lo, &file).unwrap(), None);
        assert_eq!(
            run_token(Some("s3cret".into()), any, &file)
                .unwrap()
                .as_deref(),
            Some("s3cret")
        );
        assert!(!file.exists());
        let made = run_token(Some(String::new()), any, &file).unwrap().unwrap();
        assert_eq!(made.len(), 32);
        assert!(made.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), made);
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = run_token(None, any, &file).unwrap().unwrap();
        assert_ne!(again, made, "each run makes its own");
        let _ = std::fs::remove_dir_all(dir);
    }
}

//! `envload lb-config`: an HAProxy or Envoy configuration for a list of
//! backends, filled from the templates beside this file (`lb_config/`).

use clap::{Args, ValueEnum};

use crate::error::UsageError;

/// Load balancers `lb-config` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LbKind {
    /// HAProxy (Debian's haproxy package).
    Haproxy,
    /// Envoy.
    Envoy,
}

/// `envload lb-config`.
#[derive(Debug, Clone, Args)]
pub struct LbArgs {
    /// Which load balancer.
    #[arg(long, value_enum, default_value = "haproxy")]
    pub kind: LbKind,
    /// Where the balancer listens.
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub listen: String,
    /// Connection limit.
    #[arg(long, default_value = "100000", allow_hyphen_values = true,
          value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub maxconn: u64,
    /// A backend HOST:PORT (repeat for each).
    #[arg(long, value_parser = parse_backend)]
    pub backend: Vec<Backend>,
}

const HAPROXY: &str = include_str!("lb_config/haproxy.cfg.tmpl");
const ENVOY: &str = include_str!("lb_config/envoy.yaml.tmpl");

/// A backend `host:port`.
#[derive(Debug, Clone, PartialEq)]
pub struct Backend {
    pub host: String,
    pub port: u16,
}

/// Parses `HOST:PORT` (`[v6]:PORT` for IPv6). The host goes verbatim into
/// a configuration file, so only host-name and address characters pass: no
/// scheme, path, space or newline that could add lines to it.
pub fn parse_backend(s: &str) -> Result<Backend, String> {
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("'{s}' is not HOST:PORT"))?;
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("'{s}' is not HOST:PORT: '{port}' is not a port (1-65535)"))?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let host_ok = !bare.is_empty()
        && bare.len() <= 253
        && bare
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
    if !host_ok {
        return Err(format!(
            "'{}' is not HOST:PORT: the host may hold only letters, digits, '.', '-', '_' (and ':' inside [] for IPv6); no scheme, path or spaces",
            s.escape_debug()
        ));
    }
    Ok(Backend {
        host: host.to_string(),
        port,
    })
}

/// The configuration text.
pub fn render(args: &LbArgs) -> Result<String, UsageError> {
    if args.backend.is_empty() {
        return Err(UsageError(
            "lb-config needs at least one --backend HOST:PORT".into(),
        ));
    }
    let listen = parse_backend(&args.listen).map_err(|e| UsageError(format!("--listen {e}")))?;
    let maxconn = args.maxconn.to_string();
    Ok(match args.kind {
        LbKind::Haproxy => {
            let servers: Vec<String> = args
                .backend
                .iter()
                .enumerate()
                .map(|(i, b)| format!("    server s{} {}:{} check", i + 1, b.host, b.port))
                .collect();
            HAPROXY
                .replace("{{MAXCONN}}", &maxconn)
                .replace("{{LISTEN}}", &format!("{}:{}", listen.host, listen.port))
                .replace("{{SERVERS}}", &servers.join("\n"))
        }
        LbKind::Envoy => {
            let endpoints: Vec<String> = args
                .backend
                .iter()
                .map(|b| {
                    format!(
                        "              - endpoint:\n                  address:\n                    socket_address: {{ address: \"{}\", port_value: {} }}",
                        b.host, b.port
                    )
                })
                .collect();
            ENVOY
                .replace("{{MAXCONN}}", &maxconn)
                .replace("{{LISTEN_HOST}}", &listen.host)
                .replace("{{LISTEN_PORT}}", &listen.port.to_string())
                .replace("{{ENDPOINTS}}", &endpoints.join("\n"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(kind: LbKind, backends: &[&str]) -> LbArgs {
        LbArgs {
            kind,
            listen: "0.0.0.0:8080".into(),
            maxconn: 100_000,
            backend: backends.iter().map(|b| parse_backend(b).unwrap()).collect(),
        }
    }

    #[test]
    fn haproxy_lists_every_backend_with_health_checks() {
        let cfg = render(&args(LbKind::Haproxy, &["n1:8000", "n2:8001"])).unwrap();
        assert!(
            cfg.contains("server s1 n1:8000 check") && cfg.contains("server s2 n2:8001 check"),
            "{cfg}"
        );
        assert!(cfg.contains("bind 0.0.0.0:8080") && cfg.contains("timeout tunnel"));
        assert!(!cfg.contains("{{"), "every placeholder filled: {cfg}");
    }

    #[test]
    fn envoy_lists_every_endpoint_and_allows_websockets() {
        let cfg = render(&args(LbKind::Envoy, &["10.0.0.1:8000", "10.0.0.2:8000"])).unwrap();
        assert_eq!(
            cfg.matches("socket_address: { address: \"10.0.0.").count(),
            2
        );
        assert!(cfg.contains("upgrade_type: websocket") && cfg.contains("port_value: 8080"));
        assert!(!cfg.contains("{{"));
    }

    #[test]
    fn bad_backends_are_named() {
        assert!(parse_backend("n1").unwrap_err().contains("'n1'"));
        assert!(parse_backend("n1:http").unwrap_err().contains("port"));
        for injected in [
            "http://n2:8001",
            "n1:80\n  server evil x",
            "n1 backup:80",
            "n1/x:80",
            ":80",
        ] {
            let e = parse_backend(injected).unwrap_err();
            assert!(e.contains("not HOST:PORT"), "{injected:?}: {e}");
        }
        assert_eq!(parse_backend("[::1]:8000").unwrap().port, 8000);
        assert!(render(&args(LbKind::Haproxy, &[])).is_err());
    }
}

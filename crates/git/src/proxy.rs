//! The proxy a GitRepository's remote operations go through (`spec.proxySecretRef`).
//!
//! A proxy from the Secret is used for every operation of the object and wins over the
//! environment. Without one, HTTP(S) remotes follow reqwest's defaults (`HTTP_PROXY`,
//! `HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`), which is what Go's `ProxyFromEnvironment` gives
//! Flux; SSH remotes follow `ALL_PROXY` when it names a SOCKS5 proxy, minus `NO_PROXY`, which
//! is what Go's `x/net/proxy` dialer gives Flux's SSH transport. An `http://` `ALL_PROXY` is
//! not used for SSH: Flux connects directly then, and most HTTP proxies refuse CONNECT to
//! port 22 anyway.

use base64::Engine as _;

/// Proxy settings from a `proxySecretRef` Secret.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Proxy {
    /// `address`: `http://`, `https://`, `socks5://` or `socks5h://` and `host[:port]`;
    /// without a scheme `http://` is assumed, as curl and reqwest do.
    pub address: String,
    /// `username`, for basic authentication (HTTP) or username/password (SOCKS5).
    pub username: Option<String>,
    /// `password`.
    pub password: Option<String>,
}

// The password must not leak through `{:?}`; neither may one embedded in the address.
impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("address", &crate::url::sanitize_url(&self.address))
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// How to talk to the proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ProxyKind {
    /// HTTP `CONNECT` (and absolute-form requests for `http://` remotes).
    Http,
    /// The same over TLS to the proxy; reqwest does it, the SSH tunnel does not.
    Https,
    /// SOCKS5; `remote_dns` (`socks5h://`) lets the proxy resolve the target's name.
    Socks5 { remote_dns: bool },
}

/// A parsed proxy: where it is and the credentials to present.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub kind: ProxyKind,
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    /// `scheme://host:port`, without credentials: safe in messages.
    pub display: String,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("display", &self.display)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// The `Proxy-Authorization` value for HTTP proxies, when credentials are set.
    pub fn basic_authorization(&self) -> Option<String> {
        let user = self.username.as_deref()?;
        let raw = format!("{user}:{}", self.password.as_deref().unwrap_or_default());
        Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        ))
    }
}

impl Proxy {
    /// Checks the address, with a reason that never contains a credential.
    pub fn validate(&self) -> Result<(), String> {
        self.endpoint().map(drop)
    }

    /// The address parsed; credentials from the Secret keys win over ones in the address.
    pub(crate) fn endpoint(&self) -> Result<Endpoint, String> {
        let address = self.address.trim();
        if address.is_empty() {
            return Err("the proxy address is empty".into());
        }
        let (scheme, rest) = address.split_once("://").unwrap_or(("http", address));
        let kind = match scheme.to_ascii_lowercase().as_str() {
            "http" => ProxyKind::Http,
            "https" => ProxyKind::Https,
            "socks5" => ProxyKind::Socks5 { remote_dns: false },
            "socks5h" => ProxyKind::Socks5 { remote_dns: true },
            other => {
                return Err(format!(
                    "proxy scheme '{other}' is not supported (use http, https, socks5 or socks5h)"
                ));
            }
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((user, host)) => (Some(user), host),
            None => (None, authority),
        };
        let default_port = match kind {
            ProxyKind::Http => 80,
            ProxyKind::Https => 443,
            ProxyKind::Socks5 { .. } => 1080,
        };
        let (host, port) = split_host_port(host_port, default_port)?;
        let (url_user, url_password) = match userinfo {
            Some(info) => match info.split_once(':') {
                Some((u, p)) => (Some(percent_decode(u)), Some(percent_decode(p))),
                None => (Some(percent_decode(info)), None),
            },
            None => (None, None),
        };
        let username = self.username.clone().filter(|u| !u.is_empty()).or(url_user);
        let password = match &self.username {
            Some(u) if !u.is_empty() => self.password.clone(),
            _ => url_password,
        };
        let bracketed = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.clone()
        };
        Ok(Endpoint {
            kind,
            display: format!("{}://{bracketed}:{port}", scheme.to_ascii_lowercase()),
            host,
            port,
            username,
            password,
        })
    }

    /// Values that must never appear in a message.
    pub(crate) fn secrets(&self) -> Vec<String> {
        let mut out: Vec<String> = self.password.iter().cloned().collect();
        if let Ok(endpoint) = self.endpoint() {
            out.extend(endpoint.password);
        }
        out
    }

    /// The reqwest proxy for every request of an HTTP(S) remote (no `NO_PROXY` exceptions:
    /// a proxy from the Secret applies to all of the object's requests, as in Flux).
    pub(crate) fn to_reqwest(&self) -> Result<reqwest::Proxy, String> {
        let endpoint = self.endpoint()?;
        let proxy =
            reqwest::Proxy::all(endpoint.display.as_str()).map_err(|e| format!("proxy: {e}"))?;
        Ok(match endpoint.username.as_deref() {
            Some(user) => proxy.basic_auth(user, endpoint.password.as_deref().unwrap_or_default()),
            None => proxy,
        })
    }
}

/// The proxy an SSH connection to `host` goes through: the Secret's, else a SOCKS5
/// `ALL_PROXY` that `NO_PROXY` does not exempt. `env` reads a variable (injected for tests).
pub(crate) fn for_ssh(
    explicit: Option<&Proxy>,
    host: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<Endpoint>, String> {
    if let Some(proxy) = explicit {
        let endpoint = proxy.endpoint()?;
        if endpoint.kind == ProxyKind::Https {
            return Err(
                "an https:// proxy cannot carry SSH; use an http:// (CONNECT) or socks5:// proxy"
                    .into(),
            );
        }
        return Ok(Some(endpoint));
    }
    let first = |names: &[&str]| names.iter().find_map(|n| env(n).filter(|v| !v.is_empty()));
    let Some(all) = first(&["ALL_PROXY", "all_proxy"]) else {
        return Ok(None);
    };
    let no_proxy = first(&["NO_PROXY", "no_proxy"]).unwrap_or_default();
    // reqwest's own matcher, so `NO_PROXY` means the same for SSH as for HTTP remotes.
    let matcher = hyper_util::client::proxy::matcher::Matcher::builder()
        .all(all.clone())
        .no(no_proxy)
        .build();
    let Ok(probe) = format!("https://{}/", bracket(host)).parse::<http::Uri>() else {
        return Ok(None);
    };
    if matcher.intercept(&probe).is_none() {
        return Ok(None);
    }
    let from_env = Proxy {
        address: all,
        ..Proxy::default()
    };
    match from_env.endpoint() {
        Ok(endpoint) if matches!(endpoint.kind, ProxyKind::Socks5 { .. }) => Ok(Some(endpoint)),
        Ok(endpoint) => {
            tracing::debug!(proxy = %endpoint.display, "ALL_PROXY is not SOCKS5; SSH connects directly");
            Ok(None)
        }
        Err(reason) => {
            tracing::debug!(%reason, "ALL_PROXY is not usable; SSH connects directly");
            Ok(None)
        }
    }
}

fn bracket(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

fn split_host_port(host_port: &str, default_port: u16) -> Result<(String, u16), String> {
    let bad_port = || "the proxy address has an invalid port".to_string();
    let (host, port) = if let Some(rest) = host_port.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| "the proxy address has an unclosed '['".to_string())?;
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return Err(bad_port()),
        }
    } else {
        match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err("the proxy address has no host".into());
    }
    let port = match port {
        Some(p) => p.parse::<u16>().map_err(|_| bad_port())?,
        None => default_port,
    };
    Ok((host.to_string(), port))
}

/// `%XX` escapes in URL userinfo, as URL parsers decode them.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(address: &str) -> Proxy {
        Proxy {
            address: address.into(),
            ..Proxy::default()
        }
    }

    #[test]
    fn addresses_parse_with_fluxs_schemes_and_default_ports() {
        let e = proxy("http://proxy.example").endpoint().expect("http");
        assert_eq!(
            (e.kind, e.host.as_str(), e.port),
            (ProxyKind::Http, "proxy.example", 80)
        );
        let e = proxy("socks5h://127.0.0.1").endpoint().expect("socks");
        assert_eq!(e.kind, ProxyKind::Socks5 { remote_dns: true });
        assert_eq!(e.port, 1080);
        let e = proxy("proxy:3128").endpoint().expect("no scheme");
        assert_eq!((e.kind, e.port), (ProxyKind::Http, 3128));
        let e = proxy("http://[::1]:8080/").endpoint().expect("ipv6");
        assert_eq!(
            (e.host.as_str(), e.display.as_str()),
            ("::1", "http://[::1]:8080")
        );
        assert!(proxy("ftp://proxy").validate().is_err());
        assert!(proxy("http://proxy:99999").validate().is_err());
        assert!(proxy("").validate().is_err());
    }

    #[test]
    fn secret_keys_win_over_credentials_in_the_address_and_never_show() {
        let p = Proxy {
            address: "http://old:hunter2@proxy:3128".into(),
            username: Some("mandalorian".into()),
            password: Some("grogu".into()),
        };
        let e = p.endpoint().expect("valid");
        assert_eq!(e.username.as_deref(), Some("mandalorian"));
        assert_eq!(e.password.as_deref(), Some("grogu"));
        assert_eq!(e.display, "http://proxy:3128");
        let debug = format!("{p:?}");
        assert!(
            !debug.contains("grogu") && !debug.contains("hunter2"),
            "{debug}"
        );
        assert!(p.secrets().contains(&"grogu".to_string()));
        let embedded = proxy("socks5://u:p%40ss@proxy").endpoint().expect("valid");
        assert_eq!(embedded.password.as_deref(), Some("p@ss"));
    }

    #[test]
    fn ssh_uses_the_secret_first_then_a_socks_all_proxy_unless_no_proxy_matches() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_string())
            }
        };
        let socks = env(&[("ALL_PROXY", "socks5://envproxy:1080")]);
        let explicit = proxy("http://secret:3128");
        let chosen = for_ssh(Some(&explicit), "git.example", socks).expect("ok");
        assert_eq!(chosen.map(|e| e.host), Some("secret".to_string()));
        let chosen = for_ssh(None, "git.example", socks).expect("ok");
        assert_eq!(chosen.map(|e| e.host), Some("envproxy".to_string()));
        let exempt = env(&[("ALL_PROXY", "socks5://envproxy"), ("no_proxy", ".example")]);
        assert_eq!(for_ssh(None, "git.example", exempt).expect("ok"), None);
        let http_all = env(&[("ALL_PROXY", "http://envproxy:3128")]);
        assert_eq!(for_ssh(None, "git.example", http_all).expect("ok"), None);
        assert_eq!(for_ssh(None, "git.example", env(&[])).expect("ok"), None);
        assert!(for_ssh(Some(&proxy("https://p")), "git.example", env(&[])).is_err());
    }
}

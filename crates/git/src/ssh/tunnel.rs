//! A TCP stream to the SSH server through a proxy: HTTP `CONNECT` or SOCKS5 `CONNECT`
//! (RFC 1928, with RFC 1929 username/password), the small client side of each handshake.
//!
//! Both handshakes read exactly their own reply and nothing more: the SSH server speaks
//! first, so a byte read too far would be its banner lost.

use std::io;
use std::net::IpAddr;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::proxy::{Endpoint, ProxyKind};

/// The longest HTTP response head accepted from a proxy.
const MAX_HEAD: usize = 16 * 1024;

/// Why the tunnel could not be opened; `Refused` is the proxy rejecting our credentials.
#[derive(Debug)]
pub(crate) enum TunnelError {
    Unreachable(io::Error),
    Refused(String),
    Failed(String),
}

impl TunnelError {
    pub fn describe(&self, proxy: &Endpoint) -> String {
        match self {
            TunnelError::Unreachable(e) => format!("proxy {} unreachable: {e}", proxy.display),
            TunnelError::Refused(why) => format!("proxy {} refused: {why}", proxy.display),
            TunnelError::Failed(why) => format!("proxy {}: {why}", proxy.display),
        }
    }
}

fn failed(e: io::Error) -> TunnelError {
    TunnelError::Failed(format!("handshake: {e}"))
}

/// Connect to the proxy and ask it for a stream to `host:port`.
pub(crate) async fn open(
    proxy: &Endpoint,
    host: &str,
    port: u16,
) -> Result<TcpStream, TunnelError> {
    let mut stream = TcpStream::connect((proxy.host.as_str(), proxy.port))
        .await
        .map_err(TunnelError::Unreachable)?;
    let _ = stream.set_nodelay(true);
    match proxy.kind {
        ProxyKind::Http => http_connect(&mut stream, proxy, host, port).await?,
        ProxyKind::Socks5 { remote_dns } => {
            socks5_connect(&mut stream, proxy, host, port, remote_dns).await?
        }
        ProxyKind::Https => {
            return Err(TunnelError::Failed(
                "an https:// proxy cannot carry SSH".into(),
            ));
        }
    }
    Ok(stream)
}

async fn http_connect(
    stream: &mut TcpStream,
    proxy: &Endpoint,
    host: &str,
    port: u16,
) -> Result<(), TunnelError> {
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if let Some(credentials) = proxy.basic_authorization() {
        request.push_str(&format!("Proxy-Authorization: {credentials}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.map_err(failed)?;
    // Byte by byte up to the blank line: the head is small and nothing after it is ours.
    let mut head = Vec::with_capacity(256);
    while !head.ends_with(b"\r\n\r\n") && !head.ends_with(b"\n\n") {
        if head.len() >= MAX_HEAD {
            return Err(TunnelError::Failed("response head too large".into()));
        }
        let byte = stream.read_u8().await.map_err(failed)?;
        head.push(byte);
    }
    let status_line = String::from_utf8_lossy(&head);
    let status_line = status_line.lines().next().unwrap_or_default().trim();
    let code = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| TunnelError::Failed(format!("unexpected reply '{status_line}'")))?;
    match code {
        200..=299 => Ok(()),
        407 => Err(TunnelError::Refused(format!(
            "proxy authentication required ({status_line})"
        ))),
        _ => Err(TunnelError::Failed(format!(
            "CONNECT to {authority} answered '{status_line}'"
        ))),
    }
}

async fn socks5_connect(
    stream: &mut TcpStream,
    proxy: &Endpoint,
    host: &str,
    port: u16,
    remote_dns: bool,
) -> Result<(), TunnelError> {
    const VERSION: u8 = 5;
    const NO_AUTH: u8 = 0;
    const USER_PASS: u8 = 2;
    let credentials = proxy
        .username
        .as_deref()
        .map(|u| (u, proxy.password.as_deref().unwrap_or_default()));
    let greeting: &[u8] = match credentials {
        Some(_) => &[VERSION, 2, NO_AUTH, USER_PASS],
        None => &[VERSION, 1, NO_AUTH],
    };
    stream.write_all(greeting).await.map_err(failed)?;
    let mut choice = [0u8; 2];
    stream.read_exact(&mut choice).await.map_err(failed)?;
    if choice[0] != VERSION {
        return Err(TunnelError::Failed("not a SOCKS5 proxy".into()));
    }
    match (choice[1], credentials) {
        (NO_AUTH, _) => {}
        (USER_PASS, Some((user, pass))) => {
            if user.len() > 255 || pass.len() > 255 {
                return Err(TunnelError::Failed(
                    "SOCKS5 username and password are limited to 255 bytes".into(),
                ));
            }
            let mut auth = vec![1, user.len() as u8];
            auth.extend_from_slice(user.as_bytes());
            auth.push(pass.len() as u8);
            auth.extend_from_slice(pass.as_bytes());
            stream.write_all(&auth).await.map_err(failed)?;
            let mut status = [0u8; 2];
            stream.read_exact(&mut status).await.map_err(failed)?;
            if status[1] != 0 {
                return Err(TunnelError::Refused(
                    "SOCKS5 username/password authentication failed".into(),
                ));
            }
        }
        (USER_PASS, None) | (0xFF, None) => {
            return Err(TunnelError::Refused(
                "the SOCKS5 proxy requires a username and password".into(),
            ));
        }
        _ => {
            return Err(TunnelError::Refused(
                "the SOCKS5 proxy accepts none of the offered authentication methods".into(),
            ));
        }
    }
    let mut request = vec![VERSION, 1, 0];
    match target_address(host, remote_dns).await? {
        Target::Ip(IpAddr::V4(ip)) => {
            request.push(1);
            request.extend_from_slice(&ip.octets());
        }
        Target::Ip(IpAddr::V6(ip)) => {
            request.push(4);
            request.extend_from_slice(&ip.octets());
        }
        Target::Name(name) => {
            if name.len() > 255 {
                return Err(TunnelError::Failed("host name too long for SOCKS5".into()));
            }
            request.push(3);
            request.push(name.len() as u8);
            request.extend_from_slice(name.as_bytes());
        }
    }
    request.extend_from_slice(&port.to_be_bytes());
    stream.write_all(&request).await.map_err(failed)?;
    let mut reply = [0u8; 4];
    stream.read_exact(&mut reply).await.map_err(failed)?;
    if reply[1] != 0 {
        return Err(TunnelError::Failed(format!(
            "SOCKS5 CONNECT to {host}:{port} failed: {}",
            socks_reply(reply[1])
        )));
    }
    // The bound address that follows is of no use to us, but it must be consumed.
    let rest = match reply[3] {
        1 => 4 + 2,
        4 => 16 + 2,
        3 => usize::from(stream.read_u8().await.map_err(failed)?) + 2,
        other => {
            return Err(TunnelError::Failed(format!(
                "SOCKS5 reply with unknown address type {other}"
            )));
        }
    };
    let mut bound = vec![0u8; rest];
    stream.read_exact(&mut bound).await.map_err(failed)?;
    Ok(())
}

enum Target {
    Ip(IpAddr),
    Name(String),
}

/// `socks5://` resolves the name here (as Go's dialer does), `socks5h://` leaves it to the proxy.
async fn target_address(host: &str, remote_dns: bool) -> Result<Target, TunnelError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(Target::Ip(ip));
    }
    if remote_dns {
        return Ok(Target::Name(bare.to_string()));
    }
    let mut addrs = tokio::net::lookup_host((bare, 0))
        .await
        .map_err(|e| TunnelError::Failed(format!("resolving {bare}: {e}")))?;
    addrs
        .next()
        .map(|a| Target::Ip(a.ip()))
        .ok_or_else(|| TunnelError::Failed(format!("{bare} has no address")))
}

fn socks_reply(code: u8) -> &'static str {
    match code {
        1 => "general failure",
        2 => "connection not allowed by ruleset",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "unknown error",
    }
}

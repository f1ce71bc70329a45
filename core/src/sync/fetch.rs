//! Downloading library blobs (feature `transport`): one HTTP/1.1 `GET
//! /blobs/<sha>` to the server the device is linked to, with its device
//! token, over TLS for an `https://`/`wss://` server (feature `tls`). The
//! body streams to a temporary file 64 KiB at a time, hashed on the way:
//! it is kept (renamed to its name) only if its SHA-256 is the one asked
//! for and its size the one announced, so a blob on the device is always
//! whole and the one the library names.

use std::path::Path;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use super::client::SyncError;
use super::replica::Remote;

/// Largest response head read.
const MAX_HEAD: usize = 16 * 1024;

fn fail(e: impl std::fmt::Display) -> SyncError {
    SyncError::Transport(e.to_string())
}

/// (TLS?, host, port) of the server behind a sync URL.
fn endpoint(url: &str) -> Result<(bool, String, u16), SyncError> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("https://").or(url.strip_prefix("wss://")) {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://").or(url.strip_prefix("ws://")) {
        (false, r)
    } else {
        return Err(fail(format!("not a server address: {url}")));
    };
    let authority = rest.split('/').next().unwrap_or("");
    let default = if tls { 443 } else { 80 };
    let port = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| fail(format!("bad port in {url}")))
    };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| fail(format!("bad address in {url}")))?;
        match after.strip_prefix(':') {
            Some(p) => (h, port(p)?),
            None => (h, default),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, port(p)?),
            None => (authority, default),
        }
    };
    if host.is_empty() {
        return Err(fail(format!("no host in {url}")));
    }
    Ok((tls, host.to_string(), port))
}

/// Downloads blob `sha` into `dest` (at most `max` bytes); returns its
/// size. Nothing is left at `dest` unless the whole blob arrived intact.
pub async fn fetch_blob(
    remote: &Remote,
    sha: &str,
    dest: &Path,
    max: u64,
) -> Result<u64, SyncError> {
    if !crate::model::library::is_sha256(sha) {
        return Err(fail(format!("not a blob name: {sha}")));
    }
    let (tls, host, port) = endpoint(&remote.url)?;
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| fail(format!("cannot reach {host}:{port}: {e}")))?;
    if tls {
        #[cfg(feature = "tls")]
        {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let roots =
                rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            let config = rustls::ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth();
            let name = rustls::pki_types::ServerName::try_from(host.clone()).map_err(fail)?;
            let stream = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
                .connect(name, tcp)
                .await
                .map_err(fail)?;
            return get(stream, &host, remote, sha, dest, max).await;
        }
        #[cfg(not(feature = "tls"))]
        return Err(fail("this build has no TLS (feature `tls`)"));
    }
    get(tcp, &host, remote, sha, dest, max).await
}

async fn get<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    host: &str,
    remote: &Remote,
    sha: &str,
    dest: &Path,
    max: u64,
) -> Result<u64, SyncError> {
    let request = format!(
        "GET /blobs/{sha} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        remote.token
    );
    stream.write_all(request.as_bytes()).await.map_err(fail)?;
    let mut r = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        let n = (&mut r)
            .take(MAX_HEAD as u64)
            .read_line(&mut line)
            .await
            .map_err(fail)?;
        if n == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line);
        if head.len() > MAX_HEAD {
            return Err(fail("response head too large"));
        }
    }
    let status = head.get(9..12).unwrap_or("");
    match status {
        "200" => {}
        "404" => return Err(fail(format!("blob {sha}: not found or not for you"))),
        "401" => return Err(fail("the server no longer accepts this device")),
        other => return Err(fail(format!("blob {sha}: HTTP {other}"))),
    }
    let length: u64 = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .ok_or_else(|| fail("no Content-Length"))?;
    if length > max {
        return Err(fail(format!("blob {sha}: {length} bytes, more than {max}")));
    }
    let dir = dest.parent().ok_or_else(|| fail("bad destination"))?;
    tokio::fs::create_dir_all(dir).await.map_err(fail)?;
    let tmp = dir.join(format!(".{sha}.part"));
    let result = async {
        let mut out = tokio::fs::File::create(&tmp).await.map_err(fail)?;
        let mut hash = Sha256::new();
        let mut left = length;
        let mut buf = vec![0u8; 64 * 1024];
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(buf.len()));
            let n = r.read(&mut buf[..want]).await.map_err(fail)?;
            if n == 0 {
                return Err(fail(format!("blob {sha}: cut short")));
            }
            hash.update(&buf[..n]);
            out.write_all(&buf[..n]).await.map_err(fail)?;
            left -= n as u64;
        }
        out.sync_all().await.map_err(fail)?;
        let got: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
        if got != sha {
            return Err(fail(format!("blob {sha}: the bytes received are not it")));
        }
        tokio::fs::rename(&tmp, dest).await.map_err(fail)?;
        Ok(length)
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::endpoint;

    #[test]
    fn endpoints_from_sync_urls() {
        assert_eq!(
            endpoint("ws://127.0.0.1:8080/sync").unwrap(),
            (false, "127.0.0.1".into(), 8080)
        );
        assert_eq!(
            endpoint("https://crm.example.fr").unwrap(),
            (true, "crm.example.fr".into(), 443)
        );
        assert_eq!(
            endpoint("http://[::1]:9000").unwrap(),
            (false, "::1".into(), 9000)
        );
        assert!(endpoint("ftp://x").is_err());
        assert!(endpoint("http://:80").is_err());
    }
}

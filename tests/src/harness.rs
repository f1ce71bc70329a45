//! Real processes for end-to-end tests: the `carnet-server` and `carnet`
//! binaries of this workspace (built once per test binary), servers on free
//! loopback ports with temporary data directories, and CLI clients.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// `target/<profile>` of the running test binary.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/<test-binary>, or target/<profile>/<bin>
    let dir = exe.parent().expect("binary dir");
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().expect("target dir").to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

/// Path of a workspace binary, building the binaries once if needed.
/// `CARNET_BIN_DIR` points the tests at binaries built elsewhere (say,
/// from an older commit, to see a regression test fail there).
pub fn bin(name: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("CARNET_BIN_DIR") {
        return PathBuf::from(dir).join(name);
    }
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args([
            "build",
            "--quiet",
            "-p",
            "carnet-server",
            "-p",
            "carnet-cli",
            "--bins",
        ]);
        if target_dir().file_name().is_some_and(|p| p == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build");
        assert!(status.success(), "building the binaries failed");
    });
    target_dir().join(name)
}

pub struct Server {
    pub data: PathBuf,
    pub url: String,
    pub addr: String,
    child: Option<Child>,
}

impl Server {
    /// Loads the demo tenant into `data` (no serving).
    pub fn demo(data: &Path) {
        let out = Command::new(bin("carnet-server"))
            .arg("--data")
            .arg(data)
            .args(["demo", "--no-serve"])
            .output()
            .expect("run carnet-server demo");
        assert!(
            out.status.success(),
            "demo failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Serves `data` on `listen` (use "127.0.0.1:0" for a free port) and
    /// waits for the server to say it listens.
    pub fn start(data: &Path, listen: &str) -> Server {
        let mut child = Command::new(bin("carnet-server"))
            .arg("--data")
            .arg(data)
            .args(["serve", "--listen", listen])
            .env("CARNET_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start carnet-server");
        let stdout = child.stdout.take().expect("server stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = lines
            .next()
            .expect("server said something")
            .expect("server stdout readable");
        let url = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected server output {line:?}"))
            .to_string();
        // Keep draining stdout so the server never blocks on it.
        std::thread::spawn(move || for _ in lines {});
        let addr = url.trim_start_matches("http://").to_string();
        Server {
            data: data.to_path_buf(),
            url,
            addr,
            child: Some(child),
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The server's resident memory, in KiB (Linux).
    pub fn rss_kib(&self) -> Option<u64> {
        self.status_kib("VmRSS:")
    }

    /// The most resident memory the server ever had, in KiB (Linux).
    pub fn peak_rss_kib(&self) -> Option<u64> {
        self.status_kib("VmHWM:")
    }

    fn status_kib(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        status
            .lines()
            .find(|l| l.starts_with(field))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }

    /// SIGKILL: no flush, no shutdown.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts again on the same address, after a kill.
    pub fn restart(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // The port may linger a moment after the kill.
            match std::net::TcpListener::bind(&self.addr) {
                Ok(l) => {
                    drop(l);
                    break;
                }
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(e) => panic!("port {} stays busy: {e}", self.addr),
            }
        }
        let s = Server::start(&self.data, &self.addr);
        self.child = s.into_child();
    }

    fn into_child(mut self) -> Option<Child> {
        self.child.take()
    }

    /// An admin command against this server's data directory.
    pub fn admin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new(bin("carnet-server"))
            .arg("--data")
            .arg(&self.data)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run carnet-server admin command");
        if let Some(s) = stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(s.as_bytes())
                .expect("write stdin");
        }
        child.wait_with_output().expect("admin output")
    }

    /// The token /metrics asks for (made by the server in its data directory).
    pub fn metrics_token(&self) -> String {
        std::fs::read_to_string(self.data.join("metrics-token"))
            .expect("metrics-token")
            .trim()
            .to_string()
    }

    /// A metric's value from /metrics.
    pub fn metric(&self, name: &str) -> f64 {
        let auth = format!("Bearer {}", self.metrics_token());
        let text = http_get_with(&self.addr, "/metrics", &[("Authorization", &auth)]);
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A minimal HTTP/1.0 GET (no client library needed for /metrics).
pub fn http_get(addr: &str, path: &str) -> String {
    http_get_with(addr, path, &[])
}

/// `http_get` with request headers; the body only.
pub fn http_get_with(addr: &str, path: &str, headers: &[(&str, &str)]) -> String {
    http_exchange(addr, path, headers)
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

/// A GET's whole response, status line and headers included.
pub fn http_exchange(addr: &str, path: &str, headers: &[(&str, &str)]) -> String {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    let mut req = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("send");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// Runs `carnet --store STORE ARGS`.
pub fn carnet(store: &Path, args: &[&str]) -> Output {
    Command::new(bin("carnet"))
        .arg("--store")
        .arg(store)
        .args(args)
        .env("CARNET_LANG", "en")
        .output()
        .expect("run carnet")
}

/// Runs and returns stdout, failing the test on a non-zero exit.
pub fn ok(store: &Path, args: &[&str]) -> String {
    let out = carnet(store, args);
    assert!(
        out.status.success(),
        "carnet {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn json(store: &Path, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&ok(store, args)).expect("JSON output")
}

/// Logs a new store in as `email` (password of the demo tenant by default).
pub fn login(store: &Path, url: &str, email: &str, password: &str) {
    let mut child = Command::new(bin("carnet"))
        .arg("--store")
        .arg(store)
        .args(["login", url, "--email", email, "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run carnet login");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("password");
    let out = child.wait_with_output().expect("login output");
    assert!(
        out.status.success(),
        "login {email}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

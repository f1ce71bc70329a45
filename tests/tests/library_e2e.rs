//! End to end: the marketing library on a real server. An admin adds
//! documents with `carnet-server library add` (for everyone, for a
//! territory); a rep's device fetches, with its token, only the blobs
//! meant for it; another territory's blob answers exactly like a missing
//! one; a new version replaces the old; a 200 MB file goes in and out with
//! the server's memory bounded.

use carnet_tests::harness::{carnet, json, login, ok, Server};
use carnet_tests::raw::raw_login;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

fn add(server: &Server, file: &std::path::Path, title: &str, extra: &[&str]) -> Value {
    let file = file.to_str().unwrap();
    let mut args = vec!["library", "add", file, "--title", title];
    args.extend_from_slice(extra);
    let out = server.admin(&args, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The titles `carnet library list` gives on a device.
fn titles(store: &std::path::Path) -> Vec<String> {
    json(store, &["library", "list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["item"]["title"].as_str().unwrap().to_string())
        .collect()
}

/// GET `path` with a bearer token: status, headers, and the body's size
/// and SHA-256, read 64 KiB at a time.
fn get(addr: &str, path: &str, token: Option<&str>) -> (u16, String, u64, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut r = BufReader::new(s);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        head.push_str(&line);
    }
    let status = head[9..12].parse().unwrap();
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let mut hash = Sha256::new();
    let mut size = 0u64;
    let mut first = Vec::new();
    let mut feed = |b: &[u8]| {
        hash.update(b);
        size += b.len() as u64;
        if first.len() < 4096 {
            first.extend_from_slice(&b[..b.len().min(4096 - first.len())]);
        }
    };
    let mut buf = vec![0u8; 64 * 1024];
    if chunked {
        loop {
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            let n = usize::from_str_radix(line.trim(), 16).unwrap();
            if n == 0 {
                break;
            }
            let mut left = n;
            while left > 0 {
                let take = left.min(buf.len());
                let k = r.read(&mut buf[..take]).unwrap();
                feed(&buf[..k]);
                left -= k;
            }
            r.read_line(&mut String::new()).unwrap();
        }
    } else {
        loop {
            let k = r.read(&mut buf).unwrap();
            if k == 0 {
                break;
            }
            feed(&buf[..k]);
        }
    }
    let sha = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    (status, head, size, sha, first)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reps_fetch_only_their_documents_and_a_200_mb_file_streams() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("server");
    Server::demo(&data);
    let server = Server::start(&data, "127.0.0.1:0");

    // 200 MB of bytes that do not compress, written 1 MB at a time.
    let big = tmp.path().join("catalogue-2027.bin");
    let mut want = Sha256::new();
    {
        let mut f = std::fs::File::create(&big).unwrap();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut block = vec![0u8; 1024 * 1024];
        for _ in 0..200 {
            for c in block.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                c.copy_from_slice(&x.to_le_bytes());
            }
            want.update(&block);
            f.write_all(&block).unwrap();
        }
    }
    let want: String = want.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let rss_before = server.rss_kib().unwrap();
    let catalogue = add(&server, &big, "Catalogue 2027", &["--territory", "Paris"]);
    assert_eq!(catalogue["blob"], want.as_str());
    assert_eq!(catalogue["size"], 200 * 1024 * 1024);
    let tarifs_v1 = tmp.path().join("tarifs.pdf");
    std::fs::write(&tarifs_v1, b"%PDF-1.7 tarifs 2026").unwrap();
    let tarifs = add(&server, &tarifs_v1, "Tarifs", &[]);
    assert_eq!(tarifs["mime"], "application/pdf");
    let lyon = tmp.path().join("lyon.pdf");
    std::fs::write(&lyon, b"%PDF-1.7 salon de Lyon").unwrap();
    let lyon = add(&server, &lyon, "Salon de Lyon", &["--territory", "Lyon"]);
    // A made-up territory is refused, nothing added.
    let v1 = tarifs_v1.to_str().unwrap();
    let out = server.admin(
        &[
            "library",
            "add",
            v1,
            "--title",
            "X",
            "--territory",
            "Atlantide",
        ],
        None,
    );
    assert!(!out.status.success());

    let (_, alice) = raw_login(&server, "alice@demo.carnet.fr").await;
    let (_, bruno) = raw_login(&server, "bruno@demo.carnet.fr").await;
    let addr = server.addr.clone();
    let blob = |sha: &Value| format!("/blobs/{}", sha.as_str().unwrap());

    // Alice (Paris): the catalogue, whole and intact, memory bounded.
    let (status, head, size, sha, _) = get(&addr, &blob(&catalogue["blob"]), Some(&alice));
    assert_eq!(status, 200, "{head}");
    assert_eq!(size, 200 * 1024 * 1024);
    assert_eq!(sha, want);
    let peak = server.peak_rss_kib().unwrap();
    eprintln!(
        "server RSS {} MiB before, peak {} MiB after a 200 MB upload and download",
        rss_before / 1024,
        peak / 1024
    );
    assert!(
        peak < rss_before + 100 * 1024,
        "the server's memory grew by {} MiB for a 200 MB file",
        (peak - rss_before) / 1024
    );
    let (status, _, _, _, body) = get(&addr, &blob(&tarifs["blob"]), Some(&alice));
    assert_eq!(
        (status, body.as_slice()),
        (200, &b"%PDF-1.7 tarifs 2026"[..])
    );
    // Lyon's document: answered exactly like a blob that does not exist.
    let hidden = get(&addr, &blob(&lyon["blob"]), Some(&alice));
    let missing = get(&addr, &format!("/blobs/{}", "ab".repeat(32)), Some(&alice));
    assert_eq!(hidden.0, 404);
    assert_eq!((hidden.0, hidden.4.clone()), (missing.0, missing.4.clone()));
    assert_eq!(
        get(&addr, "/blobs/..%2F..%2Fetc%2Fpasswd", Some(&alice)).0,
        404
    );
    // Bruno (Lyon) gets it, not the catalogue.
    assert_eq!(get(&addr, &blob(&lyon["blob"]), Some(&bruno)).0, 200);
    assert_eq!(get(&addr, &blob(&catalogue["blob"]), Some(&bruno)).0, 404);
    // No token, a bad token.
    assert_eq!(
        get(&addr, &blob(&tarifs["blob"]), Some("not-a-token")).0,
        401
    );
    let anonymous = get(&addr, &blob(&tarifs["blob"]), None);
    assert_eq!(anonymous.0, 303, "to the login page: {}", anonymous.1);

    // A new version under the same title replaces the old one.
    let tarifs_v2 = tmp.path().join("tarifs-2027.pdf");
    std::fs::write(&tarifs_v2, b"%PDF-1.7 tarifs 2027").unwrap();
    let v2 = add(&server, &tarifs_v2, "Tarifs", &[]);
    assert_eq!(v2["id"], tarifs["id"]);
    assert_ne!(v2["blob"], tarifs["blob"]);
    let (status, _, _, _, body) = get(&addr, &blob(&v2["blob"]), Some(&alice));
    assert_eq!(
        (status, body.as_slice()),
        (200, &b"%PDF-1.7 tarifs 2027"[..])
    );
    assert_eq!(get(&addr, &blob(&tarifs["blob"]), Some(&alice)).0, 404);
    let list = server.admin(&["library", "list"], None);
    let list: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 3);

    // Alice's CLI device: it lists what is meant for her, downloads it,
    // and opens it offline.
    let store = tmp.path().join("alice");
    login(&store, &server.url, "alice@demo.carnet.fr", "carnet-demo");
    ok(&store, &["sync"]);
    let mine = json(&store, &["library", "list", "--json"]);
    let titles = titles(&store);
    assert_eq!(titles.len(), 2, "{titles:?}");
    assert!(titles.iter().any(|t| t == "Catalogue 2027") && titles.iter().any(|t| t == "Tarifs"));
    assert!(mine.as_array().unwrap().iter().all(|e| e["path"].is_null()));
    assert!(!carnet(&store, &["library", "open", "Tarifs"])
        .status
        .success());
    assert_eq!(ok(&store, &["library", "fetch"]), "2");
    assert_eq!(ok(&store, &["library", "fetch"]), "0", "nothing twice");
    let mut server = server;
    server.kill9();
    let path = ok(&store, &["library", "open", "Tarifs"]);
    assert_eq!(std::fs::read(&path).unwrap(), b"%PDF-1.7 tarifs 2027");
    let big_copy = ok(&store, &["library", "open", "Catalogue 2027"]);
    let mut h = Sha256::new();
    let mut f = std::fs::File::open(&big_copy).unwrap();
    std::io::copy(&mut f, &mut h).unwrap();
    let got: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(got, want);
    assert!(!carnet(&store, &["library", "open", "Salon de Lyon"])
        .status
        .success());
}

/// The images a PDF draws (`pdfimages -list`, Debian's poppler-utils), as
/// "WIDTHxHEIGHT".
fn images(pdf: &std::path::Path) -> Vec<String> {
    let out = std::process::Command::new("pdfimages")
        .arg("-list")
        .arg(pdf)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(2)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|c| c.len() > 4 && c[2] == "image")
        .map(|c| format!("{}x{}", c[3], c[4]))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_logo_reaches_every_device_and_replaced_or_withdrawn_documents_leave_them() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("server");
    Server::demo(&data);
    let server = Server::start(&data, "127.0.0.1:0");
    let logo_file = tmp.path().join("logo.png");
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/fixtures/logo.png"),
        &logo_file,
    )
    .unwrap();
    // The logo's library item is for Lyon only; the company's letterhead
    // is everyone's all the same.
    let logo = add(&server, &logo_file, "Logo", &["--territory", "Lyon"]);
    let v1 = tmp.path().join("tarifs.pdf");
    std::fs::write(&v1, b"%PDF-1.7 tarifs 2026").unwrap();
    let tarifs = add(&server, &v1, "Tarifs", &[]);

    // The admin's device sets it, from its own copy, after checking it is
    // an image it can draw.
    let admin = tmp.path().join("admin");
    login(&admin, &server.url, "admin@demo.carnet.fr", "carnet-demo");
    ok(&admin, &["sync"]);
    assert_eq!(ok(&admin, &["library", "fetch"]), "2");
    let refused = carnet(&admin, &["company", "logo", "Tarifs"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("cannot be the logo"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    ok(&admin, &["company", "logo", "Logo"]);
    ok(&admin, &["sync"]);

    // Alice (Paris) does not list the logo, but her device downloads it
    // and her offline PDFs carry it.
    let alice = tmp.path().join("alice");
    login(&alice, &server.url, "alice@demo.carnet.fr", "carnet-demo");
    ok(&alice, &["sync"]);
    assert_eq!(titles(&alice), vec!["Tarifs"]);
    assert_eq!(ok(&alice, &["library", "fetch"]), "2");
    let account = json(&alice, &["account", "list", "--json"])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let pdf = tmp.path().join("dossier.pdf");
    ok(
        &alice,
        &["account", "pdf", &account, "-o", pdf.to_str().unwrap()],
    );
    assert_eq!(images(&pdf), vec!["180x60"]);
    let (_, token) = raw_login(&server, "alice@demo.carnet.fr").await;
    let sha = logo["blob"].as_str().unwrap();
    assert_eq!(
        get(&server.addr, &format!("/blobs/{sha}"), Some(&token)).0,
        200
    );

    // A new version replaces the old one on the device too.
    let blob_file = |v: &Value| alice.join("blobs").join(v["blob"].as_str().unwrap());
    assert!(blob_file(&tarifs).is_file());
    let v2 = tmp.path().join("tarifs-2027.pdf");
    std::fs::write(&v2, b"%PDF-1.7 tarifs 2027").unwrap();
    let tarifs2 = add(&server, &v2, "Tarifs", &[]);
    ok(&alice, &["sync"]);
    assert_eq!(ok(&alice, &["library", "fetch"]), "1");
    assert!(
        !blob_file(&tarifs).exists(),
        "the old version left the device"
    );
    assert_eq!(
        std::fs::read(ok(&alice, &["library", "open", "Tarifs"])).unwrap(),
        b"%PDF-1.7 tarifs 2027"
    );

    // Withdrawn: it leaves the device; the logo stays.
    let out = server.admin(&["library", "remove", "Tarifs"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ok(&alice, &["sync"]);
    assert_eq!(ok(&alice, &["library", "fetch"]), "0");
    assert!(!blob_file(&tarifs2).exists());
    assert!(alice.join("blobs").join(sha).is_file());
    assert_eq!(
        json(&alice, &["library", "list", "--json"]),
        serde_json::json!([])
    );
    assert_eq!(
        get(
            &server.addr,
            &blob_file(&tarifs2)
                .file_name()
                .map(|n| format!("/blobs/{}", n.to_string_lossy()))
                .unwrap(),
            Some(&token)
        )
        .0,
        404
    );
}

/// One HTTP/1.1 request on a fresh connection: the status, the response's
/// head, and its body (small pages only).
fn http(addr: &str, head: &str, body: &mut dyn FnMut(&mut TcpStream)) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    body(&mut s);
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let (h, b) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (h[9..12].parse().unwrap(), h.to_string(), b.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_mb_document_uploaded_from_the_web_app_streams_in_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("server");
    Server::demo(&data);
    let server = Server::start(&data, "127.0.0.1:0");
    let addr = server.addr.clone();
    // The manager's browser session, and the page's CSRF token.
    let form = "email=marc%40demo.carnet.fr&password=carnet-demo";
    let (status, head, _) = http(
        &addr,
        &format!(
            "POST /login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
            form.len()
        ),
        &mut |_| {},
    );
    assert_eq!(status, 303, "{head}");
    let cookie = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or(l.strip_prefix("Set-Cookie: "))
        })
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_string();
    let (_, _, page) = http(
        &addr,
        &format!("GET /library HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"),
        &mut |_| {},
    );
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();

    // 200 MB that do not compress, sent 1 MB at a time as a multipart
    // form: token and title first, then the file.
    const MB: usize = 1024 * 1024;
    let boundary = "carnet-test-boundary";
    let before = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nCatalogue web\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"catalogue.bin\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    );
    let after = format!("\r\n--{boundary}--\r\n");
    let length = before.len() + 200 * MB + after.len();
    let mut want = Sha256::new();
    let rss_before = server.rss_kib().unwrap();
    let (status, head, _) = http(
        &addr,
        &format!(
            "POST /library HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
        ),
        &mut |s| {
            s.write_all(before.as_bytes()).unwrap();
            let mut x: u64 = 0x2545_F491_4F6C_DD1D;
            let mut block = vec![0u8; MB];
            for _ in 0..200 {
                for c in block.chunks_mut(8) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    c.copy_from_slice(&x.to_le_bytes());
                }
                want.update(&block);
                s.write_all(&block).unwrap();
            }
            s.write_all(after.as_bytes()).unwrap();
        },
    );
    assert_eq!(status, 303, "{head}");
    assert!(head.contains("done=added"), "{head}");
    let peak = server.peak_rss_kib().unwrap();
    eprintln!(
        "server RSS {} MiB before, peak {} MiB after a 200 MB web upload",
        rss_before / 1024,
        peak / 1024
    );
    assert!(
        peak < rss_before + 100 * 1024,
        "the server's memory grew by {} MiB for a 200 MB upload",
        (peak - rss_before) / 1024
    );
    let want: String = want.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let list = server.admin(&["library", "list"], None);
    let list: Value = serde_json::from_slice(&list.stdout).unwrap();
    let item = list
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["title"] == "Catalogue web")
        .expect("listed")
        .clone();
    assert_eq!(item["blob"], want.as_str());
    assert_eq!(item["size"], 200 * MB);
    assert_eq!(item["file_name"], "catalogue.bin");
}

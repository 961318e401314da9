//! SIGTERM under load, on the real binary (SQLite): the requests in flight finish
//! with their normal status, a new connection is refused at once, and the process
//! exits 0 well within `HYDRACORE_SHUTDOWN_TIMEOUT_SECS`.
//!
//! "In flight" means started: the server has read the request's head and is running
//! it. Uploads whose bodies are still arriving at the signal are that for certain; a
//! request still unread in its socket at the signal is not started, and actix closes
//! its connection without an answer.

#![allow(
    clippy::unwrap_used,
    reason = "test support: a failed step is a failed test"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";
const SHUTDOWN_TIMEOUT_SECS: u64 = 10;

/// The binary serving a fresh SQLite database with two workers; killed (if still
/// running) and its files removed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Server {
    fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("hc-shutdown-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let log_path = dir.join("server.log");
        let child = Command::new(env!("CARGO_BIN_EXE_hydracore"))
            .args(["serve", "--bind", "127.0.0.1:0", "--workers", "2"])
            .env(
                "DATABASE_URL",
                format!("sqlite://{}", dir.join("hc.db").display()),
            )
            .env("HYDRACORE_DATA_DIR", &dir)
            .env(
                "HYDRACORE_SHUTDOWN_TIMEOUT_SECS",
                SHUTDOWN_TIMEOUT_SECS.to_string(),
            )
            .env("HYDRACORE_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log_path).unwrap())
            .spawn()
            .unwrap();
        let mut server = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            dir,
        };
        // The port is in the "listening" line.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let reader = BufReader::new(std::fs::File::open(&log_path).unwrap());
            let port = reader.lines().map_while(Result::ok).find_map(|line| {
                let v: Value = serde_json::from_str(&line).ok()?;
                (v["fields"]["message"] == "listening").then(|| v["fields"]["port"].as_u64())?
            });
            if let Some(port) = port {
                server.addr.set_port(u16::try_from(port).unwrap());
                return server;
            }
            assert!(
                server.child.try_wait().unwrap().is_none(),
                "the server exited"
            );
            assert!(Instant::now() < deadline, "the server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    fn sigterm(&self) -> Instant {
        let at = Instant::now();
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        at
    }

    /// The exit status, and when it came; fails past the shutdown timeout and a bit.
    fn wait(&mut self) -> (ExitStatus, Instant) {
        let deadline = Instant::now() + Duration::from_secs(SHUTDOWN_TIMEOUT_SECS + 5);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, Instant::now());
            }
            assert!(Instant::now() < deadline, "still running after SIGTERM");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A signed-up user's bearer header, and a tenant holding `instances` instances.
    fn setup(&self, instances: usize) -> String {
        let (status, signed) = self.request(
            "POST",
            "/auth/signup",
            None,
            &json!({"email": "ops@example.com", "password": PASSWORD, "tenant_name": "Ops"}),
        );
        assert_eq!(status, 201, "{signed}");
        let bearer = format!(
            "Authorization: Bearer {}",
            signed["access_token"].as_str().unwrap()
        );
        for i in 0..instances {
            let (status, body) = self.request(
                "POST",
                "/v1/instances",
                Some(&bearer),
                &json!({"name": format!("i-{i}")}),
            );
            assert_eq!(status, 201, "{body}");
        }
        // Many at once: both workers open pooled connections.
        std::thread::scope(|s| {
            for _ in 0..16 {
                s.spawn(|| {
                    let (status, _) =
                        self.request("GET", "/v1/instances", Some(&bearer), &Value::Null);
                    assert_eq!(status, 200);
                });
            }
        });
        bearer
    }

    fn request(&self, method: &str, path: &str, auth: Option<&str>, body: &Value) -> (u16, Value) {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        stream
            .write_all(&head(method, path, auth, body.len()))
            .unwrap();
        stream.write_all(body.as_bytes()).unwrap();
        receive(&mut stream)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A request head (`Connection: close`) announcing `len` bytes of JSON.
fn head(method: &str, path: &str, auth: Option<&str>, len: usize) -> Vec<u8> {
    let auth = auth.map_or(String::new(), |a| format!("{a}\r\n"));
    let kind = if len == 0 {
        ""
    } else {
        "Content-Type: application/json\r\n"
    };
    format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{auth}{kind}\
         Content-Length: {len}\r\n\r\n"
    )
    .into_bytes()
}

/// The status and body of the response on `stream` (read to the end); status 0 when
/// the connection ended without one.
fn receive(stream: &mut TcpStream) -> (u16, Value) {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (status, body)
}

/// A `POST /v1/instances` whose head and half its body are sent now, the rest by
/// [`Upload::finish`].
struct Upload {
    stream: TcpStream,
    rest: Vec<u8>,
}

impl Upload {
    fn begin(server: &Server, bearer: &str, name: &str) -> Self {
        let body = json!({"name": name, "config": {"pad": "x".repeat(200)}}).to_string();
        let mut stream = TcpStream::connect(server.addr).unwrap();
        stream
            .write_all(&head("POST", "/v1/instances", Some(bearer), body.len()))
            .unwrap();
        let (first, rest) = body.as_bytes().split_at(body.len() / 2);
        stream.write_all(first).unwrap();
        Self {
            stream,
            rest: rest.to_vec(),
        }
    }

    fn finish(mut self) -> (u16, Value, Instant) {
        self.stream.write_all(&self.rest).unwrap();
        let (status, body) = receive(&mut self.stream);
        (status, body, Instant::now())
    }
}

#[test]
fn sigterm_under_load_finishes_requests_in_flight_refuses_new_ones_and_exits_0() {
    let mut server = Server::start();
    let bearer = server.setup(20);
    // In flight at the signal: uploads still sending their bodies, and a login
    // (Argon2: the slowest thing the server does) sent just before.
    let uploads: Vec<Upload> = (0..4)
        .map(|i| Upload::begin(&server, &bearer, &format!("late-{i}")))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut login = TcpStream::connect(server.addr).unwrap();
    let credentials = json!({"email": "ops@example.com", "password": PASSWORD}).to_string();
    login
        .write_all(&head("POST", "/auth/login", None, credentials.len()))
        .unwrap();
    login.write_all(credentials.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(30));

    let signalled = server.sigterm();
    let (answers, refused_after, (exit, exited)) = std::thread::scope(|s| {
        let finishing: Vec<_> = uploads
            .into_iter()
            .map(|u| {
                s.spawn(move || {
                    std::thread::sleep(Duration::from_millis(200));
                    u.finish()
                })
            })
            .collect();
        let logging_in = s.spawn(move || {
            let (status, body) = receive(&mut login);
            (status, body, Instant::now())
        });
        // New connections are refused soon after the signal.
        let refused_after = loop {
            match TcpStream::connect_timeout(&server.addr, Duration::from_millis(200)) {
                Err(_) => break signalled.elapsed(),
                Ok(stream) => drop(stream),
            }
            assert!(
                signalled.elapsed() < Duration::from_secs(2),
                "new connections still accepted 2 s after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(2));
        };
        let mut answers: Vec<(&str, (u16, Value, Instant))> = finishing
            .into_iter()
            .map(|h| ("upload", h.join().unwrap()))
            .collect();
        answers.push(("login", logging_in.join().unwrap()));
        (answers, refused_after, server.wait())
    });

    let ms = |t: &Instant| t.saturating_duration_since(signalled).as_millis();
    eprintln!(
        "shutdown: in flight at SIGTERM: {:?} (status, ms after the signal); new connections \
         refused after {} ms; exit {:?} after {} ms (timeout {SHUTDOWN_TIMEOUT_SECS} s)",
        answers
            .iter()
            .map(|(what, (status, _, at))| (*what, *status, ms(at)))
            .collect::<Vec<_>>(),
        refused_after.as_millis(),
        exit.code(),
        ms(&exited),
    );
    for (what, (status, body, at)) in &answers {
        match *what {
            "upload" => {
                assert_eq!(*status, 201, "an upload in flight: {body}");
                assert!(body["name"].as_str().unwrap().starts_with("late-"));
                assert!(ms(at) >= 200, "answered before its body was whole");
            }
            _ => {
                assert_eq!(*status, 200, "a login in flight: {body}");
                assert!(body["access_token"].is_string(), "{body}");
            }
        }
    }
    assert!(
        refused_after < Duration::from_millis(500),
        "new connections accepted for {refused_after:?} after SIGTERM"
    );
    assert!(exit.success(), "exit status {exit:?}");
    assert!(
        exited - signalled < Duration::from_secs(SHUTDOWN_TIMEOUT_SECS),
        "exit took {:?}",
        exited - signalled
    );
    assert!(
        server.log().contains("SIGTERM received"),
        "{}",
        server.log()
    );
}

/// On SIGTERM a worker with nothing in flight stops at once while another finishes
/// its requests: those must not depend on the stopped worker (pooled connections
/// opened on its runtime, say).
#[test]
fn sigterm_with_an_idle_worker_still_serves_the_busy_one() {
    let mut failures = Vec::new();
    for round in 0..3 {
        let mut server = Server::start();
        let bearer = server.setup(5);
        // One request in flight: one worker busy, the other idle.
        let upload = Upload::begin(&server, &bearer, "late");
        std::thread::sleep(Duration::from_millis(300));
        let signalled = server.sigterm();
        // The idle worker is gone by now.
        std::thread::sleep(Duration::from_millis(300));
        let (status, body, _) = upload.finish();
        let (exit, exited) = server.wait();
        eprintln!(
            "shutdown[idle worker, round {round}]: upload {status}; exit {:?} after {} ms",
            exit.code(),
            (exited - signalled).as_millis()
        );
        if status != 201 {
            failures.push((status, body));
        }
        assert!(exit.success(), "exit status {exit:?}");
    }
    assert!(
        failures.is_empty(),
        "in-flight uploads failed: {failures:?}"
    );
}

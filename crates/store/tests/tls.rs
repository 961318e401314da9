//! PostgreSQL over TLS, against a throwaway cluster this test starts with `ssl = on`,
//! a certificate from a CA the test makes, and `hostssl` as the only way in over TCP:
//! the pool, the migrations and the key-change listener all connect through TLS, as
//! `sslmode` asks, and refuse a server their CA did not sign.

#![allow(
    clippy::unwrap_used,
    reason = "test support: a failed step is a failed test"
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use hydracore_core::SystemClock;
use hydracore_keys::{Grantor, KeyService, MintKey};
use hydracore_store::{DatabaseUrl, PoolOptions, Store};
use hydracore_tenants::TenantService;

/// The directory of PostgreSQL's server programs (`initdb`, `pg_ctl`).
fn pg_bin() -> Option<PathBuf> {
    let out = Command::new("pg_config").arg("--bindir").output().ok()?;
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if dir.join("initdb").exists() {
        return Some(dir);
    }
    let versions = std::fs::read_dir("/usr/lib/postgresql").ok()?;
    versions
        .filter_map(Result::ok)
        .map(|v| v.path().join("bin"))
        .find(|b| b.join("initdb").exists())
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A command run as the cluster's owner (`postgres` when we are root: PostgreSQL
/// refuses to run as root).
fn as_owner(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// A CA (key and certificate) in `dir`, named `name`.
fn make_ca(dir: &Path, name: &str) {
    run(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", &format!("/CN={name}")])
        .args(["-addext", "basicConstraints=critical,CA:TRUE"])
        .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        .arg("-keyout")
        .arg(dir.join(format!("{name}.key")))
        .arg("-out")
        .arg(dir.join(format!("{name}.crt"))));
}

struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
}

impl Cluster {
    /// A cluster on a free port whose certificate, signed by the CA `ca`, names
    /// `localhost` only; TCP connections must use TLS.
    fn start(bin: PathBuf) -> Self {
        let dir = std::env::temp_dir().join(format!("hc-tls-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        make_ca(&dir, "ca");
        make_ca(&dir, "other-ca");
        run(Command::new("openssl")
            .args([
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ])
            .args(["-nodes", "-subj", "/CN=localhost"])
            .arg("-keyout")
            .arg(dir.join("server.key"))
            .arg("-out")
            .arg(dir.join("server.csr")));
        std::fs::write(
            dir.join("ext.cnf"),
            "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        run(Command::new("openssl")
            .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
            .arg("-in")
            .arg(dir.join("server.csr"))
            .arg("-CA")
            .arg(dir.join("ca.crt"))
            .arg("-CAkey")
            .arg(dir.join("ca.key"))
            .arg("-extfile")
            .arg(dir.join("ext.cnf"))
            .arg("-out")
            .arg(dir.join("server.crt")));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let data = dir.join("data");
        if is_root() {
            run(Command::new("chown").args(["-R", "postgres"]).arg(&dir));
        }
        run(as_owner(&bin.join("initdb"))
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(&data));
        let conf = format!(
            "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\nfsync = off\n",
            dir.display(),
            dir.join("server.crt").display(),
            dir.join("server.key").display()
        );
        let mut pg_conf = std::fs::read_to_string(data.join("postgresql.conf")).unwrap();
        pg_conf.push_str(&conf);
        std::fs::write(data.join("postgresql.conf"), pg_conf).unwrap();
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
        )
        .unwrap();
        run(as_owner(&bin.join("pg_ctl"))
            .args(["-w", "-D"])
            .arg(&data)
            .arg("-l")
            .arg(dir.join("server.log"))
            .arg("start"));
        Self { dir, bin, port }
    }

    fn url(&self, host: &str, query: &str) -> DatabaseUrl {
        DatabaseUrl::parse(&format!(
            "postgres://postgres@{host}:{}/postgres?{query}",
            self.port
        ))
        .unwrap()
    }

    fn ca(&self, name: &str) -> String {
        self.dir.join(format!("{name}.crt")).display().to_string()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = as_owner(&self.bin.join("pg_ctl"))
            .args(["-m", "immediate", "-D"])
            .arg(self.dir.join("data"))
            .arg("stop")
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn open(url: &DatabaseUrl) -> Result<Store, String> {
    Store::open(
        url,
        &PoolOptions {
            max_size: 2,
            timeout: Duration::from_secs(5),
        },
    )
    .await
    .map_err(|e| {
        let mut chain = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            source = s.source();
        }
        chain
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_the_migrations_and_the_listener_speak_tls() {
    let Some(bin) = pg_bin() else {
        hydracore_core::testing::skip(
            "HYDRACORE_REQUIRE_PG",
            "PostgreSQL's server programs (initdb) are not installed",
        );
        return;
    };
    let cluster = tokio::task::spawn_blocking(move || Cluster::start(bin))
        .await
        .unwrap();
    let ca = cluster.ca("ca");

    // Plaintext is refused by the server (hostssl only): TLS is what the others use.
    let plain = open(&cluster.url("localhost", "")).await;
    assert!(plain.is_err(), "a plaintext connection was let in");

    // verify-full: migrations, then queries through the pool, all over TLS.
    let full = cluster.url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    let store = open(&full).await.expect("verify-full with the right CA");
    let clock = Arc::new(SystemClock);
    let tenant = TenantService::new(Arc::new(store.clone()), clock.clone())
        .create(&hydracore_core::audit::Who::ops(), "tls")
        .await
        .unwrap();
    let keys = KeyService::new(Arc::new(store.clone()), clock);
    let minted = keys
        .mint(
            tenant.id,
            Grantor::Operator,
            &hydracore_core::audit::Who::ops(),
            MintKey {
                name: "tls".into(),
                scopes: vec!["instances:read".into()],
                ..MintKey::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        keys.verify(minted.secret.expose()).await.unwrap().id,
        minted.key.id
    );

    // The key-change listener connects over TLS too and hears a revocation.
    let (heard_tx, mut heard) = tokio::sync::mpsc::unbounded_channel();
    let (live_tx, mut live) = tokio::sync::mpsc::unbounded_channel();
    let listener = tokio::spawn(hydracore_store::listen_key_changes(
        full.clone(),
        move |id| {
            let _ = heard_tx.send(id);
        },
        move |up| {
            let _ = live_tx.send(up);
        },
    ));
    let up = tokio::time::timeout(Duration::from_secs(10), live.recv()).await;
    assert_eq!(up.ok().flatten(), Some(true), "the listener never listened");
    keys.revoke(
        tenant.id,
        Grantor::Operator,
        &hydracore_core::audit::Who::ops(),
        minted.key.id,
    )
    .await
    .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), heard.recv()).await;
    assert_eq!(got.ok().flatten(), Some(minted.key.id.0));
    listener.abort();

    // The server's certificate names localhost only: verify-full refuses it as
    // 127.0.0.1, verify-ca (the chain alone) accepts it there.
    let by_ip = cluster.url(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    assert!(
        open(&by_ip).await.is_err(),
        "a certificate for another name passed"
    );
    let chain_only = cluster.url("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={ca}"));
    open(&chain_only)
        .await
        .expect("verify-ca checks the chain only");
    // Another CA's server is refused, whatever the mode that verifies.
    let other = cluster.ca("other-ca");
    for mode in ["verify-full", "verify-ca", "require"] {
        let wrong = cluster.url("localhost", &format!("sslmode={mode}&sslrootcert={other}"));
        let refused = open(&wrong).await;
        assert!(
            refused.is_err(),
            "{mode} trusted a CA that did not sign the server"
        );
    }
    // require without a CA encrypts and trusts; verify-full without one is refused
    // before any connection.
    open(&cluster.url("localhost", "sslmode=require"))
        .await
        .expect("require without a CA");
    match open(&cluster.url("localhost", "sslmode=verify-full")).await {
        Err(e) => assert!(e.contains("sslrootcert"), "{e}"),
        Ok(_) => panic!("verify-full without a CA connected"),
    }
}

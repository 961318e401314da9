//! The operator commands, run as the real binary: `tenants create` and `keys mint`
//! bootstrap a first credential without HTTP, each printing one JSON object.

#![allow(
    clippy::unwrap_used,
    reason = "test support: a failed step is a failed test"
)]

use std::process::Command;
use std::sync::Arc;

use hydracore_core::SystemClock;
use hydracore_keys::KeyService;
use hydracore_store::{DatabaseUrl, PoolOptions, Store};
use serde_json::Value;

fn hydracore(db: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hydracore"))
        .args(args)
        .env("DATABASE_URL", db)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn json_line(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(stdout.lines().count(), 1, "one JSON object: {stdout}");
    serde_json::from_str(&stdout).unwrap()
}

#[test]
fn bootstrap_a_tenant_and_a_working_key() {
    let dir = std::env::temp_dir().join(format!("hc-cli-{}", uuid::Uuid::new_v4()));
    let db = format!("sqlite://{}/nested/hc.db", dir.display());
    let tenant = json_line(&hydracore(&db, &["tenants", "create", "--name", "Acme"]));
    assert_eq!(tenant["name"], "Acme");
    let tenant_id = tenant["id"].as_str().unwrap();
    assert!(tenant["created_at"].as_str().unwrap().ends_with('Z'));

    let key = json_line(&hydracore(
        &db,
        &[
            "keys",
            "mint",
            "--tenant",
            tenant_id,
            "--name",
            "admin",
            "--scopes",
            "instances:*,api-keys:*",
        ],
    ));
    let secret = key["key"].as_str().unwrap();
    assert!(secret.starts_with("hc_live_"));
    assert_eq!(key["tenant_id"], tenant["id"]);
    assert_eq!(
        key["scopes"],
        serde_json::json!(["api-keys:*", "instances:*"])
    );

    // The printed key is the one stored (as a hash) and it verifies.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let verified = rt.block_on(async {
        let store = Store::open(&DatabaseUrl::parse(&db).unwrap(), &PoolOptions::default())
            .await
            .unwrap();
        KeyService::new(Arc::new(store), Arc::new(SystemClock))
            .verify(secret)
            .await
            .unwrap()
    });
    assert_eq!(verified.id.0.to_string(), key["id"].as_str().unwrap());

    let bad_scope = hydracore(
        &db,
        &[
            "keys",
            "mint",
            "--tenant",
            tenant_id,
            "--name",
            "x",
            "--scopes",
            "instances:fly",
        ],
    );
    assert!(!bad_scope.status.success());
    assert!(String::from_utf8_lossy(&bad_scope.stderr).contains("instances:fly"));
    let unknown_tenant = hydracore(
        &db,
        &[
            "keys",
            "mint",
            "--tenant",
            &uuid::Uuid::new_v4().to_string(),
            "--name",
            "x",
            "--scopes",
            "instances:read",
        ],
    );
    assert!(!unknown_tenant.status.success());
    assert!(String::from_utf8_lossy(&unknown_tenant.stderr).contains("not found"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn openapi_prints_the_spec() {
    let out = Command::new(env!("CARGO_BIN_EXE_hydracore"))
        .arg("openapi")
        .output()
        .unwrap();
    assert!(out.status.success());
    let spec: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(spec["openapi"], "3.0.3");
    assert!(spec["paths"]["/v1/instances"].is_object());
}

/// The flags `--help` lists for a command, as the binary prints them.
fn help_flags(args: &[&str]) -> Vec<(String, String)> {
    let mut args = args.to_vec();
    args.push("--help");
    let out = hydracore("sqlite://unused.db", &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut flags = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(l) = line.trim_start().strip_prefix("--") else {
            continue;
        };
        let (flag, rest) = l.split_once(' ').unwrap_or((l, ""));
        // The description follows the value name, or (when long) starts the next line.
        let mut description = rest.split_once('>').map_or(rest, |(_, d)| d).trim();
        if description.is_empty() {
            description = lines.get(i + 1).map_or("", |n| n.trim());
        }
        if flag != "help" && flag != "version" && !description.starts_with("--") {
            flags.push((flag.to_owned(), description.to_owned()));
        } else if flag != "help" && flag != "version" {
            flags.push((flag.to_owned(), String::new()));
        }
    }
    flags
}

#[test]
fn each_command_shows_its_own_flags_each_with_a_description() {
    let names = |flags: &[(String, String)]| -> Vec<String> {
        flags.iter().map(|(f, _)| f.clone()).collect()
    };
    let mint = help_flags(&["keys", "mint"]);
    assert_eq!(names(&mint), ["database-url", "tenant", "name", "scopes"]);
    assert_eq!(
        names(&help_flags(&["tenants", "create"])),
        ["database-url", "name"]
    );
    assert_eq!(names(&help_flags(&["migrate"])), ["database-url"]);
    assert!(help_flags(&["openapi"]).is_empty());
    let serve = help_flags(&["serve"]);
    assert!(serve.len() > 20, "{serve:?}");
    assert_eq!(names(&help_flags(&[])), names(&serve), "no command serves");
    for (flag, description) in mint.iter().chain(&serve) {
        assert!(!description.is_empty(), "--{flag} has no description");
    }
}

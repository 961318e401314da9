//! Schemathesis (PyPI) against the live `/openapi.json`: every operation, with examples,
//! boundary values, random data and stateful sequences, every check on. The spec is
//! held to the server's behaviour and the server to its spec: no 5xx, no undocumented
//! status, no response outside its schema, no schema-valid request refused.
//!
//! Needs `HYDRACORE_SCHEMATHESIS` (the `schemathesis` executable; `.ci/run` installs
//! it). Without it the test says so and passes, unless
//! `HYDRACORE_REQUIRE_SCHEMATHESIS=1`.

use std::path::Path;
use std::process::Command;

use hydracore_api_tests::{OPS_TOKEN, PASSWORD, TestApp, api_tests};
use serde_json::{Value, json};

fn executable() -> Option<String> {
    hydracore_core::testing::needs("HYDRACORE_SCHEMATHESIS", "HYDRACORE_REQUIRE_SCHEMATHESIS")
}

fn schemathesis_finds_nothing(app: &TestApp) {
    let Some(st) = executable() else {
        return;
    };
    // An owner (access token) and a key of the same tenant holding every scope.
    let signup = app.post_anon(
        "/auth/signup",
        &json!({"email": "owner@example.com", "password": PASSWORD, "tenant_name": "Fuzz"}),
    );
    assert_eq!(signup.status, 201, "{}", signup.body);
    let token = signup.json()["access_token"].as_str().unwrap().to_owned();
    let scopes: Vec<Value> = app
        .bearer("GET", "/v1/scopes", &token, None)
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["scope"].clone())
        .filter(|s| s.as_str().is_some_and(|s| s.ends_with(":*")))
        .collect();
    let key = app.bearer(
        "POST",
        "/v1/api-keys",
        &token,
        Some(&json!({"name": "fuzz", "scopes": scopes,
                     "rate_limit": {"requests": 1_000_000, "per_seconds": 1}})),
    );
    assert_eq!(key.status, 201, "{}", key.body);
    let key = key.json()["key"].as_str().unwrap().to_owned();

    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemathesis/schemathesis.toml");
    let examples = std::env::var("HYDRACORE_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "15".into());
    let seed = std::env::var("HYDRACORE_SCHEMATHESIS_SEED").unwrap_or_else(|_| "20261128".into());
    let out = Command::new(&st)
        .arg("--config-file")
        .arg(&config)
        .args(["run", &format!("{}/openapi.json", app.address)])
        .args([
            "--checks",
            "all",
            "--max-examples",
            &examples,
            "--seed",
            &seed,
        ])
        .args(["--workers", "1", "--no-color"])
        .env("HC_API_KEY", &key)
        .env("HC_ACCESS_TOKEN", &token)
        .env("HC_OPS_TOKEN", OPS_TOKEN)
        .output()
        .expect("run schemathesis");
    let report = String::from_utf8_lossy(&out.stdout);
    let summary: Vec<&str> = report
        .lines()
        .filter(|l| l.contains("Selected:") || l.contains("generated") || l.contains("Tested:"))
        .collect();
    eprintln!("schemathesis ({:?}): {}", app.backend, summary.join(" | "));
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

api_tests!(schemathesis_finds_nothing);

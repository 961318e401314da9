//! The spec is a product: a client generated from `docs/openapi.json` by
//! openapi-python-client runs the quickstart, the models datamodel-code-generator and
//! hey-api make of it have one name per shape, and the reference pages render in a
//! real browser with every operation visible.

use std::path::{Path, PathBuf};
use std::process::Command;

use hydracore_api_tests::{Backend, TestApp, spawn_app};
use serde_json::Value;

/// A tool `.ci/run` installs, named by an environment variable.
fn tool(var: &str) -> Option<PathBuf> {
    hydracore_core::testing::needs(var, "HYDRACORE_REQUIRE_DOC_TOOLS").map(PathBuf::from)
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn a_generated_python_client_runs_the_quickstart() {
    let Some(python) = tool("HYDRACORE_OPC_PYTHON") else {
        return;
    };
    let app = spawn_app(Backend::Sqlite).unwrap();
    let out_dir = std::env::temp_dir().join(format!("hc-gen-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&out_dir).unwrap();
    let generator = python.with_file_name("openapi-python-client");
    let generated = Command::new(&generator)
        .args(["generate", "--meta", "none", "--path"])
        .arg(repo().join("docs/openapi.json"))
        .arg("--output-path")
        .arg(out_dir.join("hc_client"))
        .output()
        .expect("openapi-python-client");
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let run = Command::new(&python)
        .arg(repo().join("tests/clients/quickstart.py"))
        .arg(&app.address)
        .env("PYTHONPATH", &out_dir)
        .output()
        .expect("python");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(report["status"], "running");
    assert_eq!(report["names"], serde_json::json!(["gen-1"]));
    let _ = std::fs::remove_dir_all(out_dir);
}

/// Names a generator numbered to tell apart shapes that were not one named schema:
/// `RateLimit2` beside `RateLimit`, `Scope1` pushed aside by an inline enum.
fn numbered(names: &[String]) -> Vec<String> {
    names
        .iter()
        .filter(|n| n.ends_with(|c: char| c.is_ascii_digit()))
        .cloned()
        .collect()
}

#[test]
fn generated_python_and_typescript_models_have_one_name_per_shape() {
    let (Some(python), Some(ts)) = (tool("HYDRACORE_OPC_PYTHON"), tool("HYDRACORE_CODEGEN_TS"))
    else {
        return;
    };
    let spec = repo().join("docs/openapi.json");
    let out = std::env::temp_dir().join(format!("hc-models-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&out).unwrap();

    let models = out.join("models.py");
    let generated = Command::new(python.with_file_name("datamodel-codegen"))
        .args(["--input-file-type", "openapi", "--input"])
        .arg(&spec)
        .arg("--output")
        .arg(&models)
        .output()
        .expect("datamodel-codegen");
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let python_names: Vec<String> = std::fs::read_to_string(&models)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("class "))
        .filter_map(|l| l.split(['(', ':']).next())
        .map(str::to_owned)
        .collect();
    assert!(
        python_names.iter().any(|n| n == "RateLimit"),
        "{python_names:?}"
    );
    assert_eq!(
        numbered(&python_names),
        Vec::<String>::new(),
        "datamodel-code-generator"
    );

    let generated = Command::new(ts.join("node_modules/.bin/openapi-ts"))
        .arg("-i")
        .arg(&spec)
        .arg("-o")
        .arg(out.join("ts"))
        .output()
        .expect("@hey-api/openapi-ts");
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let ts_names: Vec<String> = std::fs::read_to_string(out.join("ts/types.gen.ts"))
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("export type "))
        .filter_map(|l| l.split([' ', '<']).next())
        .map(str::to_owned)
        .collect();
    assert!(ts_names.iter().any(|n| n == "RateLimit"), "{ts_names:?}");
    assert_eq!(numbered(&ts_names), Vec::<String>::new(), "hey-api");
    let _ = std::fs::remove_dir_all(out);
}

/// The DOM of `url` after headless Chromium ran its scripts.
fn rendered(chromium: &Path, url: &str) -> String {
    let profile = std::env::temp_dir().join(format!("hc-chromium-{}", uuid::Uuid::new_v4()));
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=15000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .output()
        .expect("chromium");
    let _ = std::fs::remove_dir_all(profile);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn summaries(app: &TestApp) -> Vec<String> {
    let spec = app.request("GET", "/openapi.json", None, None).json();
    let mut out = Vec::new();
    for (_, ops) in spec["paths"].as_object().unwrap() {
        for (_, op) in ops.as_object().unwrap() {
            out.push(op["summary"].as_str().unwrap().to_owned());
        }
    }
    out
}

#[test]
fn every_reference_page_renders_every_operation_in_a_browser() {
    let Some(chromium) = tool("HYDRACORE_CHROMIUM") else {
        return;
    };
    let app = spawn_app(Backend::Sqlite).unwrap();
    let expected = summaries(&app);
    for page in ["/docs/", "/redoc", "/docs/api"] {
        let dom = rendered(&chromium, &format!("{}{page}", app.address));
        let missing: Vec<&String> = expected
            .iter()
            .filter(|s| !dom.contains(s.as_str()))
            .collect();
        assert!(missing.is_empty(), "{page} does not show {missing:?}");
    }
}

#[test]
fn no_reference_page_loads_anything_from_another_origin() {
    let Some(python) = tool("HYDRACORE_PLAYWRIGHT_PYTHON") else {
        return;
    };
    let app = spawn_app(Backend::Sqlite).unwrap();
    let port = app.address.rsplit(':').next().unwrap();
    let out = Command::new(&python)
        .arg(repo().join("tests/browser/docs_offline.py"))
        .arg(port)
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let expected = summaries(&app);
    for page in ["/docs/", "/redoc", "/docs/api"] {
        let seen = &report[page];
        assert!(seen["requests"].as_u64().unwrap() >= 1, "{page}: {seen}");
        assert_eq!(seen["foreign"], serde_json::json!([]), "{page} reached out");
        let text = seen["text"].as_str().unwrap();
        assert!(
            expected.iter().take(3).all(|s| text.contains(s.as_str())),
            "{page} did not render its operations"
        );
    }
}

//! `cargo xtask`: the project's own commands.
//!
//! - `openapi [--check]`: write the spec the server produces to `docs/openapi.json`,
//!   or fail (with a summary of what differs) when the committed file is stale.
//! - `layers`: fail when a crate declares no layer, or depends on a layer it must not
//!   know (checked on the resolved dependency graph, transitively; see `layers.rs`).
//! - `ci`: fmt, clippy, layers, openapi --check and the tests, as `.ci/run` does.
//! - `bench [--sqlite] [--seconds N]`: the side-by-side benchmark (see `bench.rs`).
//! - `soak [--sqlite] [--seconds N] [--sample S]`: a mixed workload for N seconds (300
//!   by default), failing on RSS growth after the warm-up or on any 5xx (see `soak.rs`).
//! - `image [--base REF] [--tag REF]`: the release binary, and the container image of
//!   `deploy/Containerfile` around it, built with Podman.
//! - `drill [--short]`: a rolling restart of three nodes behind HAProxy under load
//!   (see `drill.rs`).
//!
//! Depends on no workspace crate: it drives `cargo`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

mod bench;
mod ceiling;
mod drill;
mod layers;
mod soak;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// The access-token key of the servers `bench` and `soak` run (PostgreSQL requires one).
const BENCH_JWT_SECRET: &str = "bench-jwt-secret-0123456789abcdef0123456789";
/// Their sealing key.
const BENCH_MCP_CREDS_KEY: &str =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

fn run(mut cmd: Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd.status().with_context(|| format!("running {shown}"))?;
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    Ok(())
}

fn generated_spec() -> Result<String> {
    let out = cargo()
        .args([
            "run",
            "--quiet",
            "--package",
            "hydracore-server",
            "--",
            "openapi",
        ])
        .output()
        .context("running `hydracore openapi`")?;
    if !out.status.success() {
        bail!(
            "`hydracore openapi` failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8(out.stdout).context("the spec is not UTF-8")
}

/// Operation and schema keys present in one document and not the other, or changed.
fn summarize(old: &Value, new: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    for (section, pointer) in [("path", "/paths"), ("schema", "/components/schemas")] {
        let empty = serde_json::Map::new();
        let a = old
            .pointer(pointer)
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let b = new
            .pointer(pointer)
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        for k in keys {
            match (a.get(k), b.get(k)) {
                (None, Some(_)) => lines.push(format!("  + {section} {k}")),
                (Some(_), None) => lines.push(format!("  - {section} {k}")),
                (Some(x), Some(y)) if x != y => lines.push(format!("  ~ {section} {k}")),
                _ => {}
            }
        }
    }
    if lines.is_empty() {
        lines.push("  (info, tags or security schemes differ)".into());
    }
    lines
}

fn openapi(check: bool) -> Result<()> {
    let spec = generated_spec()?;
    let path = root().join("docs/openapi.json");
    if check {
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed == spec {
            println!("docs/openapi.json is up to date");
            return Ok(());
        }
        let old: Value = serde_json::from_str(&committed).unwrap_or(Value::Null);
        let new: Value = serde_json::from_str(&spec)?;
        eprintln!("docs/openapi.json is stale; what the code produces differs in:");
        for line in summarize(&old, &new) {
            eprintln!("{line}");
        }
        bail!("run `cargo xtask openapi` and commit docs/openapi.json");
    }
    std::fs::write(&path, spec).with_context(|| format!("writing {}", path.display()))?;
    println!("wrote docs/openapi.json");
    Ok(())
}

fn layers() -> Result<()> {
    let out = cargo()
        .args(["metadata", "--format-version", "1", "--locked"])
        .output()
        .context("cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let meta: Value = serde_json::from_slice(&out.stdout)?;
    let violations = layers::check(&meta).map_err(anyhow::Error::msg)?;
    if violations.is_empty() {
        println!("layers: every crate declares a layer and stays within it");
        return Ok(());
    }
    for v in &violations {
        eprintln!("layer violation: {v}");
    }
    bail!("{} layer violation(s)", violations.len())
}

fn ci() -> Result<()> {
    run({
        let mut c = cargo();
        c.args(["fmt", "--all", "--", "--check"]);
        c
    })?;
    run({
        let mut c = cargo();
        c.args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]);
        c
    })?;
    layers()?;
    openapi(true)?;
    run({
        let mut c = cargo();
        c.args(["test", "--workspace", "--locked"]);
        c
    })
}

/// Builds the release binary and, with Podman, the image of `deploy/Containerfile`
/// around it: the binary alone is the build context. `--base` is the Debian 12 image to
/// build on (a registry's, or one imported from debootstrap where none can be reached).
fn image(args: &[&str]) -> Result<()> {
    let mut base = "docker.io/library/debian:bookworm-slim";
    let mut tag = "localhost/hydracore:dev";
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match *arg {
            "--base" => base = rest.next().context("--base needs an image")?,
            "--tag" => tag = rest.next().context("--tag needs a name")?,
            other => bail!("image: unknown argument {other}"),
        }
    }
    let root = root();
    run({
        let mut c = cargo();
        c.args(["build", "--release", "--locked", "-p", "hydracore-server"]);
        c
    })?;
    let context = root.join("target/image");
    std::fs::create_dir_all(&context)?;
    std::fs::copy(
        root.join("target/release/hydracore"),
        context.join("hydracore"),
    )
    .context("copying the release binary")?;
    run({
        let mut c = Command::new("podman");
        c.arg("build")
            // Docker's format keeps the HEALTHCHECK (OCI's has none).
            .args(["--format", "docker", "--quiet"])
            .arg("--file")
            .arg(root.join("deploy/Containerfile"))
            .args(["--build-arg", &format!("BASE={base}"), "--tag", tag])
            .arg(&context);
        c
    })?;
    println!("built {tag} on {base}");
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["openapi"] => openapi(false),
        ["openapi", "--check"] => openapi(true),
        ["layers"] => layers(),
        ["ci"] => ci(),
        ["bench", rest @ ..] => bench::run(&root(), rest),
        ["soak", rest @ ..] => soak::run(&root(), rest),
        ["image", rest @ ..] => image(rest),
        ["drill", rest @ ..] => drill::run(&root(), rest),
        _ => {
            eprintln!(
                "usage: cargo xtask <task>\n\n  openapi [--check]  refresh (or check) docs/openapi.json\n  layers             check the crate dependency rules\n  ci                 fmt, clippy, layers, openapi --check, tests\n  bench [--sqlite] [--seconds N]\n                     ours vs the FastAPI peer vs pgbench, on this machine\n  soak [--sqlite] [--seconds N] [--sample S]\n                     mixed workload; fails on RSS growth or any 5xx\n  image [--base REF] [--tag REF]\n                     the release binary and its container image (Podman)\n  drill [--short]    a rolling restart of three nodes behind HAProxy, under load"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

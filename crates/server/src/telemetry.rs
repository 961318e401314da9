//! Structured logs: `RUST_LOG` filters (default `info`), `HYDRACORE_LOG_FORMAT=json`
//! switches to JSON lines. Each request gets a span with its request id. No credential
//! is ever a field: request spans carry method, route and status, never headers.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

/// Installs the global subscriber; a second call does nothing.
pub fn init() {
    // Whatever RUST_LOG says, two libraries never log below info: the PostgreSQL driver
    // (at debug it prints statement parameters, which include hashes of keys and
    // tokens) and the MCP protocol library (at debug it prints whole requests, tool
    // arguments included).
    const CAPS: &str = "tokio_postgres=info,rmcp=info,rmcp::service=info";
    let requested = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    let filter = EnvFilter::try_new(format!("{requested},{CAPS}"))
        .unwrap_or_else(|_| EnvFilter::new(format!("info,{CAPS}")));
    let json = std::env::var("HYDRACORE_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

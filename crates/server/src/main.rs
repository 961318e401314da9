//! `hydracore`: serve the control plane, or run one of its operator commands.

fn main() -> anyhow::Result<()> {
    hydracore_server::cli::run()
}

//! `hydracore`: serve the control plane, or run one of its operator commands.

use std::process::ExitCode;

fn main() -> ExitCode {
    match hydracore_server::cli::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: what failed and why, outermost first.
            eprintln!("hydracore: {e:#}");
            ExitCode::FAILURE
        }
    }
}

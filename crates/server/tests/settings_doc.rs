//! `docs/operations.md` documents every setting the binary reads, with its default.

use clap::CommandFactory;
use hydracore_server::settings::Cli;

#[test]
fn every_environment_variable_is_in_the_operations_table() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/operations.md"),
    )
    .expect("docs/operations.md");
    let cmd = Cli::command();
    let mut seen = 0;
    for arg in cmd.get_arguments() {
        if let Some(env) = arg.get_env() {
            let name = env.to_string_lossy();
            let row = format!("| `{name}` |");
            let Some(line) = doc.lines().find(|l| l.starts_with(&row)) else {
                panic!("{name} is not in docs/operations.md");
            };
            let defaults: Vec<String> = arg
                .get_default_values()
                .iter()
                .map(|v| v.to_string_lossy().into_owned())
                .collect();
            if !defaults.is_empty() {
                let documented = line[row.len()..].split('|').next().unwrap_or("").trim();
                assert_eq!(
                    documented,
                    format!("`{}`", defaults.join(",")),
                    "the default of {name} in docs/operations.md"
                );
            }
            seen += 1;
        }
    }
    assert!(seen >= 18, "only {seen} settings found");
    // Read by telemetry, not by clap.
    for name in ["RUST_LOG", "HYDRACORE_LOG_FORMAT"] {
        assert!(
            doc.contains(&format!("| `{name}` |")),
            "{name} is not in docs/operations.md"
        );
    }
}

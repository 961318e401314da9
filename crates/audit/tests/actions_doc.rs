//! `docs/operations.md` lists every action the audit log records; this test derives the
//! list from the code and fails when the document says something else.
//! `UPDATE_DOCS=1` rewrites it.

use hydracore_audit::Action;

const BEGIN: &str = "<!-- audit-actions:begin -->";
const END: &str = "<!-- audit-actions:end -->";

fn table() -> String {
    let mut out = String::from("| action | what it records |\n| --- | --- |\n");
    for a in Action::ALL {
        out.push_str(&format!("| `{}` | {} |\n", a.as_str(), a.describe()));
    }
    out
}

#[test]
fn docs_operations_md_lists_every_audit_action() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/operations.md");
    let doc = std::fs::read_to_string(&path).expect("docs/operations.md");
    let (head, rest) = doc.split_once(BEGIN).expect("the begin marker");
    let (_, tail) = rest.split_once(END).expect("the end marker");
    let wanted = format!("{head}{BEGIN}\n{}{END}{tail}", table());
    if std::env::var("UPDATE_DOCS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &wanted).expect("rewrite docs/operations.md");
        return;
    }
    assert!(
        doc == wanted,
        "docs/operations.md lists other audit actions than the code; run with UPDATE_DOCS=1"
    );
}

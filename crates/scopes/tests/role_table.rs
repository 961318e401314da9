//! `docs/auth.md` shows the role → scope table; this test derives the table from the
//! code and fails when the document says something else. `UPDATE_DOCS=1` rewrites it.

use hydracore_scopes::{CATALOGUE, Role, Scope};

const BEGIN: &str = "<!-- role-table:begin -->";
const END: &str = "<!-- role-table:end -->";

fn table() -> String {
    let roles = [Role::Viewer, Role::Member, Role::Admin, Role::Owner];
    let mut out = String::from(
        "| scope | viewer | member | admin | owner |\n| --- | :-: | :-: | :-: | :-: |\n",
    );
    for spec in CATALOGUE {
        for verb in spec.verbs {
            let scope = Scope::of(spec.resource, verb.name);
            let cells: Vec<&str> = roles
                .iter()
                .map(|r| if r.scopes().allows(&scope) { "✓" } else { "" })
                .collect();
            out.push_str(&format!("| `{scope}` | {} |\n", cells.join(" | ")));
        }
    }
    out
}

#[test]
fn docs_auth_md_shows_the_role_table_of_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/auth.md");
    let doc = std::fs::read_to_string(&path).expect("docs/auth.md");
    let start = doc.find(BEGIN).expect("begin marker") + BEGIN.len();
    let end = doc.find(END).expect("end marker");
    let expected = format!("\n{}", table());
    if std::env::var("UPDATE_DOCS").as_deref() == Ok("1") {
        let updated = format!("{}{expected}{}", &doc[..start], &doc[end..]);
        std::fs::write(&path, updated).expect("write docs/auth.md");
        return;
    }
    assert_eq!(
        &doc[start..end],
        expected,
        "docs/auth.md's role table is stale: run UPDATE_DOCS=1 cargo test -p hydracore-scopes"
    );
}

//! `cargo xtask layers`: every workspace crate declares its layer in its manifest,
//!
//! ```toml
//! [package.metadata.hydracore]
//! layer = "domain"
//! ```
//!
//! and may reach (through normal dependencies, transitively, on the resolved graph) only
//! what that layer may know. A crate without a layer, or with one not listed here, fails
//! the check rather than escaping it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layer {
    /// Types, rules, services and port traits.
    Domain,
    /// The port contract suites: domain crates plus the cases every store must pass.
    Contract,
    /// The driven adapter implementing every storage port.
    Store,
    /// Other driven adapters (rate limits, the instance runtime).
    Driven,
    /// `hydracore-api`: each public operation declared once.
    Operations,
    /// HTTP, MCP, the console: renderings of the operations.
    Driving,
    /// The composition root.
    Root,
    /// `xtask` and the black-box tests.
    Tool,
}

impl Layer {
    const ALL: [(&'static str, Self); 8] = [
        ("domain", Self::Domain),
        ("contract", Self::Contract),
        ("store", Self::Store),
        ("driven", Self::Driven),
        ("operations", Self::Operations),
        ("driving", Self::Driving),
        ("root", Self::Root),
        ("tool", Self::Tool),
    ];

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == s).map(|(_, l)| *l)
    }

    fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, l)| *l == self)
            .map_or("?", |(n, _)| n)
    }

    /// Whether a crate of this layer may depend on a workspace crate of `other`.
    fn may_use(self, other: Self) -> bool {
        use Layer::{Contract, Domain, Driving, Operations, Root, Tool};
        match self {
            Domain | Contract | Layer::Store | Layer::Driven | Operations => other == Domain,
            Driving => matches!(other, Domain | Operations),
            Root => other != Tool,
            Tool => true,
        }
    }

    /// Third-party crate families (by name prefix) this layer must not reach.
    fn banned(self) -> &'static [&'static str] {
        match self {
            Self::Domain | Self::Contract => &[
                "actix",
                "paperclip",
                "rmcp",
                "diesel",
                "tokio-postgres",
                "libsqlite3-sys",
                "redis",
                "governor",
                "hyper",
                "askama",
                "async-std",
                "smol",
            ],
            // Not `actix`: paperclip, whose derive describes the DTOs to the spec, pulls
            // actix-web in through its `actix4` feature.
            Self::Operations => &[
                "rmcp",
                "diesel",
                "tokio-postgres",
                "libsqlite3-sys",
                "redis",
                "governor",
            ],
            Self::Store => &["actix", "paperclip", "rmcp", "redis", "governor"],
            Self::Driven => &[
                "actix",
                "paperclip",
                "rmcp",
                "diesel",
                "tokio-postgres",
                "libsqlite3-sys",
            ],
            Self::Driving => &[
                "diesel",
                "tokio-postgres",
                "libsqlite3-sys",
                "redis",
                "governor",
            ],
            Self::Root | Self::Tool => &[],
        }
    }

    /// Rules on the crate's own manifest: domain code derives no serde and starts no
    /// runtime (tokio's `sync` needs none).
    fn direct_rule(self, dep: &str, features: &[&str]) -> Option<String> {
        if !matches!(self, Self::Domain | Self::Contract) {
            return None;
        }
        match dep {
            "serde" | "serde_derive" => Some(format!("{dep} (domain types derive no serde)")),
            "tokio" => {
                let runtime: Vec<&str> =
                    features.iter().copied().filter(|f| *f != "sync").collect();
                (!runtime.is_empty())
                    .then(|| format!("tokio features {runtime:?} (domain code starts no runtime)"))
            }
            _ => None,
        }
    }
}

/// The violations in `cargo metadata` output, or why it could not be checked.
pub fn check(meta: &Value) -> Result<Vec<String>, String> {
    let packages: BTreeMap<&str, &Value> = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p["id"].as_str()?, p)))
        .collect();
    let name = |id| -> &str {
        packages
            .get(id)
            .and_then(|p| p["name"].as_str())
            .unwrap_or(id)
    };
    let members: Vec<&str> = meta["workspace_members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();

    let mut layers = BTreeMap::new();
    let mut undeclared = Vec::new();
    for id in &members {
        let declared = packages
            .get(id)
            .and_then(|p| p.pointer("/metadata/hydracore/layer"))
            .and_then(Value::as_str);
        match declared.map(|d| (d, Layer::parse(d))) {
            Some((_, Some(layer))) => {
                layers.insert(*id, layer);
            }
            Some((d, None)) => undeclared.push(format!("{} (unknown layer {d:?})", name(id))),
            None => undeclared.push(name(id).to_owned()),
        }
    }
    if !undeclared.is_empty() {
        let known: Vec<&str> = Layer::ALL.iter().map(|(n, _)| *n).collect();
        return Err(format!(
            "crates without a layer: {}; declare one of {known:?} under \
             [package.metadata.hydracore] layer = \"…\"",
            undeclared.join(", ")
        ));
    }

    // Normal (non-dev, non-build) edges of the resolved graph.
    let mut edges: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for node in meta["resolve"]["nodes"].as_array().into_iter().flatten() {
        let id = node["id"].as_str().unwrap_or_default();
        for dep in node["deps"].as_array().into_iter().flatten() {
            let normal = dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k["kind"].is_null());
            if normal {
                edges
                    .entry(id)
                    .or_default()
                    .push(dep["pkg"].as_str().unwrap_or_default());
            }
        }
    }

    let mut violations = Vec::new();
    for (&id, &layer) in &layers {
        let from = name(id);
        for dep in packages[id]["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if !dep["kind"].is_null() {
                continue;
            }
            let features: Vec<&str> = dep["features"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let dep = dep["name"].as_str().unwrap_or_default();
            if let Some(why) = layer.direct_rule(dep, &features) {
                violations.push(format!("{from} ({}) -> {why}", layer.name()));
            }
        }
        let mut seen = BTreeSet::new();
        let mut stack = vec![(id, vec![from.to_owned()])];
        while let Some((at, path)) = stack.pop() {
            for &next in edges.get(at).into_iter().flatten() {
                if !seen.insert(next) {
                    continue;
                }
                let dep = name(next);
                let mut path = path.clone();
                let bad = match layers.get(next) {
                    Some(&theirs) => {
                        path.push(format!("{dep} ({})", theirs.name()));
                        !layer.may_use(theirs)
                    }
                    None => {
                        path.push(dep.to_owned());
                        layer.banned().iter().any(|b| dep.starts_with(b))
                    }
                };
                if bad {
                    violations.push(format!(
                        "{} ({}): {}",
                        from,
                        layer.name(),
                        path.join(" -> ")
                    ));
                } else {
                    stack.push((next, path));
                }
            }
        }
    }
    Ok(violations)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::check;

    /// One member: name, layer (if declared), resolved normal deps by name, manifest
    /// deps as (name, features).
    type Member<'a> = (
        &'a str,
        Option<&'a str>,
        &'a [&'a str],
        &'a [(&'a str, &'a [&'a str])],
    );

    /// A workspace of the given members, in `cargo metadata`'s shape.
    fn meta(members: &[Member<'_>]) -> serde_json::Value {
        let mut packages = Vec::new();
        let mut nodes = Vec::new();
        let mut ids = Vec::new();
        for (name, layer, deps, manifest) in members {
            let metadata = layer.map_or(json!(null), |l| json!({ "hydracore": { "layer": l } }));
            packages.push(json!({
                "id": name, "name": name, "metadata": metadata,
                "dependencies": manifest.iter().map(|(n, f)| json!({
                    "name": n, "kind": null, "features": f, "uses_default_features": false,
                })).collect::<Vec<_>>(),
            }));
            nodes.push(json!({
                "id": name,
                "deps": deps.iter().map(|d| json!({ "pkg": d, "dep_kinds": [{ "kind": null }] }))
                    .collect::<Vec<_>>(),
            }));
            ids.push(json!(name));
        }
        for third in ["diesel", "serde", "tokio"] {
            packages.push(json!({ "id": third, "name": third, "dependencies": [] }));
        }
        json!({ "packages": packages, "workspace_members": ids, "resolve": { "nodes": nodes } })
    }

    #[test]
    fn a_crate_without_a_layer_fails_the_check() {
        let m = meta(&[("a", Some("domain"), &[], &[]), ("b", None, &[], &[])]);
        let err = check(&m).expect_err("an undeclared crate must not pass");
        assert!(err.contains("crates without a layer: b"), "{err}");
        let m = meta(&[("a", Some("domian"), &[], &[])]);
        let err = check(&m).expect_err("a misspelt layer must not pass");
        assert!(err.contains("unknown layer \"domian\""), "{err}");
    }

    #[test]
    fn a_domain_crate_reaching_an_adapter_is_a_violation_with_its_path() {
        let m = meta(&[
            ("core", Some("domain"), &["mid"], &[]),
            ("mid", Some("domain"), &["store"], &[]),
            ("store", Some("store"), &["diesel"], &[]),
        ]);
        let v = check(&m).expect("declared");
        assert!(
            v.iter()
                .any(|l| l.contains("core (domain): core -> mid (domain) -> store (store)")),
            "{v:?}"
        );
        assert!(
            !v.iter().any(|l| l.starts_with("store")),
            "store may use diesel: {v:?}"
        );
    }

    #[test]
    fn domain_crates_derive_no_serde_and_start_no_runtime() {
        let m = meta(&[
            ("a", Some("domain"), &[], &[("serde", &["derive"])]),
            ("b", Some("domain"), &[], &[("tokio", &["sync"])]),
            ("c", Some("domain"), &[], &[("tokio", &["sync", "rt"])]),
            ("d", Some("driving"), &[], &[("serde", &["derive"])]),
        ]);
        let v = check(&m).expect("declared");
        assert!(
            v.iter().any(|l| l.starts_with("a (domain) -> serde")),
            "{v:?}"
        );
        assert!(
            !v.iter().any(|l| l.starts_with("b ")),
            "sync alone is fine: {v:?}"
        );
        assert!(
            v.iter()
                .any(|l| l.starts_with("c (domain) -> tokio features [\"rt\"]")),
            "{v:?}"
        );
        assert!(!v.iter().any(|l| l.starts_with("d ")), "{v:?}");
    }

    #[test]
    fn driving_adapters_stay_apart() {
        let m = meta(&[
            ("api", Some("operations"), &[], &[]),
            ("http", Some("driving"), &["api"], &[]),
            ("mcp", Some("driving"), &["http"], &[]),
        ]);
        let v = check(&m).expect("declared");
        assert_eq!(v, ["mcp (driving): mcp -> http (driving)"]);
    }
}

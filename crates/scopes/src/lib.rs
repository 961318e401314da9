//! Scopes (`<resource>:<verb>`), scope sets, the catalogue of grantable scopes and the
//! fixed scope set of each tenant role.
//!
//! Pure: no I/O, no serialisation. There is no implication between verbs: only the
//! exact scope or the resource wildcard `resource:*` grants a verb.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// One verb of a resource, and what holding it allows, in one line.
#[derive(Debug, Clone, Copy)]
pub struct VerbSpec {
    pub name: &'static str,
    pub summary: &'static str,
}

const fn verb(name: &'static str, summary: &'static str) -> VerbSpec {
    VerbSpec { name, summary }
}

/// One resource of the catalogue and the verbs it knows.
#[derive(Debug, Clone, Copy)]
pub struct ResourceSpec {
    pub resource: &'static str,
    pub verbs: &'static [VerbSpec],
    pub description: &'static str,
    /// Served by other platform components; grantable here, checked elsewhere.
    pub reserved: bool,
}

/// The catalogue: every scope a key may hold.
pub const CATALOGUE: &[ResourceSpec] = &[
    ResourceSpec {
        resource: "instances",
        verbs: &[
            verb("read", "See instances, their status and configuration"),
            verb("write", "Create, change, start and stop instances"),
            verb("delete", "Delete instances"),
        ],
        description: "Agent instances and their lifecycle",
        reserved: false,
    },
    ResourceSpec {
        resource: "api-keys",
        verbs: &[
            verb("read", "See the API keys (never their secrets)"),
            verb("write", "Mint, change, rotate and revoke API keys"),
        ],
        description: "API keys of the tenant",
        reserved: false,
    },
    ResourceSpec {
        resource: "mcp-creds",
        verbs: &[
            verb(
                "read",
                "See stored MCP server credentials (never their secrets)",
            ),
            verb("write", "Store and delete MCP server credentials"),
        ],
        description: "Credentials for third-party MCP servers",
        reserved: false,
    },
    ResourceSpec {
        resource: "mcp-log",
        verbs: &[verb("read", "Read the log of MCP tool calls")],
        description: "The audit log of MCP tool calls",
        reserved: false,
    },
    ResourceSpec {
        resource: "audit-log",
        verbs: &[verb(
            "read",
            "Read who changed what: the management audit log",
        )],
        description: "The audit log of changes made in the tenant",
        reserved: false,
    },
    ResourceSpec {
        resource: "members",
        verbs: &[
            verb("read", "See members and their roles"),
            verb("write", "Add members, change their roles, remove them"),
        ],
        description: "Members of the tenant and their roles",
        reserved: false,
    },
    ResourceSpec {
        resource: "tenants",
        verbs: &[
            verb("read", "See the tenant"),
            verb("write", "Manage the tenant itself"),
        ],
        description: "The tenant itself",
        reserved: false,
    },
    ResourceSpec {
        resource: "entities",
        verbs: &[
            verb("read", "Read platform entities"),
            verb("write", "Create and change platform entities"),
            verb("delete", "Delete platform entities"),
        ],
        description: "Platform entities (served elsewhere)",
        reserved: true,
    },
    ResourceSpec {
        resource: "forms",
        verbs: &[
            verb("read", "Read platform forms"),
            verb("write", "Create and change platform forms"),
            verb("delete", "Delete platform forms"),
        ],
        description: "Platform forms (served elsewhere)",
        reserved: true,
    },
    ResourceSpec {
        resource: "email",
        verbs: &[
            verb("read", "Read platform email"),
            verb("write", "Send platform email"),
        ],
        description: "Platform email (served elsewhere)",
        reserved: true,
    },
];

impl ResourceSpec {
    /// What holding `resource:verb` allows, in one line (`*` included).
    pub fn summary(&self, verb: &str) -> String {
        if verb == "*" {
            return format!(
                "Every verb of {}, including verbs added later",
                self.resource
            );
        }
        self.verbs
            .iter()
            .find(|v| v.name == verb)
            .map_or_else(String::new, |v| v.summary.to_owned())
    }
}

/// Every scope a key may be granted, as written: each resource's verbs and its `*`.
pub fn grantable() -> Vec<String> {
    CATALOGUE
        .iter()
        .flat_map(|spec| {
            spec.verbs
                .iter()
                .map(|v| v.name)
                .chain(["*"])
                .map(move |verb| format!("{}:{verb}", spec.resource))
        })
        .collect()
}

/// The verb of a scope: a named verb or the resource wildcard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verb {
    Named(&'static str),
    Any,
}

/// A parsed, catalogued scope such as `instances:read` or `instances:*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope {
    resource: &'static str,
    verb: Verb,
}

/// Why a scope string is not a scope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("'{0}' is not of the form <resource>:<verb>")]
    Malformed(String),
    #[error("'{0}' names an unknown resource")]
    UnknownResource(String),
    #[error("'{0}' names a verb its resource does not have")]
    UnknownVerb(String),
}

/// `a == b`, in a `const fn`.
const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

impl Scope {
    /// `resource:verb` as a constant, for scopes named in code: a scope outside the
    /// catalogue fails the build where the constant is declared.
    ///
    /// # Panics
    /// When `resource:verb` is not in the catalogue (at compile time in a `const`).
    pub const fn named(resource: &'static str, verb: &'static str) -> Self {
        let mut i = 0;
        while i < CATALOGUE.len() {
            let spec = &CATALOGUE[i];
            if same(spec.resource, resource) {
                let mut j = 0;
                while j < spec.verbs.len() {
                    if same(spec.verbs[j].name, verb) {
                        return Self {
                            resource,
                            verb: Verb::Named(verb),
                        };
                    }
                    j += 1;
                }
                panic!("a scope named in code has a verb its resource does not have");
            }
            i += 1;
        }
        panic!("a scope named in code names a resource outside the catalogue");
    }

    /// A scope of the catalogue; for use with literals known to be valid.
    ///
    /// # Panics
    /// When `resource:verb` is not in the catalogue: a programming error.
    pub fn of(resource: &str, verb: &str) -> Self {
        match format!("{resource}:{verb}").parse() {
            Ok(s) => s,
            Err(e) => panic!("scope literal outside the catalogue: {e}"),
        }
    }

    pub fn resource(&self) -> &'static str {
        self.resource
    }

    pub fn verb(&self) -> &Verb {
        &self.verb
    }

    pub fn is_wildcard(&self) -> bool {
        self.verb == Verb::Any
    }

    /// Whether holding `self` grants `required`.
    pub fn grants(&self, required: &Scope) -> bool {
        self.resource == required.resource && (self.verb == Verb::Any || self.verb == required.verb)
    }
}

impl FromStr for Scope {
    type Err = ScopeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (resource, verb) = s
            .split_once(':')
            .filter(|(r, v)| !r.is_empty() && !v.is_empty() && !v.contains(':'))
            .ok_or_else(|| ScopeError::Malformed(s.to_owned()))?;
        let spec = CATALOGUE
            .iter()
            .find(|c| c.resource == resource)
            .ok_or_else(|| ScopeError::UnknownResource(s.to_owned()))?;
        let verb = if verb == "*" {
            Verb::Any
        } else {
            Verb::Named(
                spec.verbs
                    .iter()
                    .find(|v| v.name == verb)
                    .map(|v| v.name)
                    .ok_or_else(|| ScopeError::UnknownVerb(s.to_owned()))?,
            )
        };
        Ok(Self {
            resource: spec.resource,
            verb,
        })
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.verb {
            Verb::Named(v) => write!(f, "{}:{v}", self.resource),
            Verb::Any => write!(f, "{}:*", self.resource),
        }
    }
}

/// A set of scopes, as a key or a role holds them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(BTreeSet<Scope>);

impl ScopeSet {
    pub fn new(scopes: impl IntoIterator<Item = Scope>) -> Self {
        Self(scopes.into_iter().collect())
    }

    /// Parses every string; the first bad one is reported with its index.
    ///
    /// # Errors
    /// `(index, error)` of the first string that is not a catalogued scope.
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<Self, (usize, ScopeError)> {
        items
            .iter()
            .enumerate()
            .map(|(i, s)| s.as_ref().parse::<Scope>().map_err(|e| (i, e)))
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Self)
    }

    /// Every scope of the catalogue, as resource wildcards.
    pub fn everything() -> Self {
        Self(
            CATALOGUE
                .iter()
                .map(|c| Scope {
                    resource: c.resource,
                    verb: Verb::Any,
                })
                .collect(),
        )
    }

    /// Whether this set grants `required`.
    pub fn allows(&self, required: &Scope) -> bool {
        self.0.iter().any(|s| s.grants(required))
    }

    /// The scopes of `self` that `holder` does not grant. A wildcard is granted only by
    /// the same wildcard, so a key can never widen itself to verbs added later.
    pub fn not_granted_by(&self, holder: &ScopeSet) -> Vec<Scope> {
        self.0
            .iter()
            .filter(|s| match s.verb {
                Verb::Any => !holder.0.contains(s),
                Verb::Named(_) => !holder.allows(s),
            })
            .cloned()
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }

    /// The scopes as strings, in a stable order.
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_strings().join(" "))
    }
}

/// A member's role in a tenant; each maps to a fixed scope set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Viewer,
    Member,
    Admin,
    Owner,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Member, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    /// The scopes this role grants.
    ///
    /// viewer: every `:read` but the audit log's; member: + writes of instances, MCP
    /// credentials and the reserved platform resources; admin: + keys, members, every
    /// delete and the audit log; owner:
    /// every scope as resource wildcards (`instances:*`), the tenant itself included,
    /// so an owner can also mint wildcard keys.
    pub fn scopes(self) -> ScopeSet {
        if self == Role::Owner {
            return ScopeSet::everything();
        }
        let mut set = BTreeSet::new();
        for spec in CATALOGUE {
            for verb in spec.verbs.iter().map(|v| &v.name) {
                // The audit log says who did what: for those who manage the tenant.
                let reads = *verb == "read" && spec.resource != "audit-log";
                let granted = match self {
                    Role::Owner | Role::Admin => spec.resource != "tenants" || *verb == "read",
                    Role::Member => {
                        reads
                            || (*verb == "write"
                                && (spec.reserved
                                    || matches!(spec.resource, "instances" | "mcp-creds")))
                    }
                    Role::Viewer => reads,
                };
                if granted {
                    set.insert(Scope {
                        resource: spec.resource,
                        verb: Verb::Named(verb),
                    });
                }
            }
        }
        ScopeSet(set)
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("'{s}' is not a role (owner, admin, member, viewer)"))
    }
}

#[cfg(test)]
mod tests;

//! The authorization and isolation matrices, generated from the live spec: every
//! operation of `GET /openapi.json` meets every kind of credential, and each cell's
//! expected status follows from the operation's `security`, its `x-required-scope`
//! and what its request names. A new route is covered the day it is added; a route
//! whose request the test cannot build fails the test until [`PATH_PARAMS`] or
//! [`BODY_FIELDS`] learns the new parameter or field.
//!
//! Every observed status must also be one the operation documents.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use hydracore_api_tests::{OPS_TOKEN, PASSWORD, TestApp, TestResponse, api_tests};
use hydracore_scopes::{Role, Scope, ScopeSet};
use serde_json::{Map, Value, json};

const API_KEY: &str = "ApiKeyHeader";
const BEARER: &str = "BearerAuth";
const OPS: &str = "OpsBearer";
const METHODS: [&str; 8] = [
    "get", "put", "post", "patch", "delete", "head", "options", "trace",
];
const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// One operation of the spec, as far as the matrix needs it.
struct Op {
    method: String,
    template: String,
    /// Schemes that each alone satisfy the operation; empty for a public one.
    schemes: Vec<String>,
    scope: Option<Scope>,
    documented: BTreeSet<u16>,
    path_params: Vec<String>,
    body: Option<Body>,
    list: bool,
}

struct Body {
    schema: Option<String>,
    example: Map<String, Value>,
    required: Vec<String>,
}

impl Op {
    fn takes(&self, scheme: &str) -> bool {
        self.schemes.iter().any(|s| s == scheme)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.template)
    }
}

/// A value for a path parameter or a body field, and the scopes the request then needs
/// beyond the route's own (granting or touching a role takes that role's scopes).
#[derive(Clone)]
struct Filled {
    value: Value,
    needs: Vec<String>,
}

fn plain(value: Value) -> Filled {
    Filled {
        value,
        needs: Vec::new(),
    }
}

/// How to fill a path parameter.
struct PathParam {
    name: &'static str,
    /// The row belongs to tenant A: another tenant's credential must get 404.
    of_tenant_a: bool,
    make: fn(&mut World<'_>, &Op) -> Filled,
}

/// Every path parameter the matrix knows. A spec parameter missing here fails the test.
const PATH_PARAMS: &[PathParam] = &[
    PathParam {
        name: "event_id",
        of_tenant_a: true,
        make: |w, _| w.audit_event(),
    },
    PathParam {
        name: "instance_id",
        of_tenant_a: true,
        make: |w, op| w.instance(op),
    },
    PathParam {
        name: "key_id",
        of_tenant_a: true,
        make: |w, op| w.api_key(op),
    },
    PathParam {
        name: "credential_id",
        of_tenant_a: true,
        make: |w, _| w.credential(),
    },
    PathParam {
        name: "user_id",
        of_tenant_a: true,
        make: |w, _| w.member(),
    },
    PathParam {
        name: "image_id",
        of_tenant_a: false,
        make: |w, _| w.image(),
    },
];

/// How to fill a body field, by `Schema.field` or by `field`. Fields found in neither
/// keep the spec's example; a required field without an example fails the test.
struct BodyField {
    field: &'static str,
    /// The value names something of tenant A: another tenant's user must get 404.
    of_tenant_a: bool,
    make: fn(&mut World<'_>, &Op) -> Filled,
}

const BODY_FIELDS: &[BodyField] = &[
    // A new account needs an address nobody uses yet...
    BodyField {
        field: "SignupRequest.email",
        of_tenant_a: false,
        make: |w, _| plain(json!(w.email())),
    },
    // ... everywhere else an e-mail names a user who exists (with PASSWORD) and is
    // not a member of tenant A.
    BodyField {
        field: "email",
        of_tenant_a: false,
        make: |w, _| plain(json!(w.outsider())),
    },
    BodyField {
        field: "password",
        of_tenant_a: false,
        make: |_, _| plain(json!(PASSWORD)),
    },
    BodyField {
        field: "name",
        of_tenant_a: false,
        make: |w, _| plain(json!(w.unique())),
    },
    BodyField {
        field: "tenant_name",
        of_tenant_a: false,
        make: |w, _| plain(json!(w.unique())),
    },
    BodyField {
        field: "refresh_token",
        of_tenant_a: false,
        make: |w, _| plain(json!(w.refresh_token())),
    },
    BodyField {
        field: "tenant_id",
        of_tenant_a: true,
        make: |w, _| plain(json!(w.tenant_a)),
    },
    // A scope every caller allowed on the route holds, so it may grant it.
    BodyField {
        field: "scopes",
        of_tenant_a: false,
        make: |w, op| plain(json!([w.scope_of(op)])),
    },
    // The smallest role; granting it takes its scopes.
    BodyField {
        field: "role",
        of_tenant_a: false,
        make: |_, _| Filled {
            value: json!(Role::Viewer.as_str()),
            needs: Role::Viewer.scopes().to_strings(),
        },
    },
    BodyField {
        field: "digest",
        of_tenant_a: false,
        make: |_, _| plain(json!(DIGEST)),
    },
];

fn body_field(schema: Option<&str>, field: &str) -> Option<&'static BodyField> {
    let qualified = schema.map(|s| format!("{s}.{field}"));
    BODY_FIELDS
        .iter()
        .find(|f| Some(f.field) == qualified.as_deref())
        .or_else(|| BODY_FIELDS.iter().find(|f| f.field == field))
}

/// Follows a local `$ref`.
fn resolve<'s>(spec: &'s Value, v: &'s Value) -> &'s Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => spec
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling $ref {r}")),
        None => v,
    }
}

/// The operations of the spec, or why some of them cannot be requested.
fn operations(spec: &Value) -> (Vec<Op>, Vec<String>) {
    let mut ops = Vec::new();
    let mut unbuildable = Vec::new();
    for scheme in spec["components"]["securitySchemes"]
        .as_object()
        .expect("securitySchemes")
        .keys()
    {
        if ![API_KEY, BEARER, OPS].contains(&scheme.as_str()) {
            unbuildable.push(format!(
                "security scheme {scheme}: the matrix has no credential for it"
            ));
        }
    }
    for (template, item) in spec["paths"].as_object().expect("paths") {
        for (method, raw) in item.as_object().expect("path item") {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let mut op = Op {
                method: method.to_uppercase(),
                template: template.clone(),
                schemes: Vec::new(),
                scope: raw["x-required-scope"]
                    .as_str()
                    .map(|s| s.parse().expect("x-required-scope is a catalogued scope")),
                documented: raw["responses"]
                    .as_object()
                    .expect("responses")
                    .keys()
                    .filter_map(|k| k.parse().ok())
                    .collect(),
                path_params: Vec::new(),
                body: None,
                list: false,
            };
            let mut problems = Vec::new();
            for requirement in raw["security"].as_array().into_iter().flatten() {
                let names: Vec<&String> = requirement
                    .as_object()
                    .expect("requirement")
                    .keys()
                    .collect();
                match names.as_slice() {
                    [one] => op.schemes.push((*one).clone()),
                    _ => problems.push(format!(
                        "security requirement {requirement} is not one scheme"
                    )),
                }
            }
            let params = item["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .chain(raw["parameters"].as_array().into_iter().flatten());
            for p in params {
                let p = resolve(spec, p);
                let name = p["name"].as_str().expect("parameter name");
                match p["in"].as_str() {
                    Some("path") if PATH_PARAMS.iter().any(|r| r.name == name) => {
                        op.path_params.push(name.to_owned());
                    }
                    Some("path") => {
                        problems.push(format!("path parameter {{{name}}}: add it to PATH_PARAMS"))
                    }
                    Some(place) if p["required"] == true => {
                        problems.push(format!("required {place} parameter {name}"));
                    }
                    _ => {}
                }
            }
            if let Some(rb) = raw.get("requestBody") {
                let rb = resolve(spec, rb);
                match rb["content"].get("application/json") {
                    None => problems.push("a request body that is not JSON".into()),
                    Some(media) => {
                        let schema_name = media["schema"]["$ref"]
                            .as_str()
                            .and_then(|r| r.rsplit('/').next())
                            .map(str::to_owned);
                        let schema = resolve(spec, &media["schema"]);
                        let example = media
                            .get("example")
                            .or_else(|| schema.get("example"))
                            .cloned()
                            .unwrap_or_else(|| json!({}));
                        let required: Vec<String> = schema["required"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect();
                        match example {
                            Value::Object(example) => {
                                for field in &required {
                                    if !example.contains_key(field)
                                        && body_field(schema_name.as_deref(), field).is_none()
                                    {
                                        problems.push(format!(
                                            "required body field {field} has no example: add it to BODY_FIELDS"
                                        ));
                                    }
                                }
                                op.body = Some(Body {
                                    schema: schema_name,
                                    example,
                                    required,
                                });
                            }
                            other => problems
                                .push(format!("a body example that is not an object: {other}")),
                        }
                    }
                }
            }
            let ok = resolve(spec, &raw["responses"]["200"]);
            op.list = op.method == "GET"
                && op.path_params.is_empty()
                && resolve(spec, &ok["content"]["application/json"]["schema"])["type"] == "array";
            if problems.is_empty() {
                ops.push(op);
            } else {
                for p in problems {
                    unbuildable.push(format!("{op}: {p}"));
                }
            }
        }
    }
    (ops, unbuildable)
}

/// Who calls.
#[derive(Clone)]
enum Cred {
    Anonymous,
    Ops,
    Key {
        secret: String,
        scopes: ScopeSet,
        foreign: bool,
    },
    User {
        token: String,
        scopes: ScopeSet,
        foreign: bool,
    },
}

impl Cred {
    fn foreign(&self) -> bool {
        matches!(
            self,
            Cred::Key { foreign: true, .. } | Cred::User { foreign: true, .. }
        )
    }

    fn of_tenant_a(&self) -> bool {
        matches!(
            self,
            Cred::Key { foreign: false, .. } | Cred::User { foreign: false, .. }
        )
    }
}

/// The columns of the matrix.
#[derive(Clone, Copy)]
enum Column {
    Anonymous,
    OpsToken,
    /// A key of tenant B holding every scope of the catalogue.
    ForeignKey,
    /// The owner of tenant B, signed in.
    ForeignOwner,
    /// A key of tenant A holding every scope but the route's (and its wildcard).
    AllButScope,
    /// A key of tenant A holding the route's scope and nothing else.
    OnlyScope,
    /// A member of tenant A with this role, signed in.
    User(Role),
}

const COLUMNS: [Column; 10] = [
    Column::Anonymous,
    Column::OpsToken,
    Column::ForeignKey,
    Column::ForeignOwner,
    Column::AllButScope,
    Column::OnlyScope,
    Column::User(Role::Viewer),
    Column::User(Role::Member),
    Column::User(Role::Admin),
    Column::User(Role::Owner),
];

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Column::Anonymous => f.write_str("no credential"),
            Column::OpsToken => f.write_str("ops token"),
            Column::ForeignKey => f.write_str("tenant B key (every scope)"),
            Column::ForeignOwner => f.write_str("tenant B owner"),
            Column::AllButScope => f.write_str("key: all but the route's scope"),
            Column::OnlyScope => f.write_str("key: only the route's scope"),
            Column::User(role) => write!(f, "tenant A {}", role.as_str()),
        }
    }
}

/// One request of a cell.
struct Request {
    path: String,
    body: Option<Value>,
    /// The request names a row of tenant A.
    names_tenant_a: bool,
    needs: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    Success,
    Status(u16),
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Success => f.write_str("2xx"),
            Expect::Status(s) => write!(f, "{s}"),
        }
    }
}

/// What `cred` must get from `req` on `op`, from the spec alone.
fn expect(op: &Op, cred: &Cred, req: &Request) -> Expect {
    if op.schemes.is_empty() {
        // Public: a credential, any credential, changes nothing.
        return Expect::Success;
    }
    if op.takes(OPS) {
        return if matches!(cred, Cred::Ops) {
            Expect::Success
        } else {
            Expect::Status(401)
        };
    }
    let (scheme, held, foreign) = match cred {
        // The ops token is no credential outside `/internal`.
        Cred::Anonymous | Cred::Ops => return Expect::Status(401),
        Cred::Key {
            scopes, foreign, ..
        } => (API_KEY, scopes, *foreign),
        Cred::User {
            scopes, foreign, ..
        } => (BEARER, scopes, *foreign),
    };
    // Not the kind of credential the operation takes: its security scheme is unmet.
    if !op.takes(scheme) {
        return Expect::Status(401);
    }
    let mut needed = req.needs.clone();
    needed.extend(op.scope.as_ref().map(ToString::to_string));
    let needed = ScopeSet::parse(&needed).expect("catalogued scopes");
    if !needed.not_granted_by(held).is_empty() {
        return Expect::Status(403);
    }
    if foreign && req.names_tenant_a {
        return Expect::Status(404);
    }
    Expect::Success
}

fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    cred: &Cred,
    body: Option<&Value>,
) -> TestResponse {
    let mut req = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", app.address));
    match cred {
        Cred::Anonymous => {}
        Cred::Ops => req = req.header("Authorization", format!("Bearer {OPS_TOKEN}")),
        Cred::Key { secret, .. } => req = req.header("X-Api-Key", secret),
        Cred::User { token, .. } => req = req.header("Authorization", format!("Bearer {token}")),
    }
    if body.is_some() {
        req = req.header("Content-Type", "application/json");
    }
    app.send(
        req.body(body.map(Value::to_string).unwrap_or_default())
            .expect("request"),
    )
}

/// Ids, e-mails and key plaintexts anywhere in `v`.
fn collect_secrets(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                if let Value::String(s) = v
                    && (k == "id" || k.ends_with("_id") || k == "email" || k == "key")
                {
                    out.insert(s.clone());
                }
                collect_secrets(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_secrets(v, out)),
        _ => {}
    }
}

/// Tenant A with its people and keys, tenant B, and the fixtures the cells need.
struct World<'a> {
    app: &'a TestApp,
    n: u32,
    tenant_a: String,
    owner_jwt: String,
    /// Every scope of tenant A: makes the fixtures.
    owner_key: Cred,
    team: Vec<(Role, String)>,
    foreign_key: Cred,
    foreign_owner: Cred,
    /// A user whose logins provide refresh tokens.
    spare_email: String,
    /// `(scope, reserved)` for the catalogue of `GET /v1/scopes`.
    catalogue: Vec<(Scope, bool)>,
    keys: BTreeMap<Vec<String>, String>,
    /// The rows reads share, by parameter and scope.
    shared: BTreeMap<String, Filled>,
    /// Every id and e-mail of tenant A seen so far.
    secrets: BTreeSet<String>,
}

impl<'a> World<'a> {
    fn new(app: &'a TestApp) -> Self {
        let owner = app.signup("owner-a@example.com", "Tenant A");
        let owner_jwt = owner["access_token"].as_str().unwrap().to_owned();
        let tenant_a = owner["tenant"]["id"].as_str().unwrap().to_owned();
        let mut secrets = BTreeSet::new();
        collect_secrets(&owner["user"], &mut secrets);
        secrets.insert(tenant_a.clone());
        let catalogue: Vec<(Scope, bool)> = send(
            app,
            "GET",
            "/v1/scopes",
            &user(&owner_jwt, Role::Owner, false),
            None,
        )
        .json()
        .as_array()
        .expect("the catalogue")
        .iter()
        .map(|s| {
            (
                s["scope"].as_str().unwrap().parse().unwrap(),
                s["reserved"] == true,
            )
        })
        .collect();
        let mut world = World {
            app,
            n: 0,
            tenant_a: tenant_a.clone(),
            owner_jwt: owner_jwt.clone(),
            owner_key: Cred::Anonymous,
            team: vec![(Role::Owner, owner_jwt)],
            foreign_key: Cred::Anonymous,
            foreign_owner: Cred::Anonymous,
            spare_email: String::new(),
            catalogue,
            keys: BTreeMap::new(),
            shared: BTreeMap::new(),
            secrets,
        };
        let every: Vec<String> = world.catalogue.iter().map(|(s, _)| s.to_string()).collect();
        world.owner_key = world.key_of_a(every.clone());
        for role in [Role::Admin, Role::Member, Role::Viewer] {
            let signed = app.signup(&format!("{}-a@example.com", role.as_str()), "Elsewhere");
            let token = signed["access_token"].as_str().unwrap().to_owned();
            let added = send(
                app,
                "POST",
                "/v1/members",
                &world.owner_key,
                Some(&json!({"email": signed["user"]["email"], "role": role.as_str()})),
            );
            assert_eq!(added.status, 201, "{}", added.body);
            collect_secrets(&added.json(), &mut world.secrets);
            let switched = send(
                app,
                "POST",
                "/auth/switch-tenant",
                &user(&token, role, false),
                Some(&json!({"tenant_id": tenant_a})),
            );
            assert_eq!(switched.status, 200, "{}", switched.body);
            world.team.push((role, token));
        }
        let foreign = app.signup("owner-b@example.com", "Tenant B");
        let foreign_jwt = foreign["access_token"].as_str().unwrap().to_owned();
        world.foreign_owner = user(&foreign_jwt, Role::Owner, true);
        let minted = send(
            app,
            "POST",
            "/v1/api-keys",
            &world.foreign_owner,
            Some(&json!({"name": "everything", "scopes": every, "rate_limit": no_limit()})),
        );
        assert_eq!(minted.status, 201, "{}", minted.body);
        world.foreign_key = Cred::Key {
            secret: minted.json()["key"].as_str().unwrap().to_owned(),
            scopes: ScopeSet::parse(&every).unwrap(),
            foreign: true,
        };
        world.spare_email = world.outsider();
        world.mcp_call();
        world
    }

    /// One MCP tool call with the owner's key, so that tenant A's call log has a row
    /// another tenant must not see.
    fn mcp_call(&mut self) {
        let Cred::Key { secret, .. } = &self.owner_key else {
            unreachable!("the owner's key is a key")
        };
        let rpc = ureq::http::Request::builder()
            .method("POST")
            .uri(format!("{}/mcp", self.app.address))
            .header("X-Api-Key", secret)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .body(
                json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                    "params": {"name": "scopes_list", "arguments": {}}})
                .to_string(),
            )
            .expect("request");
        let res = self.app.send(rpc);
        assert_eq!(res.status, 200, "{}", res.body);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let log = send(self.app, "GET", "/v1/mcp/call-log", &self.owner_key, None);
            assert_eq!(log.status, 200, "{}", log.body);
            let log = log.json();
            if log.as_array().is_some_and(|rows| !rows.is_empty()) {
                collect_secrets(&log, &mut self.secrets);
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the MCP call never reached the call log"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    fn unique(&mut self) -> String {
        self.n += 1;
        format!("mx-{}", self.n)
    }

    fn email(&mut self) -> String {
        format!("{}@example.com", self.unique())
    }

    /// A user who exists, signs in with [`PASSWORD`] and is no member of tenant A.
    fn outsider(&mut self) -> String {
        let email = self.email();
        let tenant = self.unique();
        self.app.signup(&email, &tenant);
        email
    }

    fn refresh_token(&mut self) -> String {
        let res = self.app.post_anon(
            "/auth/login",
            &json!({"email": self.spare_email, "password": PASSWORD}),
        );
        assert_eq!(res.status, 200, "{}", res.body);
        res.json()["refresh_token"].as_str().unwrap().to_owned()
    }

    /// A scope that every caller allowed on `op` holds.
    fn scope_of(&self, op: &Op) -> String {
        match &op.scope {
            Some(s) => s.to_string(),
            None => self.reserved().to_string(),
        }
    }

    /// A scope that grants nothing this server serves.
    fn reserved(&self) -> &Scope {
        &self
            .catalogue
            .iter()
            .find(|(_, reserved)| *reserved)
            .expect("a reserved scope")
            .0
    }

    /// A key of tenant A with exactly `scopes`, minted by the owner.
    fn key_of_a(&mut self, scopes: Vec<String>) -> Cred {
        let secret = match self.keys.get(&scopes) {
            Some(k) => k.clone(),
            None => {
                let name = self.unique();
                let owner = user(&self.owner_jwt, Role::Owner, false);
                let res = send(
                    self.app,
                    "POST",
                    "/v1/api-keys",
                    &owner,
                    Some(&json!({"name": name, "scopes": scopes, "rate_limit": no_limit()})),
                );
                assert_eq!(res.status, 201, "{}", res.body);
                let body = res.json();
                collect_secrets(&body, &mut self.secrets);
                let k = body["key"].as_str().unwrap().to_owned();
                self.keys.insert(scopes.clone(), k.clone());
                k
            }
        };
        Cred::Key {
            secret,
            scopes: ScopeSet::parse(&scopes).unwrap(),
            foreign: false,
        }
    }

    fn credential_for(&mut self, column: Column, op: &Op) -> Cred {
        match column {
            Column::Anonymous => Cred::Anonymous,
            Column::OpsToken => Cred::Ops,
            Column::ForeignKey => self.foreign_key.clone(),
            Column::ForeignOwner => self.foreign_owner.clone(),
            Column::AllButScope => {
                let scopes = self
                    .catalogue
                    .iter()
                    .filter(|(s, _)| op.scope.as_ref().is_none_or(|r| !s.grants(r)))
                    .map(|(s, _)| s.to_string())
                    .collect();
                self.key_of_a(scopes)
            }
            Column::OnlyScope => {
                let scope = self.scope_of(op);
                self.key_of_a(vec![scope])
            }
            Column::User(role) => {
                let token = &self.team.iter().find(|(r, _)| *r == role).unwrap().1;
                user(token, role, false)
            }
        }
    }

    /// Creates a row of tenant A with the owner's key; returns it.
    fn create(&mut self, path: &str, body: &Value) -> Value {
        let res = send(self.app, "POST", path, &self.owner_key, Some(body));
        assert_eq!(res.status, 201, "fixture {path}: {}", res.body);
        let row = res.json();
        collect_secrets(&row, &mut self.secrets);
        row
    }

    fn instance(&mut self, op: &Op) -> Filled {
        // An action that needs a running instance gets one.
        let running = op.template.ends_with("/stop");
        let name = self.unique();
        let row = self.create("/v1/instances", &json!({"name": name, "start": running}));
        plain(row["id"].clone())
    }

    fn api_key(&mut self, op: &Op) -> Filled {
        // Rotating takes every scope of the key: give it one the caller holds.
        let body = json!({"name": self.unique(), "scopes": [self.scope_of(op)]});
        plain(self.create("/v1/api-keys", &body)["id"].clone())
    }

    /// The newest event of tenant A's audit log (a fixture made one: a credential).
    fn audit_event(&mut self) -> Filled {
        let made = self.credential();
        let res = send(
            self.app,
            "GET",
            "/v1/audit-log?order=desc&limit=1",
            &self.owner_key,
            None,
        );
        assert_eq!(res.status, 200, "fixture audit event: {}", res.body);
        let event = res.json()[0].clone();
        assert_eq!(event["target"]["id"], made.value, "{event}");
        plain(event["id"].clone())
    }

    fn credential(&mut self) -> Filled {
        let body = json!({"name": self.unique(), "server_url": "https://mcp.example.com/mcp",
            "auth_kind": "bearer", "secret": "fixture-secret"});
        plain(self.create("/v1/mcp/credentials", &body)["id"].clone())
    }

    fn member(&mut self) -> Filled {
        let email = self.outsider();
        let row = self.create(
            "/v1/members",
            &json!({"email": email, "role": Role::Member.as_str()}),
        );
        // Touching a member takes every scope of their role.
        Filled {
            value: row["user_id"].clone(),
            needs: Role::Member.scopes().to_strings(),
        }
    }

    fn image(&mut self) -> Filled {
        let body = json!({"name": self.unique(), "version": "1.0.0", "digest": DIGEST});
        let res = send(
            self.app,
            "POST",
            "/internal/v1/runtime-images",
            &Cred::Ops,
            Some(&body),
        );
        assert_eq!(res.status, 201, "fixture image: {}", res.body);
        plain(res.json()["id"].clone())
    }

    /// The request of one cell: fresh rows for anything but a read, so a cell that
    /// succeeds (or wrongly succeeds) never spoils another.
    fn build(&mut self, op: &Op) -> Request {
        let fresh = op.method != "GET";
        let mut req = Request {
            path: op.template.clone(),
            body: None,
            names_tenant_a: false,
            needs: Vec::new(),
        };
        for name in &op.path_params {
            let row = PATH_PARAMS
                .iter()
                .find(|r| r.name == name)
                .expect("planned");
            let cache = format!("{name} {}", self.scope_of(op));
            let id = match self.shared.get(&cache) {
                Some(shared) if !fresh => shared.clone(),
                _ => {
                    let filled = (row.make)(self, op);
                    if !fresh {
                        self.shared.insert(cache, filled.clone());
                    }
                    filled
                }
            };
            req.path = req
                .path
                .replace(&format!("{{{name}}}"), id.value.as_str().expect("an id"));
            req.names_tenant_a |= row.of_tenant_a;
            // Touching a member or a key takes its scopes to change it, never to read it.
            if op.method != "GET" {
                req.needs.extend(id.needs);
            }
        }
        if let Some(body) = &op.body {
            let mut fields: Vec<&String> = body.example.keys().collect();
            fields.extend(
                body.required
                    .iter()
                    .filter(|f| !body.example.contains_key(*f)),
            );
            let mut out = body.example.clone();
            for field in fields {
                if let Some(filler) = body_field(body.schema.as_deref(), field) {
                    let filled = (filler.make)(self, op);
                    out.insert(field.clone(), filled.value);
                    req.names_tenant_a |= filler.of_tenant_a;
                    req.needs.extend(filled.needs);
                }
            }
            req.body = Some(Value::Object(out));
        }
        req
    }
}

/// A budget no cell comes near, for every key the matrix mints.
fn no_limit() -> Value {
    json!({"requests": 1_000_000, "per_seconds": 60})
}

fn user(token: &str, role: Role, foreign: bool) -> Cred {
    Cred::User {
        token: token.to_owned(),
        scopes: role.scopes(),
        foreign,
    }
}

/// What is wrong with a cell's response, if anything.
fn judge(
    op: &Op,
    cred: &Cred,
    req: &Request,
    expected: Expect,
    res: &TestResponse,
    secrets: &BTreeSet<String>,
) -> Vec<String> {
    let mut wrong = Vec::new();
    let ok = match expected {
        Expect::Success => (200..300).contains(&res.status),
        Expect::Status(s) => res.status == s,
    };
    if !ok {
        wrong.push(format!("expected {expected}, got {}", res.status));
    }
    if !op.documented.contains(&res.status) {
        wrong.push(format!(
            "{} is not documented (documented: {:?})",
            res.status, op.documented
        ));
    }
    if cred.foreign() {
        if ok && op.list && expected == Expect::Success {
            let parsed: Option<Value> = serde_json::from_str(&res.body).ok();
            if !parsed.as_ref().is_some_and(Value::is_array) {
                wrong.push("a list that is not a JSON array".into());
            }
        }
        // Echoing what the caller sent is no leak.
        let sent = format!(
            "{} {}",
            req.path,
            req.body.as_ref().map(Value::to_string).unwrap_or_default()
        );
        let leaked: Vec<&String> = secrets
            .iter()
            .filter(|s| res.body.contains(*s) && !sent.contains(*s))
            .collect();
        if !leaked.is_empty() {
            wrong.push(format!("leaks tenant A's {leaked:?}"));
        }
    }
    wrong
}

fn every_operation_meets_every_credential(app: &TestApp) {
    let spec = app.request("GET", "/openapi.json", None, None);
    assert_eq!(spec.status, 200);
    let (ops, unbuildable) = operations(&spec.json());
    assert!(
        unbuildable.is_empty(),
        "the matrix cannot build a request for these operations; teach it:\n{}",
        unbuildable.join("\n")
    );
    assert!(!ops.is_empty(), "the spec has no operations");
    let mut world = World::new(app);
    let mut failures = Vec::new();
    let mut cells = 0;
    for op in &ops {
        for column in COLUMNS {
            let cred = world.credential_for(column, op);
            let req = world.build(op);
            let expected = expect(op, &cred, &req);
            let res = send(app, &op.method, &req.path, &cred, req.body.as_ref());
            cells += 1;
            let wrong = judge(op, &cred, &req, expected, &res, &world.secrets);
            if !wrong.is_empty() {
                let body: String = res.body.chars().take(200).collect();
                failures.push(format!(
                    "{op} ({}) × {column}: {} — {body}",
                    req.path,
                    wrong.join("; ")
                ));
            }
            // What tenant A's own credentials see is what tenant B must never see.
            if cred.of_tenant_a()
                && op.takes(API_KEY)
                && (200..300).contains(&res.status)
                && let Ok(v) = serde_json::from_str::<Value>(&res.body)
            {
                collect_secrets(&v, &mut world.secrets);
            }
        }
    }
    eprintln!(
        "matrix: {} operations × {} credentials = {cells} cells checked",
        ops.len(),
        COLUMNS.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {cells} cells failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Each mutating operation of the spec (POST, PATCH, DELETE), the action of the one
/// audit event it leaves, or `None` and why it leaves none. A mutating operation
/// missing here fails the audit test: a new route must say what it records.
const AUDITED: &[(&str, &str, Option<&str>)] = &[
    ("POST", "/auth/signup", Some("user.signed_up")),
    ("POST", "/auth/login", Some("user.signed_in")),
    // Renews a sign-in that is already recorded.
    ("POST", "/auth/refresh", None),
    ("POST", "/auth/logout", Some("user.signed_out")),
    ("POST", "/auth/switch-tenant", Some("user.switched_tenant")),
    ("POST", "/v1/tenants", Some("tenant.created")),
    ("POST", "/v1/members", Some("member.added")),
    (
        "PATCH",
        "/v1/members/{user_id}",
        Some("member.role_changed"),
    ),
    ("DELETE", "/v1/members/{user_id}", Some("member.removed")),
    ("POST", "/v1/api-keys", Some("api_key.minted")),
    ("PATCH", "/v1/api-keys/{key_id}", Some("api_key.updated")),
    ("DELETE", "/v1/api-keys/{key_id}", Some("api_key.revoked")),
    (
        "POST",
        "/v1/api-keys/{key_id}/rotate",
        Some("api_key.rotated"),
    ),
    ("POST", "/v1/instances", Some("instance.created")),
    (
        "PATCH",
        "/v1/instances/{instance_id}",
        Some("instance.updated"),
    ),
    (
        "DELETE",
        "/v1/instances/{instance_id}",
        Some("instance.deleted"),
    ),
    (
        "POST",
        "/v1/instances/{instance_id}/start",
        Some("instance.started"),
    ),
    (
        "POST",
        "/v1/instances/{instance_id}/stop",
        Some("instance.stopped"),
    ),
    (
        "POST",
        "/v1/mcp/credentials",
        Some("mcp_credential.created"),
    ),
    (
        "DELETE",
        "/v1/mcp/credentials/{credential_id}",
        Some("mcp_credential.deleted"),
    ),
    (
        "POST",
        "/internal/v1/runtime-images",
        Some("runtime_image.registered"),
    ),
    (
        "POST",
        "/internal/v1/runtime-images/{image_id}/promote",
        Some("runtime_image.promoted"),
    ),
    // Its test data leaves with the tenant it makes and deletes, events included.
    ("POST", "/internal/v1/smoke", None),
];

/// The audit log across every tenant, newest first, as the operator reads it.
fn all_events(app: &TestApp, limit: u32) -> Vec<Value> {
    let res = send(
        app,
        "GET",
        &format!("/internal/v1/audit-log?order=desc&limit={limit}"),
        &Cred::Ops,
        None,
    );
    assert_eq!(res.status, 200, "{}", res.body);
    res.json().as_array().unwrap().clone()
}

/// The events newer than the one with id `marker` (all, when there was none).
fn since(app: &TestApp, marker: &Value) -> Vec<Value> {
    all_events(app, 100)
        .into_iter()
        .take_while(|e| &e["id"] != marker)
        .collect()
}

/// Every mutating operation of the spec, performed once by a credential it takes,
/// leaves exactly one audit event with its action, its actor and its target; refused
/// writes (422, 409) leave none.
fn every_change_leaves_exactly_one_audit_event(app: &TestApp) {
    let spec = app.request("GET", "/openapi.json", None, None);
    let (ops, _) = operations(&spec.json());
    let mut world = World::new(app);
    let mut failures = Vec::new();
    let mut checked = 0;
    for op in ops.iter().filter(|o| o.method != "GET") {
        let Some(&(_, _, action)) = AUDITED
            .iter()
            .find(|(m, t, _)| *m == op.method && *t == op.template)
        else {
            failures.push(format!("{op}: not in AUDITED; say what it records"));
            continue;
        };
        let cred = if op.schemes.is_empty() {
            Cred::Anonymous
        } else if op.takes(OPS) {
            Cred::Ops
        } else if op.takes(API_KEY) {
            world.owner_key.clone()
        } else {
            world.credential_for(Column::User(Role::Owner), op)
        };
        let req = world.build(op);
        let marker = all_events(app, 1)
            .first()
            .map_or(Value::Null, |e| e["id"].clone());
        let res = send(app, &op.method, &req.path, &cred, req.body.as_ref());
        if !(200..300).contains(&res.status) {
            failures.push(format!("{op}: {} {}", res.status, res.body));
            continue;
        }
        checked += 1;
        let new = since(app, &marker);
        let got: Vec<&str> = new.iter().filter_map(|e| e["action"].as_str()).collect();
        match action {
            None if got.is_empty() => {}
            None => failures.push(format!("{op}: records nothing, left {got:?}")),
            Some(a) if got == [a] => {
                let e = &new[0];
                let actor = e["actor"]["kind"].as_str().unwrap_or_default();
                let want = match &cred {
                    Cred::Ops => "ops",
                    Cred::Key { .. } => "api_key",
                    _ => "user",
                };
                if actor != want {
                    failures.push(format!("{op}: actor {actor}, not {want}: {e}"));
                }
                let target = &e["target"];
                let resource = a.split('.').next().unwrap_or_default();
                let kind = target["kind"].as_str().unwrap_or_default();
                let kind_fits = kind == resource || (resource == "user" && kind == "tenant");
                if !kind_fits || target["id"].as_str().is_none() {
                    failures.push(format!("{op}: target {target} for {a}"));
                }
                if let Some(id) = req
                    .path
                    .split('/')
                    .find_map(|seg| uuid::Uuid::parse_str(seg).ok().map(|u| u.to_string()))
                    && target["id"] != id.as_str()
                {
                    failures.push(format!("{op}: target {target}, not the path's {id}"));
                }
                if e["request_id"].as_str().is_none_or(str::is_empty) || e["client"].is_null() {
                    failures.push(format!("{op}: no request id or client: {e}"));
                }
            }
            Some(a) => failures.push(format!("{op}: expected [{a}], left {got:?}")),
        }
    }
    // Refused writes leave nothing.
    let owner = world.owner_key.clone();
    let taken = json!({"name": world.unique()});
    assert_eq!(
        send(app, "POST", "/v1/instances", &owner, Some(&taken)).status,
        201
    );
    let marker = all_events(app, 1)[0]["id"].clone();
    for (method, path, body) in [
        ("POST", "/v1/instances", taken.clone()),
        ("POST", "/v1/instances", json!({"name": "Not A Name"})),
        (
            "POST",
            "/v1/api-keys",
            json!({"name": "k", "scopes": ["nope:read"]}),
        ),
        (
            "POST",
            "/v1/members",
            json!({"email": "nobody@example.com", "role": "viewer"}),
        ),
    ] {
        let res = send(app, method, path, &owner, Some(&body));
        assert!((400..500).contains(&res.status), "{path}: {}", res.status);
    }
    let left = since(app, &marker);
    if !left.is_empty() {
        failures.push(format!("refused writes left events: {left:?}"));
    }
    eprintln!("audit: {checked} mutating operations performed once each");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

api_tests!(
    every_operation_meets_every_credential,
    every_change_leaves_exactly_one_audit_event
);

/// A route the matrix cannot build a request for fails it, rather than being skipped.
#[test]
fn an_operation_the_matrix_cannot_build_fails_it() {
    let spec = json!({
        "components": {
            "securitySchemes": {"ApiKeyHeader": {}, "Cookie": {}},
            "schemas": {"Gadget": {"type": "object", "required": ["colour"],
                "properties": {"colour": {"type": "string"}}}}
        },
        "paths": {
            "/v1/widgets/{widget_id}": {"get": {
                "parameters": [{"in": "path", "name": "widget_id", "required": true}],
                "responses": {"200": {}}, "security": [{"ApiKeyHeader": []}]
            }},
            "/v1/gadgets": {"post": {
                "requestBody": {"content": {"application/json":
                    {"schema": {"$ref": "#/components/schemas/Gadget"}}}},
                "responses": {"201": {}}, "security": [{"ApiKeyHeader": []}]
            }},
            "/v1/instances/{instance_id}": {"get": {
                "parameters": [{"in": "path", "name": "instance_id", "required": true}],
                "responses": {"200": {}}, "security": [{"ApiKeyHeader": []}]
            }}
        }
    });
    let (ops, unbuildable) = operations(&spec);
    assert_eq!(ops.len(), 1, "only the instance route can be built");
    assert_eq!(unbuildable.len(), 3, "{unbuildable:#?}");
    assert!(unbuildable[0].contains("Cookie"));
    assert!(unbuildable.iter().any(|u| u.contains("{widget_id}")));
    assert!(unbuildable.iter().any(|u| u.contains("colour")));
}

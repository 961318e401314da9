//! Users, sessions, tenants and members: the Bearer JWT path.

use std::time::{Duration, Instant};

use hydracore_api_tests::{Backend, PASSWORD, TestApp, api_tests, spawn_app_with};
use serde_json::{Value, json};

fn token(body: &Value) -> String {
    body["access_token"].as_str().unwrap().to_owned()
}

fn quickstart_from_signup_to_a_running_instance(app: &TestApp) {
    let signed = app.signup("Ada@Example.com", "Acme");
    assert_eq!(signed["user"]["email"], "ada@example.com");
    assert_eq!(signed["tenant"]["name"], "Acme");
    assert_eq!(signed["token_type"], "bearer");
    assert_eq!(signed["expires_in"], 900);
    assert!(
        signed["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("hc_rt_")
    );
    let t = token(&signed);
    let me = app.bearer("GET", "/auth/me", &t, None);
    assert_eq!(me.status, 200, "{}", me.body);
    let me = me.json();
    assert_eq!(me["active_tenant"]["tenant_id"], signed["tenant"]["id"]);
    assert_eq!(me["active_tenant"]["role"], "owner");
    let created = app.bearer(
        "POST",
        "/v1/instances",
        &t,
        Some(&json!({"name": "web-1", "start": true})),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.json()["status"], "running");
    let listed = app.bearer("GET", "/v1/instances", &t, None).json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let current = app.bearer("GET", "/v1/tenants/current", &t, None).json();
    assert_eq!(current["id"], signed["tenant"]["id"]);
    // The same person can mint an API key for machines, within the owner's scopes.
    let key = app.bearer(
        "POST",
        "/v1/api-keys",
        &t,
        Some(&json!({"name": "ci", "scopes": ["instances:read"]})),
    );
    assert_eq!(key.status, 201);
    let key = key.json()["key"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/v1/instances", &key).json(), listed);
}

fn signup_rejects_duplicates_and_bad_input(app: &TestApp) {
    app.signup("grace@example.com", "G");
    let dup = app.post_anon(
        "/auth/signup",
        &json!({"email": "GRACE@example.com", "password": PASSWORD, "tenant_name": "G2"}),
    );
    assert_eq!(dup.status, 409);
    let short = app.post_anon(
        "/auth/signup",
        &json!({"email": "x@example.com", "password": "tiny7", "tenant_name": "X"}),
    );
    assert_eq!(short.status, 422);
    assert_eq!(
        short.json()["detail"][0]["loc"],
        json!(["body", "password"])
    );
    assert!(!short.body.contains("tiny7"), "the password is not echoed");
    let email = app.post_anon(
        "/auth/signup",
        &json!({"email": "nope", "password": PASSWORD, "tenant_name": "X"}),
    );
    assert_eq!(email.status, 422);
    assert_eq!(email.json()["detail"][0]["loc"], json!(["body", "email"]));
    let blank = app.post_anon(
        "/auth/signup",
        &json!({"email": "y@example.com", "password": PASSWORD, "tenant_name": " "}),
    );
    assert_eq!(blank.status, 422);
    assert_eq!(
        blank.json()["detail"][0]["loc"],
        json!(["body", "tenant_name"])
    );
}

fn login_failures_are_alike(app: &TestApp) {
    app.signup("ada@example.com", "Acme");
    let ok = app.post_anon(
        "/auth/login",
        &json!({"email": "ADA@example.com", "password": PASSWORD}),
    );
    assert_eq!(ok.status, 200);
    assert!(ok.json()["access_token"].is_string());
    let mut wrong = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let a = app.post_anon(
            "/auth/login",
            &json!({"email": "ada@example.com", "password": "not the password"}),
        );
        wrong.push(t.elapsed());
        let t = Instant::now();
        let b = app.post_anon(
            "/auth/login",
            &json!({"email": "nobody@example.com", "password": "not the password"}),
        );
        unknown.push(t.elapsed());
        assert_eq!((a.status, b.status), (401, 401));
        assert_eq!(a.json(), b.json());
        assert_eq!(a.json(), json!({"detail": "Incorrect email or password"}));
    }
    wrong.sort();
    unknown.sort();
    // Both pay for a password hash: an unknown e-mail is not answered measurably faster.
    assert!(
        unknown[2] * 3 >= wrong[2],
        "unknown {:?} vs wrong {:?}",
        unknown[2],
        wrong[2]
    );
}

fn refresh_tokens_rotate_and_reuse_kills_the_family(app: &TestApp) {
    let signed = app.signup("ada@example.com", "Acme");
    let first = signed["refresh_token"].as_str().unwrap().to_owned();
    let r1 = app.post_anon("/auth/refresh", &json!({"refresh_token": first}));
    assert_eq!(r1.status, 200);
    let r1 = r1.json();
    let second = r1["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    assert_eq!(app.bearer("GET", "/auth/me", &token(&r1), None).status, 200);
    // The first token was used: presenting it again is reuse.
    let reuse = app.post_anon("/auth/refresh", &json!({"refresh_token": first}));
    assert_eq!(reuse.status, 401);
    // ... and the whole family is dead, the legitimate successor included.
    assert_eq!(
        app.post_anon("/auth/refresh", &json!({"refresh_token": second}))
            .status,
        401
    );
    // A separate login is a separate family and still works.
    let login = app
        .post_anon(
            "/auth/login",
            &json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .json();
    let third = login["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.request(
            "POST",
            "/auth/logout",
            None,
            Some(&json!({"refresh_token": third}).to_string())
        )
        .status,
        204
    );
    assert_eq!(
        app.post_anon("/auth/refresh", &json!({"refresh_token": third}))
            .status,
        401
    );
    assert_eq!(
        app.post_anon("/auth/refresh", &json!({"refresh_token": "hc_rt_nope"}))
            .status,
        401
    );
}

fn bad_access_tokens_are_401(app: &TestApp) {
    let signed = app.signup("ada@example.com", "Acme");
    let t = token(&signed);
    let mut tampered = t.clone();
    tampered.pop();
    tampered.push(if t.ends_with('A') { 'B' } else { 'A' });
    for bad in [
        tampered.as_str(),
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
        "not-a-token",
    ] {
        let res = app.bearer("GET", "/v1/instances", bad, None);
        assert_eq!(res.status, 401, "{bad}");
        assert_eq!(res.json(), json!({"detail": "Invalid access token"}));
    }
    // An API key is not a user: user-only routes answer it as their security scheme
    // says, 401 with a challenge.
    let (_, key) = app.tenant_with_key(&["instances:*"]);
    let me = app.get("/auth/me", &key);
    assert_eq!(me.status, 401);
    assert!(me.header("www-authenticate").is_some());
    assert_eq!(app.request("GET", "/auth/me", None, None).status, 401);
}

fn switch_tenant_changes_what_requests_see(app: &TestApp) {
    let signed = app.signup("ada@example.com", "First");
    let t = token(&signed);
    app.bearer(
        "POST",
        "/v1/instances",
        &t,
        Some(&json!({"name": "in-first"})),
    );
    let second = app.bearer("POST", "/v1/tenants", &t, Some(&json!({"name": "Second"})));
    assert_eq!(second.status, 201, "{}", second.body);
    let second_id = second.json()["id"].as_str().unwrap().to_owned();
    // Still acting on the first tenant.
    assert_eq!(
        app.bearer("GET", "/v1/instances", &t, None)
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let switched = app.bearer(
        "POST",
        "/auth/switch-tenant",
        &t,
        Some(&json!({"tenant_id": second_id})),
    );
    assert_eq!(switched.status, 200, "{}", switched.body);
    assert_eq!(
        switched.json()["active_tenant"]["tenant_id"],
        second_id.as_str()
    );
    assert_eq!(switched.json()["memberships"].as_array().unwrap().len(), 2);
    // The same token now acts on the second tenant.
    assert_eq!(
        app.bearer("GET", "/v1/instances", &t, None).json(),
        json!([])
    );
    let other = app.signup("eve@example.com", "Eve");
    let foreign = app.bearer(
        "POST",
        "/auth/switch-tenant",
        &t,
        Some(&json!({"tenant_id": other["tenant"]["id"]})),
    );
    assert_eq!(foreign.status, 404);
    let bad = app.bearer(
        "POST",
        "/auth/switch-tenant",
        &t,
        Some(&json!({"tenant_id": "x"})),
    );
    assert_eq!(bad.status, 422);
}

/// A tenant with an owner and one member of each other role, all signed in.
struct Team {
    owner: String,
    admin: String,
    member: String,
    viewer: String,
    ids: Value,
}

fn team(app: &TestApp) -> Team {
    let owner = app.signup("owner@example.com", "Team");
    let ot = token(&owner);
    let mut ids = json!({"owner": owner["user"]["id"]});
    let mut tokens = Vec::new();
    for role in ["admin", "member", "viewer"] {
        let email = format!("{role}@example.com");
        let own = app.signup(&email, role);
        let added = app.bearer(
            "POST",
            "/v1/members",
            &ot,
            Some(&json!({"email": email, "role": role})),
        );
        assert_eq!(added.status, 201, "{}", added.body);
        assert_eq!(added.json()["role"], role);
        ids[role] = own["user"]["id"].clone();
        let t = token(&own);
        let switched = app.bearer(
            "POST",
            "/auth/switch-tenant",
            &t,
            Some(&json!({"tenant_id": owner["tenant"]["id"]})),
        );
        assert_eq!(switched.status, 200);
        tokens.push(t);
    }
    let viewer = tokens.pop().unwrap();
    let member = tokens.pop().unwrap();
    let admin = tokens.pop().unwrap();
    Team {
        owner: ot,
        admin,
        member,
        viewer,
        ids,
    }
}

fn roles_decide_what_users_may_do(app: &TestApp) {
    let team = team(app);
    // viewer: reads only.
    assert_eq!(
        app.bearer("GET", "/v1/instances", &team.viewer, None)
            .status,
        200
    );
    assert_eq!(
        app.bearer("GET", "/v1/members", &team.viewer, None).status,
        200
    );
    let denied = app.bearer(
        "POST",
        "/v1/instances",
        &team.viewer,
        Some(&json!({"name": "v"})),
    );
    assert_eq!(denied.status, 403);
    assert_eq!(
        denied.json(),
        json!({"detail": "Missing required scope: instances:write"})
    );
    // member: instances, but no keys and no members.
    assert_eq!(
        app.bearer(
            "POST",
            "/v1/instances",
            &team.member,
            Some(&json!({"name": "m"}))
        )
        .status,
        201
    );
    let key = app.bearer(
        "POST",
        "/v1/api-keys",
        &team.member,
        Some(&json!({"name": "k", "scopes": ["instances:read"]})),
    );
    assert_eq!(key.status, 403);
    assert_eq!(
        app.bearer(
            "POST",
            "/v1/members",
            &team.member,
            Some(&json!({"email": "owner@example.com", "role": "viewer"}))
        )
        .status,
        403
    );
    // admin: keys and members, but cannot make or touch owners.
    let key = app.bearer(
        "POST",
        "/v1/api-keys",
        &team.admin,
        Some(&json!({"name": "k", "scopes": ["instances:read", "instances:delete"]})),
    );
    assert_eq!(key.status, 201);
    // A role grants named verbs, not wildcards: an admin cannot mint `instances:*`.
    let wildcard = app.bearer(
        "POST",
        "/v1/api-keys",
        &team.admin,
        Some(&json!({"name": "w", "scopes": ["instances:*"]})),
    );
    assert_eq!(wildcard.status, 403);
    let members = app.bearer("GET", "/v1/members", &team.admin, None).json();
    assert_eq!(members.as_array().unwrap().len(), 4);
    // One member, as the list shows them; a stranger's id is 404 like another tenant's.
    let viewer_id = team.ids["viewer"].as_str().unwrap();
    let one = app.bearer(
        "GET",
        &format!("/v1/members/{viewer_id}"),
        &team.viewer,
        None,
    );
    assert_eq!(one.status, 200, "{}", one.body);
    assert_eq!(
        Some(&one.json()),
        members
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["user_id"] == viewer_id)
    );
    let stranger = app.signup("stranger@example.com", "Elsewhere");
    let stranger_id = stranger["user"]["id"].as_str().unwrap();
    let missing = app.bearer(
        "GET",
        &format!("/v1/members/{stranger_id}"),
        &team.admin,
        None,
    );
    assert_eq!(missing.status, 404, "{}", missing.body);
    assert_eq!(missing.json(), json!({"detail": "Member not found"}));
    let promote = app.bearer(
        "PATCH",
        &format!("/v1/members/{}", team.ids["viewer"].as_str().unwrap()),
        &team.admin,
        Some(&json!({"role": "owner"})),
    );
    assert_eq!(promote.status, 403);
    let remove_owner = app.bearer(
        "DELETE",
        &format!("/v1/members/{}", team.ids["owner"].as_str().unwrap()),
        &team.admin,
        None,
    );
    assert_eq!(remove_owner.status, 403);
    let promote = app.bearer(
        "PATCH",
        &format!("/v1/members/{}", team.ids["viewer"].as_str().unwrap()),
        &team.admin,
        Some(&json!({"role": "member"})),
    );
    assert_eq!(promote.status, 200);
    assert_eq!(promote.json()["role"], "member");
    // The change applies to the viewer's very next request.
    assert_eq!(
        app.bearer(
            "POST",
            "/v1/instances",
            &team.viewer,
            Some(&json!({"name": "now"}))
        )
        .status,
        201
    );
}

fn the_last_owner_stays(app: &TestApp) {
    let team = team(app);
    let owner_id = team.ids["owner"].as_str().unwrap().to_owned();
    let demote = app.bearer(
        "PATCH",
        &format!("/v1/members/{owner_id}"),
        &team.owner,
        Some(&json!({"role": "admin"})),
    );
    assert_eq!(demote.status, 409);
    assert_eq!(
        demote.json(),
        json!({"detail": "A tenant must keep at least one owner"})
    );
    assert_eq!(
        app.bearer(
            "DELETE",
            &format!("/v1/members/{owner_id}"),
            &team.owner,
            None
        )
        .status,
        409
    );
    // With a second owner, the first may step down.
    let admin_id = team.ids["admin"].as_str().unwrap();
    assert_eq!(
        app.bearer(
            "PATCH",
            &format!("/v1/members/{admin_id}"),
            &team.owner,
            Some(&json!({"role": "owner"}))
        )
        .status,
        200
    );
    assert_eq!(
        app.bearer(
            "DELETE",
            &format!("/v1/members/{owner_id}"),
            &team.owner,
            None
        )
        .status,
        204
    );
    // The removed user has no active tenant now: tenant routes say so.
    let gone = app.bearer("GET", "/v1/instances", &team.owner, None);
    assert_eq!(gone.status, 403);
    assert!(
        gone.json()["detail"]
            .as_str()
            .unwrap()
            .contains("No active tenant")
    );
    let dup = app.bearer(
        "POST",
        "/v1/members",
        &team.admin,
        Some(&json!({"email": "viewer@example.com", "role": "viewer"})),
    );
    assert_eq!(dup.status, 409);
    let nobody = app.bearer(
        "POST",
        "/v1/members",
        &team.admin,
        Some(&json!({"email": "nobody@example.com", "role": "viewer"})),
    );
    assert_eq!(nobody.status, 404);
}

fn users_never_reach_another_tenants_rows(app: &TestApp) {
    let a = app.signup("a@example.com", "A");
    let b = app.signup("b@example.com", "B");
    let (ta, tb) = (token(&a), token(&b));
    let inst = app
        .bearer(
            "POST",
            "/v1/instances",
            &ta,
            Some(&json!({"name": "a-only"})),
        )
        .json();
    let key = app
        .bearer(
            "POST",
            "/v1/api-keys",
            &ta,
            Some(&json!({"name": "k", "scopes": ["instances:read"]})),
        )
        .json();
    let a_user = a["user"]["id"].as_str().unwrap();
    let i = inst["id"].as_str().unwrap();
    let k = key["id"].as_str().unwrap();
    for (method, path, body) in [
        ("GET", format!("/v1/instances/{i}"), None),
        (
            "PATCH",
            format!("/v1/instances/{i}"),
            Some(json!({"name": "x"})),
        ),
        ("DELETE", format!("/v1/instances/{i}"), None),
        ("POST", format!("/v1/instances/{i}/start"), None),
        ("GET", format!("/v1/api-keys/{k}"), None),
        (
            "PATCH",
            format!("/v1/api-keys/{k}"),
            Some(json!({"name": "x"})),
        ),
        ("DELETE", format!("/v1/api-keys/{k}"), None),
        ("POST", format!("/v1/api-keys/{k}/rotate"), None),
        (
            "PATCH",
            format!("/v1/members/{a_user}"),
            Some(json!({"role": "viewer"})),
        ),
        ("DELETE", format!("/v1/members/{a_user}"), None),
    ] {
        let res = app.bearer(method, &path, &tb, body.as_ref());
        assert_eq!(res.status, 404, "{method} {path}: {}", res.body);
    }
    let members = app.bearer("GET", "/v1/members", &tb, None).json();
    assert_eq!(members.as_array().unwrap().len(), 1);
    assert!(!members.to_string().contains("a@example.com"));
    assert_eq!(
        app.bearer("GET", "/v1/instances", &tb, None).json(),
        json!([])
    );
    // A's rows are intact.
    assert_eq!(
        app.bearer("GET", &format!("/v1/instances/{i}"), &ta, None)
            .json()["name"],
        "a-only"
    );
}

fn rotated_key_works_through_the_grace_period_only(app: &TestApp) {
    let (_, admin) = app.tenant_with_key(&["api-keys:*", "instances:read"]);
    let old = app
        .post(
            "/v1/api-keys",
            &admin,
            &json!({"name": "deploy", "scopes": ["instances:read"],
        "rate_limit": {"requests": 50, "per_seconds": 10}}),
        )
        .json();
    let old_key = old["key"].as_str().unwrap().to_owned();
    let rotated = app.request(
        "POST",
        &format!("/v1/api-keys/{}/rotate", old["id"].as_str().unwrap()),
        Some(&admin),
        Some(&json!({"grace_seconds": 2}).to_string()),
    );
    assert_eq!(rotated.status, 201, "{}", rotated.body);
    let new = rotated.json();
    let new_key = new["key"].as_str().unwrap().to_owned();
    assert_ne!(new_key, old_key);
    assert_eq!(new["scopes"], old["scopes"]);
    assert_eq!(new["rate_limit"], old["rate_limit"]);
    assert_eq!(new["name"], "deploy");
    // Both work inside the grace period.
    assert_eq!(app.get("/v1/instances", &old_key).status, 200);
    assert_eq!(app.get("/v1/instances", &new_key).status, 200);
    app.clock.advance(time::Duration::seconds(3));
    assert_eq!(app.get("/v1/instances", &old_key).status, 401);
    assert_eq!(app.get("/v1/instances", &new_key).status, 200);
    // Without a body the default grace applies; a grace over 7 days is 422.
    let again = app.request(
        "POST",
        &format!("/v1/api-keys/{}/rotate", new["id"].as_str().unwrap()),
        Some(&admin),
        None,
    );
    assert_eq!(again.status, 201);
    let too_long = app.request(
        "POST",
        &format!(
            "/v1/api-keys/{}/rotate",
            again.json()["id"].as_str().unwrap()
        ),
        Some(&admin),
        Some(&json!({"grace_seconds": 604_801}).to_string()),
    );
    assert_eq!(too_long.status, 422);
}

fn last_used_at_appears_without_a_write_per_request(app: &TestApp) {
    let (_, admin) = app.tenant_with_key(&["api-keys:*", "instances:read"]);
    let minted = app
        .post(
            "/v1/api-keys",
            &admin,
            &json!({"name": "u", "scopes": ["instances:read"]}),
        )
        .json();
    let path = format!("/v1/api-keys/{}", minted["id"].as_str().unwrap());
    assert_eq!(app.get(&path, &admin).json()["last_used_at"], Value::Null);
    app.get("/v1/instances", minted["key"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let seen = app.get(&path, &admin).json()["last_used_at"].clone();
        if seen.is_string() {
            assert!(seen.as_str().unwrap().ends_with('Z'));
            break;
        }
        assert!(Instant::now() < deadline, "last_used_at never appeared");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Two refreshes with one token at once: one wins, the other is reuse and revokes the
/// family; the winner's new token must die with it, whichever order the two ran in.
fn racing_refreshes_leave_no_token_of_the_family_alive(app: &TestApp) {
    app.signup("race@example.com", "Race");
    for round in 0..25 {
        let login = app.post_anon(
            "/auth/login",
            &json!({"email": "race@example.com", "password": PASSWORD}),
        );
        assert_eq!(login.status, 200, "{}", login.body);
        let refresh = login.json()["refresh_token"].as_str().unwrap().to_owned();
        let body = json!({"refresh_token": refresh});
        let results: Vec<(u16, Value)> = std::thread::scope(|s| {
            let racers: Vec<_> = (0..2)
                .map(|_| {
                    s.spawn(|| {
                        let r = app.post_anon("/auth/refresh", &body);
                        (
                            r.status,
                            serde_json::from_str(&r.body).unwrap_or(Value::Null),
                        )
                    })
                })
                .collect();
            racers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        let mut statuses: Vec<u16> = results.iter().map(|(s, _)| *s).collect();
        statuses.sort_unstable();
        assert_eq!(statuses, vec![200, 401], "round {round}");
        let (_, won) = results.iter().find(|(s, _)| *s == 200).unwrap();
        let next = app.post_anon(
            "/auth/refresh",
            &json!({"refresh_token": won["refresh_token"]}),
        );
        assert_eq!(
            next.status, 401,
            "round {round}: the winner's token outlived its family's revocation"
        );
    }
}

/// An admin's change of a member racing the owner's promotion of that member to owner:
/// the admin's change may apply only while the member is not an owner.
fn an_admin_never_changes_an_owner_even_racing_a_promotion(app: &TestApp) {
    let team = team(app);
    let member_id = team.ids["member"].as_str().unwrap().to_owned();
    let path = format!("/v1/members/{member_id}");
    for round in 0..20 {
        let reset = app.bearer(
            "PATCH",
            &path,
            &team.owner,
            Some(&json!({"role": "member"})),
        );
        assert_eq!(reset.status, 200, "{}", reset.body);
        let (by_admin, by_owner) = std::thread::scope(|s| {
            let admin = s.spawn(|| {
                app.bearer(
                    "PATCH",
                    &path,
                    &team.admin,
                    Some(&json!({"role": "viewer"})),
                )
                .status
            });
            let owner = s.spawn(|| {
                app.bearer("PATCH", &path, &team.owner, Some(&json!({"role": "owner"})))
                    .status
            });
            (admin.join().unwrap(), owner.join().unwrap())
        });
        assert_eq!(by_owner, 200, "round {round}");
        assert!(
            by_admin == 200 || by_admin == 403,
            "round {round}: {by_admin}"
        );
        let members = app.bearer("GET", "/v1/members", &team.owner, None).json();
        let role = members
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["user_id"] == member_id.as_str())
            .unwrap()["role"]
            .clone();
        // Both applied: the admin's came first, so the promotion is what stays.
        assert_eq!(role, "owner", "round {round}: an admin demoted an owner");
        let _ = app.bearer(
            "PATCH",
            &path,
            &team.owner,
            Some(&json!({"role": "member"})),
        );
    }
}

api_tests!(
    racing_refreshes_leave_no_token_of_the_family_alive,
    an_admin_never_changes_an_owner_even_racing_a_promotion,
    quickstart_from_signup_to_a_running_instance,
    signup_rejects_duplicates_and_bad_input,
    login_failures_are_alike,
    refresh_tokens_rotate_and_reuse_kills_the_family,
    bad_access_tokens_are_401,
    switch_tenant_changes_what_requests_see,
    roles_decide_what_users_may_do,
    the_last_owner_stays,
    users_never_reach_another_tenants_rows,
    rotated_key_works_through_the_grace_period_only,
    last_used_at_appears_without_a_write_per_request,
);

#[test]
fn signup_can_be_turned_off() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.serve.signup_enabled = false).unwrap();
    let res = app.post_anon(
        "/auth/signup",
        &json!({"email": "a@example.com", "password": PASSWORD, "tenant_name": "A"}),
    );
    assert_eq!(res.status, 403);
    assert_eq!(res.json(), json!({"detail": "Sign-up is disabled"}));
}

#[test]
fn access_tokens_expire() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.serve.access_token_ttl_secs = 1).unwrap();
    let signed = app.signup("a@example.com", "A");
    assert_eq!(signed["expires_in"], 1);
    let t = token(&signed);
    assert_eq!(app.bearer("GET", "/auth/me", &t, None).status, 200);
    app.clock.advance(time::Duration::seconds(2));
    let res = app.bearer("GET", "/auth/me", &t, None);
    assert_eq!(res.status, 401);
    assert_eq!(res.json(), json!({"detail": "Access token has expired"}));
    // The refresh token still renews the session.
    let renewed = app.post_anon(
        "/auth/refresh",
        &json!({"refresh_token": signed["refresh_token"]}),
    );
    assert_eq!(renewed.status, 200);
}

fn login_as(
    app: &TestApp,
    email: &str,
    forwarded_for: Option<&str>,
) -> hydracore_api_tests::TestResponse {
    let mut req = ureq::http::Request::builder()
        .method("POST")
        .uri(format!("{}/auth/login", app.address))
        .header("Content-Type", "application/json");
    if let Some(f) = forwarded_for {
        req = req.header("X-Forwarded-For", f);
    }
    app.send(
        req.body(json!({"email": email, "password": "wrong-password-123"}).to_string())
            .unwrap(),
    )
}

#[test]
fn sign_in_attempts_are_throttled_per_email() {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.serve.signin_limit_per_email = hydracore_keys::RateLimit::new(3, 3600).unwrap();
    })
    .unwrap();
    app.signup("ada@example.com", "A");
    // The sign-up spent one attempt of ada's budget: two more.
    for _ in 0..2 {
        assert_eq!(login_as(&app, "ada@example.com", None).status, 401);
    }
    for email in ["ada@example.com", " ADA@example.com"] {
        let res = login_as(&app, email, None);
        assert_eq!(res.status, 429, "{email}: {}", res.body);
        let wait: u64 = res.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=3600).contains(&wait), "{wait}");
        assert!(
            res.json()["detail"]
                .as_str()
                .unwrap()
                .starts_with("Too many sign-in attempts")
        );
    }
    // Even the right password waits: the budget counts attempts, not failures.
    let right = app.post_anon(
        "/auth/login",
        &json!({"email": "ada@example.com", "password": PASSWORD}),
    );
    assert_eq!(right.status, 429);
    // Another e-mail has a budget of its own.
    assert_eq!(login_as(&app, "grace@example.com", None).status, 401);
}

#[test]
fn sign_in_attempts_are_throttled_per_client_address() {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.serve.signin_limit_per_address = hydracore_keys::RateLimit::new(4, 3600).unwrap();
    })
    .unwrap();
    for i in 0..4 {
        assert_eq!(
            login_as(&app, &format!("u{i}@example.com"), None).status,
            401
        );
    }
    // Sign-in, sign-up and refresh spend the address's budget alike...
    assert_eq!(login_as(&app, "new@example.com", None).status, 429);
    let refresh = app.post_anon("/auth/refresh", &json!({"refresh_token": "hc_rt_x"}));
    assert_eq!(refresh.status, 429);
    assert!(refresh.header("retry-after").is_some());
    let signup = app.post_anon(
        "/auth/signup",
        &json!({"email": "s@example.com", "password": PASSWORD, "tenant_name": "S"}),
    );
    assert_eq!(signup.status, 429);
    // ...and naming another address in X-Forwarded-For changes nothing: no proxy is
    // trusted here.
    assert_eq!(
        login_as(&app, "new@example.com", Some("203.0.113.9")).status,
        429
    );
}

#[test]
fn behind_a_trusted_proxy_the_forwarded_address_is_the_client() {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.serve.signin_limit_per_address = hydracore_keys::RateLimit::new(2, 3600).unwrap();
        s.serve.trusted_proxies = vec!["127.0.0.0/8".into()];
    })
    .unwrap();
    for client in ["203.0.113.1", "203.0.113.2"] {
        for _ in 0..2 {
            assert_eq!(login_as(&app, "x@example.com", Some(client)).status, 401);
        }
        assert_eq!(
            login_as(&app, "x@example.com", Some(client)).status,
            429,
            "{client}"
        );
    }
    // A client cannot dodge its budget by prepending a made-up hop.
    assert_eq!(
        login_as(&app, "x@example.com", Some("198.51.100.7, 203.0.113.1")).status,
        429
    );
}

#[test]
fn a_user_owns_at_most_the_configured_number_of_tenants() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.serve.max_tenants_per_user = 2).unwrap();
    let signed = app.signup("many@example.com", "First");
    let t = token(&signed);
    let second = app.bearer("POST", "/v1/tenants", &t, Some(&json!({"name": "Second"})));
    assert_eq!(second.status, 201, "{}", second.body);
    let third = app.bearer("POST", "/v1/tenants", &t, Some(&json!({"name": "Third"})));
    assert_eq!(third.status, 403);
    assert_eq!(
        third.json(),
        json!({"detail": "You own 2 tenants, the most one user may own (HYDRACORE_MAX_TENANTS_PER_USER)"})
    );
    let me = app.bearer("GET", "/auth/me", &t, None).json();
    assert_eq!(me["memberships"].as_array().unwrap().len(), 2);
}

//! `?limit=` and `?cursor=` with `Link: rel="next"` on every list.

use std::collections::HashSet;

use hydracore_api_tests::{TestApp, TestResponse, api_tests};
use serde_json::json;

/// Follows `Link: <…>; rel="next"` from `first` to the end.
fn walk(app: &TestApp, first: &str, key: &str) -> (Vec<serde_json::Value>, usize) {
    let mut rows = Vec::new();
    let mut pages = 0;
    let mut next = Some(format!("{}{first}", app.address));
    while let Some(url) = next.take() {
        let path = url
            .strip_prefix(&app.address)
            .expect("same server")
            .to_owned();
        let res: TestResponse = app.get(&path, key);
        assert_eq!(res.status, 200, "{}", res.body);
        pages += 1;
        rows.extend(res.json().as_array().unwrap().iter().cloned());
        if let Some(link) = res.header("link") {
            assert!(link.ends_with("; rel=\"next\""), "{link}");
            assert!(res.header("x-next-cursor").is_some());
            next = Some(link[1..link.find('>').unwrap()].to_owned());
        } else {
            assert!(res.header("x-next-cursor").is_none());
        }
    }
    (rows, pages)
}

fn pages_return_every_row_exactly_once(app: &TestApp) {
    let (_, key) = app.tenant_with_key(&["instances:*", "api-keys:read"]);
    let mut created = Vec::new();
    for n in 0..23 {
        let res = app.post("/v1/instances", &key, &json!({"name": format!("i-{n}")}));
        created.push(res.json()["id"].as_str().unwrap().to_owned());
    }
    let (rows, pages) = walk(app, "/v1/instances?limit=5", &key);
    assert_eq!(pages, 5);
    let ids: Vec<String> = rows
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 23);
    assert_eq!(ids, created, "order is creation order");
    // Page size is kept in the next link.
    let first = app.get("/v1/instances?limit=5", &key);
    assert!(first.header("link").unwrap().contains("limit=5"));
    // The default page holds everything here, with no next link.
    let all = app.get("/v1/instances", &key);
    assert_eq!(all.json().as_array().unwrap().len(), 23);
    assert!(all.header("link").is_none());
    let (keys, _) = walk(app, "/v1/api-keys?limit=1", &key);
    assert_eq!(keys.len(), 1);
}

fn bad_limits_and_cursors_are_422(app: &TestApp) {
    let (_, key) = app.tenant_with_key(&["instances:*"]);
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=abc", "limit"),
        ("limit=-1", "limit"),
        ("cursor=bogus", "cursor"),
    ] {
        let res = app.get(&format!("/v1/instances?{query}"), &key);
        assert_eq!(res.status, 422, "{query}");
        assert_eq!(
            res.json()["detail"][0]["loc"],
            json!(["query", field]),
            "{query}"
        );
    }
    assert_eq!(app.get("/v1/instances?limit=1000", &key).status, 200);
}

api_tests!(
    pages_return_every_row_exactly_once,
    bad_limits_and_cursors_are_422
);

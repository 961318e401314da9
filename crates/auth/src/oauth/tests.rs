use super::model::*;

#[test]
fn redirect_uris_follow_rfc_8252() {
    for ok in [
        "https://claude.ai/api/mcp/auth_callback",
        "http://127.0.0.1:33418/callback",
        "http://localhost:6274/oauth/callback",
        "http://[::1]:8080/cb",
        "cursor://anysphere.cursor-retrieval/oauth/user-hydracore/callback",
    ] {
        assert!(redirect_uri_allowed(ok).is_ok(), "{ok}");
    }
    for bad in [
        "http://example.com/cb",
        "https://example.com/cb#frag",
        "javascript:alert(1)",
        "data:text/html,hi",
        "https:///nohost",
        "/relative",
        "http://127.0.0.1.evil.com/cb",
        "https://user@evil.com/cb",
        "https://example.com/a b",
    ] {
        assert!(redirect_uri_allowed(bad).is_err(), "{bad}");
    }
}

#[test]
fn pkce_s256_matches_the_rfc_example() {
    // RFC 7636 appendix B.
    assert_eq!(
        s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
    assert!(pkce_shaped("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
    assert!(!pkce_shaped("short"));
    assert!(!pkce_shaped(&"a+".repeat(30)));
}

#[test]
fn document_ids_are_https_urls_with_a_path() {
    assert!(is_document_id("https://app.example.com/oauth/client.json"));
    assert!(!is_document_id("https://app.example.com"));
    assert!(!is_document_id("https://app.example.com/"));
    assert!(!is_document_id("http://app.example.com/client.json"));
    assert!(!is_document_id("hc_client_0123"));
}

#[test]
fn queries_are_added_encoded() {
    assert_eq!(
        with_query(
            "https://a.example/cb?x=1",
            &[("code", "a b&c"), ("iss", "http://h")]
        ),
        "https://a.example/cb?x=1&code=a%20b%26c&iss=http%3A%2F%2Fh"
    );
}

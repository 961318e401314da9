use super::*;

#[test]
fn parses_named_and_wildcard_scopes() {
    let read: Scope = "instances:read".parse().unwrap();
    assert_eq!(read.to_string(), "instances:read");
    let any: Scope = "instances:*".parse().unwrap();
    assert!(any.is_wildcard());
    assert!(any.grants(&read));
    assert!(!read.grants(&any));
}

#[test]
fn rejects_bad_scopes_naming_them() {
    assert_eq!(
        "instances".parse::<Scope>(),
        Err(ScopeError::Malformed("instances".into()))
    );
    assert_eq!(
        "nope:read".parse::<Scope>(),
        Err(ScopeError::UnknownResource("nope:read".into()))
    );
    assert_eq!(
        "instances:fly".parse::<Scope>(),
        Err(ScopeError::UnknownVerb("instances:fly".into()))
    );
    assert!("instances:read:x".parse::<Scope>().is_err());
    assert!(":read".parse::<Scope>().is_err());
    let err = ScopeSet::parse(&["instances:read", "bogus"]).unwrap_err();
    assert_eq!(err.0, 1);
}

#[test]
fn verbs_do_not_imply_each_other() {
    let set = ScopeSet::parse(&["instances:read", "instances:delete"]).unwrap();
    assert!(!set.allows(&Scope::of("instances", "write")));
    assert!(set.allows(&Scope::of("instances", "delete")));
}

#[test]
fn subset_rule_treats_wildcards_strictly() {
    let parent = ScopeSet::parse(&["instances:read", "instances:write"]).unwrap();
    let child = ScopeSet::parse(&["instances:*"]).unwrap();
    assert_eq!(child.not_granted_by(&parent).len(), 1);
    let parent = ScopeSet::parse(&["instances:*"]).unwrap();
    let child = ScopeSet::parse(&["instances:read", "instances:*"]).unwrap();
    assert!(child.not_granted_by(&parent).is_empty());
}

#[test]
fn roles_nest() {
    let viewer = Role::Viewer.scopes();
    let member = Role::Member.scopes();
    let admin = Role::Admin.scopes();
    let owner = Role::Owner.scopes();
    assert!(viewer.not_granted_by(&member).is_empty());
    assert!(member.not_granted_by(&admin).is_empty());
    assert!(admin.not_granted_by(&owner).is_empty());
    assert!(viewer.iter().all(|s| s.verb() == &Verb::Named("read")));
    assert!(member.allows(&Scope::of("instances", "write")));
    assert!(!member.allows(&Scope::of("api-keys", "write")));
    assert!(admin.allows(&Scope::of("api-keys", "write")));
    assert!(!admin.allows(&Scope::of("tenants", "write")));
    assert!(owner.allows(&Scope::of("tenants", "write")));
}

#[test]
#[should_panic(expected = "outside the catalogue")]
fn a_scope_named_in_code_outside_the_catalogue_is_refused() {
    let resource = String::from("instance");
    let _ = Scope::named(resource.leak(), "read");
}

#[test]
#[should_panic(expected = "verb its resource does not have")]
fn a_scope_named_in_code_with_an_unknown_verb_is_refused() {
    let _ = Scope::named("instances", String::from("rename").leak());
}

#[test]
fn a_scope_named_in_code_is_the_catalogued_one() {
    const READ: Scope = Scope::named("instances", "read");
    assert_eq!(Ok(READ), "instances:read".parse::<Scope>());
}

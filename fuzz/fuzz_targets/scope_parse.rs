//! `Scope::from_str` and `ScopeSet::parse` on arbitrary UTF-8: the parser accepts only
//! the canonical text of a catalogued scope, and every parsed value round-trips.
#![no_main]

use std::str::FromStr;

use hydracore_scopes::{CATALOGUE, Scope, ScopeSet, Verb};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &str| {
    check_scope(data);

    let lines: Vec<&str> = data.lines().collect();
    match ScopeSet::parse(&lines) {
        Ok(set) => {
            assert!(set.len() <= lines.len());
            for line in &lines {
                assert!(set.iter().any(|s| s.to_string() == *line), "{line:?} lost");
            }
            let strings = set.to_strings();
            assert_eq!(ScopeSet::parse(&strings), Ok(set.clone()));
            let shown = set.to_string();
            let words: Vec<&str> = shown.split(' ').filter(|w| !w.is_empty()).collect();
            assert_eq!(ScopeSet::parse(&words), Ok(set.clone()));
            for scope in set.iter() {
                assert!(set.allows(scope));
            }
            assert!(set.not_granted_by(&set).is_empty());
        }
        Err((i, err)) => {
            assert!(i < lines.len());
            assert_eq!(Scope::from_str(lines[i]), Err(err));
            for line in &lines[..i] {
                assert!(Scope::from_str(line).is_ok(), "{line:?} before index {i}");
            }
        }
    }
});

fn check_scope(text: &str) {
    let Ok(scope) = Scope::from_str(text) else {
        return;
    };
    // Only the exact text `resource:verb` of the catalogue parses, so Display gives it back.
    assert_eq!(scope.to_string(), text);
    assert_eq!(Scope::from_str(&scope.to_string()), Ok(scope.clone()));
    let spec = CATALOGUE
        .iter()
        .find(|c| c.resource == scope.resource())
        .expect("a parsed scope names a catalogued resource");
    match scope.verb() {
        Verb::Any => assert!(scope.is_wildcard()),
        Verb::Named(v) => assert!(spec.verbs.iter().any(|s| s.name == *v)),
    }
    assert!(scope.grants(&scope));
}

//! Every contract case is run: a case written in `cases.rs` but missing from the list
//! in `contract_cases!` would otherwise compile, pass and never run.

use std::collections::BTreeSet;

use hydracore_store_contract::CASES;

#[test]
fn every_case_in_cases_rs_is_listed_under_its_port() {
    let defined: BTreeSet<&str> = include_str!("../src/cases.rs")
        .lines()
        .filter_map(|l| l.strip_prefix("pub async fn "))
        .filter_map(|rest| rest.split('(').next())
        .collect();
    assert!(
        defined.len() > 20,
        "found only {defined:?}: has the case syntax changed?"
    );
    let listed: BTreeSet<&str> = CASES
        .iter()
        .flat_map(|(_, cases)| cases.iter().copied())
        .collect();
    let unrun: Vec<&&str> = defined.difference(&listed).collect();
    assert!(
        unrun.is_empty(),
        "contract cases no harness runs: {unrun:?}; list them under their port in \
         `contract_cases!` (crates/store-contract/src/lib.rs)"
    );
    for (port, cases) in CASES {
        for case in *cases {
            assert!(case.starts_with(port), "{case} is listed under {port}");
        }
    }
}

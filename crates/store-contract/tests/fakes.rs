//! The contract suite against the in-memory fakes.

use hydracore_store_contract::{Harness, Ports, contract_tests};

struct Fakes;

impl Harness for Fakes {
    async fn setup() -> Option<(Self, Ports)> {
        Some((Fakes, Ports::fakes()))
    }

    async fn teardown(self) {}
}

contract_tests!(Fakes);

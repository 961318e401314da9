use super::*;

#[test]
fn every_status_reads_back_from_its_name() {
    for status in [CallStatus::Ok, CallStatus::Error, CallStatus::Denied] {
        assert_eq!(CallStatus::parse(status.as_str()), Ok(status));
    }
}

#[test]
fn an_unknown_status_name_is_refused() {
    for raw in ["", "OK", "denied ", "failed"] {
        assert!(CallStatus::parse(raw).is_err(), "{raw:?}");
    }
}

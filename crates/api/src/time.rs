//! Instants on the wire.

use ::time::OffsetDateTime;
use ::time::format_description::well_known::Rfc3339;
use paperclip::v2::models::{DataType, DataTypeFormat};
use paperclip::v2::schema::TypedData;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An instant on the wire: RFC 3339 in UTC with a `Z` suffix and microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(pub OffsetDateTime);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0_u8; 27];
        match fixed_width_utc(self.0, &mut buf) {
            Some(text) => s.serialize_str(text),
            None => {
                const FORMAT: &[::time::format_description::BorrowedFormatItem<'static>] = ::time::macros::format_description!(
                    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
                );
                let utc = self.0.to_offset(::time::UtcOffset::UTC);
                s.serialize_str(&utc.format(FORMAT).map_err(serde::ser::Error::custom)?)
            }
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` written straight into `buf` (years 0 to 9999); the
/// same text as the `time` format description, without interpreting one per value
/// (a list page formats two hundred of them).
fn fixed_width_utc(t: OffsetDateTime, buf: &mut [u8; 27]) -> Option<&str> {
    fn digits(out: &mut [u8], mut v: u32) {
        for slot in out.iter_mut().rev() {
            *slot = b'0' + (v % 10) as u8;
            v /= 10;
        }
    }
    let utc = t.to_offset(::time::UtcOffset::UTC);
    let year = u32::try_from(utc.year()).ok().filter(|y| *y <= 9999)?;
    digits(&mut buf[0..4], year);
    buf[4] = b'-';
    digits(&mut buf[5..7], u32::from(u8::from(utc.month())));
    buf[7] = b'-';
    digits(&mut buf[8..10], u32::from(utc.day()));
    buf[10] = b'T';
    digits(&mut buf[11..13], u32::from(utc.hour()));
    buf[13] = b':';
    digits(&mut buf[14..16], u32::from(utc.minute()));
    buf[16] = b':';
    digits(&mut buf[17..19], u32::from(utc.second()));
    buf[19] = b'.';
    digits(&mut buf[20..26], utc.microsecond());
    buf[26] = b'Z';
    std::str::from_utf8(buf).ok()
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        OffsetDateTime::parse(&raw, &Rfc3339)
            .map(|t| {
                Timestamp(hydracore_core::truncate_to_micros(
                    t.to_offset(::time::UtcOffset::UTC),
                ))
            })
            .map_err(|_| {
                serde::de::Error::invalid_value(
                    serde::de::Unexpected::Str(&raw),
                    &"an RFC 3339 date-time",
                )
            })
    }
}

impl TypedData for Timestamp {
    fn data_type() -> DataType {
        DataType::String
    }

    fn format() -> Option<DataTypeFormat> {
        Some(DataTypeFormat::DateTime)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn timestamps_are_fixed_width_utc_with_microseconds() {
        use ::time::macros::datetime;
        let cases = [
            (
                datetime!(2026-11-28 15:04:19.123456 UTC),
                "2026-11-28T15:04:19.123456Z",
            ),
            (
                datetime!(2026-11-28 17:04:19.1234567 +02:00),
                "2026-11-28T15:04:19.123456Z",
            ),
            (
                datetime!(0001-01-01 00:00:00 UTC),
                "0001-01-01T00:00:00.000000Z",
            ),
            (
                datetime!(9999-12-31 23:59:59.999999 UTC),
                "9999-12-31T23:59:59.999999Z",
            ),
        ];
        for (t, text) in cases {
            assert_eq!(serde_json::to_value(super::Timestamp(t)).unwrap(), text);
        }
        // Every second of a leap day, every microsecond digit position.
        let start = datetime!(2028-02-29 00:00:00 UTC);
        for i in 0..86_400_i64 {
            let t = start
                + ::time::Duration::seconds(i)
                + ::time::Duration::microseconds(i * 7 % 1_000_000);
            let ours = serde_json::to_value(super::Timestamp(t)).unwrap();
            let theirs = t
                .format(::time::macros::format_description!(
                    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
                ))
                .unwrap();
            assert_eq!(ours, theirs);
        }
    }
}

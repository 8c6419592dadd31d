//! Times as baton stores and encodes them, from and to the snapshot's RFC 3339.

use crate::baton;

/// `YYYY-MM-DD HH:MM:SS.fffffffff`, as baton stores times, from RFC 3339.
pub(crate) fn baton_time(rfc3339: &str) -> String {
    match humantime::parse_rfc3339_weak(rfc3339.trim_end_matches('Z')) {
        Ok(time) => {
            let text = humantime::format_rfc3339_nanos(time).to_string();
            text.trim_end_matches('Z').replacen('T', " ", 1)
        }
        Err(_) => "1970-01-01 00:00:00.000000000".into(),
    }
}

/// RFC 3339 (seconds, `Z`) from baton's stored time.
pub(crate) fn rfc3339_of(baton: &str) -> String {
    match humantime::parse_rfc3339_weak(&baton.replacen(' ', "T", 1)) {
        Ok(time) => humantime::format_rfc3339_seconds(time).to_string(),
        Err(_) => baton.to_owned(),
    }
}

/// A protobuf timestamp from RFC 3339; none for a time that does not parse or precedes 1970.
pub(crate) fn timestamp(rfc3339: &str) -> Option<baton::Timestamp> {
    let time = humantime::parse_rfc3339_weak(rfc3339.trim_end_matches('Z')).ok()?;
    let since = time.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(baton::Timestamp { seconds: since.as_secs() as i64, nanos: since.subsec_nanos() as i32 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_stored_as_baton_does() {
        assert_eq!(baton_time("2026-11-23T09:00:03Z"), "2026-11-23 09:00:03.000000000");
        assert_eq!(rfc3339_of("2026-11-23 09:00:03.000000000"), "2026-11-23T09:00:03Z");
    }
}

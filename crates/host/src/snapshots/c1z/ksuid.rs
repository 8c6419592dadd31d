//! Baton's sync ids: KSUIDs, made here from the snapshot so that the same snapshot gives the same
//! file.

use sha2::{Digest, Sha256};

use super::times::timestamp;
use crate::snapshot::Snapshot;

/// A KSUID (27 base-62 characters: 4 bytes of seconds since 2014-05-13, 16 of payload) made
/// from the snapshot: its start time, and a hash of its tenant and times as the payload.
pub fn sync_id(snapshot: &Snapshot) -> String {
    const EPOCH: u64 = 1_400_000_000;
    let seconds = timestamp(&snapshot.started_at).map_or(0, |t| t.seconds.max(0) as u64).saturating_sub(EPOCH) as u32;
    let digest = Sha256::digest(format!("{}\n{}\n{}", snapshot.tenant, snapshot.started_at, snapshot.finished_at));
    let mut bytes = [0u8; 20];
    bytes[..4].copy_from_slice(&seconds.to_be_bytes());
    bytes[4..].copy_from_slice(&digest[..16]);
    base62(&bytes)
}

/// 20 bytes as 27 base-62 digits (KSUID's alphabet), big-endian.
fn base62(bytes: &[u8; 20]) -> String {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut number: Vec<u32> = bytes.iter().map(|b| u32::from(*b)).collect();
    let mut digits = Vec::with_capacity(27);
    while number.iter().any(|d| *d != 0) {
        let mut remainder = 0u32;
        for digit in &mut number {
            let value = remainder * 256 + *digit;
            *digit = value / 62;
            remainder = value % 62;
        }
        digits.push(ALPHABET[remainder as usize]);
    }
    while digits.len() < 27 {
        digits.push(b'0');
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{ConnectorInfo, FORMAT, Stats};

    fn sample() -> Snapshot {
        Snapshot {
            format: FORMAT.into(),
            connector: ConnectorInfo { name: "example".into(), version: "0.1.0".into() },
            tenant: "default".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            finished_at: "2026-01-01T00:00:01Z".into(),
            resource_types: vec![],
            resources: vec![],
            entitlements: vec![],
            grants: vec![],
            stats: Stats::default(),
        }
    }

    #[test]
    fn sync_ids_are_ksuids_sorting_by_time() {
        let mut snapshot = sample();
        let early = sync_id(&snapshot);
        snapshot.started_at = "2027-01-01T00:00:00Z".into();
        let late = sync_id(&snapshot);
        assert_eq!(early.len(), 27);
        assert!(early.chars().all(|c| c.is_ascii_alphanumeric()));
        assert!(early < late);
        assert_eq!(base62(&[0u8; 20]), "0".repeat(27));
        assert_eq!(base62(&[255u8; 20]), "aWgEPTl1tmebfsQzFP4bxwgy80V", "the largest KSUID");
    }
}

//! Splitting one tenant file between the replicas of a StatefulSet: `--shard I/N` serves the
//! tenants whose id falls in shard I of N.
//!
//! The shard of a tenant is the 64-bit FNV-1a hash of its id's UTF-8 bytes, modulo N (offset
//! basis 0xcbf29ce484222325, prime 0x100000001b3). It depends on nothing but the id, so it is the
//! same on every replica, version and platform, and a tenant moves only when N changes. `I` may
//! be a pod name ending in its ordinal (`connector-host-2`), as a StatefulSet names its pods.

/// Which tenants this process serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// Every tenant: shard 0 of 1.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// `I/N`, where I is a number or a name ending in `-I`; 0 <= I < N.
    pub fn parse(text: &str) -> Result<Self, String> {
        let usage = || format!("--shard {text:?} is not I/N (e.g. 0/3, or a pod name with its ordinal: connector-host-0/3)");
        let (index, count) = text.rsplit_once('/').ok_or_else(usage)?;
        let ordinal = match index.rsplit_once('-') {
            Some((name, ordinal)) if !name.is_empty() => ordinal,
            Some(_) => return Err(usage()),
            None => index,
        };
        let index: u64 = ordinal.parse().map_err(|_| usage())?;
        let count: u64 = count.parse().map_err(|_| usage())?;
        if count == 0 || index >= count {
            return Err(format!("--shard {text:?}: the index must be below the count, and the count at least 1"));
        }
        Ok(Self { index, count })
    }

    /// Whether tenant `id` is this shard's.
    pub fn owns(&self, id: &str) -> bool {
        shard_of(id, self.count) == self.index
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The shard of tenant `id` among `count`.
pub fn shard_of(id: &str, count: u64) -> u64 {
    fnv1a(id.as_bytes()) % count.max(1)
}

/// 64-bit FNV-1a.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_the_documented_fnv1a() {
        // Reference values of 64-bit FNV-1a.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn shards_split_every_tenant_exactly_once() {
        let ids: Vec<String> = (0..1000).map(|n| format!("tenant-{n}")).collect();
        let shards: Vec<Shard> = (0..3).map(|i| Shard { index: i, count: 3 }).collect();
        for id in &ids {
            assert_eq!(shards.iter().filter(|s| s.owns(id)).count(), 1, "{id}");
        }
        let sizes: Vec<usize> = shards.iter().map(|s| ids.iter().filter(|id| s.owns(id)).count()).collect();
        assert!(sizes.iter().all(|n| (250..420).contains(n)), "balanced enough: {sizes:?}");
    }

    #[test]
    fn shards_parse_from_numbers_and_pod_names() {
        assert_eq!(Shard::parse("1/3"), Ok(Shard { index: 1, count: 3 }));
        assert_eq!(Shard::parse("connector-host-2/3"), Ok(Shard { index: 2, count: 3 }));
        for bad in ["3/3", "1/0", "x/2", "1", "-1/2", "pod/2"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }
}

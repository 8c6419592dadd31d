//! The compiled-component cache: a restart loads what it compiled, a folder or entry others
//! may write is not trusted, and a corrupted entry is compiled again.

use connector_host::cache::ComponentCache;

#[test]
fn a_second_load_comes_from_the_cache() {
    let engine =
        connector_host::engine::new_engine(connector_host::engine::Allocation::Pooling(connector_host::engine::PoolSize { instances: 4 }))
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = ComponentCache::new(dir.path().join("cache"));
    let (_, cached) = cache.load(&engine, connector_builtin::fivetran()).unwrap();
    assert!(!cached);
    let (_, cached) = cache.load(&engine, connector_builtin::fivetran()).unwrap();
    assert!(cached);
    assert_eq!(std::fs::read_dir(cache.dir()).unwrap().count(), 1, "one entry, no temporary file");
}

#[cfg(unix)]
#[test]
fn a_folder_others_may_write_is_neither_read_nor_written() {
    use std::os::unix::fs::PermissionsExt;
    let engine =
        connector_host::engine::new_engine(connector_host::engine::Allocation::Pooling(connector_host::engine::PoolSize { instances: 4 }))
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = ComponentCache::new(dir.path());
    let (_, cached) = cache.load(&engine, connector_builtin::fivetran()).unwrap();
    assert!(!cached);
    let entry = cache.entry(&engine, connector_builtin::fivetran());
    // An entry anyone may replace is not loaded...
    std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o666)).unwrap();
    let (_, cached) = cache.load(&engine, connector_builtin::fivetran()).unwrap();
    assert!(!cached, "a world-writable entry is not loaded");
    // ...nor is anything in a folder anyone may write: the entries go to this user's private
    // folder inside it (a Kubernetes emptyDir is 0777, a volume under fsGroup group-writable).
    std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let (_, cached) = cache.load(&engine, connector_builtin::fivetran()).unwrap();
    assert!(!cached, "the entry directly in the shared folder is not read");
    let (_, cached) = cache.load(&engine, connector_builtin::fivetran()).unwrap();
    assert!(cached, "this user's folder inside the shared one is used");
    let mine = cache.entries_dir();
    assert_eq!(mine, dir.path().join(format!("user-{}", unsafe { libc::geteuid() })));
    assert_eq!(std::fs::metadata(&mine).unwrap().permissions().mode() & 0o777, 0o700);
    // That folder made writable by others (as fsGroup's ownership change at each start would) is
    // not trusted either, nor is a symbolic link put in its place.
    std::fs::set_permissions(&mine, std::fs::Permissions::from_mode(0o770)).unwrap();
    let (_, cached) = cache.load(&engine, connector_builtin::fivetran()).unwrap();
    assert!(!cached, "a group-writable folder of entries is not read");
    std::fs::remove_dir_all(&mine).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), &mine).unwrap();
    let (_, cached) = cache.load(&engine, connector_builtin::fivetran()).unwrap();
    assert!(!cached);
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0, "nothing written through the link");
    std::fs::remove_file(&mine).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let (_, cached) = cache.load(&engine, connector_builtin::fivetran()).unwrap();
    assert!(cached, "a private folder is used again, its entry still there");
}

/// A flipped byte anywhere in the compiled code is caught before the code is loaded: loading
/// it would run broken native code.
#[test]
fn an_entry_whose_checksum_does_not_match_is_compiled_again() {
    let engine =
        connector_host::engine::new_engine(connector_host::engine::Allocation::Pooling(connector_host::engine::PoolSize { instances: 4 }))
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = ComponentCache::new(dir.path().join("cache"));
    cache.load(&engine, connector_builtin::fivetran()).unwrap();
    let entry = cache.entry(&engine, connector_builtin::fivetran());
    let mut bytes = std::fs::read(&entry).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&entry, &bytes).unwrap();
    let (_, cached) = cache.load(&engine, connector_builtin::fivetran()).unwrap();
    assert!(!cached, "the corrupted entry is not loaded");
    let (_, cached) = cache.load(&engine, connector_builtin::fivetran()).unwrap();
    assert!(cached, "the entry written again loads");
}

#[test]
fn a_corrupt_entry_is_compiled_again() {
    let engine =
        connector_host::engine::new_engine(connector_host::engine::Allocation::Pooling(connector_host::engine::PoolSize { instances: 4 }))
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = ComponentCache::new(dir.path());
    std::fs::write(cache.entry(&engine, connector_builtin::fivetran()), b"garbage").unwrap();
    let (_, cached) = cache.load(&engine, connector_builtin::fivetran()).unwrap();
    assert!(!cached);
}

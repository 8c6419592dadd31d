//! The c1z frame: the magic, then one zstd frame holding the database, unpacked under a bound
//! into a temporary file.

use std::io::Read;

use rusqlite::Connection;

use crate::error::{HostError, Result};

/// The first bytes of a c1z v1 file.
pub const MAGIC: &[u8; 5] = b"C1ZF\0";
/// The largest database a c1z file may decompress to (a bound against decompression bombs).
pub const MAX_DATABASE_BYTES: u64 = 4 << 30;

/// Whether `bytes` start as a c1z file does.
pub fn is_c1z(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// A c1z file's database, unpacked into a temporary file (removed when dropped), so that what
/// a file holds never has to fit in memory, nor be handed to SQLite as an image.
pub struct Unpacked {
    file: tempfile::NamedTempFile,
}

impl Unpacked {
    /// The database, read-only.
    pub fn open(&self) -> Result<Connection> {
        Connection::open_with_flags(
            self.file.path(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| failed("open the unpacked database of", e))
    }
}

/// Unpacks a c1z file read from `reader`: the magic; the zstd frame's declared size checked
/// before anything is decompressed; the frame streamed into a temporary file under
/// [`MAX_DATABASE_BYTES`] (frames without a declared size too). A database saved in WAL mode
/// (header bytes 18 and 19 are 2, as baton-sdk saved its files from v0.2.46 to v0.8.14, after a
/// checkpoint) is marked as the rollback-journal database it then is, which SQLite opens alone.
pub fn unpack(reader: impl Read, name: &str) -> Result<Unpacked> {
    unpack_within(reader, name, MAX_DATABASE_BYTES)
}

/// [`unpack`] with another bound than [`MAX_DATABASE_BYTES`].
pub fn unpack_within(mut reader: impl Read, name: &str, limit: u64) -> Result<Unpacked> {
    let not_c1z = |why: String| HostError::usage(format!("{name} is not a c1z file: {why}"));
    let mut head = Vec::with_capacity(64);
    (&mut reader).take(5 + 18).read_to_end(&mut head).map_err(|e| not_c1z(format!("it cannot be read ({e})")))?;
    let Some(frame_head) = head.strip_prefix(MAGIC.as_slice()) else {
        return Err(not_c1z("it does not start with C1ZF".into()));
    };
    if let Ok(Some(declared)) = zstd::zstd_safe::get_frame_content_size(frame_head)
        && declared > limit
    {
        return Err(HostError::usage(format!(
            "{name} declares a database of {declared} bytes, more than the {limit} a c1z file may hold; refused"
        )));
    }
    let frame = std::io::Cursor::new(frame_head.to_vec()).chain(reader);
    let decoder = zstd::stream::read::Decoder::new(frame).map_err(|e| not_c1z(e.to_string()))?;
    let mut file = tempfile::Builder::new()
        .prefix(".c1z-")
        .tempfile()
        .map_err(|e| HostError::other(format!("cannot make a temporary file to unpack {name} into: {e}; check TMPDIR")))?;
    let written =
        std::io::copy(&mut decoder.take(limit + 1), file.as_file_mut()).map_err(|e| not_c1z(format!("its zstd frame is damaged ({e})")))?;
    if written > limit {
        return Err(HostError::usage(format!("{name} decompresses to more than {limit} bytes; refused")));
    }
    mark_rollback_journal(file.as_file_mut()).map_err(|e| HostError::other(format!("cannot prepare the database of {name}: {e}")))?;
    Ok(Unpacked { file })
}

/// Header bytes 18 and 19 (the file format's write and read versions) 2 mean WAL mode; 1 the
/// rollback journal. Only a whole SQLite header is touched.
fn mark_rollback_journal(file: &mut std::fs::File) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    let mut header = [0u8; 20];
    file.seek(SeekFrom::Start(0))?;
    if file.read_exact(&mut header).is_err() || !header.starts_with(b"SQLite format 3\0") {
        return Ok(());
    }
    if header[18] == 2 && header[19] == 2 {
        file.seek(SeekFrom::Start(18))?;
        file.write_all(&[1, 1])?;
        file.flush()?;
    }
    Ok(())
}

/// A failure to `what` a c1z file, in one line.
pub(crate) fn failed(what: &str, error: impl std::fmt::Display) -> HostError {
    HostError::other(format!("cannot {what} the c1z file: {error}"))
}

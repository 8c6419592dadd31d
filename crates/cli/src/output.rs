//! The command's results on standard output, and its messages on standard error, written so that
//! a closed pipe never panics.
//!
//! A reader that stops early (`connector-host diff a b | head`) is not a failure: printing stops
//! and the command ends with the status its work earned (a failed tenant of `sync-all` still
//! exits non-zero). Any other failure to write the results (a full disk behind a redirect) is
//! reported once, as status 1 when nothing else failed.

use std::fmt;
use std::io::{ErrorKind, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use connector_host::credentials::Redactor;

/// The reader went away: nothing more is written.
static CLOSED: AtomicBool = AtomicBool::new(false);
/// The first write failure other than a closed reader.
static FAILURE: Mutex<Option<String>> = Mutex::new(None);
/// The command's redactor: every tenant's credentials, learned as the command resolves them
/// (`Connectors::tenant`). It lives beside standard output because it guards what reaches it;
/// standard output and error are one per process, and so is this.
static REDACTOR: std::sync::LazyLock<Redactor> = std::sync::LazyLock::new(Redactor::default);

/// What the command prints, logs and (serving) answers is redacted by.
pub fn redactor() -> &'static Redactor {
    &REDACTOR
}

/// Writes `text` to standard output, with every credential the process knows redacted: the
/// last check on what leaves it, whatever an API echoed into the text.
pub fn out(text: &[u8]) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let text = String::from_utf8_lossy(text);
    let text = redactor().redact(&text);
    let text = text.as_bytes();
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout.write_all(text).and_then(|()| stdout.flush()) {
        CLOSED.store(true, Ordering::Relaxed);
        if error.kind() != ErrorKind::BrokenPipe {
            let mut failure = FAILURE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            failure.get_or_insert_with(|| format!("cannot write the results to standard output: {error}; check where it is redirected"));
        }
    }
}

/// Writes one formatted line to standard output.
pub fn line(args: fmt::Arguments<'_>) {
    out(format!("{args}\n").as_bytes());
}

/// Writes one line to standard error, credentials redacted; a closed standard error is ignored.
pub fn err_line(args: fmt::Arguments<'_>) {
    let line = args.to_string();
    let _ = writeln!(std::io::stderr().lock(), "{}", redactor().redact(&line));
}

/// Why the results could not all be written, if that happened for a reason other than the
/// reader closing its end.
pub fn failure() -> Option<String> {
    FAILURE.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take()
}

/// `println!` for results.
macro_rules! outln {
    ($($arg:tt)*) => { $crate::output::line(format_args!($($arg)*)) };
}

/// `eprintln!` that never panics.
macro_rules! errln {
    ($($arg:tt)*) => { $crate::output::err_line(format_args!($($arg)*)) };
}

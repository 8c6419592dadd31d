//! The log: warnings by default, requests with --verbose, errors only with --quiet; a service
//! logs what it synced, with times.

use crate::Global;

/// Starts the log for the command (`serving`: the service).
pub fn init_logging(global: &Global, serving: bool) {
    // Progress is shown by the progress display; the log carries warnings, and requests with
    // --verbose.
    let default = if global.quiet {
        "error"
    } else if global.verbose {
        "warn,connector_host=debug,connector_service=debug"
    } else if serving {
        // A service's log is its record: what it synced, when, and what failed.
        "warn,connector_service=info"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let log = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(crate::progress_display::LogWriter::default)
        .with_ansi(ansi)
        .with_target(false);
    if serving {
        log.init();
    } else {
        log.without_time().init();
    }
}

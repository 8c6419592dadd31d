//! SIGINT and SIGTERM during a command: files being written are removed, so that an interrupted
//! run leaves the earlier files and nothing beside them.

/// On SIGINT or SIGTERM: removes the temporary file of a snapshot being written, so that an
/// interrupted run leaves the old file and nothing beside it, then exits with 130 or 143.
pub async fn clean_up_on_signal() {
    #[cfg(unix)]
    let terminated = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => signal.recv().await,
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminated = std::future::pending::<Option<()>>();
    let interrupted = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let status = tokio::select! {
        () = interrupted => 130,
        _ = terminated => 143,
    };
    connector_host::files::remove_temporaries();
    errln!("connector-host: interrupted; files being written were removed, earlier ones are as they were");
    std::process::exit(status);
}

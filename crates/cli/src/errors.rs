//! How the command reports failure: one line on stderr, the exit status of the error's kind, and
//! the setting that would get past it worded as this command's flag or tenant key.

use std::process::ExitCode;

use connector_host::{ErrorKind, HostError};

/// Help and version as clap prints them; a wrong command line as one error line (exit 2) with
/// clap's tip and the command's usage folded into it.
pub fn usage_error(error: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(error.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand) {
        let _ = error.print();
        return ExitCode::from(if error.use_stderr() { 2 } else { 0 });
    }
    let text = error.render().to_string();
    let mut lines = text.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with("For more information"));
    let mut message = lines.next().unwrap_or("invalid command line").trim_start_matches("error: ").to_owned();
    for line in lines {
        if let Some(tip) = line.strip_prefix("tip: ") {
            message.push_str(&format!("; {tip}"));
        } else if let Some(usage) = line.strip_prefix("Usage: ") {
            message.push_str(&format!("; usage: {usage}"));
        } else {
            // The arguments a "not provided" or "cannot be used with" message lists.
            message.push_str(&format!(" {line}"));
        }
    }
    fail(&HostError::usage(message))
}

/// Prints `error` as the command's one error line and gives its exit status.
pub fn fail(error: &HostError) -> ExitCode {
    errln!("connector-host: error: {}", worded(error));
    ExitCode::from(exit_status(error))
}

/// The exit status of a failure of this kind (`docs/contract.md` section 3). The command line's
/// choice: the library gives kinds, a service answers them with HTTP statuses instead.
pub fn exit_status(error: &HostError) -> u8 {
    match error.kind() {
        ErrorKind::Usage | ErrorKind::InvalidArgument | ErrorKind::NotFound => 2,
        ErrorKind::Credentials => 3,
        ErrorKind::Api => 4,
        ErrorKind::Sandbox => 5,
        _ => 1,
    }
}

/// The failure a command over many parts reports: the one with the highest exit status.
pub fn worst<'a>(errors: impl IntoIterator<Item = &'a HostError>) -> Option<&'a HostError> {
    errors.into_iter().max_by_key(|error| exit_status(error))
}

/// An error in the command's words: the library names the setting that would get past it, the
/// command says where that setting is.
pub fn worded(error: &HostError) -> String {
    let fix = match error.setting() {
        None => return error.to_string(),
        Some("base_url") => "check --base-url (tenant key base_url)".to_owned(),
        Some("allow_private_network") => {
            "pass --allow-private-network (tenant key allow_private_network = true) only for a local fake or proxy".to_owned()
        }
        Some(setting) => format!("raise {setting} in the tenant file if that is expected"),
    };
    format!("{error}; {fix}")
}

//! Showing sync progress on stderr: live bars on a terminal (one per tenant), plain lines
//! otherwise, nothing with `--quiet`.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use connector_host::progress::{Phase, SyncProgress};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Bars,
    Lines,
    Silent,
}

impl Mode {
    pub fn detect(quiet: bool) -> Self {
        if quiet {
            Mode::Silent
        } else if std::io::stderr().is_terminal() {
            Mode::Bars
        } else {
            Mode::Lines
        }
    }
}

/// The bars on screen, if any: log lines are written around them, not through them.
static BARS: std::sync::Mutex<Option<MultiProgress>> = std::sync::Mutex::new(None);

fn bars_on_screen() -> Option<MultiProgress> {
    BARS.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
}

/// The log's writer: one event's text, written to stderr in one piece when the event ends, with
/// the bars cleared around it so that a `-v` line never lands inside a bar being redrawn.
#[derive(Default)]
pub struct LogWriter(Vec<u8>);

impl std::io::Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        let text = std::mem::take(&mut self.0);
        // The last check on what the log shows: whatever an API echoed, no credential.
        let text = String::from_utf8_lossy(&text);
        let text = crate::output::redactor().redact(&text).into_owned().into_bytes();
        let write = || {
            let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), &text);
        };
        match bars_on_screen() {
            Some(multi) => multi.suspend(write),
            None => write(),
        }
    }
}

/// Refreshes until dropped.
pub struct Display {
    task: Option<tokio::task::JoinHandle<()>>,
    bars: Vec<ProgressBar>,
    /// In line mode, each tenant's last state is printed when the display ends, unless it was
    /// the last line printed for it.
    finals: Vec<(String, Arc<SyncProgress>)>,
    /// The last line printed for each tenant; none once the display has ended, so that a line
    /// mode task that has not yet seen its abort prints nothing more.
    printed: Arc<std::sync::Mutex<Option<Vec<String>>>>,
}

/// How often bars refresh, and how often a plain line repeats an unchanged phase.
const TICK: Duration = Duration::from_millis(120);
const LINE_EVERY: Duration = Duration::from_secs(10);

impl Display {
    pub fn start(mode: Mode, tenants: Vec<(String, Arc<SyncProgress>)>) -> Self {
        match mode {
            Mode::Silent => Self { task: None, bars: Vec::new(), finals: Vec::new(), printed: Arc::default() },
            Mode::Bars => {
                let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
                *BARS.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(multi.clone());
                let width = tenants.iter().map(|(id, _)| id.len()).max().unwrap_or(0);
                let style = ProgressStyle::with_template("{spinner} {prefix} {wide_msg} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner());
                let bars: Vec<ProgressBar> = tenants
                    .iter()
                    .map(|(id, _)| {
                        let bar = multi.add(ProgressBar::new_spinner().with_style(style.clone()));
                        bar.set_prefix(format!("{id:<width$}"));
                        bar
                    })
                    .collect();
                let shown = bars.clone();
                let task = tokio::spawn(async move {
                    loop {
                        for (bar, (_, progress)) in shown.iter().zip(&tenants) {
                            bar.set_message(progress.view().compact_line());
                            bar.tick();
                        }
                        tokio::time::sleep(TICK).await;
                    }
                });
                Self { task: Some(task), bars, finals: Vec::new(), printed: Arc::default() }
            }
            Mode::Lines => {
                let finals = tenants.clone();
                let printed = Arc::new(std::sync::Mutex::new(Some(vec![String::new(); tenants.len()])));
                let shown = Arc::clone(&printed);
                let task = tokio::spawn(async move {
                    let mut last: Vec<Option<(Phase, std::time::Instant)>> = vec![None; tenants.len()];
                    loop {
                        for (i, ((id, progress), last)) in tenants.iter().zip(last.iter_mut()).enumerate() {
                            let view = progress.view();
                            let due = match last {
                                Some((phase, at)) => *phase != view.phase || at.elapsed() >= LINE_EVERY,
                                None => true,
                            };
                            if due && view.phase != Phase::Starting {
                                let line = view.line();
                                let mut shown = shown.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                                let Some(shown) = shown.as_mut() else { return };
                                errln!("{id}: {line}");
                                shown[i] = line;
                                *last = Some((view.phase, std::time::Instant::now()));
                            }
                        }
                        tokio::time::sleep(TICK).await;
                    }
                });
                Self { task: Some(task), bars: Vec::new(), finals, printed }
            }
        }
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        for bar in &self.bars {
            bar.finish_and_clear();
        }
        BARS.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        let printed = self.printed.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take().unwrap_or_default();
        for (i, (id, progress)) in self.finals.iter().enumerate() {
            let line = progress.view().line();
            if printed.get(i) != Some(&line) {
                errln!("{id}: {line}");
            }
        }
    }
}

//! The fake Fivetran in a process of its own (this binary, re-run as `serve-fake`), so that its
//! CPU time and memory are not counted as the host's.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use connector_fake_fivetran::oracle::minimum_requests;
use connector_fake_fivetran::{AccountSpec, FakeFivetran, generate};
use serde_json::{Value, json};

/// What the parent needs to sync from the fake.
pub struct FakeProcess {
    child: Child,
    _stdin: ChildStdin,
    pub base_url: String,
    pub key: String,
    pub secret: String,
    pub minimum_requests: u64,
    pub grants: u64,
}

impl FakeProcess {
    pub fn spawn(spec: &AccountSpec, latency: Duration) -> Result<Self> {
        let exe = std::env::current_exe().context("cannot find this program to run the fake")?;
        let mut child = Command::new(exe)
            .args(["serve-fake", &spec.seed.to_string(), &spec.users.to_string(), &spec.teams.to_string()])
            .args([spec.groups.to_string(), latency.as_millis().to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("cannot start the fake")?;
        let stdin = child.stdin.take().context("no stdin")?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("no stdout")?).read_line(&mut line)?;
        let ready: Value = serde_json::from_str(&line).with_context(|| format!("the fake said {line:?}"))?;
        let text = |k: &str| ready[k].as_str().map(str::to_owned).context("missing field");
        Ok(Self {
            base_url: text("base_url")?,
            key: text("key")?,
            secret: text("secret")?,
            minimum_requests: ready["minimum_requests"].as_u64().unwrap_or(0),
            grants: ready["grants"].as_u64().unwrap_or(0),
            child,
            _stdin: stdin,
        })
    }
}

impl Drop for FakeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `serve-fake SEED USERS TEAMS GROUPS LATENCY_MS`: serves until stdin closes.
pub fn serve(args: &[String]) -> Result<()> {
    let number = |i: usize| -> Result<u64> { args.get(i).context("missing argument")?.parse().context("not a number") };
    let mut spec = AccountSpec::sized(number(0)?, number(1)? as usize, number(2)? as usize, number(3)? as usize);
    spec.max_team_members = 30;
    let latency = Duration::from_millis(number(4)?);
    let account = generate(&spec);
    if account.users.is_empty() {
        bail!("an account needs a user");
    }
    let ready = json!({
        "base_url": "",
        "key": account.primary_key().key,
        "secret": account.primary_key().secret,
        "minimum_requests": minimum_requests(&account),
        "grants": connector_fake_fivetran::oracle::expected_grants(&account).len(),
    });
    let fake = FakeFivetran::start(account)?;
    fake.set_latency(latency);
    let mut ready = ready;
    ready["base_url"] = json!(fake.base_url());
    let mut out = std::io::stdout();
    writeln!(out, "{ready}")?;
    out.flush()?;
    // Serve until the parent goes away.
    let mut sink = String::new();
    while std::io::stdin().read_line(&mut sink)? > 0 {}
    Ok(())
}

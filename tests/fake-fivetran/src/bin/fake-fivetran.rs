//! Runs the fake Fivetran on loopback with a generated account until interrupted.
//!
//! `fake-fivetran [--port N] [--seed N] [--users N] [--teams N] [--groups N]`

use connector_fake_fivetran::{AccountSpec, FakeFivetran, generate};

fn main() {
    if let Err(message) = run() {
        eprintln!("fake-fivetran: {message}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let mut spec = AccountSpec::sample();
    let mut port = 0u16;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            println!("usage: fake-fivetran [--port N] [--seed N] [--users N] [--teams N] [--groups N]");
            return Ok(());
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value; see --help"))?;
        let number = |v: &str| v.parse::<u64>().map_err(|_| format!("{flag} takes a number, not {v:?}"));
        match flag.as_str() {
            "--port" => port = u16::try_from(number(&value)?).map_err(|_| "--port is at most 65535".to_owned())?,
            "--seed" => spec.seed = number(&value)?,
            "--users" => spec.users = number(&value)? as usize,
            "--teams" => spec.teams = number(&value)? as usize,
            "--groups" => spec.groups = number(&value)? as usize,
            other => return Err(format!("unknown flag {other}; see --help")),
        }
    }
    if spec.users == 0 {
        return Err("--users must be at least 1 (the API key belongs to a user)".into());
    }
    let account = generate(&spec);
    let key = account.primary_key().clone();
    let fake = FakeFivetran::start_on(([127, 0, 0, 1], port).into(), account).map_err(|e| format!("cannot listen: {e}"))?;
    println!("fake Fivetran listening on {}", fake.base_url());
    println!("export FIVETRAN_API_KEY={} FIVETRAN_API_SECRET={}", key.key, key.secret);
    println!("connector-host sync --base-url {} --allow-private-network --out snapshot.json", fake.base_url());
    loop {
        std::thread::park();
    }
}

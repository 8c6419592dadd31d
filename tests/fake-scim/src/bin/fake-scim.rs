//! Runs the fake SCIM service on loopback with a sample directory until interrupted.
//!
//! `fake-scim [--users N] [--groups N] [--fivetran]`

use connector_fake_scim::{Directory, FakeScim, Flavor};

/// The token the fake accepts; printed for the operator to export.
const TOKEN: &str = "fake-scim-token-0001";

fn main() {
    if let Err(message) = run() {
        eprintln!("fake-scim: {message}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let (mut users, mut groups, mut flavor) = (40usize, 6usize, Flavor::Generic);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--help" | "-h" => {
                println!("usage: fake-scim [--users N] [--groups N] [--fivetran]");
                return Ok(());
            }
            "--fivetran" => flavor = Flavor::Fivetran,
            "--users" | "--groups" => {
                let value = args.next().ok_or_else(|| format!("{flag} needs a value; see --help"))?;
                let number = value.parse::<usize>().map_err(|_| format!("{flag} takes a number, not {value:?}"))?;
                if flag == "--users" { users = number } else { groups = number }
            }
            other => return Err(format!("unknown flag {other}; see --help")),
        }
    }
    let fake = FakeScim::start(Directory::sample(users, groups, flavor), TOKEN).map_err(|e| format!("cannot listen: {e}"))?;
    println!("fake SCIM service listening on {}", fake.base_url());
    println!("export SCIM_TOKEN={TOKEN}");
    println!("connector-host sync --connector scim --base-url {} --allow-private-network --out scim.json", fake.base_url());
    loop {
        std::thread::park();
    }
}

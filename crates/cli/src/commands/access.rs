//! `access`: who can reach what in a snapshot, and by which path. Needs no connector.

use std::path::PathBuf;

use connector_host::HostError;
use connector_host::access::{AccessIndex, Question};

use super::print_json;

/// `access`'s arguments.
#[derive(clap::Args)]
#[command(
    group(clap::ArgGroup::new("question").required(true).args(["principal", "resource", "entitlement"])),
    after_help = "The snapshot may be JSON or c1z. Access passed on by teams and groups (expandable grants) is followed to its end, cycles included; each answer shows its path. Exits 2 when the file is not a snapshot or the principal, resource or entitlement is not in it.\n\nExamples:\n  connector-host access snapshot.json --principal user:brisk_ember_b6c1d\n  connector-host access snapshot.json --principal ann@example.com --json\n  connector-host access snapshot.c1z --resource group:brisk_ember_868af\n  connector-host access snapshot.json --entitlement team:T1:member"
)]
pub struct Access {
    /// The snapshot to read (JSON or c1z).
    snapshot: PathBuf,
    /// What this principal can reach: TYPE:ID (user:ID, team:ID) or a user's email.
    #[arg(long, value_name = "PRINCIPAL")]
    principal: Option<String>,
    /// Who can reach this resource: TYPE:ID (group:ID, team:ID, role:ID).
    #[arg(long, value_name = "TYPE:ID")]
    resource: Option<String>,
    /// Who holds this entitlement, directly or passed on.
    #[arg(long, value_name = "ENTITLEMENT")]
    entitlement: Option<String>,
    /// Print JSON for scripts instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Access) -> Result<(), HostError> {
    let snapshot = connector_host::format::read(&args.snapshot)?;
    let index = AccessIndex::new(&snapshot);
    // The flags' group lets exactly one through.
    let question = Question::one_of(args.principal, args.resource, args.entitlement)
        .ok_or_else(|| HostError::usage("ask one of --principal, --resource or --entitlement"))?;
    let answer = index.answer(&question)?;
    if args.json {
        print_json(&answer);
        return Ok(());
    }
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    let via = |v: &serde_json::Value| path(&v.as_array().into_iter().flatten().map(text).collect::<Vec<_>>());
    let mut table = String::new();
    if let Some(access) = answer["access"].as_array() {
        let principal = text(&answer["principal"]);
        table.push_str(&format!(
            "{principal} ({}) reaches {} entitlement(s)\n",
            index.display_name(&principal).unwrap_or("?"),
            access.len()
        ));
        let rows: Vec<[String; 3]> = access.iter().map(|r| [text(&r["entitlement"]), text(&r["resource"]), via(&r["via"])]).collect();
        table.push_str(&columns(["ENTITLEMENT", "RESOURCE", "HOW"], &rows));
    } else {
        let holders = answer["principals"].as_array().cloned().unwrap_or_default();
        let asked = if answer["resource"].is_string() { text(&answer["resource"]) } else { text(&answer["entitlement"]) };
        table.push_str(&format!("{} holding(s) reach {asked}, direct or passed on\n", holders.len()));
        let rows: Vec<[String; 3]> = holders.iter().map(|h| [text(&h["principal"]), text(&h["entitlement"]), via(&h["via"])]).collect();
        table.push_str(&columns(["PRINCIPAL", "ENTITLEMENT", "HOW"], &rows));
    }
    crate::output::out(table.as_bytes());
    Ok(())
}

/// How an entitlement is reached, for people: `direct`, or `through team:T:member → ...`.
fn path(via: &[String]) -> String {
    if via.is_empty() { "direct".to_owned() } else { format!("through {}", via.join(" → ")) }
}

/// Rows in aligned columns under a header; the last column is not padded.
fn columns(header: [&str; 3], rows: &[[String; 3]]) -> String {
    let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).chain([header[i].len()]).max().unwrap_or(0);
    let (first, second) = (width(0), width(1));
    let mut text = format!("{:first$}  {:second$}  {}\n", header[0], header[1], header[2]);
    for row in rows {
        text.push_str(&format!("{:first$}  {:second$}  {}\n", row[0], row[1], connector_host::text::escape_controls(&row[2])));
    }
    text
}

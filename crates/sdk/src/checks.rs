//! Checks of what a person gives a change (an email, a name, a phone number), shared by every
//! connector so that each refuses the same input with the same words before anything is sent.

use crate::model::{ConnectorError, NewAccount, Result};

fn invalid(message: String) -> ConnectorError {
    ConnectorError::InvalidArgument(message)
}

/// A plausible email: one `@`, something on each side, a dot in the domain, no blanks.
pub fn check_email(email: &str) -> Result<()> {
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
        });
    if valid { Ok(()) } else { Err(invalid(format!("email {email:?} is not a valid address, e.g. ann@example.com"))) }
}

/// A person's given or family name (`what` says which): not blank, at most 255 characters, no
/// control characters.
pub fn check_person_name(value: &str, what: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(invalid(format!("{what} is empty; give the user's name")));
    }
    if value.chars().count() > 255 || value.chars().any(char::is_control) {
        return Err(invalid(format!("{what} {value:?} is too long or holds control characters")));
    }
    Ok(())
}

/// A resource's name (`what`, e.g. "team name"): not blank, at most 255 characters, no control
/// characters.
pub fn check_resource_name(name: &str, what: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(invalid(format!("{what} is empty; give it a name")));
    }
    if name.chars().count() > 255 || name.chars().any(char::is_control) {
        return Err(invalid(format!("{what} {name:?} is too long (over 255 characters) or holds control characters")));
    }
    Ok(())
}

/// What a new account gives: its email (trimmed), given and family name, and phone if any.
pub fn check_new_account(account: &NewAccount) -> Result<()> {
    check_email(account.email.trim())?;
    check_person_name(&account.given_name, "given name")?;
    check_person_name(&account.family_name, "family name")?;
    match &account.phone {
        Some(phone) => check_phone(phone),
        None => Ok(()),
    }
}

/// A phone number: digits with `+ - ( ) .` and blanks, 4 to 20 digits.
pub fn check_phone(phone: &str) -> Result<()> {
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    let allowed = phone.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if allowed && (4..=20).contains(&digits) {
        Ok(())
    } else {
        Err(invalid(format!("phone {phone:?} is not a phone number, e.g. +15551234567")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked() {
        for good in ["ann@example.com", "a.b+c@sub.example.co.uk", "o\"neil\\x@example.test"] {
            assert!(check_email(good).is_ok(), "{good}");
        }
        for bad in ["", "ann", "ann@", "@example.com", "ann@example", "a b@example.com", "a@b@c.com", "ann@.com", "ann@example..com"] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_new_account_is_checked_whole_and_its_email_trimmed() {
        let account = |email: &str, phone: Option<&str>| NewAccount {
            email: email.into(),
            given_name: "Ann".into(),
            family_name: "Lee".into(),
            account_role: None,
            phone: phone.map(Into::into),
        };
        assert!(check_new_account(&account(" ann@example.com ", None)).is_ok());
        assert!(check_new_account(&account("ann@example.com", Some("call me"))).is_err());
        assert!(check_new_account(&account("ann", None)).is_err());
    }

    #[test]
    fn names_and_phones_are_checked() {
        assert!(check_person_name("  ", "given name").is_err());
        assert!(check_person_name("Zoë", "given name").is_ok());
        assert!(check_resource_name("Ops\u{7}", "team name").is_err());
        assert!(check_resource_name(&"x".repeat(256), "team name").is_err());
        assert!(check_phone("+1 (555) 123-4567").is_ok());
        assert!(check_phone("call me").is_err());
        assert!(check_phone("+1").is_err());
    }
}

//! A change is done when the service's state, read back, shows it done: not when a request was
//! answered 200. A change is tried in the forms services accept, the most precise first (a PATCH
//! with a value-filtered path, then the form other clients send, then a PUT of the resource as
//! read), each form only after the one before it was refused as a path the service cannot
//! follow or was accepted without effect; the first form whose effect the state read back shows
//! ends it.

use serde_json::{Map, Value};

use crate::client::{Client, cannot_follow, check};
use crate::discovery::Discovery;
use crate::model::Result;
use crate::schema::Kind;
use crate::transport::Transport;

/// One way to send a change.
pub enum Form<'e> {
    Patch(Vec<Value>),
    /// PUT of the resource as read, edited by this.
    Put(Box<dyn FnOnce(&mut Map<String, Value>) + 'e>),
}

impl Form<'_> {
    fn is_put(&self) -> bool {
        matches!(self, Form::Put(_))
    }
}

/// The forms for a change that PATCH `operations` make and `edit` makes on the whole resource.
pub fn patch_or_put<'e>(operations: Vec<Value>, edit: impl FnOnce(&mut Map<String, Value>) + 'e) -> Vec<Form<'e>> {
    vec![Form::Patch(operations), Form::Put(Box::new(edit))]
}

/// What the forms tried came to.
#[derive(Debug)]
pub enum Applied {
    /// The state read back shows the change: the resource as read.
    Done(Value),
    /// Every form was answered without the state showing the change. `only_put` when the only
    /// form the service accepted was a PUT (it refused or does not support PATCH); `after` is the
    /// resource as last read; `tried` the requests it accepted.
    NotApplied { only_put: bool, after: Value, tried: Vec<String> },
}

impl<T: Transport> Client<'_, T> {
    /// Sends the forms in turn (PATCH forms only where the service supports PATCH) until the
    /// resource at `path`, read back, passes `done`. `current` is the resource as read before.
    pub fn apply(
        &self,
        discovery: &Discovery,
        kind: Kind,
        path: &str,
        current: &Value,
        forms: Vec<Form<'_>>,
        done: impl Fn(&Value) -> Result<bool>,
    ) -> Result<Applied> {
        let mut tried = Vec::new();
        let mut only_put = true;
        let mut last: Option<Value> = None;
        let mut refusal = None;
        for form in forms.into_iter().filter(|f| discovery.patch || f.is_put()) {
            let by_put = form.is_put();
            let (endpoint, response) = match form {
                Form::Patch(operations) => self.patch(path, operations)?,
                Form::Put(edit) => {
                    let body = self.whole(discovery, kind, current, edit);
                    self.send("PUT", path.to_owned(), Some(&body))?
                }
            };
            if cannot_follow(&response) {
                refusal = Some(check(&endpoint, &response).expect_err("a refusal is not a success"));
                continue;
            }
            check(&endpoint, &response)?;
            tried.push(endpoint);
            only_put &= by_put;
            let after = self.get(path.to_owned())?;
            if done(&after)? {
                return Ok(Applied::Done(after));
            }
            last = Some(after);
        }
        match (last, refusal) {
            (Some(after), _) => Ok(Applied::NotApplied { only_put, after, tried }),
            // Every form refused: the service's own words.
            (None, Some(refusal)) => Err(refusal),
            (None, None) => Err(crate::model::ConnectorError::Internal("a change with no form to send".into())),
        }
    }
}

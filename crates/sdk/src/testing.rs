//! Test support: a transport answering from a queue of canned responses.

use std::cell::RefCell;
use std::collections::VecDeque;

use crate::transport::{ApiRequest, ApiResponse, Transport, TransportError};

/// Answers requests from a queue and records them as `METHOD URL [BODY]`.
#[derive(Default)]
pub struct Canned {
    pub answers: RefCell<VecDeque<(u16, &'static str)>>,
    pub seen: RefCell<Vec<String>>,
}

impl Canned {
    pub fn new(answers: &[(u16, &'static str)]) -> Self {
        Self { answers: RefCell::new(answers.iter().copied().collect()), seen: RefCell::default() }
    }
}

impl Transport for Canned {
    fn send(&self, base_url: &str, request: &ApiRequest) -> Result<ApiResponse, TransportError> {
        let body = request.body.as_ref().map(|b| format!(" {}", String::from_utf8_lossy(b))).unwrap_or_default();
        self.seen.borrow_mut().push(format!("{} {base_url}{}{body}", request.method, request.path));
        let (status, body) = self.answers.borrow_mut().pop_front().ok_or(TransportError::Failed("no answer".into()))?;
        Ok(ApiResponse { status, retry_after: None, body: body.as_bytes().to_vec() })
    }
}

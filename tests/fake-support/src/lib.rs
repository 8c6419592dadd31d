//! What the fake APIs of the tests (`tests/fake-fivetran`, `tests/fake-scim`) share: a server thread with its
//! own runtime that stops when dropped, a request's query read as a server reads it, and its
//! headers recorded without the credentials.

use std::collections::BTreeMap;
use std::future::Future;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

/// A server running on a thread of its own with its own runtime, so that a test or the host's
/// demo can start it from any context; dropping it stops the server and joins the thread.
pub struct ServerThread {
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ServerThread {
    /// Runs `serve` (given the signal that it should stop) on a new thread called `name`.
    pub fn spawn<F, Fut>(name: &str, serve: F) -> std::io::Result<Self>
    where
        F: FnOnce(oneshot::Receiver<()>) -> Fut + Send + 'static,
        Fut: Future<Output = ()>,
    {
        let (shutdown, stopped) = oneshot::channel();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let thread = std::thread::Builder::new().name(name.to_owned()).spawn(move || runtime.block_on(serve(stopped)))?;
        Ok(Self { shutdown: Some(shutdown), thread: Some(thread) })
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The next connection, or none once `stopped` fires.
pub async fn accept(listener: &tokio::net::TcpListener, stopped: &mut oneshot::Receiver<()>) -> Option<tokio::net::TcpStream> {
    loop {
        tokio::select! {
            _ = &mut *stopped => return None,
            accepted = listener.accept() => if let Ok((stream, _)) = accepted { return Some(stream) },
        }
    }
}

/// A query string's pairs, percent-decoded (`+` as a blank); a key without `=` has an empty value.
pub fn parse_query(query: Option<&str>) -> BTreeMap<String, String> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

/// `%XX` escapes decoded and `+` read as a blank; a `%` not followed by two hex digits is kept.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()))
            .flatten();
        match (escaped, bytes[i]) {
            (Some(byte), _) => {
                out.push(byte);
                i += 3;
                continue;
            }
            (None, b'+') => out.push(b' '),
            (None, byte) => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A request's headers, names in lower case, without `Authorization` (never kept).
pub fn recorded_headers(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| **name != http::header::AUTHORIZATION)
        .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_decode_as_servers_read_them() {
        let query = parse_query(Some("filter=userName%20eq%20%22a%2Bb%22&count=10&flag&x=a+b&bad=%zz%4"));
        assert_eq!(query["filter"], "userName eq \"a+b\"");
        assert_eq!(query["count"], "10");
        assert_eq!(query["flag"], "");
        assert_eq!(query["x"], "a b");
        assert_eq!(query["bad"], "%zz%4");
        assert_eq!(percent_decode("%C3%A9"), "é");
    }

    #[test]
    fn authorization_is_never_recorded() {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, "Bearer secret".parse().unwrap());
        headers.insert(http::header::ACCEPT, "application/json".parse().unwrap());
        assert_eq!(recorded_headers(&headers), [("accept".to_owned(), "application/json".to_owned())]);
    }
}

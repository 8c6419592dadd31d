//! Sending one checked request: the connection goes to an address the egress policy checked,
//! so a second DNS answer cannot swap it, and the answer is bounded in time and size.
//!
//! A run keeps its connections open between requests ([`crate::connections::ConnectionPool`],
//! shared by the run's workers).

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::client::conn::http1::SendRequest;
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody};

use crate::egress::Origin;
use crate::meter::RequestMeter;

/// The answer, and a future the runtime polls until the exchange is done (the connection itself
/// runs as a task of its own, as it may serve later requests).
pub(crate) type Sent = (Response<WasiBody>, Pin<Box<dyn Future<Output = Result<(), HttpError>> + Send>>);

fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    Arc::clone(CONFIG.get_or_init(|| {
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.into() };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    }))
}

/// Sends `request` over an idle connection of the run to one of `addresses`, or over a new one
/// to the first that accepts, speaking TLS for `https` with `origin`'s host as server name. `options` holds
/// the capped timeouts; the response body fails past `max_body` bytes.
pub(crate) async fn send(
    mut request: Request<WasiBody>,
    origin: &Origin,
    addresses: &[IpAddr],
    options: RequestOptions,
    max_body: u64,
    meter: Arc<RequestMeter>,
) -> Result<Sent, HttpError> {
    let connect_timeout = options.connect_timeout.unwrap_or(Duration::from_secs(10));
    let first_byte_timeout = options.first_byte_timeout.unwrap_or(Duration::from_secs(60));
    let between_bytes_timeout = options.between_bytes_timeout.unwrap_or(Duration::from_secs(30));

    let path = request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/").to_owned();
    let endpoint = format!("{} {}", request.method(), request.uri().path());
    *request.uri_mut() = Uri::builder().path_and_query(path).build().map_err(|_| HttpError::HttpRequestUriInvalid)?;
    let bounded = |response: Response<hyper::body::Incoming>, meter: Arc<RequestMeter>| {
        response.map(|incoming| {
            let limit = BodyLimit { bytes: max_body, endpoint: endpoint.clone(), meter };
            BoundedBody::new(incoming, limit, between_bytes_timeout).boxed_unsync()
        })
    };

    if let Some((mut sender, address)) = meter.connections.take(origin, addresses) {
        match tokio::time::timeout(first_byte_timeout, sender.try_send_request(request)).await {
            Ok(Ok(response)) => {
                keep_when_done(sender, origin, address, &meter);
                return Ok((bounded(response, meter), Box::pin(async { Ok(()) })));
            }
            // The server closed it while it sat idle, before the request went out: a new one.
            Ok(Err(mut failed)) => match failed.take_message() {
                Some(unsent) => request = unsent,
                None => return Err(hyper_failure(failed.into_error())),
            },
            Err(_) => return Err(HttpError::HttpResponseTimeout),
        }
    }

    let (tcp, address) = connect_any(addresses, origin.port, connect_timeout).await?;
    let _ = tcp.set_nodelay(true);
    let (response, sender) = if origin.is_https() {
        let name = rustls::pki_types::ServerName::try_from(origin.host.clone()).map_err(|_| HttpError::TlsCertificateError)?;
        let connector = tokio_rustls::TlsConnector::from(tls_config());
        let tls = match tokio::time::timeout(connect_timeout, connector.connect(name, tcp)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(error)) => return Err(tls_failure(error)),
            Err(_) => return Err(HttpError::ConnectionTimeout),
        };
        exchange(TokioIo::new(tls), request, connect_timeout, first_byte_timeout).await?
    } else {
        exchange(TokioIo::new(tcp), request, connect_timeout, first_byte_timeout).await?
    };
    keep_when_done(sender, origin, address, &meter);
    Ok((bounded(response, meter), Box::pin(async { Ok(()) })))
}

/// A connection to the first of `addresses` that accepts one, tried in order within
/// `connect_timeout` in all: each attempt gets an equal share of the time left, so an address
/// that drops packets cannot use up the others' time. The last failure if none accepts.
async fn connect_any(addresses: &[IpAddr], port: u16, connect_timeout: Duration) -> Result<(TcpStream, SocketAddr), HttpError> {
    let deadline = tokio::time::Instant::now() + connect_timeout;
    let mut failure = HttpError::HttpRequestDenied;
    for (tried, ip) in addresses.iter().enumerate() {
        let address = SocketAddr::new(*ip, port);
        let left = addresses.len() - tried;
        let share = deadline.saturating_duration_since(tokio::time::Instant::now()) / left as u32;
        match tokio::time::timeout(share, TcpStream::connect(address)).await {
            Ok(Ok(tcp)) => return Ok((tcp, address)),
            Ok(Err(error)) => {
                tracing::debug!("cannot connect to {address}: {error}");
                failure = connect_failure(error);
            }
            Err(_) => {
                tracing::debug!("no connection to {address} within {} ms", share.as_millis());
                failure = HttpError::ConnectionTimeout;
            }
        }
    }
    Err(failure)
}

// The failures below become precise wasi:http error codes here. Left as I/O or hyper errors,
// wasmtime-wasi-http would log each at warn level (once per retry) and call most of them
// "connection refused".

/// A failed connection attempt as what it was.
fn connect_failure(error: std::io::Error) -> HttpError {
    use std::io::ErrorKind as K;
    match error.kind() {
        K::ConnectionRefused => HttpError::ConnectionRefused,
        K::TimedOut => HttpError::ConnectionTimeout,
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => HttpError::ConnectionTerminated,
        K::HostUnreachable | K::NetworkUnreachable | K::NetworkDown | K::AddrNotAvailable => HttpError::DestinationUnavailable,
        _ => HttpError::InternalError(Some(format!("cannot connect: {error}"))),
    }
}

/// A failed TLS handshake: a certificate the Mozilla roots do not vouch for, or another failure
/// (its detail in the debug log, which `--verbose` shows).
fn tls_failure(error: std::io::Error) -> HttpError {
    tracing::debug!("TLS handshake failed: {error}");
    let certificate = error.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()).is_some_and(|tls| {
        matches!(
            tls,
            rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented | rustls::Error::InvalidCertRevocationList(_)
        )
    });
    if certificate { HttpError::TlsCertificateError } else { HttpError::TlsProtocolError }
}

/// A failed exchange on an open connection.
fn hyper_failure(error: hyper::Error) -> HttpError {
    tracing::debug!("the exchange failed: {error}");
    if error.is_timeout() {
        HttpError::HttpResponseTimeout
    } else if error.is_incomplete_message() {
        HttpError::HttpResponseIncomplete
    } else if error.is_parse() || error.is_parse_status() || error.is_parse_too_large() {
        // Not HTTP, or a head too large to read: the same answer comes again if asked again.
        HttpError::HttpProtocolError
    } else if error.is_closed() || error.is_canceled() {
        HttpError::ConnectionTerminated
    } else {
        // A wasi:http code hyper carries from a body (a size limit, say) stays as it is.
        HttpError::from(error)
    }
}

/// Puts the connection back in the run's pool once this exchange is over: when the body has been
/// read to its end. A body dropped early, an error or `Connection: close` end it instead.
fn keep_when_done(mut sender: SendRequest<WasiBody>, origin: &Origin, address: SocketAddr, meter: &Arc<RequestMeter>) {
    let (origin, meter) = (origin.clone(), Arc::downgrade(meter));
    tokio::spawn(async move {
        if sender.ready().await.is_ok()
            && let Some(meter) = meter.upgrade()
        {
            meter.connections.put(&origin, address, sender);
        }
    });
}

/// Opens HTTP/1.1 on `io`, runs the connection as a task, and sends the first request.
async fn exchange<S>(
    io: TokioIo<S>,
    request: Request<WasiBody>,
    connect_timeout: Duration,
    first_byte_timeout: Duration,
) -> Result<(Response<hyper::body::Incoming>, SendRequest<WasiBody>), HttpError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, connection) = tokio::time::timeout(connect_timeout, hyper::client::conn::http1::handshake(io))
        .await
        .map_err(|_| HttpError::ConnectionTimeout)??;
    // It ends when the server closes it or every sender is dropped (the pool's included).
    let connection_task = tokio::spawn(connection);
    let response = match tokio::time::timeout(first_byte_timeout, sender.send_request(request)).await {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => {
            connection_task.abort();
            return Err(hyper_failure(error));
        }
        Err(_) => {
            connection_task.abort();
            return Err(HttpError::HttpResponseTimeout);
        }
    };
    Ok((response, sender))
}

/// What the run reports when `endpoint` answers more than `bytes`.
pub(crate) fn size_denial(endpoint: &str, bytes: u64) -> crate::error::Refusal {
    crate::error::Refusal::new(
        format!(
            "response size limit: {endpoint} answered more than {bytes} bytes and was refused (the limit is at most an eighth of the connector's memory)"
        ),
        Some("max_response_mib"),
    )
}

/// How large a body may be, and whom to tell when it is larger.
struct BodyLimit {
    bytes: u64,
    endpoint: String,
    meter: Arc<crate::meter::RequestMeter>,
}

/// A response body with a size limit and a limit on the wait between frames.
struct BoundedBody {
    inner: hyper::body::Incoming,
    remaining: u64,
    limit: BodyLimit,
    between_bytes: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl BoundedBody {
    fn new(inner: hyper::body::Incoming, limit: BodyLimit, between_bytes: Duration) -> Self {
        let timer = Box::pin(tokio::time::sleep(between_bytes));
        Self { inner, remaining: limit.bytes, limit, between_bytes, timer }
    }
}

impl Body for BoundedBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let len = data.len() as u64;
                    if len > self.remaining {
                        let limit = &self.limit;
                        limit.meter.deny(size_denial(&limit.endpoint, limit.bytes));
                        return Poll::Ready(Some(Err(HttpError::HttpResponseBodySize(Some(limit.bytes)))));
                    }
                    self.remaining -= len;
                }
                let deadline = tokio::time::Instant::now() + self.between_bytes;
                self.timer.as_mut().reset(deadline);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(hyper_failure(error)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match self.timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(HttpError::ConnectionReadTimeout))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http_body_util::Empty;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

    /// A loopback server running `serve` on each connection it accepts. Answers its address and
    /// how many connections it accepted.
    async fn loopback<F, S>(serve: F) -> (SocketAddr, Arc<AtomicUsize>)
    where
        F: Fn(TcpStream) -> S + Send + 'static,
        S: Future<Output = ()> + Send + 'static,
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(stream));
            }
        });
        (address, accepted)
    }

    /// A server answering `ok` to every request; it closes each connection `close_after` after
    /// its last answer, if told to.
    async fn server(close_after: Option<Duration>) -> (SocketAddr, Arc<AtomicUsize>) {
        loopback(move |mut stream| async move {
            let mut buffer = [0u8; 4096];
            loop {
                let read = match close_after {
                    Some(wait) => match tokio::time::timeout(wait, stream.read(&mut buffer)).await {
                        Ok(read) => read,
                        Err(_) => return,
                    },
                    None => stream.read(&mut buffer).await,
                };
                if !matches!(read, Ok(n) if n > 0) || stream.write_all(OK).await.is_err() {
                    return;
                }
            }
        })
        .await
    }

    /// Two requests, `pause` apart, each read to its end.
    async fn two_requests(address: SocketAddr, pause: Duration) {
        let meter = Arc::new(RequestMeter::default());
        let url = format!("http://{address}/v1/users");
        let origin = Origin::of(&url.parse().unwrap()).unwrap();
        for _ in 0..2 {
            let body = Empty::<Bytes>::new().map_err(|never| match never {}).boxed_unsync();
            let request = Request::get(&url).body(body).unwrap();
            let (response, _) = send(request, &origin, &[address.ip()], RequestOptions::default(), 1024, Arc::clone(&meter)).await.unwrap();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(&body[..], b"ok");
            tokio::time::sleep(pause).await;
        }
    }

    #[tokio::test]
    async fn a_second_request_goes_over_the_first_ones_connection() {
        let (address, accepted) = server(None).await;
        two_requests(address, Duration::from_millis(20)).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_new_connection_tries_each_checked_address_in_turn() {
        let (address, accepted) = server(None).await;
        // Nothing listens on 127.0.0.2 at that port: refused at once, then 127.0.0.1 answers.
        let refusing: IpAddr = "127.0.0.2".parse().unwrap();
        let (_, connected) = connect_any(&[refusing, address.ip()], address.port(), Duration::from_secs(5)).await.unwrap();
        assert_eq!(connected, address);
        let error = connect_any(&[refusing], address.port(), Duration::from_secs(5)).await.unwrap_err();
        assert!(matches!(error, HttpError::ConnectionRefused), "{error:?}");
        assert!(matches!(connect_any(&[], address.port(), Duration::from_secs(5)).await, Err(HttpError::HttpRequestDenied)));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    /// A server that answers the first request of each connection and closes the connection on
    /// reading the second, without answering it: a server going away just as a reused
    /// connection's request arrives.
    async fn closing_server() -> (SocketAddr, Arc<AtomicUsize>) {
        loopback(|mut stream| async move {
            let mut buffer = [0u8; 4096];
            if !matches!(stream.read(&mut buffer).await, Ok(n) if n > 0) || stream.write_all(OK).await.is_err() {
                return;
            }
            let _ = stream.read(&mut buffer).await;
            // Dropped here: closed with the second request unanswered.
        })
        .await
    }

    #[tokio::test]
    async fn a_request_lost_with_its_connection_fails_at_once_and_the_next_one_gets_a_new_connection() {
        let (address, accepted) = closing_server().await;
        let meter = Arc::new(RequestMeter::default());
        let url = format!("http://{address}/v1/users");
        let origin = Origin::of(&url.parse().unwrap()).unwrap();
        let get = || Request::get(&url).body(Empty::<Bytes>::new().map_err(|never| match never {}).boxed_unsync()).unwrap();
        let ips = [address.ip()];
        let send_one = |request| send(request, &origin, &ips, RequestOptions::default(), 1024, Arc::clone(&meter));
        let (response, _) = send_one(get()).await.unwrap();
        assert_eq!(&response.into_body().collect().await.unwrap().to_bytes()[..], b"ok");
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        // The second goes over the kept connection, which the server closes on reading it: an
        // error the host's retry policy acts on, not a hang and not a wrong answer.
        let lost = tokio::time::timeout(Duration::from_secs(5), send_one(get())).await.expect("no hang");
        assert!(lost.is_err(), "the unanswered request fails");
        let (response, _) = send_one(get()).await.unwrap();
        assert_eq!(&response.into_body().collect().await.unwrap().to_bytes()[..], b"ok");
        assert_eq!(accepted.load(Ordering::SeqCst), 2, "the dead connection is not kept");
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_while_idle_is_not_reused() {
        let (address, accepted) = server(Some(Duration::from_millis(30))).await;
        two_requests(address, Duration::from_millis(150)).await;
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }
}

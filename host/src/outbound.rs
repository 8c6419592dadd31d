//! Sending one checked request: the connection goes to the address the egress policy checked,
//! so a second DNS answer cannot swap it, and the answer is bounded in time and size.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody};

use crate::egress::Origin;

/// The answer, and the connection's driver the runtime polls until the exchange is done.
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

/// Sends `request` to `address`, speaking TLS for `https` with `origin`'s host as server name.
/// `options` holds the capped timeouts; the response body fails past `max_body` bytes.
pub(crate) async fn send(
    mut request: Request<WasiBody>,
    origin: &Origin,
    address: SocketAddr,
    options: RequestOptions,
    max_body: u64,
    meter: Arc<crate::http::RequestMeter>,
) -> Result<Sent, HttpError> {
    let connect_timeout = options.connect_timeout.unwrap_or(Duration::from_secs(10));
    let first_byte_timeout = options.first_byte_timeout.unwrap_or(Duration::from_secs(60));
    let between_bytes_timeout = options.between_bytes_timeout.unwrap_or(Duration::from_secs(30));

    let tcp = match tokio::time::timeout(connect_timeout, TcpStream::connect(address)).await {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(error)) => return Err(HttpError::Connect(error)),
        Err(_) => return Err(HttpError::ConnectionTimeout),
    };
    let _ = tcp.set_nodelay(true);

    let path = request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/").to_owned();
    let endpoint = format!("{} {}", request.method(), request.uri().path());
    *request.uri_mut() = Uri::builder().path_and_query(path).build().map_err(|_| HttpError::HttpRequestUriInvalid)?;

    let (response, connection) = if origin.is_https() {
        let name = rustls::pki_types::ServerName::try_from(origin.host.clone())
            .map_err(|_| HttpError::TlsCertificateError)?;
        let connector = tokio_rustls::TlsConnector::from(tls_config());
        let tls = match tokio::time::timeout(connect_timeout, connector.connect(name, tcp)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(error)) => return Err(HttpError::Tls(error)),
            Err(_) => return Err(HttpError::ConnectionTimeout),
        };
        exchange(TokioIo::new(tls), request, connect_timeout, first_byte_timeout).await?
    } else {
        exchange(TokioIo::new(tcp), request, connect_timeout, first_byte_timeout).await?
    };
    let response = response.map(|incoming| {
        let limit = BodyLimit { bytes: max_body, endpoint, meter };
        BoundedBody::new(incoming, limit, between_bytes_timeout).boxed_unsync()
    });
    Ok((response, connection))
}

async fn exchange<S>(
    io: TokioIo<S>,
    request: Request<WasiBody>,
    connect_timeout: Duration,
    first_byte_timeout: Duration,
) -> Result<(Response<hyper::body::Incoming>, Pin<Box<dyn Future<Output = Result<(), HttpError>> + Send>>), HttpError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, connection) = tokio::time::timeout(connect_timeout, hyper::client::conn::http1::handshake(io))
        .await
        .map_err(|_| HttpError::ConnectionTimeout)??;
    let driver: Pin<Box<dyn Future<Output = Result<(), HttpError>> + Send>> =
        Box::pin(async move { connection.await.map_err(HttpError::from) });
    // The connection must be driven while the request is in flight.
    let (connection_task, connection_done) = spawn_connection(driver);
    let response = match tokio::time::timeout(first_byte_timeout, sender.send_request(request)).await {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => {
            connection_task.abort();
            return Err(HttpError::from(error));
        }
        Err(_) => {
            connection_task.abort();
            return Err(HttpError::HttpResponseTimeout);
        }
    };
    Ok((response, connection_done))
}

/// Runs the connection on the runtime and hands back a future that completes with it.
fn spawn_connection(
    driver: Pin<Box<dyn Future<Output = Result<(), HttpError>> + Send>>,
) -> (tokio::task::AbortHandle, Pin<Box<dyn Future<Output = Result<(), HttpError>> + Send>>) {
    let task = tokio::spawn(driver);
    let abort = task.abort_handle();
    let done = Box::pin(async move {
        match task.await {
            Ok(result) => result,
            Err(_) => Err(HttpError::ConnectionTerminated),
        }
    });
    (abort, done)
}

/// What the run reports when `endpoint` answers more than `bytes`.
pub(crate) fn size_denial(endpoint: &str, bytes: u64) -> String {
    format!("response size limit: {endpoint} answered more than {bytes} bytes; raise max_response_mib in the tenant file if that is expected")
}

/// How large a body may be, and whom to tell when it is larger.
struct BodyLimit {
    bytes: u64,
    endpoint: String,
    meter: Arc<crate::http::RequestMeter>,
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
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(HttpError::from(error)))),
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

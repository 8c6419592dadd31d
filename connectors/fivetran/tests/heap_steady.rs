//! The component's heap under the connector's real work, natively: this test binary allocates
//! through [`Heap`], and a page of 1,000 users mapped again and again must stop growing it. An
//! instance that serves many calls (the host's entitlement pass does) would otherwise reach its
//! memory limit.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use connector_fivetran::Syncer;
use connector_fivetran::connector::Connector;
use connector_fivetran::heap::{Heap, Memory};
use connector_fivetran::model::Config;
use connector_fivetran::transport::{ApiRequest, ApiResponse, Transport, TransportError};

static GROWN: AtomicUsize = AtomicUsize::new(0);

/// Memory from the system allocator, in the pieces the heap asks for.
struct SystemPieces;

impl Memory for SystemPieces {
    fn grow(&mut self, bytes: usize) -> Option<Range<usize>> {
        // One reservation handed out in order, as `memory.grow` extends linear memory.
        static BASE: AtomicUsize = AtomicUsize::new(0);
        const RESERVED: usize = 1 << 30;
        if BASE.load(Ordering::Relaxed) == 0 {
            // SAFETY: a non-zero size; never given back, as linear memory never is.
            let base = unsafe { System.alloc(Layout::from_size_align(RESERVED, 16).ok()?) } as usize;
            BASE.store(base, Ordering::Relaxed);
        }
        let used = GROWN.fetch_add(bytes, Ordering::Relaxed);
        let start = BASE.load(Ordering::Relaxed).checked_add(used).filter(|_| used + bytes <= RESERVED)?;
        Some(start..start + bytes)
    }
}

struct Shared(Mutex<Heap<SystemPieces>>);

unsafe impl GlobalAlloc for Shared {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { self.0.lock().unwrap_or_else(|e| e.into_inner()).alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { self.0.lock().unwrap_or_else(|e| e.into_inner()).dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe { self.0.lock().unwrap_or_else(|e| e.into_inner()).realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static HEAP: Shared = Shared(Mutex::new(Heap::new(SystemPieces)));

struct UsersPage(Vec<u8>);

impl Transport for UsersPage {
    fn send(&self, _: &str, _: &ApiRequest) -> Result<ApiResponse, TransportError> {
        Ok(ApiResponse { status: 200, retry_after: None, body: self.0.clone() })
    }
}

fn users_page(count: usize) -> Vec<u8> {
    let items: Vec<String> = (0..count)
        .map(|i| {
            format!(
                r#"{{"id":"user_{i:05}","email":"person.{i}@example.com","given_name":"Given{i}","family_name":"Family {i}","verified":true,"invited":false,"picture":null,"phone":"+1 555 {i:04}","role":"{}","logged_in_at":"2026-01-0{}T10:00:00Z","created_at":"2025-03-01T09:00:00Z","active":{}}}"#,
                ["Account Administrator", "Account Reviewer", "Account Analyst"][i % 3],
                1 + i % 9,
                i % 7 != 0
            )
        })
        .collect();
    format!(r#"{{"code":"Success","data":{{"items":[{}],"next_cursor":"abc"}}}}"#, items.join(",")).into_bytes()
}

#[test]
fn mapping_the_same_page_again_does_not_grow_the_heap() {
    let transport = UsersPage(users_page(1000));
    let connector = Connector::new(&transport, Config { base_url: "https://api.fivetran.com".into(), page_size: 1000 });
    let run = || {
        let page = connector.list_resources("user", None).expect("the page maps");
        assert_eq!(page.resources.len(), 1003, "1,000 users and three role placeholders");
    };
    for _ in 0..10 {
        run();
    }
    let settled = GROWN.load(Ordering::Relaxed);
    for _ in 0..100 {
        run();
    }
    let after = GROWN.load(Ordering::Relaxed);
    assert_eq!(after, settled, "the heap grew from {settled} to {after} bytes over 100 identical calls");
    assert!(settled < 16 << 20, "a page of 1,000 users took {settled} bytes of heap");
}

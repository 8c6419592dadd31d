//! The component's memory allocator: one free list per power-of-two size over a bump region.
//!
//! The host opens an instance for a listing or a few and then drops it, so the heap never lives
//! long enough for fragmentation to matter; what matters is that the thousands of short strings a
//! page of JSON becomes cost a few instructions each. wasi-libc's dlmalloc, the default, spent
//! about a quarter of the connector's time on a page of users (measured with `perf` and
//! `CONNECTOR_HOST_PERFMAP`).
//!
//! The rules, which the tests below hold it to:
//! - A block's size is its request's size (or alignment, if larger) rounded up to a power of two,
//!   at least [`MIN_BLOCK`]; blocks start on a [`MIN_BLOCK`] boundary.
//! - A freed block goes on the list of its size and serves the next request of that size. Memory
//!   is never handed back: linear memory cannot shrink.
//! - New blocks come from the bump region, which grows by at least [`GROW_STEP`] at a time through
//!   [`Memory::grow`]. Freeing or resizing the newest block moves the bump pointer instead, but a
//!   block grows into a freed block of its new size before it grows into fresh memory.
//! - Requests aligned beyond [`MIN_BLOCK`] (rare: nothing in the connector asks) always take a
//!   fresh, suitably aligned block.
//! - When memory cannot grow, allocation returns null, which Rust turns into a trap the host
//!   reports as the connector exceeding its memory limit.

use std::alloc::Layout;
use std::ops::Range;

/// The smallest block, and the alignment of every block.
pub const MIN_BLOCK: usize = 16;
/// The least the heap asks the memory for at a time.
pub const GROW_STEP: usize = 1 << 20;
const MIN_SHIFT: u32 = MIN_BLOCK.trailing_zeros();
/// Sizes 16 B to 2 GiB: the largest a 32-bit memory can hold next to anything else.
const CLASSES: usize = 28;

/// Where the heap's memory comes from.
pub trait Memory {
    /// Adds at least `bytes` of fresh memory and returns where it lies, or `None` when none is
    /// left. A range that starts where the previous one ended extends it.
    fn grow(&mut self, bytes: usize) -> Option<Range<usize>>;
}

/// The allocator's state. Addresses are plain numbers; 0 ends a free list (no block is at 0).
pub struct Heap<M> {
    free: [usize; CLASSES],
    next: usize,
    end: usize,
    memory: M,
}

impl<M: Memory> Heap<M> {
    pub const fn new(memory: M) -> Self {
        Self { free: [0; CLASSES], next: 0, end: 0, memory }
    }

    /// A block for `layout`, or null.
    ///
    /// # Safety
    /// The block must be given back only through [`Heap::dealloc`] or [`Heap::realloc`] of this
    /// heap, with the layout it was asked for.
    pub unsafe fn alloc(&mut self, layout: Layout) -> *mut u8 {
        let Some(class) = class_of(layout) else { return std::ptr::null_mut() };
        if layout.align() <= MIN_BLOCK {
            let head = self.free[class];
            if head != 0 {
                // SAFETY: a listed block is free, at least MIN_BLOCK long and aligned, and holds the
                // address of the next one.
                self.free[class] = unsafe { (head as *const usize).read() };
                return head as *mut u8;
            }
        }
        self.bump(block_size(class), layout.align().max(MIN_BLOCK))
    }

    /// Gives a block back.
    ///
    /// # Safety
    /// `ptr` must come from this heap for `layout`, and not be used again.
    pub unsafe fn dealloc(&mut self, ptr: *mut u8, layout: Layout) {
        let Some(class) = class_of(layout) else { return };
        let address = ptr as usize;
        if address + block_size(class) == self.next {
            self.next = address;
            return;
        }
        // SAFETY: the block is ours again, at least MIN_BLOCK long and aligned.
        unsafe { (ptr as *mut usize).write(self.free[class]) };
        self.free[class] = address;
    }

    /// Resizes a block, in place when its size class stays or it is the newest block.
    ///
    /// # Safety
    /// As for [`Heap::dealloc`]; `new_size` must not overflow `isize` once aligned.
    pub unsafe fn realloc(&mut self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else { return std::ptr::null_mut() };
        let (Some(old), Some(new)) = (class_of(layout), class_of(new_layout)) else { return std::ptr::null_mut() };
        if old == new {
            return ptr;
        }
        let address = ptr as usize;
        // Growing the newest block in place carves fresh memory into a block of the new size, so
        // it is only for when no freed block of that size waits: otherwise a page whose strings all
        // grow the same way would take fresh memory on every call and leave the freed ones unused.
        let grows_into_listed = new > old && self.free[new] != 0 && layout.align() <= MIN_BLOCK;
        let grown_end = address.checked_add(block_size(new)).filter(|end| *end <= self.end);
        if let Some(grown_end) = grown_end
            && address + block_size(old) == self.next
            && !grows_into_listed
        {
            self.next = grown_end;
            return ptr;
        }
        // SAFETY: the caller's contract, passed on.
        let moved = unsafe { self.alloc(new_layout) };
        if !moved.is_null() {
            // SAFETY: both blocks are live, distinct, and at least this long.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        moved
    }

    /// A fresh block from the bump region; `align` is a power of two.
    fn bump(&mut self, size: usize, align: usize) -> *mut u8 {
        if let Some(start) = fit(self.next, self.end, size, align) {
            self.next = start + size;
            return start as *mut u8;
        }
        let Some(wanted) = size.checked_add(align) else { return std::ptr::null_mut() };
        let Some(fresh) = self.memory.grow(wanted.max(GROW_STEP)) else { return std::ptr::null_mut() };
        if fresh.start != self.end {
            // Someone else grew the memory in between: what was left of ours is lost.
            self.next = fresh.start;
        }
        self.end = fresh.end;
        match fit(self.next, self.end, size, align) {
            Some(start) => {
                self.next = start + size;
                start as *mut u8
            }
            None => std::ptr::null_mut(),
        }
    }
}

/// Where a block of `size` aligned to `align` (a power of two) starts in `next..end`, if it fits.
#[inline]
fn fit(next: usize, end: usize, size: usize, align: usize) -> Option<usize> {
    let start = next.checked_add(align - 1)? & !(align - 1);
    let block_end = start.checked_add(size)?;
    (block_end <= end).then_some(start)
}

fn class_of(layout: Layout) -> Option<usize> {
    let size = layout.size().max(layout.align()).max(MIN_BLOCK).checked_next_power_of_two()?;
    let class = (size.trailing_zeros() - MIN_SHIFT) as usize;
    (class < CLASSES).then_some(class)
}

const fn block_size(class: usize) -> usize {
    MIN_BLOCK << class
}

/// The component's global allocator: the heap over the instance's linear memory.
#[cfg(target_arch = "wasm32")]
mod global {
    use std::alloc::{GlobalAlloc, Layout};
    use std::cell::UnsafeCell;
    use std::ops::Range;

    use super::{Heap, Memory};

    const PAGE: usize = 65536;

    /// Memory from `memory.grow`. wasi-libc keeps the space between the data and the initial end
    /// of memory for its own malloc, which C code in the component may still call: this heap uses
    /// only pages it grew itself.
    struct LinearMemory;

    impl Memory for LinearMemory {
        fn grow(&mut self, bytes: usize) -> Option<Range<usize>> {
            let pages = bytes.div_ceil(PAGE);
            let before = core::arch::wasm32::memory_grow(0, pages);
            if before == usize::MAX {
                return None;
            }
            let end = before.checked_add(pages)?.checked_mul(PAGE)?;
            Some(before * PAGE..end)
        }
    }

    struct ComponentAllocator(UnsafeCell<Heap<LinearMemory>>);

    // SAFETY: a wasm32-wasip2 component runs on one thread; this would be wrong with threads.
    #[cfg(not(target_feature = "atomics"))]
    unsafe impl Sync for ComponentAllocator {}

    #[global_allocator]
    static ALLOCATOR: ComponentAllocator = ComponentAllocator(UnsafeCell::new(Heap::new(LinearMemory)));

    unsafe impl GlobalAlloc for ComponentAllocator {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: one thread, and the heap does not allocate, so there is no reentry.
            unsafe { (*self.0.get()).alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: as above; the caller's contract is the heap's.
            unsafe { (*self.0.get()).dealloc(ptr, layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: as above.
            unsafe { (*self.0.get()).realloc(ptr, layout, new_size) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Memory carved from a buffer, in steps that may leave a gap (another allocator's pages).
    struct Arena {
        buffer: Vec<u128>,
        used: usize,
        gap: usize,
        grown: usize,
    }

    impl Arena {
        fn new(bytes: usize, gap: usize) -> Self {
            Self { buffer: vec![0; bytes / 16], used: 0, gap, grown: 0 }
        }

        fn base(&self) -> usize {
            self.buffer.as_ptr() as usize
        }
    }

    impl Memory for Arena {
        fn grow(&mut self, bytes: usize) -> Option<Range<usize>> {
            let start = self.used + if self.grown > 0 { self.gap } else { 0 };
            let end = start.checked_add(bytes)?;
            if end > self.buffer.len() * 16 {
                return None;
            }
            self.used = end;
            self.grown += 1;
            Some(self.base() + start..self.base() + end)
        }
    }

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn sizes_round_up_to_powers_of_two_of_at_least_sixteen() {
        assert_eq!(class_of(layout(1, 1)), Some(0));
        assert_eq!(class_of(layout(16, 8)), Some(0));
        assert_eq!(class_of(layout(17, 1)), Some(1));
        assert_eq!(class_of(layout(3, 64)), Some(2));
        assert_eq!(class_of(layout(1 << 31, 1)), Some(27));
        assert_eq!(class_of(layout((1 << 31) + 1, 1)), None);
    }

    #[test]
    fn blocks_are_aligned_and_do_not_overlap() {
        let mut heap = Heap::new(Arena::new(8 << 20, 0));
        let mut live: Vec<(usize, usize)> = Vec::new();
        for (i, size) in [1, 15, 16, 17, 100, 4096, 5000, 24, 3].iter().cycle().take(200).enumerate() {
            let ptr = unsafe { heap.alloc(layout(*size, 1 << (i % 5))) } as usize;
            assert_ne!(ptr, 0);
            assert_eq!(ptr % MIN_BLOCK.max(1 << (i % 5)), 0, "block {i} misaligned");
            for &(other, other_size) in &live {
                assert!(ptr + size <= other || other + other_size <= ptr, "block {i} overlaps");
            }
            live.push((ptr, *size));
        }
    }

    #[test]
    fn a_freed_block_serves_the_next_request_of_its_size() {
        let mut heap = Heap::new(Arena::new(4 << 20, 0));
        let a = unsafe { heap.alloc(layout(40, 8)) };
        let b = unsafe { heap.alloc(layout(40, 8)) };
        unsafe { heap.dealloc(a, layout(40, 8)) };
        assert_eq!(unsafe { heap.alloc(layout(33, 4)) }, a, "same size class, reused");
        unsafe { heap.dealloc(b, layout(40, 8)) };
        let c = unsafe { heap.alloc(layout(200, 8)) };
        assert_eq!(c, b, "the newest block freed moves the bump pointer back");
    }

    #[test]
    fn realloc_keeps_the_contents_and_grows_the_newest_block_in_place() {
        let mut heap = Heap::new(Arena::new(4 << 20, 0));
        let first = unsafe { heap.alloc(layout(24, 8)) };
        unsafe { first.write_bytes(7, 24) };
        let _pin = unsafe { heap.alloc(layout(16, 8)) };
        let moved = unsafe { heap.realloc(first, layout(24, 8), 1000) };
        assert_ne!(moved, first, "not the newest: copied");
        assert!((0..24).all(|i| unsafe { *moved.add(i) } == 7));
        let grown = unsafe { heap.realloc(moved, layout(1000, 8), 100_000) };
        assert_eq!(grown, moved, "the newest block grows where it is");
        assert_eq!(unsafe { heap.realloc(grown, layout(100_000, 8), 70_000) }, grown, "same class");
        assert_eq!(unsafe { heap.alloc(layout(24, 8)) }, first, "the old block was freed");
    }

    #[test]
    fn the_newest_block_grows_into_a_freed_block_before_fresh_memory() {
        let mut heap = Heap::new(Arena::new(4 << 20, 0));
        let freed = unsafe { heap.alloc(layout(500, 8)) };
        let _pin = unsafe { heap.alloc(layout(16, 8)) };
        unsafe { heap.dealloc(freed, layout(500, 8)) };
        let newest = unsafe { heap.alloc(layout(200, 8)) };
        assert_eq!(unsafe { heap.realloc(newest, layout(200, 8), 400) }, freed);
        assert_eq!(unsafe { heap.alloc(layout(200, 8)) }, newest, "and the newest block went back to the bump region");
    }

    #[test]
    fn memory_running_out_gives_null_and_the_heap_goes_on() {
        let mut heap = Heap::new(Arena::new(2 << 20, 0));
        assert!(unsafe { heap.alloc(layout(3 << 20, 8)) }.is_null());
        let small = unsafe { heap.alloc(layout(100, 8)) };
        assert!(!small.is_null());
        assert!(unsafe { heap.realloc(small, layout(100, 8), 4 << 20) }.is_null());
        assert!(unsafe { heap.alloc(layout(1 << 40, 8)) }.is_null());
    }

    #[test]
    fn a_gap_in_the_memory_starts_a_new_region() {
        let mut heap = Heap::new(Arena::new(8 << 20, 4096));
        let big = unsafe { heap.alloc(layout(GROW_STEP - 64, 8)) } as usize;
        let next = unsafe { heap.alloc(layout(1024, 8)) } as usize;
        assert!(next >= big + GROW_STEP + 4096, "the second region lies past the gap");
    }

    #[test]
    fn a_churn_of_allocations_keeps_every_live_block_intact() {
        let mut heap = Heap::new(Arena::new(32 << 20, 64));
        let mut live: Vec<(*mut u8, Layout, u8)> = Vec::new();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for step in 0..20_000u32 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let choice = seed % 10;
            if choice < 5 || live.is_empty() {
                let l = layout(1 + (seed >> 8) as usize % 3000, 1 << ((seed >> 40) % 5));
                let ptr = unsafe { heap.alloc(l) };
                assert!(!ptr.is_null());
                unsafe { ptr.write_bytes(step as u8, l.size()) };
                live.push((ptr, l, step as u8));
            } else if choice < 8 {
                let (ptr, l, mark) = live.swap_remove((seed >> 20) as usize % live.len());
                assert!((0..l.size()).all(|i| unsafe { *ptr.add(i) } == mark));
                unsafe { heap.dealloc(ptr, l) };
            } else {
                let index = (seed >> 20) as usize % live.len();
                let (ptr, l, mark) = live[index];
                let new_size = 1 + (seed >> 30) as usize % 5000;
                let moved = unsafe { heap.realloc(ptr, l, new_size) };
                assert!(!moved.is_null());
                assert!((0..l.size().min(new_size)).all(|i| unsafe { *moved.add(i) } == mark));
                unsafe { moved.write_bytes(mark, new_size) };
                live[index] = (moved, layout(new_size, l.align()), mark);
            }
        }
        for (ptr, l, mark) in live {
            assert!((0..l.size()).all(|i| unsafe { *ptr.add(i) } == mark));
        }
    }
}

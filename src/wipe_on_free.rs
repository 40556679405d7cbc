//! The binary's heap, which wipes every block before it is freed or moved.
//!
//! nomadctx's own secrets live in types that zeroize on drop, but the code they pass through
//! does not always: age parses and prints the file store's identity through Bech32 buffers it
//! frees without wiping (the X25519 scalar in 5-bit groups, and the halves a growing buffer
//! leaves behind), and a freed block keeps its bytes until it is reused. `exec` waits for
//! its command for as long as the command runs, so such leftovers would be readable from
//! its memory all that time. Wiping a block costs a memset of what is freed, which for a
//! command-line run is a few hundred kilobytes at most.

use std::alloc::{GlobalAlloc, Layout};

/// `A`, with every block zeroed before `A` gets it back.
#[derive(Debug)]
pub struct WipeOnFree<A>(pub A);

impl<A> WipeOnFree<A> {
    /// Zeroes `size` bytes at `ptr`, in a way the optimiser cannot drop as stores to memory
    /// about to be freed.
    ///
    /// # Safety
    /// `ptr` must be valid for writes of `size` bytes.
    #[allow(unsafe_code)]
    unsafe fn wipe(ptr: *mut u8, size: usize) {
        // SAFETY: the caller guarantees `ptr` is valid for `size` bytes of writes.
        unsafe { std::ptr::write_bytes(ptr, 0, size) };
        // The pointer escapes into an opaque use, so the zeroes must really be written.
        std::hint::black_box(ptr);
    }
}

#[allow(unsafe_code)] // A global allocator is an unsafe trait; every block comes from `A`.
// SAFETY: each method passes the caller's contract on to `A`; `realloc` allocates from `A`
// with the old alignment and copies only bytes both blocks hold.
unsafe impl<A: GlobalAlloc> GlobalAlloc for WipeOnFree<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is `A::alloc`'s.
        unsafe { self.0.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        unsafe { self.0.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` is a live block of `layout.size()` bytes from this allocator (the
        // caller's contract), ours to write until it is handed back.
        unsafe {
            Self::wipe(ptr, layout.size());
            self.0.dealloc(ptr, layout);
        }
    }

    /// Always a new block: `A` growing or moving the block itself would free the old bytes
    /// (or a shrunk tail) without wiping them.
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `new_size`, rounded up to the alignment, fits an
        // isize and is not zero; the alignment is the old layout's, a valid one.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: `new_layout` has a non-zero size.
        let new = unsafe { self.0.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are live, distinct, and hold at least the bytes copied;
            // the old one is ours to free (the caller's contract).
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}

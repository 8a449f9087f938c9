//! How a receiver learns a record is there.
//!
//! Mapped transports publish a record by storing a new value into a 32-bit sequence word in the
//! shared region (release) after the record's bytes; the receiver sees the new value (acquire)
//! and then reads the bytes. `spin` polls the word; `futex` sleeps in the kernel on it and the
//! sender wakes it only when a `waiters` flag beside the word says somebody sleeps.

use crate::os::process::{WaitError, Watch};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Wait {
    /// Poll the sequence word in shared memory.
    Spin,
    /// Sleep in the kernel on the sequence word; the sender wakes the receiver.
    Futex,
    /// A blocking `read` on a pipe or socket.
    Block,
}

impl Wait {
    pub const ALL: [Wait; 3] = [Wait::Spin, Wait::Futex, Wait::Block];
    pub fn name(self) -> &'static str {
        match self {
            Wait::Spin => "spin",
            Wait::Futex => "futex",
            Wait::Block => "block",
        }
    }
    pub fn from_name(s: &str) -> Option<Wait> {
        Wait::ALL.into_iter().find(|w| w.name() == s)
    }
}

impl std::fmt::Display for Wait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A sequence word and its waiters flag, both in shared memory.
pub struct Signal<'a> {
    pub word: &'a AtomicU32,
    pub waiters: &'a AtomicU32,
    /// While spinning, also prefetch this line (the start of the payload), so that when the word
    /// changes the payload's line is already on its way instead of missing after it. Null: none.
    pub prefetch: *const u8,
}

impl<'a> Signal<'a> {
    pub fn new(word: &'a AtomicU32, waiters: &'a AtomicU32) -> Signal<'a> {
        Signal { word, waiters, prefetch: std::ptr::null() }
    }
}

impl Signal<'_> {
    /// Publishes `value` (everything written before is visible to whoever sees it).
    #[inline(always)]
    pub fn publish(&self, value: u32, wait: Wait) {
        match wait {
            Wait::Futex => {
                // SeqCst pairs with the waiter's SeqCst store of `waiters` then load of `word`:
                // either the waiter sees the new value, or we see its flag and wake it.
                self.word.store(value, Ordering::SeqCst);
                if self.waiters.swap(0, Ordering::SeqCst) != 0 {
                    futex_wake(self.word);
                }
            }
            _ => self.word.store(value, Ordering::Release),
        }
    }

    /// Waits until the word holds `value`.
    #[inline(always)]
    pub fn wait_for(&self, value: u32, wait: Wait, watch: &mut Watch) -> Result<(), WaitError> {
        self.wait_until(|v| v == value, wait, watch).map(|_| ())
    }

    /// Waits until `ready(word)` holds; returns the word's value then.
    #[inline(always)]
    pub fn wait_until(
        &self,
        ready: impl Fn(u32) -> bool,
        wait: Wait,
        watch: &mut Watch,
    ) -> Result<u32, WaitError> {
        let v = self.word.load(Ordering::Acquire);
        if ready(v) {
            return Ok(v);
        }
        match wait {
            Wait::Futex => loop {
                self.waiters.store(1, Ordering::SeqCst);
                let v = self.word.load(Ordering::SeqCst);
                if ready(v) {
                    return Ok(v);
                }
                // Returns at once if the word is no longer `v`; EINTR at a tick.
                futex_wait(self.word, v);
                let v = self.word.load(Ordering::Acquire);
                if ready(v) {
                    return Ok(v);
                }
                watch.tick()?;
            },
            _ => {
                let mut spins: u32 = 0;
                loop {
                    std::hint::spin_loop();
                    let v = self.word.load(Ordering::Acquire);
                    prefetch(self.prefetch);
                    if ready(v) {
                        return Ok(v);
                    }
                    spins = spins.wrapping_add(1);
                    if spins & 0x3FF == 0 {
                        watch.tick()?;
                    }
                }
            }
        }
    }
}

#[inline(always)]
fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    if !p.is_null() {
        // SAFETY: a prefetch is a hint; it never faults.
        unsafe { std::arch::x86_64::_mm_prefetch(p as *const i8, std::arch::x86_64::_MM_HINT_T0) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Shared (not `FUTEX_PRIVATE`) futex calls: the word lives in memory of two processes.
fn futex_wait(word: &AtomicU32, expected: u32) {
    // SAFETY: the word is a valid, aligned u32 for the duration of the call.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            std::ptr::null::<libc::timespec>(),
        );
    }
}

fn futex_wake(word: &AtomicU32) {
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, 1) };
}

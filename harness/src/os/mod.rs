//! One file per OS primitive, each an owner that releases what it holds when dropped: a shared
//! mapping, the futex wait protocol, an eventfd doorbell, a process-shared condition variable, a
//! child process, named objects, the clock.

pub mod clock;
pub mod condvar;
pub mod cpu_wait;
pub mod eventfd;
pub mod futex;
pub mod leftovers;
pub mod mapping;
pub mod named;
pub mod process;
pub mod watch;

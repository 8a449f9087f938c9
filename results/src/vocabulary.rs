//! The names a result file uses, as types: transports, processes, waits, scenarios, and the keys
//! of the latency figures. The harness measures by them, the CLI parses them (clap's
//! `ValueEnum`), the report and `compare` read them back, so each name is spelled here once.
//!
//! Result files keep the names as strings (`"transport": "posix-shm"`), so a file from an older
//! or newer version, with a name this one does not know, still loads.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An enum of names: `ALL` in their documented order, `name()`, `from_name()`, `Display`,
/// `FromStr` (whose error lists the valid names), serde and clap by the same names.
macro_rules! names {
    ($(#[$doc:meta])* $what:literal, $ty:ident { $($(#[$vdoc:meta])* $v:ident = $n:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[derive(Serialize, Deserialize, clap::ValueEnum)]
        pub enum $ty {
            $($(#[$vdoc])* #[serde(rename = $n)] #[value(name = $n)] $v,)+
        }

        impl $ty {
            pub const ALL: [$ty; [$($n,)+].len()] = [$($ty::$v,)+];

            pub fn name(self) -> &'static str {
                match self {
                    $($ty::$v => $n,)+
                }
            }

            pub fn from_name(s: &str) -> Option<$ty> {
                Self::ALL.iter().copied().find(|t| t.name() == s)
            }

            /// A sort key: the position in [`Self::ALL`]; names this version does not know (a
            /// newer file's) after them, alphabetically.
            pub fn sort_key(name: Option<&str>) -> (usize, String) {
                let name = name.unwrap_or("");
                let at = Self::ALL.iter().position(|t| t.name() == name);
                (at.unwrap_or(Self::ALL.len()), name.to_string())
            }

            /// Every name, comma-separated, for messages that list the valid choices.
            pub fn valid() -> String {
                Self::ALL.iter().map(|t| t.name()).collect::<Vec<_>>().join(", ")
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<$ty, String> {
                $ty::from_name(s).ok_or_else(|| {
                    format!("unknown {} {s:?}; valid: {}", $what, $ty::valid())
                })
            }
        }
    };
}

names! {
    /// How the bytes travel, by family (see [`Family`]): the mapped transports first, then the
    /// kernel's message queues and datagrams, then the byte streams, then libraries.
    "transport", Transport {
        /// A regular file mapped `MAP_SHARED`.
        FileMmap = "file-mmap",
        /// `MAP_SHARED | MAP_ANONYMOUS`, inherited across `fork`.
        AnonMmap = "anon-mmap",
        /// `shm_open` + `mmap`.
        PosixShm = "posix-shm",
        /// System V `shmget` + `shmat`.
        SysvShm = "sysv-shm",
        /// `memfd_create` + `mmap`.
        Memfd = "memfd",
        /// POSIX message queues: `mq_open`, `mq_send`, `mq_receive`.
        PosixMq = "posix-mq",
        /// System V message queues: `msgget`, `msgsnd`, `msgrcv`.
        SysvMsg = "sysv-msg",
        /// UDP datagrams over loopback.
        Udp = "udp",
        /// `SOCK_DGRAM` UNIX-domain sockets.
        UnixDgram = "unix-dgram",
        Pipe = "pipe",
        /// A named pipe (`mkfifo`), opened by path.
        Fifo = "fifo",
        UnixSocket = "unix-socket",
        /// TCP over loopback.
        Tcp = "tcp",
        /// `pwrite` / `pread` on a file.
        FileRw = "file-rw",
        /// The iceoryx2 library's zero-copy publish-subscribe over shared memory.
        Iceoryx2 = "iceoryx2",
    }
}

names! {
    /// How the peer starts.
    "process", Process {
        /// A child of the runner: inherits the mapping or fds.
        Fork = "fork",
        /// A fresh exec of this binary's `worker` subcommand, as an unrelated program.
        Spawn = "spawn",
    }
}

names! {
    /// How a receiver learns a record is there.
    "wait", Wait {
        /// Poll the sequence word in shared memory.
        Spin = "spin",
        /// Sleep in the kernel on the sequence word; the sender wakes the receiver.
        Futex = "futex",
        /// A blocking `read` on a pipe or socket (or a blocking receive of a message).
        Block = "block",
        /// Block in `read()` on an eventfd the sender writes after publishing.
        Eventfd = "eventfd",
        /// A process-shared pthread mutex and condition variable in the region.
        Condvar = "condvar",
        /// iceoryx2's event service: the sender notifies after each send, the receiver blocks
        /// in its listener's wait.
        Iox2Event = "iox2-event",
    }
}

names! {
    /// The experiments, in the order `scenario all` runs them.
    "scenario", Scenario {
        /// What this machine cannot beat: cache-line handoff, wake-up, memcpy, clock.
        Floor = "floor",
        /// One record each way: latency.
        Pingpong = "pingpong",
        /// One-way flood: throughput.
        Stream = "stream",
        /// One writer, several readers.
        Fanout = "fanout",
        /// Open loop: records sent on a schedule; latency by offered rate, and the knee.
        Load = "load",
        /// What durability costs: `msync` against `fsync`.
        Msync = "msync",
        /// What setting up, touching and tearing down a mapping costs.
        Mapping = "mapping",
        /// The source article's claims, checked on the running kernel.
        Seed = "seed",
    }
}

/// Which kind of mechanism a transport is, for grouping (legends, colours, the README's table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// Both sides map one region; a record is written and read where it lies.
    Mapped,
    /// The kernel carries whole messages (queues, datagrams).
    Message,
    /// The kernel carries a byte stream (`write` / `read`).
    Stream,
    /// A library built on shared memory.
    Library,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::Mapped => "mapped",
            Family::Message => "message",
            Family::Stream => "stream",
            Family::Library => "library",
        }
    }
}

impl Transport {
    pub fn family(self) -> Family {
        use Transport::*;
        match self {
            FileMmap | AnonMmap | PosixShm | SysvShm | Memfd => Family::Mapped,
            PosixMq | SysvMsg | Udp | UnixDgram => Family::Message,
            Pipe | Fifo | UnixSocket | Tcp | FileRw => Family::Stream,
            Iceoryx2 => Family::Library,
        }
    }

    /// Mapped transports share a region (waits `spin`, `futex`, `eventfd`, `condvar`); the
    /// others move bytes or messages through the kernel (`block`).
    pub fn is_mapped(self) -> bool {
        self.family() == Family::Mapped
    }

    /// Whether a writer that outruns its reader is held back rather than losing records, so a
    /// flood (`stream`, `fanout`) measures throughput, not loss. UDP is not (a full socket
    /// buffer drops datagrams). iceoryx2 0.10 is not reliably: under a sustained flood its
    /// publisher drops samples (a send delivered to no subscriber, even with
    /// `RetryUntilDelivered` and safe overflow off) and, resending them, stalls for good after
    /// some 10^4 records — so it runs in ping-pong only until that is understood.
    pub fn flow_controlled(self) -> bool {
        !matches!(self, Transport::Udp | Transport::Iceoryx2)
    }

    /// Only `anon-mmap` cannot be opened by an unrelated process.
    pub fn supports_spawn(self) -> bool {
        self != Transport::AnonMmap
    }

    /// The waits the transport offers (in ping-pong; a ring offers those of [`Wait::in_flood`]).
    pub fn waits(self) -> &'static [Wait] {
        if self.is_mapped() {
            &[Wait::Spin, Wait::Futex, Wait::Eventfd, Wait::Condvar]
        } else if self == Transport::Iceoryx2 {
            &[Wait::Spin, Wait::Iox2Event]
        } else {
            &[Wait::Block]
        }
    }

    /// Whether a stream's reader may verify a record where it lies (mode `in-place`), not only
    /// copy it out: over a shared mapping, or a zero-copy library's loaned sample.
    pub fn reads_in_place(self) -> bool {
        self.is_mapped() || self == Transport::Iceoryx2
    }
}

impl Wait {
    /// Whether the receiver waits on the scheduler (a futex or blocking read wake-up) rather than
    /// on a cache line: such latency moves with whatever else the host runs.
    pub fn wakes_up(self) -> bool {
        self != Wait::Spin
    }

    /// Whether a flood (`stream`, `fanout`) can wait this way: every wait but iceoryx2's own
    /// (iceoryx2 does not flood: see [`Transport::flow_controlled`]). The ring wakes by
    /// `eventfd` and `condvar` only a side that raised its waiters flag, as under `futex`.
    pub fn in_flood(self) -> bool {
        self != Wait::Iox2Event
    }
}

/// The keys of `latency_ns`, `latency_trials_ns` and `histograms` in a case: which latency a
/// distribution is.
pub mod latency {
    /// End to end: published (stamped after the payload was written, right before the release
    /// or the notification) → verified at the receiver, through the shared monotonic clock.
    pub const ONE_WAY: &str = "one_way";
    /// Published → first seen by the receiver (the sequence word changed; over a byte stream,
    /// the first bytes of the record arrived): the handoff or the wake-up.
    pub const NOTIFY: &str = "notify";
    /// First seen → verified: reading and checking the payload.
    pub const DELIVER: &str = "deliver";
    /// A record there and a record back, timed by the initiator.
    pub const ROUND_TRIP: &str = "round_trip";
    /// One `msync` / `fsync` / `fdatasync` of the dirtied range.
    pub const FLUSH: &str = "flush";
    /// Dirtying the pages again before each flush (untimed in `flush`).
    pub const DIRTY: &str = "dirty";
    /// One call of a floor probe (the clock, a minimal syscall).
    pub const CALL: &str = "call";
    /// Mapping a region (`mapping`).
    pub const SETUP: &str = "setup";
    /// First touch of every page of a mapping.
    pub const TOUCH: &str = "touch";
    /// Unmapping and releasing a region.
    pub const TEARDOWN: &str = "teardown";
    /// Open loop: the instant a record was due → verified (no coordinated omission).
    pub const CORRECTED: &str = "corrected";
    /// Open loop: the instant a record was actually sent → verified.
    pub const UNCORRECTED: &str = "uncorrected";
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn names_round_trip_through_every_reader() {
        for t in Transport::ALL {
            assert_eq!(t.name().parse::<Transport>(), Ok(t));
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{t}\""));
            assert_eq!(
                <Transport as ValueEnum>::from_str(t.name(), false),
                Ok(t),
                "clap parses {t}"
            );
        }
        for s in Scenario::ALL {
            assert_eq!(<Scenario as ValueEnum>::from_str(s.name(), false), Ok(s));
        }
        assert_eq!(Transport::ALL.len(), Transport::value_variants().len());
        assert_eq!(
            Wait::ALL.iter().map(|w| w.name()).collect::<Vec<_>>(),
            ["spin", "futex", "block", "eventfd", "condvar", "iox2-event"]
        );
    }

    #[test]
    fn unknown_names_list_the_valid_ones() {
        let e = "shm".parse::<Transport>().unwrap_err();
        assert!(
            e.contains("unknown transport \"shm\"") && e.contains("posix-shm, sysv-shm"),
            "{e}"
        );
        assert!("thread".parse::<Process>().unwrap_err().contains("fork, spawn"));
    }

    #[test]
    fn mapped_transports_spin_or_sleep_streams_block() {
        assert!(Transport::PosixShm.waits().contains(&Wait::Futex));
        assert_eq!(Transport::Pipe.waits(), [Wait::Block]);
        let spawnable = Transport::ALL.iter().filter(|t| t.supports_spawn()).count();
        assert_eq!(spawnable, Transport::ALL.len() - 1);
    }
}

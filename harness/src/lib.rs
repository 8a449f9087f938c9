//! The mechanisms of ipcbench, in layers, bottom up: `os` (one RAII owner per OS primitive:
//! shared mapping, futex, child process, named objects, clock), `record` (the record header,
//! its checksum, verification and the summaries of what was measured), `transport` (how bytes
//! travel, one file per transport) and `patterns` (how two or more processes exercise a
//! transport: ping-pong, stream, fan-out, floor probes, flush). It knows nothing of scenarios or
//! reports.

pub mod knobs;
pub mod os;
pub mod patterns;
pub mod record;
pub mod transport;

//! The mechanisms of ipcbench: how bytes travel (`transport`, `link`), how a peer waits
//! (`wait`), how workers start (`process`, `worker`), how time is read (`clock`) and summarised
//! (`stats`). It knows nothing of scenarios or reports.

pub mod checksum;
pub mod clock;
pub mod fanout;
pub mod floor;
pub mod flush;
pub mod link;
pub mod pingpong;
pub mod process;
pub mod record;
pub mod region;
pub mod ring;
pub mod session;
pub mod stats;
pub mod stream;
pub mod transport;
pub mod wait;
pub mod worker;

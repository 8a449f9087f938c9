//! How two (or more) processes exercise a transport: a ping-pong over a [`link`], a stream or a
//! fan-out through a [`ring`], an open-loop [`load`] over either, the floor probes and the durable flush. Each returns a plain
//! measurement value; [`worker`] starts the peers.

pub mod fanout;
pub mod floor;
pub mod flush;
pub mod link;
pub mod load;
pub mod pingpong;
pub mod probe;
pub mod ring;
pub mod session;
pub mod stream;
pub mod worker;

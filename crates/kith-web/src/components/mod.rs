//! Plain components: data and callbacks in, HTML out.

pub mod status;

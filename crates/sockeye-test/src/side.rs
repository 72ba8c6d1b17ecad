//! Which end of a connection: vocabulary the frame builders and the pair both use.

use sockeye_proto::Role;

/// One end of a [`Pair`](crate::Pair).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The connection with [`Role::Client`].
    Client,
    /// The connection with [`Role::Server`].
    Server,
}

impl Side {
    /// The other end.
    pub fn peer(self) -> Self {
        match self {
            Self::Client => Self::Server,
            Self::Server => Self::Client,
        }
    }

    /// The connection role of this end.
    pub fn role(self) -> Role {
        match self {
            Self::Client => Role::Client,
            Self::Server => Role::Server,
        }
    }
}

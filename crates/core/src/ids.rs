//! Typed identifiers. All ids are UUIDs on the wire and in the database; the newtypes keep a
//! client id from being passed where a user id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_id!(
    /// An OAuth client; for MSP and PHARMACY clients it equals the legal entity id.
    ClientId
);
uuid_id!(
    /// A connection: the (client, consumer) pair with its secret and redirect URI.
    ConnectionId
);
uuid_id!(
    /// A user of the identity store (`x-consumer-id` on the wire).
    UserId
);
uuid_id!(
    /// A client type (MSP, MIS, PHARMACY, NHS ADMIN, ...).
    ClientTypeId
);
uuid_id!(
    /// A role (DOCTOR, OWNER, ...).
    RoleId
);

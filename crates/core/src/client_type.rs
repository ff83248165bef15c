//! Which client types may address any client and which only their own (seed 000's client
//! context). The lists are configuration; these are the defaults.

use serde::Deserialize;

/// What a caller of a given client type may address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAccess {
    /// Admin client types: any client.
    Any,
    /// Every other type, known or not: only the caller's own client.
    OwnOnly,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClientTypeGroups {
    /// Client types that may address any client.
    pub admin: Vec<String>,
    /// Client types restricted to their own client. Listed for documentation and config
    /// validation; any type not in `admin` is restricted, so an unknown type fails closed.
    pub restricted: Vec<String>,
}

impl Default for ClientTypeGroups {
    fn default() -> Self {
        Self {
            admin: vec!["Mithril ADMIN".into(), "NHS ADMIN".into(), "NHS".into()],
            restricted: vec![
                "MSP".into(),
                "MIS".into(),
                "PHARMACY".into(),
                "MSP_PHARMACY".into(),
            ],
        }
    }
}

impl ClientTypeGroups {
    pub fn access(&self, client_type_name: &str) -> ClientAccess {
        if self.admin.iter().any(|t| t == client_type_name) {
            ClientAccess::Any
        } else {
            ClientAccess::OwnOnly
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_types_see_all_and_unknown_types_are_restricted() {
        let g = ClientTypeGroups::default();
        assert_eq!(g.access("Mithril ADMIN"), ClientAccess::Any);
        assert_eq!(g.access("NHS ADMIN"), ClientAccess::Any);
        assert_eq!(g.access("MSP"), ClientAccess::OwnOnly);
        assert_eq!(g.access("MIS"), ClientAccess::OwnOnly);
        assert_eq!(g.access("SOMETHING NEW"), ClientAccess::OwnOnly);
        assert_eq!(g.access("mithril admin"), ClientAccess::OwnOnly);
    }
}

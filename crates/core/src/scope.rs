//! Scopes: space-separated strings compared by exact-string subset, as the reference does
//! (`Core.Utils.List.subset?`). There are no wildcards.

use std::fmt;

/// An ordered set of distinct scopes, kept in first-seen order so that rendering is stable.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScopeSet(Vec<String>);

impl ScopeSet {
    /// Splits on any ASCII whitespace, drops empties and duplicates.
    pub fn parse(s: &str) -> Self {
        let mut out: Vec<String> = Vec::new();
        for item in s.split_ascii_whitespace() {
            if !out.iter().any(|x| x == item) {
                out.push(item.to_owned());
            }
        }
        Self(out)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s == scope)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// True when every scope of `self` is in `other`.
    pub fn is_subset_of(&self, other: &ScopeSet) -> bool {
        self.iter().all(|s| other.contains(s))
    }

    /// The scopes of `self` that `other` lacks, in order.
    pub fn missing_from<'a>(&'a self, other: &ScopeSet) -> Vec<&'a str> {
        self.iter().filter(|s| !other.contains(s)).collect()
    }

    /// True when the two sets share at least one scope.
    pub fn overlaps(&self, other: &ScopeSet) -> bool {
        self.iter().any(|s| other.contains(s))
    }

    /// The scopes of `self` that `other` has too, in `self`'s order.
    pub fn intersection(&self, other: &ScopeSet) -> ScopeSet {
        Self(
            self.0
                .iter()
                .filter(|s| other.contains(s))
                .cloned()
                .collect(),
        )
    }

    /// `self` followed by the scopes of `other` it does not have yet.
    pub fn union(&self, other: &ScopeSet) -> ScopeSet {
        let mut out = self.0.clone();
        for s in other.iter() {
            if !out.iter().any(|x| x == s) {
                out.push(s.to_owned());
            }
        }
        ScopeSet(out)
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

impl<'a> FromIterator<&'a str> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = &'a str>>(iter: I) -> Self {
        let mut set = ScopeSet::default();
        for s in iter {
            if !s.is_empty() && !set.contains(s) {
                set.0.push(s.to_owned());
            }
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_dedups_and_keeps_order() {
        let s = ScopeSet::parse("  b:read a:write b:read\tc ");
        assert_eq!(s.to_string(), "b:read a:write c");
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn subset_is_exact_string() {
        let have = ScopeSet::parse("connection:read connection:write");
        assert!(ScopeSet::parse("connection:read").is_subset_of(&have));
        assert!(!ScopeSet::parse("connection:*").is_subset_of(&have));
        assert!(ScopeSet::parse("").is_subset_of(&have));
        assert_eq!(
            ScopeSet::parse("a connection:read b").missing_from(&have),
            vec!["a", "b"]
        );
    }

    #[test]
    fn overlap_and_union() {
        let a = ScopeSet::parse("x y");
        assert!(a.overlaps(&ScopeSet::parse("z y")));
        assert!(!a.overlaps(&ScopeSet::parse("z")));
        assert_eq!(a.union(&ScopeSet::parse("y z")).to_string(), "x y z");
    }
}

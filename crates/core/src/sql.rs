//! Hand-written SQL statements that stay prepared (feature `sql`, for the stores).
//!
//! diesel caches a prepared statement only when its `QueryId` is static: `sql_query` never is
//! (it cannot know the text is fixed), and neither are UPDATE statements (a changeset may skip
//! `None` fields). Every such call parses and plans again on the server, and diesel-async names
//! each new statement, so the backend keeps them all. [`Prepared`] puts the text on a marker
//! type instead: diesel finds the statement by `TypeId`, without rendering or hashing the SQL.

use std::marker::PhantomData;

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::result::{Error, QueryResult};
use diesel::serialize::ToSql;
use diesel::sql_types::HasSqlType;

/// The text of one hand-written statement, on a marker type of its own (see [`statement!`]).
pub trait Statement: 'static {
    const SQL: &'static str;
    /// The text split at its binds, once per process.
    fn pieces() -> &'static Result<Pieces, String>;
}

/// Declares a statement marker: `statement!(GrantCheck = "SELECT …");`. Each marker is
/// used by one query function with one set of bind types.
#[macro_export]
macro_rules! statement {
    ($name:ident = $sql:expr) => {
        pub(crate) struct $name;
        impl $crate::sql::Statement for $name {
            const SQL: &'static str = $sql;
            fn pieces() -> &'static Result<$crate::sql::Pieces, String> {
                static PIECES: std::sync::OnceLock<Result<$crate::sql::Pieces, String>> =
                    std::sync::OnceLock::new();
                PIECES.get_or_init(|| $crate::sql::Pieces::parse(Self::SQL))
            }
        }
    };
}
pub use crate::statement;

/// Most binds a statement may have.
const MAX_BINDS: usize = 32;

/// A statement's text as rendered, split at the first occurrence of each bind: text, bind,
/// text, … Later occurrences of a bind repeat its placeholder and are part of the text.
/// Placeholders are numbered in order of first occurrence, as the binds are pushed.
pub struct Pieces {
    texts: Vec<String>,
    /// `binds[i]` is the `n` of the `$n` between `texts[i]` and `texts[i + 1]`.
    binds: Vec<usize>,
}

impl Pieces {
    pub fn parse(sql: &str) -> Result<Self, String> {
        let mut placeholder = [0usize; MAX_BINDS + 1];
        let mut texts = vec![String::new()];
        let mut binds = Vec::new();
        let mut rest = sql;
        while let Some(pos) = rest.find('$') {
            let after = &rest[pos + 1..];
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            let text = texts.last_mut().ok_or("no text")?;
            if digits == 0 {
                text.push_str(&rest[..=pos]);
                rest = after;
                continue;
            }
            text.push_str(&rest[..pos]);
            let n: usize = after[..digits]
                .parse()
                .ok()
                .filter(|n| (1..=MAX_BINDS).contains(n))
                .ok_or_else(|| format!("bad placeholder ${}", &after[..digits]))?;
            match placeholder[n] {
                0 => {
                    binds.push(n);
                    placeholder[n] = binds.len();
                    texts.push(String::new());
                }
                k => {
                    text.push('$');
                    text.push_str(&k.to_string());
                }
            }
            rest = &after[digits..];
        }
        texts.last_mut().ok_or("no text")?.push_str(rest);
        Ok(Self { texts, binds })
    }
}

/// A hand-written statement that stays prepared on its connection.
///
/// diesel's `sql_query` never caches (it cannot know the text is fixed), so every call would
/// parse and plan again: on the verify path that cost several times the query itself. Here
/// the text lives on a marker type, so the statement's `QueryId` is static: diesel finds the
/// prepared statement by `TypeId`, without rendering or hashing the SQL on each call.
/// `$n` in the text is the n-th `bind`. Each bind is sent once: its first occurrence becomes
/// the next placeholder, later ones repeat that placeholder (the code exchange names the
/// redirect URI 21 times; a value per occurrence cost a serialized bind each).
pub struct Prepared<S, B = ()> {
    binds: B,
    _statement: PhantomData<fn() -> S>,
}

impl<S: Statement> Prepared<S, ()> {
    pub fn new() -> Self {
        Prepared {
            binds: (),
            _statement: PhantomData,
        }
    }
}

impl<S: Statement> Default for Prepared<S, ()> {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Bind<ST, V> {
    value: V,
    _type: PhantomData<fn() -> ST>,
}

impl<S, B> Prepared<S, B> {
    pub fn bind<ST, V>(self, value: V) -> Prepared<S, (B, Bind<ST, V>)> {
        Prepared {
            binds: (
                self.binds,
                Bind {
                    value,
                    _type: PhantomData,
                },
            ),
            _statement: PhantomData,
        }
    }
}

/// The binds of a statement, as a cons list: `((((), $1), $2), $3)`.
pub trait Binds {
    const COUNT: usize;
    fn push_nth<'b>(&'b self, n: usize, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()>;
}

impl Binds for () {
    const COUNT: usize = 0;
    fn push_nth<'b>(&'b self, n: usize, _: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        Err(Error::QueryBuilderError(
            format!("statement uses ${n} but has no such bind").into(),
        ))
    }
}

impl<B: Binds, ST, V> Binds for (B, Bind<ST, V>)
where
    Pg: HasSqlType<ST>,
    V: ToSql<ST, Pg>,
{
    const COUNT: usize = B::COUNT + 1;
    fn push_nth<'b>(&'b self, n: usize, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        if n == Self::COUNT {
            out.push_bind_param::<ST, V>(&self.1.value)
        } else {
            self.0.push_nth(n, out)
        }
    }
}

impl<S: Statement, B: Binds> QueryFragment<Pg> for Prepared<S, B> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        // The text was split once (`Pieces`): each pass pushes the same texts and binds in
        // the same order, without scanning the SQL again.
        let pieces = S::pieces()
            .as_ref()
            .map_err(|e| Error::QueryBuilderError(e.clone().into()))?;
        let mut texts = pieces.texts.iter();
        for &n in &pieces.binds {
            if let Some(text) = texts.next() {
                out.push_sql(text);
            }
            self.binds.push_nth(n, &mut out)?;
        }
        for text in texts {
            out.push_sql(text);
        }
        Ok(())
    }
}

impl<S: Statement, B> QueryId for Prepared<S, B> {
    type QueryId = S;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<S, B> Query for Prepared<S, B> {
    type SqlType = diesel::sql_types::Untyped;
}

#[cfg(test)]
mod tests {
    #[test]
    fn prepared_statements_bind_each_value_once_and_are_cacheable() {
        use diesel::query_builder::QueryFragment;
        use diesel::sql_types::Integer;
        crate::statement!(Probe = "SELECT $1, $2, $1 WHERE x ~ '^a$'");
        let q = super::Prepared::<Probe>::new()
            .bind::<Integer, _>(7)
            .bind::<Integer, _>(8);
        let rendered = diesel::debug_query::<diesel::pg::Pg, _>(&q).to_string();
        assert_eq!(
            rendered,
            "SELECT $1, $2, $1 WHERE x ~ '^a$' -- binds: [7, 8]"
        );
        assert!(q.is_safe_to_cache_prepared(&diesel::pg::Pg).unwrap());

        // Placeholders follow first occurrence, so the binds go in that order.
        crate::statement!(Reordered = "SELECT $3, $1, $3, $2, $1");
        let q = super::Prepared::<Reordered>::new()
            .bind::<Integer, _>(1)
            .bind::<Integer, _>(2)
            .bind::<Integer, _>(3);
        let rendered = diesel::debug_query::<diesel::pg::Pg, _>(&q).to_string();
        assert_eq!(rendered, "SELECT $1, $2, $1, $3, $2 -- binds: [3, 1, 2]");
    }

    #[test]
    fn placeholders_beyond_the_binds_or_the_limit_are_errors() {
        use diesel::sql_types::Integer;
        crate::statement!(Missing = "SELECT $2");
        let q = super::Prepared::<Missing>::new().bind::<Integer, _>(1);
        let rendered = diesel::query_builder::QueryFragment::<diesel::pg::Pg>::to_sql(
            &q,
            &mut diesel::pg::PgQueryBuilder::default(),
            &diesel::pg::Pg,
        );
        assert!(rendered.is_err());
        crate::statement!(TooFar = "SELECT $33");
        let q = super::Prepared::<TooFar>::new().bind::<Integer, _>(1);
        let rendered = diesel::query_builder::QueryFragment::<diesel::pg::Pg>::to_sql(
            &q,
            &mut diesel::pg::PgQueryBuilder::default(),
            &diesel::pg::Pg,
        );
        assert!(rendered.is_err());
    }
}

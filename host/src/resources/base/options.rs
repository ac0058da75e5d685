//! The one style of every options struct: `#[non_exhaustive]`, `Default`, public fields to
//! read, and a builder made of `new()` plus one consuming setter per field, named like the
//! field. The setters are written once, here, by [`options_setters!`]; each struct lists its
//! fields with their shape and a line saying what each does.
//!
//! ```text
//! options_setters! {
//!     ListItemsOptions {
//!         /// Skip this many items first.
//!         offset: Option<u64>,
//!         /// Keep only these fields, in this order.
//!         fields: Option<Vec<String>>,
//!     }
//! }
//! ```
//!
//! The shapes, and the setter each one gets:
//! - `Option<String>`: `fn f(self, v: impl Into<String>)`, setting `Some(v.into())`;
//! - `Option<Vec<String>>`: `fn f(self, v: impl IntoIterator<Item = impl Into<String>>)`, so
//!   `.fields(["url", "title"])` works;
//! - `Option<T>` (a `Copy` value: numbers, `bool`, `Duration`, times): `fn f(self, v: T)`,
//!   setting `Some(v)`;
//! - `Vec<T>`: `fn f(self, v: impl IntoIterator<Item = impl Into<T>>)`, replacing the list;
//! - `String`: `fn f(self, v: impl Into<String>)`;
//! - any other `T` (a nested options struct, an enum, a number): `fn f(self, v: T)`.

/// `new()` and one documented setter per listed field for the options struct `$s`: see the
/// module documentation for the shapes. Each field needs at least one doc line (`/// ...`),
/// which the setter's documentation repeats after a link to the field.
macro_rules! options_setters {
    ($s:ident { $($fields:tt)* }) => {
        impl $s {
            /// Options with every field at its default (the same as `Default::default()`);
            /// set fields with the methods named like them.
            pub fn new() -> Self {
                Self::default()
            }

            $crate::resources::base::options_setters!(@field $s; $($fields)*);
        }
    };

    (@field $s:ident;) => {};

    (@field $s:ident;
        #[doc = $doc:literal] $(#[doc = $more:literal])*
        $f:ident : Option<String> $(, $($rest:tt)*)?
    ) => {
        #[doc = concat!("Sets [`", stringify!($s), "::", stringify!($f), "`]:", $doc)]
        $(#[doc = $more])*
        pub fn $f(mut self, $f: impl Into<String>) -> Self {
            self.$f = Some($f.into());
            self
        }
        $crate::resources::base::options_setters!(@field $s; $($($rest)*)?);
    };

    (@field $s:ident;
        #[doc = $doc:literal] $(#[doc = $more:literal])*
        $f:ident : Option<Vec<String>> $(, $($rest:tt)*)?
    ) => {
        #[doc = concat!("Sets [`", stringify!($s), "::", stringify!($f), "`]:", $doc)]
        $(#[doc = $more])*
        pub fn $f(mut self, $f: impl IntoIterator<Item = impl Into<String>>) -> Self {
            self.$f = Some($f.into_iter().map(Into::into).collect());
            self
        }
        $crate::resources::base::options_setters!(@field $s; $($($rest)*)?);
    };

    (@field $s:ident;
        #[doc = $doc:literal] $(#[doc = $more:literal])*
        $f:ident : Option<$t:ty> $(, $($rest:tt)*)?
    ) => {
        #[doc = concat!("Sets [`", stringify!($s), "::", stringify!($f), "`]:", $doc)]
        $(#[doc = $more])*
        pub fn $f(mut self, $f: $t) -> Self {
            self.$f = Some($f);
            self
        }
        $crate::resources::base::options_setters!(@field $s; $($($rest)*)?);
    };

    (@field $s:ident;
        #[doc = $doc:literal] $(#[doc = $more:literal])*
        $f:ident : Vec<$t:ty> $(, $($rest:tt)*)?
    ) => {
        #[doc = concat!("Sets [`", stringify!($s), "::", stringify!($f), "`]:", $doc)]
        $(#[doc = $more])*
        pub fn $f(mut self, $f: impl IntoIterator<Item = impl Into<$t>>) -> Self {
            self.$f = $f.into_iter().map(Into::into).collect();
            self
        }
        $crate::resources::base::options_setters!(@field $s; $($($rest)*)?);
    };

    (@field $s:ident;
        #[doc = $doc:literal] $(#[doc = $more:literal])*
        $f:ident : String $(, $($rest:tt)*)?
    ) => {
        #[doc = concat!("Sets [`", stringify!($s), "::", stringify!($f), "`]:", $doc)]
        $(#[doc = $more])*
        pub fn $f(mut self, $f: impl Into<String>) -> Self {
            self.$f = $f.into();
            self
        }
        $crate::resources::base::options_setters!(@field $s; $($($rest)*)?);
    };

    (@field $s:ident;
        #[doc = $doc:literal] $(#[doc = $more:literal])*
        $f:ident : $t:ty $(, $($rest:tt)*)?
    ) => {
        #[doc = concat!("Sets [`", stringify!($s), "::", stringify!($f), "`]:", $doc)]
        $(#[doc = $more])*
        pub fn $f(mut self, $f: $t) -> Self {
            self.$f = $f;
            self
        }
        $crate::resources::base::options_setters!(@field $s; $($($rest)*)?);
    };
}
pub(crate) use options_setters;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    /// Every shape, on a struct of its own.
    #[derive(Debug, Clone, Default, PartialEq)]
    struct Shapes {
        number: Option<u64>,
        time: Option<Duration>,
        text: Option<String>,
        texts: Option<Vec<String>>,
        list: Vec<String>,
        name: String,
        nested: Option<Box<Shapes>>,
        flag: bool,
    }

    options_setters! {
        Shapes {
            /// A number.
            number: Option<u64>,
            /// A duration.
            time: Option<Duration>,
            /// A text.
            text: Option<String>,
            /// Texts,
            /// on two lines.
            texts: Option<Vec<String>>,
            /// A list.
            list: Vec<String>,
            /// A name.
            name: String,
            /// Something nested.
            nested: Option<Box<Shapes>>,
            /// A flag.
            flag: bool,
        }
    }

    #[test]
    fn every_shape_sets_its_field() {
        assert_eq!(Shapes::new(), Shapes::default());
        let inner = Shapes::new().flag(true);
        let s = Shapes::new()
            .number(3)
            .time(Duration::from_secs(2))
            .text("a")
            .texts(["b", "c"])
            .list(vec![String::from("d")])
            .name(String::from("e"))
            .nested(Box::new(inner.clone()))
            .flag(false);
        let want = Shapes {
            number: Some(3),
            time: Some(Duration::from_secs(2)),
            text: Some("a".into()),
            texts: Some(vec!["b".into(), "c".into()]),
            list: vec!["d".into()],
            name: "e".into(),
            nested: Some(Box::new(inner)),
            flag: false,
        };
        assert_eq!(s, want);
        // A later call replaces, it does not append.
        assert_eq!(
            s.texts(["x"]).list(["y"]).texts,
            Some(vec!["x".to_string()])
        );
    }
}

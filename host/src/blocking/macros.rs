//! `blocking_client!`: a blocking client is its async client plus the runtime, and each of its
//! methods is one line naming the async method it waits for. The kinds:
//! - `call`: an async method, waited for;
//! - `child`: a method answering another async client, wrapped as its blocking form;
//! - `iter`: an `iterate_*` method, answered as an [`Iter`](super::Iter);
//! - `wrap`: an async method whose answer has a blocking form ([`IntoBlocking`]), e.g. a
//!   [`StreamedBody`](crate::clients::StreamedBody) read as a [`BodyReader`](super::BodyReader).

use super::runtime::Rt;

/// A value of the async API that has a blocking form (clients, streamed bodies).
pub(crate) trait IntoBlocking {
    /// The blocking form.
    type Blocking;
    /// Wraps `self` with the facade's runtime.
    fn into_blocking(self, rt: Rt) -> Self::Blocking;
}

impl<T: IntoBlocking> IntoBlocking for Option<T> {
    type Blocking = Option<T::Blocking>;
    fn into_blocking(self, rt: Rt) -> Self::Blocking {
        self.map(|v| v.into_blocking(rt))
    }
}

macro_rules! blocking_client {
    ($(
        $(#[$doc:meta])*
        $name:ident {
            $( $kind:ident fn $m:ident $([$($gen:tt)*])? (&self $(, $a:ident : $t:ty)* $(,)?) -> $r:ty; )*
        }
    )*) => {$(
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $name {
            inner: crate::clients::$name,
            rt: super::runtime::Rt,
        }

        // Like the async clients, every blocking client is `Send + Sync`.
        const _: () = {
            const fn assert_send_sync<T: Send + Sync>() {}
            assert_send_sync::<$name>()
        };

        impl $crate::blocking::macros::IntoBlocking for crate::clients::$name {
            type Blocking = $name;
            fn into_blocking(self, rt: super::runtime::Rt) -> $name {
                $name { inner: self, rt }
            }
        }

        impl $name {
            /// The async client behind this one (for code that mixes both).
            pub fn as_async(&self) -> &crate::clients::$name {
                &self.inner
            }

            /// The same client, each of whose calls waits at most `timeout` for an attempt
            /// (see the async client's `with_timeout`).
            pub fn with_timeout(&self, timeout: std::time::Duration) -> Self {
                $name { inner: self.inner.with_timeout(timeout), rt: self.rt.clone() }
            }

            /// The same client, each of whose calls ends at once when `abort` is aborted
            /// (from any thread; see [`crate::pipeline::AbortHandle`]).
            pub fn with_abort(&self, abort: &crate::pipeline::AbortHandle) -> Self {
                $name { inner: self.inner.with_abort(abort), rt: self.rt.clone() }
            }

            $( $crate::blocking::macros::blocking_client!(
                @method $name $kind $m [$($($gen)*)?] ($($a : $t),*) -> $r
            ); )*
        }
    )*};

    (@method $name:ident call $m:ident [$($gen:tt)*] ($($a:ident : $t:ty),*) -> $r:ty) => {
        #[doc = concat!("Blocking form of [`", stringify!($name), "::", stringify!($m),
            "`](crate::clients::", stringify!($name), "::", stringify!($m), ").")]
        pub fn $m<$($gen)*>(&self, $($a: $t),*) -> $r {
            self.rt.run(|| self.inner.$m($($a),*))
        }
    };
    (@method $name:ident child $m:ident [$($gen:tt)*] ($($a:ident : $t:ty),*) -> $r:ty) => {
        #[doc = concat!("Blocking form of [`", stringify!($name), "::", stringify!($m),
            "`](crate::clients::", stringify!($name), "::", stringify!($m), ").")]
        pub fn $m<$($gen)*>(&self, $($a: $t),*) -> $r {
            $crate::blocking::macros::IntoBlocking::into_blocking(
                self.inner.$m($($a),*), self.rt.clone())
        }
    };
    (@method $name:ident iter $m:ident [$($gen:tt)*] ($($a:ident : $t:ty),*) -> $r:ty) => {
        #[doc = concat!("Blocking form of [`", stringify!($name), "::", stringify!($m),
            "`](crate::clients::", stringify!($name), "::", stringify!($m),
            "): an iterator that fetches page after page as it advances.")]
        pub fn $m<$($gen)*>(&self, $($a: $t),*) -> super::Iter<$r> {
            super::Iter::new(self.inner.$m($($a),*), self.rt.clone())
        }
    };
    (@method $name:ident wrap $m:ident [$($gen:tt)*] ($($a:ident : $t:ty),*) -> $r:ty) => {
        #[doc = concat!("Blocking form of [`", stringify!($name), "::", stringify!($m),
            "`](crate::clients::", stringify!($name), "::", stringify!($m), ").")]
        pub fn $m<$($gen)*>(&self, $($a: $t),*) -> Result<$r, crate::Error> {
            let answer = self.rt.run(|| self.inner.$m($($a),*))?;
            Ok($crate::blocking::macros::IntoBlocking::into_blocking(answer, self.rt.clone()))
        }
    };
}
pub(crate) use blocking_client;

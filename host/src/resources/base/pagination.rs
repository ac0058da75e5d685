//! The two paginators every `iterate_*` uses: by offset (collections, dataset items) and by
//! cursor (key-value store keys, request queue requests). Pages are fetched only as the stream
//! is consumed, so at most one page is held in memory.

use std::future::Future;

use futures_util::{stream::BoxStream, StreamExt, TryStreamExt};

use super::ListPage;
use crate::Error;

/// A stream of items fetched page by page; it ends after the last page or at the first error.
pub type ItemStream<T> = BoxStream<'static, Result<T, Error>>;

/// The API's largest page, and the default page size of every iterator.
const MAX_PAGE: u64 = 1000;

/// The size of the next page: `chunk_size` (default and cap 1000), less when fewer than that
/// remain of `limit`; `None` once `limit` items were read.
fn next_page_limit(limit: Option<u64>, chunk_size: Option<u64>, read: u64) -> Option<u64> {
    let page = chunk_size.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
    match limit {
        Some(l) if read >= l => None,
        Some(l) => Some(page.min(l - read)),
        None => Some(page),
    }
}

/// How far an iteration is allowed to go, and in which steps.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Paging {
    /// At most this many items overall.
    pub limit: Option<u64>,
    /// Items per request (default and cap 1000).
    pub chunk_size: Option<u64>,
}

/// Turns a page fetcher into a stream of items. `fetch(state)` answers one page and the state
/// for the next page, or `None` after the last one.
fn paginate<S, T, F, Fut>(init: S, fetch: F) -> ItemStream<T>
where
    S: Send + 'static,
    T: Send + 'static,
    F: FnMut(S) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(Vec<T>, Option<S>), Error>> + Send + 'static,
{
    futures_util::stream::try_unfold((Some(init), fetch), |(state, mut fetch)| async move {
        let Some(state) = state else {
            return Ok::<_, Error>(None);
        };
        let (items, next) = fetch(state).await?;
        Ok(Some((items, (next, fetch))))
    })
    .map_ok(|items| futures_util::stream::iter(items.into_iter().map(Ok)))
    .try_flatten()
    .boxed()
}

/// Pages by offset from `start`: `fetch(offset, page_limit)` answers one page. The iteration
/// ends at an empty or short page, or, when `trust_total`, once the page's `total` is reached
/// (dataset item counts lag behind writes, so item iterators read until a short page instead,
/// as the Python client does). A page whose offset is not the one asked for ends it with an
/// error: the offset did not advance, and the iteration would never end.
pub(crate) fn by_offset<T, F, Fut>(
    start: u64,
    paging: Paging,
    trust_total: bool,
    fetch: F,
) -> ItemStream<T>
where
    T: Send + 'static,
    F: Fn(u64, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<ListPage<T>, Error>> + Send + 'static,
{
    let fetch = std::sync::Arc::new(fetch);
    paginate((start, 0u64), move |(offset, read)| {
        let fetch = fetch.clone();
        async move {
            let Some(page_limit) = next_page_limit(paging.limit, paging.chunk_size, read) else {
                return Ok((Vec::new(), None));
            };
            let page = fetch(offset, page_limit).await?;
            let n = page.items.len() as u64;
            // A server that ignores `offset` answers the first page again and again; with
            // `trust_total` off (dataset items) nothing else would end that loop.
            if n > 0 && page.offset != offset {
                return Err(Error::decode(format!(
                    "the API answered a page at offset {} when asked for offset {offset}; \
                     stopping the iteration instead of looping",
                    page.offset
                )));
            }
            let next_offset = offset + n;
            // The API may cap a page below what was asked: a page is short against the
            // smaller of the two.
            let short = n < page_limit.min(page.limit.max(1));
            let done =
                n == 0 || short || (trust_total && page.total > 0 && next_offset >= page.total);
            Ok((page.items, (!done).then_some((next_offset, read + n))))
        }
    })
}

/// Pages by cursor from `start`: `fetch(cursor, page_limit)` answers one page's items and
/// the cursor of the next page (`None` after the last). A server that answers a cursor it
/// answered before would make the iteration loop forever: that ends it with an error instead.
pub(crate) fn by_cursor<T, C, F, Fut>(start: Option<C>, paging: Paging, fetch: F) -> ItemStream<T>
where
    T: Send + 'static,
    C: Clone + PartialEq + std::fmt::Debug + Send + Sync + 'static,
    F: Fn(Option<C>, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(Vec<T>, Option<C>), Error>> + Send + 'static,
{
    let fetch = std::sync::Arc::new(fetch);
    // Every cursor seen so far: a server can also loop through a cycle (a, b, a, ...), not
    // only repeat one cursor. One cursor per page of up to 1000 items, so this stays small.
    let seen: Vec<C> = start.iter().cloned().collect();
    paginate((start, 0u64, seen), move |(cursor, read, mut seen)| {
        let fetch = fetch.clone();
        async move {
            let Some(page_limit) = next_page_limit(paging.limit, paging.chunk_size, read) else {
                return Ok((Vec::new(), None));
            };
            let (items, next) = fetch(cursor, page_limit).await?;
            let n = items.len() as u64;
            match next {
                None => Ok((items, None)),
                Some(_) if n == 0 => Ok((items, None)),
                Some(next) if seen.contains(&next) => Err(Error::decode(format!(
                    "the API answered the page cursor {next:?} a second time; stopping the \
                     iteration instead of looping"
                ))),
                Some(next) => {
                    seen.push(next.clone());
                    Ok((items, Some((Some(next), read + n, seen))))
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_limits() {
        assert_eq!(next_page_limit(None, None, 5000), Some(1000));
        assert_eq!(next_page_limit(Some(2500), None, 2000), Some(500));
        assert_eq!(next_page_limit(Some(2500), None, 2500), None);
        assert_eq!(next_page_limit(None, Some(10), 0), Some(10));
        assert_eq!(next_page_limit(None, Some(5000), 0), Some(1000));
        assert_eq!(next_page_limit(Some(3), Some(10), 0), Some(3));
    }

    #[tokio::test]
    async fn a_repeated_cursor_ends_with_an_error() {
        let s = by_cursor(None, Paging::default(), |_c: Option<String>, _n| async {
            Ok((vec![1], Some("a".to_string())))
        });
        let got: Vec<Result<i32, Error>> = s.collect().await;
        assert_eq!(
            got.len(),
            2,
            "the first page, then the error instead of a repeat"
        );
        assert!(got[1].as_ref().unwrap_err().is_decode());
    }

    #[tokio::test]
    async fn an_offset_that_does_not_advance_ends_with_an_error() {
        // A server that ignores `offset`: always the same full first page.
        let s = by_offset(0, Paging::default(), false, |_offset, n| async move {
            Ok(ListPage {
                items: vec![0u64; n as usize],
                total: 0,
                offset: 0,
                count: n,
                limit: n,
                desc: false,
            })
        });
        let got: Vec<Result<u64, Error>> = s.collect().await;
        assert_eq!(got.len(), 1001, "the first page, then the error");
        assert!(got[1000].as_ref().unwrap_err().is_decode());
    }

    proptest::proptest! {
        /// Whatever pages a server answers, the paginators end: an offset paginator after at
        /// most `items / 1 + 1` pages, a cursor paginator at the first repeated cursor.
        #[test]
        fn paginators_always_end(
            answers in proptest::collection::vec((0u64..5, 0u64..4, proptest::bool::ANY), 1..20),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let pages = std::sync::Arc::new(answers);
            let p = pages.clone();
            let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let c = calls.clone();
            let s = by_cursor(None, Paging { limit: None, chunk_size: Some(3) }, move |_cur: Option<u64>, _n| {
                let i = c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let (items, next, more) = p[i % p.len()];
                async move { Ok((vec![0u8; items as usize], more.then_some(next))) }
            });
            let got: Vec<_> = rt.block_on(s.take(100_000).collect::<Vec<_>>());
            // Cursors come from 0..4: a run of pages without a repeat is short.
            proptest::prop_assert!(calls.load(std::sync::atomic::Ordering::SeqCst) <= 100);
            proptest::prop_assert!(got.len() < 100_000);
        }
    }

    #[tokio::test]
    async fn offsets_advance_and_stop_at_a_short_page() {
        let s = by_offset(
            5,
            Paging {
                limit: None,
                chunk_size: Some(2),
            },
            false,
            |offset, n| async move {
                let items: Vec<u64> = (offset..(offset + n).min(10)).collect();
                Ok(ListPage {
                    count: items.len() as u64,
                    items,
                    total: 0,
                    offset,
                    limit: n,
                    desc: false,
                })
            },
        );
        let got: Vec<u64> = s.try_collect().await.unwrap();
        assert_eq!(got, [5, 6, 7, 8, 9]);
    }
}

//! Ending calls on purpose: an [`AbortHandle`] attached to a client or a request.

use tokio_util::sync::CancellationToken;

/// Ends the calls it is attached to, at once, wherever they are: waiting for a response head,
/// between retries, or streaming a body. The transport's exchange is dropped, so the
/// connection it used is closed (a plugin's too), and the call answers an error for which
/// [`crate::Error::is_aborted`] is true.
///
/// Attach it to every call of a resource client with `with_abort` (e.g.
/// [`crate::clients::DatasetClient::with_abort`]) or to one raw request with
/// [`crate::pipeline::ApiRequest::abort_handle`]. Clones share one state: aborting any clone aborts the
/// calls of all, and calls attached after the abort fail at once.
///
/// ```no_run
/// # async fn demo(client: apify_host::ApifyClient) {
/// let abort = apify_host::pipeline::AbortHandle::new();
/// let ds = client.dataset("my-dataset").with_abort(&abort);
/// let waiter = tokio::spawn(async move { ds.get().await });
/// abort.abort();
/// assert!(waiter.await.unwrap().unwrap_err().is_aborted());
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct AbortHandle {
    token: CancellationToken,
}

impl AbortHandle {
    /// A handle that has not been aborted.
    pub fn new() -> Self {
        Self::default()
    }

    /// Aborts every call attached to this handle (or a clone of it), now and later.
    pub fn abort(&self) {
        self.token.cancel();
    }

    /// Whether [`AbortHandle::abort`] was called.
    pub fn is_aborted(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves when the handle is aborted.
    pub(crate) async fn aborted(&self) {
        self.token.cancelled().await
    }

    /// Resolves when the handle is aborted; owns its handle.
    pub(crate) fn aborted_owned(self) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.token.cancelled_owned()
    }
}

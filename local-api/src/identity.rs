//! Who the server is and where it answers, for the URLs and ids inside resource objects.

/// Who the server is and where it answers, for the URLs and ids inside resource objects.
#[derive(Debug, Clone)]
pub struct Identity {
    /// `http://127.0.0.1:PORT`, without `/v2`.
    pub base_url: String,
    /// Where `consoleUrl`s point (the real console: there is no local one).
    pub console_url: String,
    /// The single user's `username`.
    pub username: String,
    /// The single user's `id`.
    pub user_id: String,
}

//! Syslog listeners: UDP, TCP and TLS (RFC 5426, 6587, 5425), RFC 3164 and 5424 with CEF/LEEF
//! payloads recognised by the parser.
//!
//! Stream inputs hold the sender back instead of dropping: each read's messages are one batch, and
//! the connection reads nothing more until that batch is durable (waiting while the store is
//! overloaded), so TCP flow control slows the sender. UDP cannot be slowed: what the store refuses
//! is counted in `kasbah_udp_dropped_total`, never silently lost.
//!
//! Framing (RFC 6587) is decided per message: a frame that starts with digits and a space is
//! octet-counted (`123 <34>1 ...`), anything else ends at a newline (or NUL).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use kasbah_detect::Findings;
use kasbah_event::TenantId;
use kasbah_parse::{Cx, Item, LineParser, Origin, ParseOptions};
use kasbah_store::{Batch, StoredEvent};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use crate::ingest::{self, Prep};
use crate::metrics::Input;
use crate::state::Shared;

/// How long a stream connection waits for room in an overloaded store before giving up on it.
const STREAM_PATIENCE: Duration = Duration::from_secs(300);

/// Parses one syslog message into `out` with the tenant's preparation (`prep`, `opts`, made once
/// per read of a connection, not per message); returns false if it was not parseable.
pub(crate) fn parse_message(
    parser: &mut dyn LineParser,
    (prep, opts): (&Prep<'_>, &ParseOptions),
    origin: &Origin,
    record: u64,
    msg: &[u8],
    (out, found): (&mut Vec<StoredEvent>, &mut Findings),
) -> bool {
    let text = kasbah_parse::text_of(msg);
    let text = text.trim_end_matches(['\r', '\n', '\0']);
    if text.trim().is_empty() {
        return true;
    }
    let mut ok = true;
    let mut sink = |item: Item| match item {
        Item::Event(mut e) => out.push(prep.event(&mut e, found)),
        Item::Bad(_) => ok = false,
    };
    let mut cx = Cx::new(opts, origin, &mut sink);
    if parser.parse_line(text, record, &mut cx).is_err() {
        ok = false;
    }
    ok
}

/// What the framer found in the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A complete message.
    Message(&'a [u8]),
    /// A message over the size limit, skipped.
    TooLarge,
}

/// RFC 6587 framing over a byte stream, with a size limit.
#[derive(Debug)]
pub struct Framer {
    max: usize,
    buf: Vec<u8>,
    /// Bytes of an oversize octet-counted frame still to discard.
    skip: usize,
    /// Discarding an oversize newline-framed message until its newline.
    skip_line: bool,
}

impl Framer {
    /// A framer refusing messages over `max` bytes.
    pub fn new(max: usize) -> Self {
        Framer {
            max,
            buf: Vec::new(),
            skip: 0,
            skip_line: false,
        }
    }

    /// Adds received bytes and calls `f` for each complete frame.
    pub fn push(&mut self, mut data: &[u8], mut f: impl FnMut(Frame<'_>)) {
        if self.skip > 0 {
            let n = self.skip.min(data.len());
            self.skip -= n;
            data = data.get(n..).unwrap_or_default();
        }
        self.buf.extend_from_slice(data);
        let mut pos = 0;
        loop {
            let rest = self.buf.get(pos..).unwrap_or_default();
            if rest.is_empty() {
                break;
            }
            if self.skip_line {
                match memchr::memchr2(b'\n', b'\0', rest) {
                    Some(i) => {
                        pos += i + 1;
                        self.skip_line = false;
                        continue;
                    }
                    None => {
                        pos = self.buf.len();
                        break;
                    }
                }
            }
            // Leading newlines between frames are noise.
            if matches!(rest.first(), Some(b'\n' | b'\r' | b'\0' | b' ')) {
                pos += 1;
                continue;
            }
            let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            if digits > 0 && digits <= 10 && rest.get(digits) == Some(&b' ') {
                let len: usize = std::str::from_utf8(rest.get(..digits).unwrap_or_default())
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(usize::MAX);
                if len > self.max {
                    f(Frame::TooLarge);
                    let available = rest.len() - digits - 1;
                    if available >= len {
                        pos += digits + 1 + len;
                        continue;
                    }
                    self.skip = len - available;
                    pos = self.buf.len();
                    break;
                }
                let start = digits + 1;
                match rest.get(start..start + len) {
                    Some(msg) => {
                        f(Frame::Message(msg));
                        pos += start + len;
                        continue;
                    }
                    None => break, // wait for the rest of the frame
                }
            }
            match memchr::memchr2(b'\n', b'\0', rest) {
                Some(i) => {
                    let msg = rest.get(..i).unwrap_or_default();
                    if msg.len() > self.max {
                        f(Frame::TooLarge);
                    } else {
                        f(Frame::Message(msg));
                    }
                    pos += i + 1;
                }
                None => {
                    if rest.len() > self.max {
                        f(Frame::TooLarge);
                        self.skip_line = true;
                        pos = self.buf.len();
                    }
                    break;
                }
            }
        }
        self.buf.drain(..pos.min(self.buf.len()));
    }

    /// Bytes of an unfinished frame (reported as truncated when the connection ends).
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

/// Reads what the peer sent; `None` when the connection ended, failed or stayed silent for
/// `idle`.
pub(crate) async fn read_some<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut [u8],
    idle: Duration,
    peer: SocketAddr,
) -> Option<usize> {
    match tokio::time::timeout(idle, stream.read(buf)).await {
        Ok(Ok(0)) => None,
        Ok(Ok(n)) => Some(n),
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "stream connection error");
            None
        }
        Err(_) => {
            tracing::debug!(%peer, "stream connection idle; closing");
            None
        }
    }
}

/// Stores the events of one read of a stream connection (waiting for room while the store is
/// overloaded, up to [`STREAM_PATIENCE`]) and hands their findings to detection; false, counted
/// as refused, when they could not be stored.
pub(crate) async fn store_read(
    state: &Shared,
    (tenant, input, peer): (TenantId, Input, SocketAddr),
    events: Vec<StoredEvent>,
    found: Findings,
    received: std::time::Instant,
) -> bool {
    let count = events.len() as u64;
    match ingest::commit_patiently(&state.store, Batch { tenant, events }, STREAM_PATIENCE).await {
        Ok(_) => {
            state.metrics.events.add(input, count);
            ingest::detected(state, tenant, found, received);
            true
        }
        Err(e) => {
            state.metrics.rejected_overload.add(input, count);
            tracing::warn!(%peer, error = %e, input = input.name(), "closing connection: events not stored");
            false
        }
    }
}

/// Serves one stream connection (TCP or TLS).
async fn serve_stream<S: AsyncRead + Unpin>(
    state: Shared,
    tenant: TenantId,
    input: Input,
    peer: SocketAddr,
    mut stream: S,
) {
    let origin = Origin::Peer {
        input: Arc::from(input.name()),
        addr: peer,
    };
    let mut parser = kasbah_parse::network_syslog_parser();
    let mut framer = Framer::new(state.config.syslog.max_message_bytes);
    let idle = Duration::from_secs(state.config.syslog.idle_timeout_secs.max(1));
    let mut buf = vec![0u8; 256 * 1024];
    let mut record = 0u64;
    loop {
        let Some(n) = read_some(&mut stream, &mut buf, idle, peer).await else {
            break;
        };
        state.metrics.bytes.add(input, n as u64);
        let received = std::time::Instant::now();
        let (prep, opts) = (state.prep(tenant), state.parse_options(tenant));
        let mut events = Vec::new();
        let mut found = Findings::default();
        let (mut bad, mut large) = (0u64, 0u64);
        framer.push(buf.get(..n).unwrap_or_default(), |frame| match frame {
            Frame::Message(m) => {
                record += 1;
                if !parse_message(
                    parser.as_mut(),
                    (&prep, &opts),
                    &origin,
                    record,
                    m,
                    (&mut events, &mut found),
                ) {
                    bad += 1;
                }
            }
            Frame::TooLarge => large += 1,
        });
        state.metrics.parse_errors.add(input, bad);
        state.metrics.rejected_too_large.add(input, large);
        if events.is_empty() {
            continue;
        }
        if !store_read(&state, (tenant, input, peer), events, found, received).await {
            // The connection is closed without reading further, so the sender keeps (and
            // resends) everything after the last durable batch.
            return;
        }
    }
    if framer.pending() > 0 {
        state.metrics.parse_errors.add(input, 1);
    }
}

/// What a stream listener speaks.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// Syslog with RFC 6587 framing (octet counting or newlines).
    Syslog,
    /// RELP: every message acknowledged once durable ([`crate::relp`]).
    Relp,
}

/// Accepts TCP (or, with `tls`, TLS) syslog or RELP connections until the task is dropped.
pub async fn run_stream(
    state: Shared,
    tenant: TenantId,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    protocol: Protocol,
) {
    let input = match (protocol, tls.is_some()) {
        (Protocol::Relp, _) => Input::SyslogRelp,
        (Protocol::Syslog, true) => Input::SyslogTls,
        (Protocol::Syslog, false) => Input::SyslogTcp,
    };
    let limit = Arc::new(Semaphore::new(state.config.syslog.max_connections.max(1)));
    loop {
        let (sock, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "syslog accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            state
                .metrics
                .connections_refused
                .fetch_add(1, Ordering::Relaxed);
            drop(sock);
            continue;
        };
        let st = state.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            st.metrics
                .syslog_connections
                .fetch_add(1, Ordering::Relaxed);
            let _ = sock.set_nodelay(true);
            match (tls, protocol) {
                (None, Protocol::Syslog) => {
                    serve_stream(st.clone(), tenant, input, peer, sock).await
                }
                (None, Protocol::Relp) => {
                    crate::relp::serve(st.clone(), tenant, input, peer, sock).await;
                }
                (Some(acceptor), _) => {
                    match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(sock)).await
                    {
                        Ok(Ok(s)) if protocol == Protocol::Relp => {
                            crate::relp::serve(st.clone(), tenant, input, peer, s).await;
                        }
                        Ok(Ok(s)) => serve_stream(st.clone(), tenant, input, peer, s).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
            st.metrics
                .syslog_connections
                .fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }
}

/// Receives UDP syslog datagrams (one message each) until the task is dropped.
pub async fn run_udp(state: Shared, tenant: TenantId, socket: UdpSocket) {
    let (tx, mut rx) =
        tokio::sync::mpsc::channel::<(Vec<StoredEvent>, Findings, std::time::Instant)>(1024);
    let st = state.clone();
    // The batcher: one append per burst of datagrams, so a flood costs one fsync per burst.
    tokio::spawn(async move {
        while let Some((mut events, mut found, received)) = rx.recv().await {
            while events.len() < 10_000 {
                match rx.try_recv() {
                    Ok((more, f, _)) => {
                        events.extend(more);
                        found.absorb(f);
                    }
                    Err(_) => break,
                }
            }
            let n = events.len() as u64;
            match ingest::commit(&st.store, Batch { tenant, events }).await {
                Ok(_) => {
                    st.metrics.events.add(Input::SyslogUdp, n);
                    ingest::detected(&st, tenant, found, received);
                }
                Err(e) => {
                    st.metrics.udp_dropped.fetch_add(n, Ordering::Relaxed);
                    st.metrics.rejected_overload.add(Input::SyslogUdp, n);
                    tracing::warn!(error = %e, events = n, "UDP syslog events dropped");
                }
            }
        }
    });
    let mut parser = kasbah_parse::network_syslog_parser();
    let mut buf = vec![0u8; 65_536];
    let mut record = 0u64;
    loop {
        let (n, peer) = match socket.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!(error = %e, "UDP receive failed");
                continue;
            }
        };
        state.metrics.bytes.add(Input::SyslogUdp, n as u64);
        if n > state.config.syslog.max_message_bytes {
            state.metrics.rejected_too_large.add(Input::SyslogUdp, 1);
            continue;
        }
        record += 1;
        let origin = Origin::Peer {
            input: Arc::from("syslog_udp"),
            addr: peer,
        };
        let mut events = Vec::with_capacity(1);
        let mut found = Findings::default();
        let received = std::time::Instant::now();
        if !parse_message(
            parser.as_mut(),
            (&state.prep(tenant), &state.parse_options(tenant)),
            &origin,
            record,
            buf.get(..n).unwrap_or_default(),
            (&mut events, &mut found),
        ) {
            state.metrics.parse_errors.add(Input::SyslogUdp, 1);
        }
        if events.is_empty() {
            continue;
        }
        let count = events.len() as u64;
        if tx.try_send((events, found, received)).is_err() {
            state
                .metrics
                .udp_dropped
                .fetch_add(count, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(chunks: &[&[u8]], max: usize) -> Vec<String> {
        let mut f = Framer::new(max);
        let mut out = Vec::new();
        for c in chunks {
            f.push(c, |fr| {
                out.push(match fr {
                    Frame::Message(m) => String::from_utf8_lossy(m).into_owned(),
                    Frame::TooLarge => "<too large>".into(),
                })
            });
        }
        out
    }

    #[test]
    fn newline_and_octet_counting_mix() {
        let got = frames(&[b"<13>a\n9 <13>b\nc d<13>e\r\n"], 100);
        assert_eq!(got, vec!["<13>a", "<13>b\nc d", "<13>e\r"]);
    }

    #[test]
    fn frames_split_across_reads() {
        let got = frames(&[b"11 <13>hello", b" w", b"<13>next\n"], 100);
        assert_eq!(got, vec!["<13>hello w", "<13>next"]);
    }

    #[test]
    fn oversize_messages_are_skipped_not_split() {
        let got = frames(&[b"20 <13>0123456789abcdef<13>ok\n"], 10);
        assert_eq!(got, vec!["<too large>", "<13>ok"]);
        let got = frames(&[b"<13>0123456789abcdef", b"more\n<13>ok\n"], 10);
        assert_eq!(got, vec!["<too large>", "<13>ok"]);
        // An oversize octet-counted frame whose body arrives over several reads.
        let got = frames(
            &[b"30 <13>0123", b"45678901234567890123", b"45<13>ok\n"],
            10,
        );
        assert_eq!(got, vec!["<too large>", "<13>ok"]);
    }

    proptest::proptest! {
        #[test]
        fn framer_never_panics_and_bounds_memory(chunks in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..64), 0..16)) {
            let mut f = Framer::new(32);
            for c in &chunks {
                f.push(c, |fr| if let Frame::Message(m) = fr { assert!(m.len() <= 32) });
                proptest::prop_assert!(f.pending() <= 32 + 64 + 12);
            }
        }
    }
}

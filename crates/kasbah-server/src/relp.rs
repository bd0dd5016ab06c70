//! RELP, rsyslog's Reliable Event Logging Protocol (`omrelp`, `imrelp`): syslog over TCP where
//! each message is acknowledged, so a sender resends what was not acknowledged after a broken
//! connection or a crash. Kasbah acknowledges a message only once it is in the fsynced
//! write-ahead log, the same promise as the HTTP inputs' 2xx.
//!
//! A frame is `TXNR SP COMMAND SP DATALEN [SP DATA] LF`: a transaction number (1-999999999), a
//! command (`open`, `syslog`, `close`; the server answers `rsp` and may send `serverclose`), the
//! data's length and the data. Frames of one read are parsed, their messages stored as one
//! batch, then every `rsp` is sent in order. Anything malformed ends the connection (the sender
//! reconnects and resends what is unacknowledged); an oversize message is answered `500`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use kasbah_detect::Findings;
use kasbah_event::TenantId;
use kasbah_parse::Origin;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::metrics::Input;
use crate::state::Shared;

/// The largest transaction number (RELP wraps after it).
const MAX_TXNR: u64 = 999_999_999;
/// The longest command name.
const MAX_COMMAND: usize = 32;
/// Room for the offers of an `open` beyond the message size limit.
const HEADER_SLACK: usize = 4096;

/// One RELP frame.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Transaction number.
    pub txnr: u64,
    /// Command.
    pub command: &'a str,
    /// Data (empty when `DATALEN` is 0).
    pub data: &'a [u8],
}

/// Why a connection's bytes are not RELP.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RelpError {
    /// The header is not `TXNR SP COMMAND SP DATALEN`.
    #[error("malformed RELP header")]
    Header,
    /// The frame does not end with a line feed.
    #[error("RELP frame without its trailer")]
    Trailer,
    /// `DATALEN` is beyond the limit.
    #[error("RELP frame of {0} bytes is over the limit")]
    TooLarge(usize),
}

/// What [`parse_frame`] found at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A whole frame, and the bytes it took.
    Frame(Frame<'a>, usize),
    /// More bytes are needed.
    Incomplete,
}

fn number(s: &[u8], max: u64) -> Option<u64> {
    if s.is_empty() || s.len() > 10 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = std::str::from_utf8(s).ok()?.parse::<u64>().ok()?;
    (n <= max).then_some(n)
}

/// Parses the frame at the start of `buf`; `max_data` bounds `DATALEN`.
pub fn parse_frame(buf: &[u8], max_data: usize) -> Result<Parsed<'_>, RelpError> {
    // The header is short: TXNR (≤ 9 digits), the command (≤ 32), DATALEN (≤ 10 digits).
    let header_max = 9 + 1 + MAX_COMMAND + 1 + 10 + 1;
    let mut fields = [0usize; 2];
    let mut found = 0;
    for (i, b) in buf.iter().enumerate().take(header_max) {
        if *b == b' ' && found < 2 {
            fields[found] = i;
            found += 1;
        }
        if found == 2 {
            break;
        }
    }
    if found < 2 {
        return if buf.len() >= header_max {
            Err(RelpError::Header)
        } else {
            Ok(Parsed::Incomplete)
        };
    }
    let [sp1, sp2] = fields;
    if sp1 > 9 {
        return Err(RelpError::Header);
    }
    let txnr = number(buf.get(..sp1).unwrap_or_default(), MAX_TXNR).ok_or(RelpError::Header)?;
    let command = buf.get(sp1 + 1..sp2).unwrap_or_default();
    if command.is_empty()
        || command.len() > MAX_COMMAND
        || !command.iter().all(u8::is_ascii_alphabetic)
    {
        return Err(RelpError::Header);
    }
    let command = std::str::from_utf8(command).map_err(|_| RelpError::Header)?;
    // DATALEN ends at a space (data follows) or at the trailer (no data).
    let rest = buf.get(sp2 + 1..).unwrap_or_default();
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == rest.len() {
        return if digits > 10 {
            Err(RelpError::Header)
        } else {
            Ok(Parsed::Incomplete)
        };
    }
    let len = number(rest.get(..digits).unwrap_or_default(), u64::MAX).ok_or(RelpError::Header)?;
    let len = usize::try_from(len).map_err(|_| RelpError::TooLarge(usize::MAX))?;
    if len > max_data {
        return Err(RelpError::TooLarge(len));
    }
    let head = sp2 + 1 + digits;
    match (len, rest.get(digits)) {
        (0, Some(b'\n')) => Ok(Parsed::Frame(
            Frame {
                txnr,
                command,
                data: &[],
            },
            head + 1,
        )),
        (_, Some(b' ')) => {
            let start = head + 1;
            let Some(data) = buf.get(start..start + len) else {
                return Ok(Parsed::Incomplete);
            };
            match buf.get(start + len) {
                None => Ok(Parsed::Incomplete),
                Some(b'\n') => Ok(Parsed::Frame(
                    Frame {
                        txnr,
                        command,
                        data,
                    },
                    start + len + 1,
                )),
                Some(_) => Err(RelpError::Trailer),
            }
        }
        _ => Err(RelpError::Header),
    }
}

/// Appends a response frame.
fn rsp(out: &mut Vec<u8>, txnr: u64, text: &str) {
    out.extend_from_slice(format!("{txnr} rsp {} {text}\n", text.len()).as_bytes());
}

/// The answer to `open`: RELP version 0 and the one command Kasbah takes.
fn open_answer(out: &mut Vec<u8>, txnr: u64) {
    let offers = format!(
        "200 OK\nrelp_version=0\nrelp_software=kasbah,{},https://github.com/kasbah-soc/kasbah\ncommands=syslog",
        env!("CARGO_PKG_VERSION")
    );
    rsp(out, txnr, &offers);
}

/// Serves one RELP connection (plain or TLS).
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
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
    let max_msg = state.config.syslog.max_message_bytes;
    let max_data = max_msg.saturating_add(HEADER_SLACK);
    let mut parser = kasbah_parse::network_syslog_parser();
    let idle = Duration::from_secs(state.config.syslog.idle_timeout_secs.max(1));
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 256 * 1024];
    let mut record = 0u64;
    let mut opened = false;
    loop {
        let Some(n) = crate::syslog::read_some(&mut stream, &mut chunk, idle, peer).await else {
            return;
        };
        state.metrics.bytes.add(input, n as u64);
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        let received = std::time::Instant::now();
        let (prep, opts) = (state.prep(tenant), state.parse_options(tenant));
        let mut events = Vec::new();
        let mut found = Findings::default();
        let mut answers = Vec::new();
        let (mut bad, mut large, mut close) = (0u64, 0u64, None);
        let mut pos = 0;
        let mut broken = None;
        while close.is_none() {
            let rest = buf.get(pos..).unwrap_or_default();
            match parse_frame(rest, max_data) {
                Ok(Parsed::Incomplete) => break,
                Err(e) => {
                    broken = Some(e);
                    break;
                }
                Ok(Parsed::Frame(f, used)) => {
                    pos += used;
                    match f.command {
                        "open" => {
                            opened = true;
                            open_answer(&mut answers, f.txnr);
                        }
                        "syslog" if !opened => {
                            broken = Some(RelpError::Header);
                            break;
                        }
                        "syslog" if f.data.len() > max_msg => {
                            large += 1;
                            rsp(&mut answers, f.txnr, "500 message over the size limit");
                        }
                        "syslog" => {
                            record += 1;
                            if !crate::syslog::parse_message(
                                parser.as_mut(),
                                (&prep, &opts),
                                &origin,
                                record,
                                f.data,
                                (&mut events, &mut found),
                            ) {
                                bad += 1;
                            }
                            rsp(&mut answers, f.txnr, "200 OK");
                        }
                        "close" => close = Some(f.txnr),
                        _ => rsp(&mut answers, f.txnr, "500 unknown command"),
                    }
                }
            }
        }
        buf.drain(..pos.min(buf.len()));
        state.metrics.parse_errors.add(input, bad);
        state.metrics.rejected_too_large.add(input, large);
        if !events.is_empty()
            && !crate::syslog::store_read(&state, (tenant, input, peer), events, found, received)
                .await
        {
            // Nothing of this read is acknowledged: the sender resends it.
            return;
        }
        if let Some(txnr) = close {
            rsp(&mut answers, txnr, "200 OK");
        }
        if !answers.is_empty() && stream.write_all(&answers).await.is_err() {
            return;
        }
        if let Some(e) = broken {
            state.metrics.parse_errors.add(input, 1);
            tracing::debug!(%peer, error = %e, "closing RELP connection");
            let _ = stream.write_all(b"0 serverclose 0\n").await;
            return;
        }
        if close.is_some() {
            let _ = stream.flush().await;
            return;
        }
        if buf.len() > max_data.saturating_add(64) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(buf: &[u8]) -> (u64, String, Vec<u8>, usize) {
        match parse_frame(buf, 100) {
            Ok(Parsed::Frame(f, used)) => (f.txnr, f.command.to_owned(), f.data.to_vec(), used),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn frames_with_and_without_data() {
        assert_eq!(
            frame(b"2 syslog 5 <13>a\nrest"),
            (2, "syslog".into(), b"<13>a".to_vec(), 17)
        );
        assert_eq!(frame(b"9 close 0\n"), (9, "close".into(), Vec::new(), 10));
        // Data may hold line feeds; only the length counts.
        assert_eq!(frame(b"3 open 3 a\nb\n").2, b"a\nb".to_vec());
    }

    #[test]
    fn partial_frames_wait_and_bad_ones_fail() {
        for partial in [
            &b"1"[..],
            b"1 sys",
            b"1 syslog 1",
            b"1 syslog 10 abc",
            b"1 syslog 1 a",
        ] {
            assert_eq!(
                parse_frame(partial, 100),
                Ok(Parsed::Incomplete),
                "{partial:?}"
            );
        }
        assert_eq!(parse_frame(b"x syslog 1 a\n", 100), Err(RelpError::Header));
        assert_eq!(
            parse_frame(b"0123456789 syslog 1 a\n", 100),
            Err(RelpError::Header)
        );
        assert_eq!(parse_frame(b"1 sys-log 1 a\n", 100), Err(RelpError::Header));
        assert_eq!(
            parse_frame(b"1 syslog 1 ab\n", 100),
            Err(RelpError::Trailer)
        );
        assert_eq!(parse_frame(b"1 syslog 1x", 100), Err(RelpError::Header));
        assert_eq!(
            parse_frame(b"1 syslog 101 ", 100),
            Err(RelpError::TooLarge(101))
        );
        assert_eq!(
            parse_frame(&[b'1'; 80], 100),
            Err(RelpError::Header),
            "a header that never ends"
        );
    }

    #[test]
    fn responses_carry_their_length() {
        let mut out = Vec::new();
        rsp(&mut out, 7, "200 OK");
        assert_eq!(out, b"7 rsp 6 200 OK\n");
        let mut out = Vec::new();
        open_answer(&mut out, 1);
        let Ok(Parsed::Frame(f, _)) = parse_frame(&out, 1000) else {
            panic!("the open answer is a frame");
        };
        let text = String::from_utf8_lossy(f.data);
        assert!(text.starts_with("200 OK\nrelp_version=0\n") && text.ends_with("commands=syslog"));
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics_and_never_reads_past_the_buffer(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            if let Ok(Parsed::Frame(f, used)) = parse_frame(&bytes, 64) {
                proptest::prop_assert!(used <= bytes.len());
                proptest::prop_assert!(f.data.len() <= 64);
                proptest::prop_assert!(f.txnr <= MAX_TXNR);
            }
        }
    }
}

//! The DNS wire format, through hickory-proto: queries we send and the
//! replies we accept. Everything a server sends is untrusted; a packet
//! that does not decode, is not a reply, or does not carry exactly one
//! question is dropped here, so the resolver only sees well-formed
//! answers.

use std::net::IpAddr;

use hickory_proto::op::{Header, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, DecodeError};

use super::{DNS_ERR_FORMAT, DNS_ERR_NODATA, DNS_ERR_NOTEXIST, DNS_ERR_NOTIMPL};
use super::{DNS_ERR_REFUSED, DNS_ERR_TRUNCATED, DNS_ERR_UNKNOWN};

/// The longest CNAME chain we follow inside one reply.
const MAX_CHAIN: usize = 16;

/// Encodes a recursive query for the A (or AAAA when `v6`) records of
/// `name`; None if the name is not a valid DNS name.
pub fn query(id: u16, name: &str, v6: bool) -> Option<Vec<u8>> {
    let qname = Name::from_ascii(name).ok()?;
    let mut msg = Message::new(id, MessageType::Query, OpCode::Query);
    msg.metadata.recursion_desired = true;
    let kind = if v6 { RecordType::AAAA } else { RecordType::A };
    msg.add_query(Query::query(qname, kind));
    msg.to_vec().ok()
}

/// What a reply says about the question.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The addresses found, with the last name of the CNAME chain if
    /// there was one.
    Addrs(Vec<IpAddr>, Option<String>),
    /// The server failed: treated as no answer, so the query is retried.
    ServFail,
    /// A DNS_ERR_* code.
    Error(i32),
}

/// A decoded reply.
#[derive(Debug)]
pub struct Reply {
    pub id: u16,
    /// The question's name as the server wrote it (case kept, no final dot).
    pub qname: String,
    /// Whether the question asked for AAAA records.
    pub v6: bool,
    pub outcome: Outcome,
}

/// Decodes a reply; None for anything that is not a usable one.
pub fn parse(packet: &[u8]) -> Option<Reply> {
    // LIMITATION: 2.1.12 skips an answer record with empty data of a type
    // it does not use; hickory refuses the whole message, so such a reply
    // is dropped and the question waits for a retry or times out; lifting
    // it needs a record-by-record decode of the answer section.
    match read(packet, true) {
        Ok(msg) => decode(&msg),
        Err(_) => parse_cut(packet),
    }
}

/// Decodes the header, the questions and, with `answers`, the answer
/// section: what 2.1.12 reads of a reply. The authority and additional
/// sections carry nothing we use, and a record there that hickory refuses
/// (one with empty data, a misplaced OPT or signature) must not cost the
/// answer. Names are read from the packet as it came, so a compression
/// pointer into the header means what it says there.
fn read(packet: &[u8], answers: bool) -> Result<Message, DecodeError> {
    let mut d = BinDecoder::new(packet);
    let Header { metadata, counts } = Header::read(&mut d)?;
    let mut msg = Message::new(metadata.id, metadata.message_type, metadata.op_code);
    msg.metadata = metadata;
    for _ in 0..counts.queries {
        msg.queries.push(Query::read(&mut d)?);
    }
    if answers {
        let n = usize::from(counts.answers);
        msg.answers = Message::read_records(&mut d, n, false, metadata.op_code)?.0;
    }
    Ok(msg)
}

/// What a decoded message says, if it is a reply to one A or AAAA question.
fn decode(msg: &Message) -> Option<Reply> {
    if msg.metadata.message_type != MessageType::Response || msg.queries.len() != 1 {
        return None;
    }
    let q = &msg.queries[0];
    let v6 = match q.query_type() {
        RecordType::A => false,
        RecordType::AAAA => true,
        _ => return None,
    };
    let qname = text_of(q.name());
    let outcome = if msg.metadata.truncation {
        Outcome::Error(DNS_ERR_TRUNCATED)
    } else {
        match u16::from(msg.metadata.response_code) {
            0 => answers(msg, q.name(), v6),
            1 => Outcome::Error(DNS_ERR_FORMAT),
            2 => Outcome::ServFail,
            3 => Outcome::Error(DNS_ERR_NOTEXIST),
            4 => Outcome::Error(DNS_ERR_NOTIMPL),
            5 => Outcome::Error(DNS_ERR_REFUSED),
            _ => Outcome::Error(DNS_ERR_UNKNOWN),
        }
    };
    Some(Reply {
        id: msg.metadata.id,
        qname,
        v6,
        outcome,
    })
}

/// A reply with TC set may be cut anywhere after its question. Servers
/// mean "ask again over TCP"; we still want to fail the question at once,
/// so we decode the header and question alone.
fn parse_cut(packet: &[u8]) -> Option<Reply> {
    const TC: u8 = 0x02;
    if packet.len() < 12 || packet[2] & TC == 0 {
        return None;
    }
    // No second fallback: a header and question that do not decode are
    // dropped.
    let reply = decode(&read(packet, false).ok()?)?;
    (reply.outcome == Outcome::Error(DNS_ERR_TRUNCATED)).then_some(reply)
}

/// A name as text, without the root's final dot.
fn text_of(name: &Name) -> String {
    let mut s = name.to_ascii();
    if s.ends_with('.') && s.len() > 1 {
        s.pop();
    }
    s
}

/// Follows the CNAME chain from `qname` and collects the addresses of
/// the last name in it.
fn answers(msg: &Message, qname: &Name, v6: bool) -> Outcome {
    let mut target = qname.clone();
    let mut renamed = false;
    for _ in 0..MAX_CHAIN {
        let next = msg.answers.iter().find_map(|r| match &r.data {
            RData::CNAME(c) if r.name == target => Some(c.0.clone()),
            _ => None,
        });
        match next {
            Some(n) => {
                target = n;
                renamed = true;
            }
            None => break,
        }
    }
    // Only Internet-class addresses answer our Internet-class question, as
    // in 2.1.12; a CHAOS-class A record is someone else's data.
    let addrs: Vec<IpAddr> = msg
        .answers
        .iter()
        .filter(|r| r.name == target && r.dns_class == DNSClass::IN)
        .filter_map(|r| match &r.data {
            RData::A(a) if !v6 => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) if v6 => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .collect();
    if addrs.is_empty() {
        return Outcome::Error(DNS_ERR_NODATA);
    }
    Outcome::Addrs(addrs, renamed.then(|| text_of(&target)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply to `query` with the given flags byte 2/3 and raw answer bytes.
    fn reply_to(id: u16, name: &str, v6: bool, flags: [u8; 2], an: u16, rest: &[u8]) -> Vec<u8> {
        let mut p = query(id, name, v6).expect("valid name");
        p[2] = 0x80 | flags[0];
        p[3] = flags[1];
        p[6..8].copy_from_slice(&an.to_be_bytes());
        p.extend_from_slice(rest);
        p
    }

    /// An A record for the name at offset 12 (a compression pointer).
    fn a_record(ip: [u8; 4]) -> Vec<u8> {
        let mut r = vec![0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4];
        r.extend_from_slice(&ip);
        r
    }

    #[test]
    fn a_plain_answer_decodes() {
        let p = reply_to(7, "host.test", false, [0, 0], 1, &a_record([10, 0, 0, 1]));
        let r = parse(&p).expect("a valid reply");
        assert_eq!(r.id, 7);
        assert_eq!(r.qname, "host.test");
        assert_eq!(
            r.outcome,
            Outcome::Addrs(vec!["10.0.0.1".parse().unwrap()], None)
        );
    }

    #[test]
    fn rcodes_and_truncation_map_to_dns_errors() {
        let nx = reply_to(1, "a.test", false, [0, 3], 0, &[]);
        assert_eq!(
            parse(&nx).unwrap().outcome,
            Outcome::Error(DNS_ERR_NOTEXIST)
        );
        let sf = reply_to(1, "a.test", false, [0, 2], 0, &[]);
        assert_eq!(parse(&sf).unwrap().outcome, Outcome::ServFail);
        let tc = reply_to(1, "a.test", false, [0x02, 0], 0, &[]);
        assert_eq!(
            parse(&tc).unwrap().outcome,
            Outcome::Error(DNS_ERR_TRUNCATED)
        );
        // Cut in the middle of a record it announces.
        let cut = reply_to(1, "a.test", false, [0x02, 0], 3, &[0xc0, 12, 0]);
        assert_eq!(
            parse(&cut).unwrap().outcome,
            Outcome::Error(DNS_ERR_TRUNCATED)
        );
        let empty = reply_to(1, "a.test", false, [0, 0], 0, &[]);
        assert_eq!(
            parse(&empty).unwrap().outcome,
            Outcome::Error(DNS_ERR_NODATA)
        );
    }

    #[test]
    fn malformed_packets_are_dropped() {
        assert!(parse(&[]).is_none());
        assert!(parse(&[0; 11]).is_none());
        // A query, not a reply.
        assert!(parse(&query(3, "x.test", false).unwrap()).is_none());
        // An answer count larger than what follows.
        let short = reply_to(1, "a.test", false, [0, 0], 2, &a_record([1, 2, 3, 4]));
        assert!(parse(&short).is_none());
        // An rdata length running past the end.
        let mut bad_len = a_record([1, 2, 3, 4]);
        bad_len[11] = 200;
        assert!(parse(&reply_to(1, "a.test", false, [0, 0], 1, &bad_len)).is_none());
        // A compression pointer pointing at itself.
        let mut looped = query(1, "a.test", false).unwrap();
        looped[2] = 0x80;
        looped[7] = 1;
        let at = looped.len() as u8;
        looped.extend_from_slice(&[0xc0, at, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 1, 1, 1]);
        assert!(parse(&looped).is_none());
        // Random garbage of every length up to 64 bytes never panics.
        let mut seed = 0x1234_5678_u32;
        for len in 0..64 {
            let junk: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (seed >> 16) as u8
                })
                .collect();
            let _ = parse(&junk);
        }
    }

    #[test]
    fn a_cname_chain_is_followed() {
        // host.test CNAME alias.test (written out), alias.test A 10.1.1.1
        let mut rest = vec![0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 12];
        rest.extend_from_slice(&[
            5, b'a', b'l', b'i', b'a', b's', 4, b't', b'e', b's', b't', 0,
        ]);
        let alias_at = (12 + 11 + 4 + 12) as u8;
        rest.extend_from_slice(&[0xc0, alias_at, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 1, 1, 1]);
        let p = reply_to(9, "host.test", false, [0, 0], 2, &rest);
        let r = parse(&p).expect("a valid reply");
        assert_eq!(
            r.outcome,
            Outcome::Addrs(vec!["10.1.1.1".parse().unwrap()], Some("alias.test".into()))
        );
    }
}

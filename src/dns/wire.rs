//! The DNS wire format, through hickory-proto: queries we send and the
//! replies we accept (plus, by hand, the packed address records that
//! libevent's own DNS servers send, see `parse_packed`). Everything a
//! server sends is untrusted; a packet that does not decode, is not a
//! reply, or does not carry exactly one question is dropped here, so the
//! resolver only sees well-formed answers.

use std::net::IpAddr;

use hickory_proto::op::{Header, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, DecodeError};

use super::{DNS_ERR_FORMAT, DNS_ERR_NODATA, DNS_ERR_NOTEXIST, DNS_ERR_NOTIMPL};
use super::{DNS_ERR_REFUSED, DNS_ERR_TRUNCATED, DNS_ERR_UNKNOWN};

/// The longest CNAME chain we follow inside one reply.
const MAX_CHAIN: usize = 16;

/// At most this many addresses of one reply are kept, as in libevent.
pub(crate) const MAX_ADDRS: usize = 32;

/// What a question asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    A,
    Aaaa,
    Ptr,
}

impl Kind {
    fn record_type(self) -> RecordType {
        match self {
            Kind::A => RecordType::A,
            Kind::Aaaa => RecordType::AAAA,
            Kind::Ptr => RecordType::PTR,
        }
    }
}

/// Encodes a recursive query for the `kind` records of `name`; None if
/// the name is not a valid DNS name.
pub fn query(id: u16, name: &str, kind: Kind) -> Option<Vec<u8>> {
    let qname = Name::from_ascii(name).ok()?;
    let mut msg = Message::new(id, MessageType::Query, OpCode::Query);
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(qname, kind.record_type()));
    msg.to_vec().ok()
}

/// What a reply says about the question. Each answer carries the time to
/// live libevent reports with it: the smallest TTL of the records used,
/// or for a negative answer that of its SOA record (0 without one).
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The addresses found, with the last name of the CNAME chain if
    /// there was one, and the TTL.
    Addrs(Vec<IpAddr>, Option<String>, u32),
    /// The name a PTR question found, and the TTL.
    Name(String, u32),
    /// The server failed: treated as no answer, so the query is retried.
    ServFail,
    /// A DNS_ERR_* code and the TTL.
    Error(i32, u32),
}

/// A decoded reply.
#[derive(Debug)]
pub struct Reply {
    pub id: u16,
    /// The question's name as the server wrote it (case kept, no final dot).
    pub qname: String,
    /// What the question asked for.
    pub kind: Kind,
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
        Err(_) => parse_cut(packet).or_else(|| parse_packed(packet)),
    }
}

/// Reads the (possibly compressed) name at `at` of `p`: its text (labels
/// joined with dots, no final dot) and the offset after it. None if it
/// runs out of the packet, points forward or into the header (a pointer
/// names an earlier occurrence), or grows past 255 bytes.
pub fn read_name(p: &[u8], mut at: usize) -> Option<(Vec<u8>, usize)> {
    let mut out: Vec<u8> = Vec::new();
    let mut after = None;
    let mut jumps = 0;
    loop {
        let len = *p.get(at)? as usize;
        if len & 0xc0 == 0xc0 {
            let target = ((len & 0x3f) << 8) | *p.get(at + 1)? as usize;
            if target >= at || target < 12 {
                return None;
            }
            after.get_or_insert(at + 2);
            jumps += 1;
            if jumps > 64 {
                return None;
            }
            at = target;
            continue;
        }
        if len & 0xc0 != 0 {
            return None;
        }
        if len == 0 {
            return Some((out, after.unwrap_or(at + 1)));
        }
        let label = p.get(at + 1..at + 1 + len)?;
        if !out.is_empty() {
            out.push(b'.');
        }
        out.extend_from_slice(label);
        if out.len() > 255 {
            return None;
        }
        at += 1 + len;
    }
}

/// libevent's servers put all the addresses of `evdns_server_request_
/// add_a_reply` into one record (an rdata of 4 bytes per address, 16 for
/// AAAA), which hickory rightly refuses; libevent's client reads them, so
/// we do too. A successful reply hickory could not decode is read here,
/// by hand, for its addresses or PTR name; anything else is None.
fn parse_packed(p: &[u8]) -> Option<Reply> {
    let get16 =
        |at: usize| -> Option<u16> { Some(u16::from_be_bytes([*p.get(at)?, *p.get(at + 1)?])) };
    let id = get16(0)?;
    let flags = get16(2)?;
    // A reply, not truncated, rcode 0, one question.
    if flags & 0x8000 == 0 || flags & 0x020f != 0 || get16(4)? != 1 {
        return None;
    }
    let ancount = get16(6)?;
    let (qname, mut at) = read_name(p, 12)?;
    let kind = match get16(at)? {
        1 => Kind::A,
        28 => Kind::Aaaa,
        12 => Kind::Ptr,
        _ => return None,
    };
    // The question's class must be there, and Internet.
    if get16(at + 2)? != 1 {
        return None;
    }
    at += 4;
    // (owner, type, ttl, rdata offset, rdata length, Internet class) of
    // each answer.
    let mut records = Vec::new();
    for _ in 0..ancount {
        let (owner, next) = read_name(p, at)?;
        let rtype = get16(next)?;
        let class = get16(next + 2)?;
        let ttl = u32::from(get16(next + 4)?) << 16 | u32::from(get16(next + 6)?);
        let len = usize::from(get16(next + 8)?);
        let data = next + 10;
        p.get(data..data + len)?;
        // A CNAME's data must be exactly one name, or the reply is broken.
        if rtype == 5 && read_name(p, data)?.1 != data + len {
            return None;
        }
        records.push((owner, rtype, ttl, data, len, class == 1));
        at = data + len;
    }
    let same = |a: &[u8], b: &[u8]| a.eq_ignore_ascii_case(b);
    let mut target = qname.clone();
    let mut renamed = false;
    for _ in 0..MAX_CHAIN {
        let next = records
            .iter()
            .find(|r| r.1 == 5 && same(&r.0, &target))
            .and_then(|r| read_name(p, r.3).map(|(n, _)| n));
        match next {
            Some(n) => {
                target = n;
                renamed = true;
            }
            None => break,
        }
    }
    let text = |n: &[u8]| String::from_utf8_lossy(n).into_owned();
    // Addresses and names come from Internet-class records only, as in
    // 2.1.12; CNAMEs are followed whatever their class, as hickory's path
    // above follows them.
    let owned = records.iter().filter(|r| r.5 && same(&r.0, &target));
    let outcome = if kind == Kind::Ptr {
        owned
            .filter(|r| r.1 == 12)
            .find_map(|r| Some(Outcome::Name(text(&read_name(p, r.3)?.0), r.2)))
            .unwrap_or(Outcome::Error(DNS_ERR_NODATA, 0))
    } else {
        let (code, size) = if kind == Kind::A { (1, 4) } else { (28, 16) };
        // An address record of the asked type whose length is no multiple
        // of an address breaks the reply, whoever owns it, as 2.1.12
        // parses it.
        if records
            .iter()
            .any(|r| r.5 && r.1 == code && r.4 % size != 0)
        {
            return None;
        }
        let mut ttl = u32::MAX;
        let mut addrs = Vec::new();
        for r in owned.filter(|r| r.1 == code && r.4 % size == 0) {
            ttl = ttl.min(r.2);
            for chunk in p[r.3..r.3 + r.4].chunks(size) {
                let ip = match <[u8; 16]>::try_from(chunk) {
                    Ok(b) => IpAddr::from(b),
                    Err(_) => IpAddr::from(<[u8; 4]>::try_from(chunk).ok()?),
                };
                addrs.push(ip);
            }
        }
        addrs.truncate(MAX_ADDRS);
        if addrs.is_empty() {
            Outcome::Error(DNS_ERR_NODATA, 0)
        } else {
            Outcome::Addrs(addrs, renamed.then(|| text(&target)), ttl)
        }
    };
    Some(Reply {
        id,
        qname: text(&qname),
        kind,
        outcome,
    })
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
        // The authority section gives only the TTL of a negative answer
        // (its SOA): read when it decodes, ignored when it does not.
        let n = usize::from(counts.authorities);
        if let Ok((records, ..)) = Message::read_records(&mut d, n, false, metadata.op_code) {
            msg.authorities = records;
        }
    }
    Ok(msg)
}

/// What a decoded message says, if it is a reply to one A, AAAA or PTR
/// question.
fn decode(msg: &Message) -> Option<Reply> {
    if msg.metadata.message_type != MessageType::Response || msg.queries.len() != 1 {
        return None;
    }
    let q = &msg.queries[0];
    let kind = match q.query_type() {
        RecordType::A => Kind::A,
        RecordType::AAAA => Kind::Aaaa,
        RecordType::PTR => Kind::Ptr,
        _ => return None,
    };
    let qname = text_of(q.name());
    let outcome = if msg.metadata.truncation {
        Outcome::Error(DNS_ERR_TRUNCATED, 0)
    } else {
        match u16::from(msg.metadata.response_code) {
            0 => answers(msg, q.name(), kind),
            1 => Outcome::Error(DNS_ERR_FORMAT, 0),
            2 => Outcome::ServFail,
            3 => Outcome::Error(DNS_ERR_NOTEXIST, negative_ttl(msg)),
            4 => Outcome::Error(DNS_ERR_NOTIMPL, 0),
            5 => Outcome::Error(DNS_ERR_REFUSED, 0),
            _ => Outcome::Error(DNS_ERR_UNKNOWN, 0),
        }
    };
    Some(Reply {
        id: msg.metadata.id,
        qname,
        kind,
        outcome,
    })
}

/// The TTL of a negative answer: the smaller of its SOA record's TTL and
/// the SOA's minimum field, 0 without an SOA record.
fn negative_ttl(msg: &Message) -> u32 {
    msg.authorities
        .iter()
        .filter_map(|r| match &r.data {
            RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
            _ => None,
        })
        .min()
        .unwrap_or(0)
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
    (reply.outcome == Outcome::Error(DNS_ERR_TRUNCATED, 0)).then_some(reply)
}

/// A name as text, without the root's final dot.
fn text_of(name: &Name) -> String {
    let mut s = name.to_ascii();
    if s.ends_with('.') && s.len() > 1 {
        s.pop();
    }
    s
}

/// Follows the CNAME chain from `qname` and collects the addresses (or
/// the PTR name) of the last name in it.
fn answers(msg: &Message, qname: &Name, kind: Kind) -> Outcome {
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
    // Only Internet-class records answer our Internet-class question, as
    // in 2.1.12; a CHAOS-class A record is someone else's data.
    let owned = msg
        .answers
        .iter()
        .filter(|r| r.name == target && r.dns_class == DNSClass::IN);
    if kind == Kind::Ptr {
        let found = owned
            .filter_map(|r| match &r.data {
                RData::PTR(p) => Some(Outcome::Name(text_of(&p.0), r.ttl)),
                _ => None,
            })
            .next();
        return found.unwrap_or_else(|| Outcome::Error(DNS_ERR_NODATA, negative_ttl(msg)));
    }
    let mut ttl = u32::MAX;
    let addrs: Vec<IpAddr> = owned
        .filter_map(|r| {
            let ip = match &r.data {
                RData::A(a) if kind == Kind::A => IpAddr::V4(a.0),
                RData::AAAA(a) if kind == Kind::Aaaa => IpAddr::V6(a.0),
                _ => return None,
            };
            ttl = ttl.min(r.ttl);
            Some(ip)
        })
        .take(MAX_ADDRS)
        .collect();
    if addrs.is_empty() {
        return Outcome::Error(DNS_ERR_NODATA, negative_ttl(msg));
    }
    Outcome::Addrs(addrs, renamed.then(|| text_of(&target)), ttl)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply to `query` with the given flags byte 2/3 and raw answer bytes.
    fn reply_to(id: u16, name: &str, kind: Kind, flags: [u8; 2], an: u16, rest: &[u8]) -> Vec<u8> {
        let mut p = query(id, name, kind).expect("valid name");
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
        let p = reply_to(7, "host.test", Kind::A, [0, 0], 1, &a_record([10, 0, 0, 1]));
        let r = parse(&p).expect("a valid reply");
        assert_eq!(r.id, 7);
        assert_eq!(r.qname, "host.test");
        assert_eq!(
            r.outcome,
            Outcome::Addrs(vec!["10.0.0.1".parse().unwrap()], None, 60)
        );
    }

    #[test]
    fn rcodes_and_truncation_map_to_dns_errors() {
        let nx = reply_to(1, "a.test", Kind::A, [0, 3], 0, &[]);
        assert_eq!(
            parse(&nx).unwrap().outcome,
            Outcome::Error(DNS_ERR_NOTEXIST, 0)
        );
        let sf = reply_to(1, "a.test", Kind::A, [0, 2], 0, &[]);
        assert_eq!(parse(&sf).unwrap().outcome, Outcome::ServFail);
        let tc = reply_to(1, "a.test", Kind::A, [0x02, 0], 0, &[]);
        assert_eq!(
            parse(&tc).unwrap().outcome,
            Outcome::Error(DNS_ERR_TRUNCATED, 0)
        );
        // Cut in the middle of a record it announces.
        let cut = reply_to(1, "a.test", Kind::A, [0x02, 0], 3, &[0xc0, 12, 0]);
        assert_eq!(
            parse(&cut).unwrap().outcome,
            Outcome::Error(DNS_ERR_TRUNCATED, 0)
        );
        let empty = reply_to(1, "a.test", Kind::A, [0, 0], 0, &[]);
        assert_eq!(
            parse(&empty).unwrap().outcome,
            Outcome::Error(DNS_ERR_NODATA, 0)
        );
    }

    #[test]
    fn malformed_packets_are_dropped() {
        assert!(parse(&[]).is_none());
        assert!(parse(&[0; 11]).is_none());
        // A query, not a reply.
        assert!(parse(&query(3, "x.test", Kind::A).unwrap()).is_none());
        // An answer count larger than what follows.
        let short = reply_to(1, "a.test", Kind::A, [0, 0], 2, &a_record([1, 2, 3, 4]));
        assert!(parse(&short).is_none());
        // An rdata length running past the end.
        let mut bad_len = a_record([1, 2, 3, 4]);
        bad_len[11] = 200;
        assert!(parse(&reply_to(1, "a.test", Kind::A, [0, 0], 1, &bad_len)).is_none());
        // A compression pointer pointing at itself.
        let mut looped = query(1, "a.test", Kind::A).unwrap();
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
    fn packed_records_of_libevent_servers_decode() {
        // one.test CNAME two.test; two.test A 10.0.0.1 10.0.0.2 in one
        // record of 8 bytes.
        let mut rest = vec![0xc0, 12, 0, 5, 0, 1, 0, 0, 1, 0x2c, 0, 6];
        rest.extend_from_slice(&[3, b't', b'w', b'o', 0xc0, 16]);
        rest.extend_from_slice(&[0xc0, 38, 0, 1, 0, 1, 0, 0, 0, 9, 0, 8]);
        rest.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        let p = reply_to(5, "one.test", Kind::A, [0, 0], 2, &rest);
        let r = parse(&p).expect("a usable reply");
        assert_eq!(r.qname, "one.test");
        assert_eq!(
            r.outcome,
            Outcome::Addrs(
                vec!["10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()],
                Some("two.test".into()),
                9
            )
        );
        // An rdata that is not a whole number of addresses gives nothing.
        let mut odd = p.clone();
        odd[55] = 7;
        let len = odd.len();
        odd.truncate(len - 1);
        assert!(parse(&odd).is_none_or(|r| r.outcome == Outcome::Error(DNS_ERR_NODATA, 0)));
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
        let p = reply_to(9, "host.test", Kind::A, [0, 0], 2, &rest);
        let r = parse(&p).expect("a valid reply");
        assert_eq!(
            r.outcome,
            Outcome::Addrs(
                vec!["10.1.1.1".parse().unwrap()],
                Some("alias.test".into()),
                60
            )
        );
    }
}

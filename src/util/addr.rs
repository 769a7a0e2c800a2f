//! Address text: `evutil_inet_pton`, `evutil_inet_ntop`,
//! `evutil_parse_sockaddr_port` and `evutil_sockaddr_cmp`.
//!
//! libevent 2.1.12 parses and formats addresses with its own code rather
//! than the C library's, and programs see its particular leniencies (spaces
//! and signs before IPv4 numbers, a zone after `%`, text after `]`), so the
//! parsers below follow those rules, not inet_pton(3)'s.

use std::ffi::CStr;

use crate::sys;

const AF_INET: i32 = libc::AF_INET;
const AF_INET6: i32 = libc::AF_INET6;

/// Size of `struct sockaddr_in` and `struct sockaddr_in6`.
pub const SOCKADDR_IN_LEN: usize = std::mem::size_of::<libc::sockaddr_in>();
pub const SOCKADDR_IN6_LEN: usize = std::mem::size_of::<libc::sockaddr_in6>();

/// Whitespace as the C locale's isspace() sees it.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Reads an unsigned decimal number the way strtoul(s, &end, 10) does:
/// leading whitespace and one sign allowed, overflow saturating, a minus
/// sign negating modulo 2^64. Returns the value and the index after the
/// last digit, or `None` when no digit follows.
fn decimal_like_strtoul(s: &[u8]) -> Option<(u64, usize)> {
    let mut i = 0;
    while i < s.len() && is_c_space(s[i]) {
        i += 1;
    }
    let negative = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let start = i;
    let mut value: u64 = 0;
    let mut overflow = false;
    while i < s.len() && s[i].is_ascii_digit() {
        match value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(s[i] - b'0')))
        {
            Some(v) => value = v,
            None => overflow = true,
        }
        i += 1;
    }
    if i == start {
        return None;
    }
    let value = if overflow {
        u64::MAX
    } else if negative {
        value.wrapping_neg()
    } else {
        value
    };
    Some((value, i))
}

/// Matches `s` against the scanf format "%u.%u.%u.%u%c" and succeeds when
/// exactly the four numbers convert (nothing follows them). Each number is
/// what an `unsigned int` keeps of strtoul's result.
fn scan_dotted_quad(s: &[u8]) -> Option<[u32; 4]> {
    let mut parts = [0u32; 4];
    let mut pos = 0;
    for (n, part) in parts.iter_mut().enumerate() {
        if n > 0 {
            if s.get(pos) != Some(&b'.') {
                return None;
            }
            pos += 1;
        }
        let (value, used) = decimal_like_strtoul(&s[pos..])?;
        *part = value as u32;
        pos += used;
    }
    (pos == s.len()).then_some(parts)
}

/// A dotted quad as four address bytes, each number at most 255.
fn quad_bytes(s: &[u8]) -> Option<[u8; 4]> {
    let parts = scan_dotted_quad(s)?;
    let mut out = [0u8; 4];
    for (byte, part) in out.iter_mut().zip(parts) {
        *byte = u8::try_from(part).ok()?;
    }
    Some(out)
}

/// Reads one group of an IPv6 address as strtol(s, &end, 16) would, given
/// that `s` starts with a hex digit: returns its value and length.
fn hex_group(s: &[u8]) -> (u64, usize) {
    let mut i = 0;
    // strtol takes a "0x" prefix in base 16 when a hex digit follows it.
    if s.len() > 2 && s[0] == b'0' && (s[1] | 0x20) == b'x' && s[2].is_ascii_hexdigit() {
        i = 2;
    }
    let mut value: u64 = 0;
    while i < s.len() && s[i].is_ascii_hexdigit() {
        let digit = (s[i] as char).to_digit(16).unwrap_or(0);
        value = value.saturating_mul(16).saturating_add(u64::from(digit));
        i += 1;
    }
    (value, i)
}

/// IPv6 text to 16 bytes; `None` where libevent's parser answers 0.
fn ipv6_bytes(src: &[u8]) -> Option<[u8; 16]> {
    let mut words = [0u16; 8];
    let mut set_words = 0usize;
    let dot = src.iter().position(|&b| b == b'.');
    // End of the colon-separated groups: the digits just before the first
    // dot start an embedded IPv4 address.
    let eow = match dot {
        Some(0) => return None,
        None => src.len(),
        Some(d) => {
            let mut e = d;
            while e > 0 && src[e - 1].is_ascii_digit() {
                e -= 1;
            }
            let quad = scan_dotted_quad(&src[e..])?;
            if quad.iter().any(|&b| b > 255) {
                return None;
            }
            words[6] = ((quad[0] << 8) | quad[1]) as u16;
            words[7] = ((quad[2] << 8) | quad[3]) as u16;
            set_words += 2;
            e
        }
    };

    let mut i = 0usize;
    let mut gap: Option<usize> = None;
    let mut pos = 0usize;
    while pos < eow {
        if i > 7 {
            return None;
        }
        let c = src[pos];
        if c.is_ascii_hexdigit() {
            let (value, len) = hex_group(&src[pos..]);
            if len > 4 || value > 65536 {
                return None;
            }
            words[i] = value as u16;
            i += 1;
            set_words += 1;
            pos += len;
            if pos != eow && src.get(pos) != Some(&b':') {
                return None;
            }
            pos += 1;
        } else if c == b':' && i > 0 && gap.is_none() {
            gap = Some(i);
            pos += 1;
        } else if c == b':' && i == 0 && src.get(pos + 1) == Some(&b':') && gap.is_none() {
            gap = Some(0);
            pos += 2;
        } else {
            return None;
        }
    }

    match gap {
        None if set_words != 8 => return None,
        Some(_) if set_words >= 8 => return None,
        None => {}
        Some(at) => {
            let tail = set_words - if dot.is_some() { 2 } else { 0 } - at;
            let gap_len = 8 - set_words;
            words.copy_within(at..at + tail, at + gap_len);
            words[at..at + gap_len].fill(0);
        }
    }
    let mut out = [0u8; 16];
    for (pair, word) in out.chunks_exact_mut(2).zip(words) {
        pair.copy_from_slice(&word.to_be_bytes());
    }
    Some(out)
}

/// What `evutil_inet_pton` answers.
pub enum Pton {
    /// 1: the address, 4 or 16 bytes.
    Parsed(Vec<u8>),
    /// 0: not an address of that family.
    Invalid,
    /// -1: a family other than AF_INET and AF_INET6.
    BadFamily,
}

/// Parses `src` as an address of family `af`.
pub fn pton(af: i32, src: &[u8]) -> Pton {
    let parsed = match af {
        AF_INET => quad_bytes(src).map(|b| b.to_vec()),
        AF_INET6 => ipv6_bytes(src).map(|b| b.to_vec()),
        _ => return Pton::BadFamily,
    };
    parsed.map_or(Pton::Invalid, Pton::Parsed)
}

/// Parses `src` as `pton` does, accepting for AF_INET6 a zone after `%`
/// (an interface name or number, its index returned beside the address).
pub fn pton_scope(af: i32, src: &CStr) -> (Pton, u32) {
    let text = src.to_bytes();
    let percent = match (af, text.iter().position(|&b| b == b'%')) {
        (AF_INET6, Some(p)) => p,
        _ => return (pton(af, text), 0),
    };
    let zone = &src.to_bytes_with_nul()[percent + 1..];
    let zone_cstr = CStr::from_bytes_with_nul(zone).unwrap_or(c"");
    let mut index = sys::if_nametoindex(zone_cstr);
    if index == 0 {
        // Not an interface name: the whole zone must be a decimal number,
        // and an empty zone counts as index 0.
        let digits = &zone[..zone.len() - 1];
        match decimal_like_strtoul(digits) {
            Some((value, used)) if used == digits.len() => index = value as u32,
            None if digits.is_empty() => index = 0,
            _ => return (Pton::Invalid, 0),
        }
    }
    (pton(af, &text[..percent]), index)
}

/// Formats an address of family `af` (4 or 16 bytes in `src`) into `out`
/// as `evutil_inet_ntop` does; false when it answers NULL.
///
/// IPv4 text is written like snprintf, so a short buffer receives a
/// truncated text even though the answer is NULL. IPv6 text is written
/// only when it is no longer than the buffer, and then like strlcpy: a
/// buffer exactly as long as the text receives all but its last character.
pub fn ntop(af: i32, src: &[u8], out: &mut [u8]) -> bool {
    match af {
        AF_INET => {
            let text = format!("{}.{}.{}.{}", src[0], src[1], src[2], src[3]);
            let needed = super::write_truncated(out, text.as_bytes());
            !out.is_empty() && needed < out.len()
        }
        AF_INET6 => {
            let text = ipv6_text(src);
            if text.len() > out.len() {
                return false;
            }
            super::write_truncated(out, text.as_bytes());
            true
        }
        _ => false,
    }
}

/// libevent's IPv6 text: the first longest run of two or more zero groups
/// becomes "::", and the IPv4-compatible and IPv4-mapped forms end in a
/// dotted quad.
fn ipv6_text(src: &[u8]) -> String {
    let mut words = [0u16; 8];
    for (word, pair) in words.iter_mut().zip(src.chunks_exact(2)) {
        *word = u16::from_be_bytes([pair[0], pair[1]]);
    }
    let quad = format!("{}.{}.{}.{}", src[12], src[13], src[14], src[15]);
    if words[..5].iter().all(|&w| w == 0) {
        if words[5] == 0 && words[6] != 0 && words[7] != 0 {
            return format!("::{quad}");
        }
        if words[5] == 0xffff {
            return format!("::{:x}:{quad}", words[5]);
        }
    }
    let mut best: Option<(usize, usize)> = None;
    let mut i = 0;
    while i < 8 {
        if words[i] == 0 {
            let start = i;
            while i < 8 && words[i] == 0 {
                i += 1;
            }
            if best.is_none_or(|(_, len)| i - start > len) {
                best = Some((start, i - start));
            }
        } else {
            i += 1;
        }
    }
    let gap = best.filter(|&(_, len)| len > 1);
    let mut text = String::new();
    let mut i = 0;
    while i < 8 {
        if let Some((start, len)) = gap.filter(|&(start, _)| start == i) {
            text.push_str(if start == 0 { "::" } else { ":" });
            i += len;
            continue;
        }
        text.push_str(&format!("{:x}", words[i]));
        if i != 7 {
            text.push(':');
        }
        i += 1;
    }
    text
}

/// `struct sockaddr_in` or `struct sockaddr_in6` bytes for an address.
fn sockaddr_bytes(addr: &[u8], port: u16, scope: u32) -> Vec<u8> {
    let v6 = addr.len() == 16;
    let mut out = vec![
        0u8;
        if v6 {
            SOCKADDR_IN6_LEN
        } else {
            SOCKADDR_IN_LEN
        }
    ];
    let family = if v6 { AF_INET6 } else { AF_INET } as libc::sa_family_t;
    out[0..2].copy_from_slice(&family.to_ne_bytes());
    out[2..4].copy_from_slice(&port.to_be_bytes());
    if v6 {
        // sin6_flowinfo stays 0; then the address and the scope id.
        out[8..24].copy_from_slice(addr);
        out[24..28].copy_from_slice(&scope.to_ne_bytes());
    } else {
        out[4..8].copy_from_slice(addr);
    }
    out
}

/// The port text of `evutil_parse_sockaddr_port`, read as atoi() does.
fn port_number(s: &[u8]) -> Option<u16> {
    let value = decimal_like_strtoul(s).map_or(0, |(v, _)| v as i64 as i32);
    u16::try_from(value).ok().filter(|&p| p > 0)
}

/// Parses "1.2.3.4", "1.2.3.4:80", "::1", "[::1]" or "[::1]:80" into `out`
/// (the caller's buffer, all of which is zeroed first) and returns the
/// length of the address written; `None` for text it does not accept or a
/// buffer too small.
pub fn parse_sockaddr_port(text: &CStr, out: &mut [u8]) -> Option<usize> {
    const MAX_ADDR: usize = 127;
    let s = text.to_bytes();
    let first_colon = s.iter().position(|&b| b == b':');
    let (addr, port, v6): (&[u8], Option<&[u8]>, bool) = if s.first() == Some(&b'[') {
        let close = s.iter().position(|&b| b == b']')?;
        if close - 1 > MAX_ADDR {
            return None;
        }
        // Text after "]" other than ":port" is ignored.
        let port = (s.get(close + 1) == Some(&b':')).then(|| &s[close + 2..]);
        (&s[1..close], port, true)
    } else if first_colon.is_some_and(|c| s[c + 1..].contains(&b':')) {
        (s, None, true)
    } else if let Some(c) = first_colon {
        if c > MAX_ADDR {
            return None;
        }
        (&s[..c], Some(&s[c + 1..]), false)
    } else {
        (s, None, false)
    };
    let port = match port {
        None => 0,
        Some(p) => port_number(p)?,
    };
    let bytes = if v6 {
        // The zone parser needs the address part as a C string of its own.
        let owned = std::ffi::CString::new(addr).ok()?;
        match pton_scope(AF_INET6, &owned) {
            (Pton::Parsed(a), scope) => sockaddr_bytes(&a, port, scope),
            _ => return None,
        }
    } else {
        match pton(AF_INET, addr) {
            Pton::Parsed(a) => sockaddr_bytes(&a, port, 0),
            _ => return None,
        }
    };
    if bytes.len() > out.len() {
        return None;
    }
    out.fill(0);
    out[..bytes.len()].copy_from_slice(&bytes);
    Some(bytes.len())
}

/// How many bytes of a `struct sockaddr` of family `family` the comparison
/// reads.
pub fn sockaddr_cmp_len(family: i32) -> usize {
    match family {
        AF_INET => SOCKADDR_IN_LEN,
        AF_INET6 => SOCKADDR_IN6_LEN,
        _ => 2,
    }
}

fn ne_u16(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

/// Orders two socket addresses as `evutil_sockaddr_cmp` does: by family,
/// then by address as stored (an IPv4 address as one host-order integer of
/// its network-order bytes, an IPv6 address bytewise), then optionally by
/// the port as stored. Families other than IPv4 and IPv6 never compare
/// equal (the answer is 1).
pub fn sockaddr_cmp(a: &[u8], b: &[u8], include_port: bool) -> i32 {
    let (fa, fb) = (ne_u16(a, 0), ne_u16(b, 0));
    if fa != fb {
        return i32::from(fa) - i32::from(fb);
    }
    let port_diff = || {
        if include_port {
            i32::from(ne_u16(a, 2)) - i32::from(ne_u16(b, 2))
        } else {
            0
        }
    };
    match i32::from(fa) {
        AF_INET => {
            let addr = |s: &[u8]| u32::from_ne_bytes([s[4], s[5], s[6], s[7]]);
            match addr(a).cmp(&addr(b)) {
                std::cmp::Ordering::Less => -1,
                std::cmp::Ordering::Greater => 1,
                std::cmp::Ordering::Equal => port_diff(),
            }
        }
        AF_INET6 => match a[8..24].iter().zip(&b[8..24]).find(|(x, y)| x != y) {
            Some((x, y)) => i32::from(*x) - i32::from(*y),
            None => port_diff(),
        },
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(text: &str) -> Option<[u8; 16]> {
        ipv6_bytes(text.as_bytes())
    }

    #[test]
    fn ipv6_round_trips() {
        for text in [
            "::1",
            "::",
            "1::",
            "fe80::1:2",
            "1:2:3:4:5:6:7:8",
            "::ffff:1.2.3.4",
        ] {
            let bytes = v6(text).unwrap();
            assert_eq!(ipv6_text(&bytes), text);
        }
        assert!(v6("1:2:3:4:5:6:7:8:9").is_none());
        assert!(v6(":1").is_none());
        assert!(v6("1:::2").is_none());
        assert!(v6("12345::").is_none());
    }

    #[test]
    fn quads_follow_scanf() {
        assert_eq!(quad_bytes(b"1.2.3.4"), Some([1, 2, 3, 4]));
        assert_eq!(quad_bytes(b" 1. +2.3.04"), Some([1, 2, 3, 4]));
        assert_eq!(quad_bytes(b"1.2.3.4 "), None);
        assert_eq!(quad_bytes(b"1.2.3"), None);
        assert_eq!(quad_bytes(b"256.1.1.1"), None);
    }
}

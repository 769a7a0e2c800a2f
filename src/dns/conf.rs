//! Reading resolv.conf and hosts files into plain values; the resolver
//! applies them.

use std::net::IpAddr;

/// One line of resolv.conf that we act on.
#[derive(Debug, PartialEq, Eq)]
pub enum Directive {
    Nameserver(String),
    /// `domain` or `search`: the search list is replaced by these.
    Search(Vec<String>),
    /// An `options` entry: the option's name and its value (after ':').
    Option(String, String),
}

/// The directives of a resolv.conf text, in order; unknown lines and
/// comments are skipped as libevent skips them.
pub fn resolv_conf(text: &str) -> Vec<Directive> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut words = line.split([' ', '\t', '\r']).filter(|w| !w.is_empty());
        let Some(first) = words.next() else { continue };
        match first {
            "nameserver" => {
                if let Some(addr) = words.next() {
                    out.push(Directive::Nameserver(addr.to_string()));
                }
            }
            "domain" => {
                if let Some(d) = words.next() {
                    out.push(Directive::Search(vec![d.to_string()]));
                }
            }
            "search" => {
                out.push(Directive::Search(words.map(str::to_string).collect()));
            }
            "options" => {
                for opt in words {
                    let (name, value) = match opt.split_once(':') {
                        Some((n, v)) => (n, v),
                        None => (opt, ""),
                    };
                    out.push(Directive::Option(name.to_string(), value.to_string()));
                }
            }
            _ => {}
        }
    }
    out
}

/// The entries of one hosts-file line: `(name, address)` for each name
/// after the address, up to a comment.
pub fn hosts_line(line: &str) -> Vec<(String, IpAddr)> {
    let line = line.split('#').next().unwrap_or("");
    let mut words = line.split([' ', '\t', '\r']).filter(|w| !w.is_empty());
    let Some(addr) = words.next() else {
        return Vec::new();
    };
    let addr = addr.trim_start_matches('[').trim_end_matches(']');
    let Ok(ip) = addr.parse::<IpAddr>() else {
        return Vec::new();
    };
    words.map(|name| (name.to_string(), ip)).collect()
}

/// A nameserver written as `ip`, `ip:port`, `[ip6]` or `[ip6]:port`
/// (port 53 when none is given).
pub fn nameserver_addr(text: &str) -> Option<std::net::SocketAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(std::net::SocketAddr::new(ip, 53));
    }
    if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        return Some(std::net::SocketAddr::new(inner.parse().ok()?, 53));
    }
    let sa: std::net::SocketAddr = text.parse().ok()?;
    (sa.port() != 0).then_some(sa)
}

/// A number of seconds such as "5" or "0.2", as nanoseconds; None when
/// negative, under a millisecond (libevent refuses those) or not a number.
pub fn seconds(text: &str) -> Option<u64> {
    let v: f64 = text.trim().parse().ok()?;
    (v.is_finite() && v >= 0.001).then_some((v * 1e9) as u64)
}

/// A whole number as libevent's option parsing reads it (strtol over the
/// whole text, leading blanks allowed): None when something follows the
/// digits, and also for -1, which libevent cannot tell from an error. An
/// empty text reads as 0, as strtol makes it.
pub fn strtoint(text: &str) -> Option<i64> {
    let t = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() {
        // strtol read nothing: fine only if there was nothing to read.
        return t.is_empty().then_some(0);
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: i64 = digits.parse().unwrap_or(i64::MAX);
    let v = (if neg { -v } else { v }).clamp(i64::from(i32::MIN), i64::from(i32::MAX));
    (v != -1).then_some(v)
}

/// Whether option `given` names `option` (written with its colon, as
/// "ndots:"): the bare name, the name with its colon, or anything that
/// starts with the name and colon, as libevent matches them.
pub fn option_matches(given: &str, option: &str) -> bool {
    let bare = option.strip_suffix(':').unwrap_or(option);
    given == bare || given.starts_with(option)
}

/// A local address for bind-to: an IP address with an optional port.
pub fn bind_addr(text: &str) -> Option<std::net::SocketAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(std::net::SocketAddr::new(ip, 0));
    }
    if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        return Some(std::net::SocketAddr::new(inner.parse().ok()?, 0));
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_lines() {
        let d =
            resolv_conf("# c\nnameserver 127.0.0.1:53\nsearch a.test b.test\noptions ndots:2 x");
        assert_eq!(d[0], Directive::Nameserver("127.0.0.1:53".into()));
        assert_eq!(
            d[1],
            Directive::Search(vec!["a.test".into(), "b.test".into()])
        );
        assert_eq!(d[2], Directive::Option("ndots".into(), "2".into()));
        assert_eq!(d[3], Directive::Option("x".into(), "".into()));
    }

    #[test]
    fn hosts_and_addresses() {
        let e = hosts_line("10.0.0.5 one two # three");
        assert_eq!(e.len(), 2);
        assert!(hosts_line("# 10.0.0.5 x").is_empty());
        assert_eq!(nameserver_addr("127.0.0.1:5353").unwrap().port(), 5353);
        assert_eq!(nameserver_addr("::1").unwrap().port(), 53);
        assert!(nameserver_addr("nonsense").is_none());
        assert_eq!(seconds("0.2"), Some(200_000_000));
        assert_eq!(seconds("0"), None);
        assert_eq!(seconds("-1"), None);
    }

    #[test]
    fn integers_and_option_names() {
        assert_eq!(strtoint("5"), Some(5));
        assert_eq!(strtoint(" 7"), Some(7));
        assert_eq!(strtoint(""), Some(0));
        assert_eq!(strtoint("-3"), Some(-3));
        assert_eq!(strtoint("-1"), None);
        assert_eq!(strtoint("5 "), None);
        assert_eq!(strtoint("x"), None);
        assert!(option_matches("ndots", "ndots:"));
        assert!(option_matches("ndots:", "ndots:"));
        assert!(option_matches("ndots:3", "ndots:"));
        assert!(!option_matches("ndot", "ndots:"));
        assert!(!option_matches("ndotsx", "ndots:"));
        assert_eq!(bind_addr("127.0.0.1").unwrap().port(), 0);
        assert_eq!(bind_addr("[::1]:99").unwrap().port(), 99);
        assert!(bind_addr("nope").is_none());
    }
}

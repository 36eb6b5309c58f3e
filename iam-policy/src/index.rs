//! Which statements can apply to an action: a per-policy index by service
//! prefix, so a decision looks at a handful of statements instead of every
//! one (most statements name other services).

use super::hash::fnv_lower;
use super::wildcard::Glob;

#[derive(Debug, Clone, Default)]
pub(crate) struct ActionIndex {
    /// (hash of the lowercased service, the service, statement indexes).
    by_service: Vec<(u64, Box<str>, Vec<u32>)>,
    /// Statements that may apply to any service: `*`, a wildcard in the
    /// service part, or NotAction.
    always: Vec<u32>,
}

impl ActionIndex {
    /// Adds statement `index` with its (lowercased) action patterns.
    pub(crate) fn add(&mut self, index: usize, patterns: &[Glob], not_action: bool) {
        let index = index as u32;
        let services: Option<Vec<String>> = if not_action {
            None
        } else {
            patterns
                .iter()
                .map(|p| {
                    p.literal_prefix_until(b':')
                        .map(|s| String::from_utf8_lossy(s).into_owned())
                })
                .collect()
        };
        let Some(mut services) = services else {
            self.always.push(index);
            return;
        };
        services.sort();
        services.dedup();
        for service in services {
            let hash = fnv_lower(service.as_bytes());
            match self
                .by_service
                .iter_mut()
                .find(|(h, s, _)| *h == hash && **s == *service)
            {
                Some((_, _, list)) => list.push(index),
                None => self
                    .by_service
                    .push((hash, service.into_boxed_str(), vec![index])),
            }
        }
    }

    /// Statement indexes that may apply to an action of `service` (hash from
    /// [`service_hash`]), in statement order.
    pub(crate) fn candidates(&self, service: &[u8], hash: u64) -> Candidates<'_> {
        let listed = self
            .by_service
            .iter()
            .find(|(h, s, _)| *h == hash && s.as_bytes().eq_ignore_ascii_case(service))
            .map_or(&[][..], |(_, _, list)| list.as_slice());
        Candidates {
            a: listed,
            b: &self.always,
        }
    }
}

/// The service part of a request action and its hash.
pub(crate) fn service_hash(bytes: &[u8]) -> (&[u8], u64) {
    let service = match bytes.iter().position(|b| *b == b':') {
        Some(i) => &bytes[..i],
        None => bytes,
    };
    (service, fnv_lower(service))
}

/// Two sorted index lists merged in order.
pub(crate) struct Candidates<'a> {
    a: &'a [u32],
    b: &'a [u32],
}

impl Iterator for Candidates<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        let take_a = match (self.a.first(), self.b.first()) {
            (Some(x), Some(y)) => x < y,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return None,
        };
        let list = if take_a { &mut self.a } else { &mut self.b };
        let (first, rest) = list.split_first()?;
        *list = rest;
        Some(*first as usize)
    }
}

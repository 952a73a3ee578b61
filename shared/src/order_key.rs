//! Order keys for playlist entries: strings that sort in playlist order, so inserting or moving
//! one entry rewrites only that entry (which is what lets offline edits from two devices merge).
//!
//! Keys are base-62 fractions (`0-9A-Za-z`, in ASCII order) that never end in `0`, so there is
//! always room for another key between two neighbours.

const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE: usize = DIGITS.len();
/// Appends step through keys of this many digits, so long playlists keep short keys.
const APPEND_WIDTH: usize = 4;

fn digit(c: u8) -> usize {
    DIGITS
        .iter()
        .position(|&d| d == c)
        .expect("order keys only hold base-62 digits")
}

/// Whether `key` is a well-formed order key (non-empty, base-62, no trailing `0`).
pub fn is_valid(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|b| DIGITS.contains(&b)) && !key.ends_with('0')
}

/// The key for the first entry of an empty list.
pub fn first() -> String {
    after(None)
}

/// A key sorting after `a` (or the first key when `a` is `None`).
pub fn after(a: Option<&str>) -> String {
    let Some(a) = a else {
        return "V".repeat(APPEND_WIDTH);
    };
    let mut digits: Vec<usize> = a.bytes().map(digit).collect();
    while digits.len() < APPEND_WIDTH {
        digits.push(0);
    }
    // Increment as a base-62 number; on overflow of every digit, extend instead.
    let mut i = digits.len();
    loop {
        if i == 0 {
            let mut key = a.to_string();
            key.push('V');
            return key;
        }
        i -= 1;
        if digits[i] + 1 < BASE {
            digits[i] += 1;
            digits.truncate(i + 1);
            break;
        }
    }
    digits.iter().map(|&d| DIGITS[d] as char).collect()
}

/// A key sorting before `b`.
pub fn before(b: &str) -> String {
    midpoint("", Some(b))
}

/// A key strictly between `a` and `b` (`a < b`); either bound may be open.
pub fn between(a: Option<&str>, b: Option<&str>) -> String {
    match (a, b) {
        (a, None) => after(a),
        (None, Some(b)) => before(b),
        (Some(a), Some(b)) => {
            debug_assert!(a < b, "order keys out of order: {a:?} !< {b:?}");
            midpoint(a, Some(b))
        }
    }
}

/// `n` keys in increasing order strictly between `a` and `b`, for batch inserts that stay together.
pub fn n_between(a: Option<&str>, b: Option<&str>, n: usize) -> Vec<String> {
    let mut keys = Vec::with_capacity(n);
    let mut lower = a.map(str::to_string);
    for _ in 0..n {
        let key = between(lower.as_deref(), b);
        lower = Some(key.clone());
        keys.push(key);
    }
    keys
}

// After David Greenspan's fractional indexing: strip the common prefix, then pick a middle digit.
fn midpoint(a: &str, b: Option<&str>) -> String {
    let a = a.as_bytes();
    if let Some(b) = b {
        let b = b.as_bytes();
        let mut n = 0;
        while n < b.len() && a.get(n).copied().unwrap_or(b'0') == b[n] {
            n += 1;
        }
        if n > 0 {
            let rest_a = if n <= a.len() { &a[n..] } else { &[][..] };
            let rest_b = std::str::from_utf8(&b[n..]).expect("ascii");
            let mut key = String::from_utf8(b[..n].to_vec()).expect("ascii");
            key.push_str(&midpoint(
                std::str::from_utf8(rest_a).expect("ascii"),
                Some(rest_b),
            ));
            return key;
        }
    }
    let digit_a = a.first().map(|&c| digit(c)).unwrap_or(0);
    let digit_b = b.map(|b| digit(b.as_bytes()[0])).unwrap_or(BASE);
    if digit_b - digit_a > 1 {
        let mid = (digit_a + digit_b).div_ceil(2);
        return (DIGITS[mid] as char).to_string();
    }
    match b {
        Some(b) if b.len() > 1 => b[..1].to_string(),
        _ => {
            let mut key = (DIGITS[digit_a] as char).to_string();
            let rest = if a.is_empty() {
                ""
            } else {
                std::str::from_utf8(&a[1..]).expect("ascii")
            };
            key.push_str(&midpoint(rest, None));
            key
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn appends_keep_keys_short_and_increasing() {
        let mut key = first();
        for _ in 0..10_000 {
            let next = after(Some(&key));
            assert!(next > key, "{next} must sort after {key}");
            assert!(is_valid(&next));
            key = next;
        }
        assert_eq!(key.len(), APPEND_WIDTH);
    }

    #[test]
    fn batch_inserts_stay_together_between_neighbours() {
        let keys = n_between(Some("VVVV"), Some("VVVW"), 50);
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert!(
            keys.iter()
                .all(|k| k.as_str() > "VVVV" && k.as_str() < "VVVW" && is_valid(k))
        );
    }

    fn key() -> impl Strategy<Value = String> {
        "[0-9A-Za-z]{0,6}[1-9A-Za-z]"
    }

    proptest! {
        #[test]
        fn between_is_strictly_between(a in key(), b in key()) {
            prop_assume!(a != b);
            let (lo, hi) = if a < b { (a, b) } else { (b, a) };
            let mid = between(Some(&lo), Some(&hi));
            prop_assert!(lo < mid && mid < hi, "{lo} < {mid} < {hi}");
            prop_assert!(is_valid(&mid));
        }

        #[test]
        fn open_bounds_stay_valid(a in key()) {
            let b = before(&a);
            prop_assert!(b < a && is_valid(&b));
            let c = after(Some(&a));
            prop_assert!(c > a && is_valid(&c));
        }
    }
}

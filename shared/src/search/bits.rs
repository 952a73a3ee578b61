//! Sets of document numbers as bit vectors: a union of posting lists, an intersection of a
//! query's words, walked in document order (which is rank order).

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Bits {
    words: Vec<u64>,
}

impl Bits {
    pub(crate) fn new(len: usize) -> Self {
        Bits {
            words: vec![0; len.div_ceil(64)],
        }
    }

    pub(crate) fn insert(&mut self, doc: u32) {
        self.words[doc as usize / 64] |= 1 << (doc % 64);
    }

    pub(crate) fn contains(&self, doc: u32) -> bool {
        self.words[doc as usize / 64] & (1 << (doc % 64)) != 0
    }

    pub(crate) fn extend(&mut self, docs: &[u32]) {
        for &doc in docs {
            self.insert(doc);
        }
    }

    pub(crate) fn union_with(&mut self, other: &Bits) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
    }

    pub(crate) fn intersect_with(&mut self, other: &Bits) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= b;
        }
    }

    pub(crate) fn remove_all(&mut self, other: &Bits) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= !b;
        }
    }

    pub(crate) fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }

    /// The members in ascending order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &word)| {
            let mut rest = word;
            std::iter::from_fn(move || {
                (rest != 0).then(|| {
                    let bit = rest.trailing_zeros();
                    rest &= rest - 1;
                    (i * 64) as u32 + bit
                })
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Bits;

    #[test]
    fn set_operations_in_order() {
        let mut a = Bits::new(200);
        a.extend(&[3, 64, 199, 0]);
        assert_eq!(a.iter().collect::<Vec<_>>(), [0, 3, 64, 199]);
        let mut b = Bits::new(200);
        b.extend(&[3, 100, 199]);
        let mut both = a.clone();
        both.intersect_with(&b);
        assert_eq!(both.iter().collect::<Vec<_>>(), [3, 199]);
        let mut either = a.clone();
        either.union_with(&b);
        assert_eq!(either.iter().collect::<Vec<_>>(), [0, 3, 64, 100, 199]);
        a.remove_all(&b);
        assert_eq!(a.iter().collect::<Vec<_>>(), [0, 64]);
        assert!(a.contains(64) && !a.contains(3));
        assert_eq!(a.count(), 2);
        assert!(Bits::new(10).is_empty() && !a.is_empty());
    }
}

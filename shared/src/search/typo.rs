//! Edit distance of a query word to vocabulary words, for many words in a row: optimal string
//! alignment (Levenshtein with transpositions of neighbours), with reused rows and an early
//! stop once every alignment is over the budget, so most of the vocabulary costs a few steps.

pub(crate) struct Osa {
    query: Vec<char>,
    rows: [Vec<usize>; 3],
    word: Vec<char>,
}

impl Osa {
    pub(crate) fn new(query: &str) -> Self {
        Osa {
            query: query.chars().collect(),
            rows: Default::default(),
            word: Vec::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.query.len()
    }

    /// [`Osa::word_distance`] of a word given as text.
    pub(crate) fn distance_to(&mut self, word: &str, budget: usize) -> Option<usize> {
        let mut chars = std::mem::take(&mut self.word);
        chars.clear();
        chars.extend(word.chars());
        let d = self.word_distance(&chars, budget);
        self.word = chars;
        d
    }

    /// The fewest edits turning the query into the word, or into a start of the word at least
    /// as long as the query (the word as it was being typed); None beyond `budget`.
    pub(crate) fn word_distance(&mut self, word: &[char], budget: usize) -> Option<usize> {
        let (m, n) = (self.query.len(), word.len());
        if n + budget < m {
            return None;
        }
        for row in &mut self.rows {
            row.clear();
            row.resize(n + 1, 0);
        }
        for (j, cell) in self.rows[0].iter_mut().enumerate() {
            *cell = j;
        }
        // rows[i % 3] is row i; row i - 2 is needed for transpositions.
        for i in 1..=m {
            let [a, b, c] = &mut self.rows;
            let (two_up, up, cur) = match i % 3 {
                0 => (&*b, &*c, a),
                1 => (&*c, &*a, b),
                _ => (&*a, &*b, c),
            };
            cur[0] = i;
            let mut row_min = i;
            let qc = self.query[i - 1];
            for j in 1..=n {
                let wc = word[j - 1];
                let mut d = (up[j] + 1)
                    .min(cur[j - 1] + 1)
                    .min(up[j - 1] + usize::from(qc != wc));
                if i > 1 && j > 1 && qc == word[j - 2] && self.query[i - 2] == wc {
                    d = d.min(two_up[j - 2] + 1);
                }
                cur[j] = d;
                row_min = row_min.min(d);
            }
            if row_min > budget {
                return None;
            }
        }
        let last = &self.rows[m % 3];
        let whole = last[n];
        let prefix = last[m.min(n)..].iter().copied().min().unwrap_or(whole);
        let best = whole.min(prefix);
        (best <= budget).then_some(best)
    }
}

#[cfg(test)]
mod tests {
    use super::Osa;

    fn d(q: &str, w: &str, budget: usize) -> Option<usize> {
        Osa::new(q).distance_to(w, budget)
    }

    #[test]
    fn edits_whole_words_and_starts_of_words() {
        assert_eq!(d("secnod", "second", 2), Some(1), "transposition");
        assert_eq!(d("nocturen", "nocturne", 2), Some(1));
        assert_eq!(d("venra", "venra", 1), Some(0));
        assert_eq!(d("vnra", "venra", 1), Some(1), "dropped letter");
        assert_eq!(d("veenra", "venra", 1), Some(1), "doubled letter");
        assert_eq!(d("vexra", "venra", 1), Some(1), "wrong letter");
        assert_eq!(
            d("auor", "aurora", 1),
            Some(1),
            "a typo in a start of a word"
        );
        assert_eq!(d("noct", "nocturne", 0), Some(0), "a start as typed");
        assert_eq!(d("xyzzy", "nocturne", 2), None);
        assert_eq!(d("abcdef", "abc", 2), None, "a word too short");
        assert_eq!(d("lov", "lo", 1), Some(1), "a whole word one letter short");
        assert_eq!(d("caffe", "cafe", 1), Some(1));
    }

    #[test]
    fn reuses_its_rows_across_words_of_any_length() {
        let mut osa = Osa::new("harbor");
        assert_eq!(osa.distance_to("harbour", 2), Some(1));
        assert_eq!(osa.distance_to("harbors", 2), Some(0), "a start");
        assert_eq!(osa.distance_to("hrabor", 2), Some(1));
        assert_eq!(osa.distance_to("h", 2), None);
        assert_eq!(osa.distance_to("harbor", 0), Some(0));
    }
}

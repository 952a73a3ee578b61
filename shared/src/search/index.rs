//! The index: documents numbered in rank order, a sorted vocabulary of their words with
//! posting lists, and a trigram index over the vocabulary (not over the documents) for words
//! found inside other words.

use super::bits::Bits;
use super::rank::{self, typo_budget};
use super::typo::Osa;
use super::words_of;
use std::collections::{HashMap, HashSet};

/// Separates a document's fields in its text; folded fields hold no newline.
const FIELD_END: char = '\n';

/// Characters of a word whose letters the typo prefilter keeps, per word.
const MASKED_PREFIX: usize = 8;

/// An immutable search index over documents of one kind (tracks, albums or artists).
#[derive(Debug, Default)]
pub struct SearchIndex {
    /// Document ids, in rank order: shorter text first, then the text, then the id.
    ids: Vec<i64>,
    /// Each document's folded fields, joined by [`FIELD_END`].
    texts: Vec<Box<str>>,
    /// Every word of every document, sorted, so that the words a prefix starts are a range.
    words: Vec<Box<str>>,
    /// Per word: the documents holding it, ascending.
    postings: Vec<Vec<u32>>,
    /// Per word: the documents with a field that begins with it.
    leading: Vec<Vec<u32>>,
    /// Per word: for each length k up to [`MASKED_PREFIX`], the letters of its first k + 1
    /// characters (each character hashed to one of 32 bits), to skip most words before
    /// measuring an edit distance.
    masks: Vec<[u32; MASKED_PREFIX]>,
    /// Per trigram of the vocabulary: the words holding it.
    grams: HashMap<u64, Vec<u32>>,
}

fn char_bit(c: char) -> u32 {
    1 << (c as u32 % 32)
}

fn gram_key(w: &[char]) -> u64 {
    (u64::from(w[0]) << 42) | (u64::from(w[1]) << 21) | u64::from(w[2])
}

fn push_once(list: &mut Vec<u32>, doc: u32) {
    if list.last() != Some(&doc) {
        list.push(doc);
    }
}

impl SearchIndex {
    /// Indexes `(id, fields)` documents; the fields must be folded ([`super::fold`]).
    pub fn build(docs: impl IntoIterator<Item = (i64, Vec<String>)>) -> Self {
        let mut docs: Vec<(i64, String)> = docs
            .into_iter()
            .map(|(id, fields)| (id, fields.join("\n")))
            .collect();
        docs.sort_by(|a, b| (a.1.len(), &a.1, a.0).cmp(&(b.1.len(), &b.1, b.0)));
        // Words numbered in order of appearance first, renumbered in sorted order after.
        let mut numbers: HashMap<&str, u32> = HashMap::new();
        let mut found: Vec<&str> = Vec::new();
        let mut postings: Vec<Vec<u32>> = Vec::new();
        let mut leading: Vec<Vec<u32>> = Vec::new();
        for (doc, (_, text)) in docs.iter().enumerate() {
            let doc = doc as u32;
            for field in text.split(FIELD_END) {
                let mut first = true;
                for word in words_of(field) {
                    let n = *numbers.entry(word).or_insert_with(|| {
                        found.push(word);
                        postings.push(Vec::new());
                        leading.push(Vec::new());
                        found.len() as u32 - 1
                    });
                    push_once(&mut postings[n as usize], doc);
                    if first && field.starts_with(word) {
                        push_once(&mut leading[n as usize], doc);
                    }
                    first = false;
                }
            }
        }
        let mut order: Vec<u32> = (0..found.len() as u32).collect();
        order.sort_by_key(|&n| found[n as usize]);
        let words: Vec<Box<str>> = order.iter().map(|&n| found[n as usize].into()).collect();
        let mut postings_sorted = Vec::with_capacity(order.len());
        let mut leading_sorted = Vec::with_capacity(order.len());
        for &n in &order {
            let mut p = std::mem::take(&mut postings[n as usize]);
            p.shrink_to_fit();
            postings_sorted.push(p);
            let mut l = std::mem::take(&mut leading[n as usize]);
            l.shrink_to_fit();
            leading_sorted.push(l);
        }
        let mut masks = Vec::with_capacity(words.len());
        let mut grams: HashMap<u64, Vec<u32>> = HashMap::new();
        for (n, word) in words.iter().enumerate() {
            let chars: Vec<char> = word.chars().collect();
            let mut mask = [0u32; MASKED_PREFIX];
            let mut acc = 0;
            for (k, slot) in mask.iter_mut().enumerate() {
                if let Some(&c) = chars.get(k) {
                    acc |= char_bit(c);
                }
                *slot = acc;
            }
            masks.push(mask);
            for w in chars.windows(3) {
                push_once(grams.entry(gram_key(w)).or_default(), n as u32);
            }
        }
        let (ids, texts) = docs
            .into_iter()
            .map(|(id, text)| (id, text.into_boxed_str()))
            .unzip();
        SearchIndex {
            ids,
            texts,
            words,
            postings: postings_sorted,
            leading: leading_sorted,
            masks,
            grams,
        }
    }

    /// Number of documents.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Number of distinct words.
    pub fn vocabulary(&self) -> usize {
        self.words.len()
    }

    /// About how many bytes of memory the index holds.
    pub fn memory_bytes(&self) -> usize {
        let lists = |l: &Vec<Vec<u32>>| l.iter().map(|p| p.capacity() * 4 + 24).sum::<usize>();
        self.ids.capacity() * 8
            + self.texts.iter().map(|t| t.len() + 16).sum::<usize>()
            + self.words.iter().map(|w| w.len() + 16).sum::<usize>()
            + lists(&self.postings)
            + lists(&self.leading)
            + self.masks.capacity() * 4 * MASKED_PREFIX
            + self
                .grams
                .values()
                .map(|g| g.capacity() * 4 + 40)
                .sum::<usize>()
    }

    /// The ids of the best `limit` documents for a folded query ([`super::clean_query`]):
    /// every word of the query is a substring of a word of the document (a prefix, if it has
    /// fewer than three letters), best tier first; when those are too few, documents whose
    /// words are each within a typo budget of a query word follow, fewest edits first.
    pub fn search(&self, query: &str, limit: usize) -> Vec<i64> {
        let terms: Vec<&str> = words_of(query).collect();
        if terms.is_empty() || limit == 0 || self.is_empty() {
            return Vec::new();
        }
        let mut sets = Vec::with_capacity(terms.len());
        let mut split_terms: Vec<String> = Vec::new();
        let mut any_split = false;
        for term in &terms {
            let mut set = self.matching(term);
            let mut spelled = (*term).to_string();
            if set.is_empty()
                && let Some((split_set, words)) = self.split(term, 2)
            {
                set = split_set;
                spelled = words;
                any_split = true;
            }
            sets.push(set);
            split_terms.push(spelled);
        }
        let ranked = if terms.len() == 1 && terms[0] == query && !any_split {
            self.one_word(query, &sets[0], limit)
        } else {
            let spelled = if any_split {
                split_terms.join(" ")
            } else {
                query.to_string()
            };
            self.every_word(&spelled, &sets, limit)
        };
        let mut out: Vec<u32> = ranked;
        if out.len() < limit {
            let taken: Vec<u32> = out.clone();
            out.extend(self.typos(&terms, &sets, &taken, limit - out.len()));
        }
        out.into_iter().map(|d| self.ids[d as usize]).collect()
    }

    /// Sorted vocabulary numbers of the words starting with `prefix`.
    fn prefixed(&self, prefix: &str) -> std::ops::Range<usize> {
        let start = self.words.partition_point(|w| &**w < prefix);
        let len = self.words[start..]
            .iter()
            .take_while(|w| w.starts_with(prefix))
            .count();
        start..start + len
    }

    fn word_number(&self, word: &str) -> Option<usize> {
        self.words.binary_search_by(|w| (**w).cmp(word)).ok()
    }

    /// Words holding `term` (three letters or more) other than at their start.
    fn inside(&self, term: &str) -> Vec<usize> {
        let chars: Vec<char> = term.chars().collect();
        if chars.len() < 3 {
            return Vec::new();
        }
        let mut rarest: Option<&Vec<u32>> = None;
        for w in chars.windows(3) {
            match self.grams.get(&gram_key(w)) {
                None => return Vec::new(),
                Some(list) if rarest.is_none_or(|r| list.len() < r.len()) => rarest = Some(list),
                Some(_) => {}
            }
        }
        rarest
            .into_iter()
            .flatten()
            .map(|&n| n as usize)
            .filter(|&n| {
                let w = &self.words[n];
                !w.starts_with(term) && w.contains(term)
            })
            .collect()
    }

    /// Documents with a word that starts with `term` or (three letters or more) holds it.
    fn matching(&self, term: &str) -> Bits {
        let mut set = Bits::new(self.len());
        for n in self.prefixed(term) {
            set.extend(&self.postings[n]);
        }
        for n in self.inside(term) {
            set.extend(&self.postings[n]);
        }
        set
    }

    /// Words run together: `term` as a whole word of the vocabulary followed by the start of
    /// another (or, `depth` times over, by more words run together), in documents holding
    /// both. The longest first word that finds anything wins; the answer carries the
    /// documents and the words spelled apart.
    fn split(&self, term: &str, depth: usize) -> Option<(Bits, String)> {
        let cuts: Vec<usize> = term.char_indices().map(|(i, _)| i).skip(2).collect();
        for &cut in cuts.iter().rev() {
            let (head, tail) = term.split_at(cut);
            let Some(first) = self.word_number(head) else {
                continue;
            };
            let mut rest = Bits::new(self.len());
            let mut spelled = tail.to_string();
            for n in self.prefixed(tail) {
                rest.extend(&self.postings[n]);
            }
            if rest.is_empty() && depth > 1 {
                match self.split(tail, depth - 1) {
                    Some((set, words)) => {
                        rest = set;
                        spelled = words;
                    }
                    None => continue,
                }
            }
            let mut both = Bits::new(self.len());
            both.extend(&self.postings[first]);
            both.intersect_with(&rest);
            if !both.is_empty() {
                return Some((both, format!("{head} {spelled}")));
            }
        }
        None
    }

    /// One word, as typed so far: the tiers come from the posting lists alone. Exact fields
    /// (among the documents a field of which begins with that very word), then fields that
    /// begin with it, then words that do, then words holding it; each in document order.
    fn one_word(&self, word: &str, all: &Bits, limit: usize) -> Vec<u32> {
        let mut out: Vec<u32> = Vec::new();
        let mut taken = Bits::new(self.len());
        let mut take = |docs: &mut dyn Iterator<Item = u32>, out: &mut Vec<u32>| {
            for d in docs {
                if out.len() >= limit {
                    return;
                }
                if !taken.contains(d) {
                    taken.insert(d);
                    out.push(d);
                }
            }
        };
        if let Some(n) = self.word_number(word) {
            let mut exact = self.leading[n]
                .iter()
                .copied()
                .filter(|&d| self.texts[d as usize].split(FIELD_END).any(|f| f == word));
            take(&mut exact, &mut out);
        }
        let range = self.prefixed(word);
        let mut starts = Bits::new(self.len());
        let mut prefixed = Bits::new(self.len());
        for n in range {
            starts.extend(&self.leading[n]);
            prefixed.extend(&self.postings[n]);
        }
        take(&mut starts.iter(), &mut out);
        take(&mut prefixed.iter(), &mut out);
        take(&mut all.iter(), &mut out);
        out
    }

    /// Several words (or one with punctuation, or split apart): every candidate holding all of
    /// them is ranked by [`rank::tier`] of the whole query, in document order, so each tier
    /// fills with its shortest documents first; a full first tier ends the walk.
    ///
    /// A field that is or begins with the query begins with its first word, so when the query
    /// begins with a word, the documents with a field beginning with it are ranked first; the
    /// others can only be word prefixes or substrings, and the walk over them ends as soon as
    /// the better tiers and the word prefixes fill the limit ("the s" on a large library no
    /// longer ranks every title holding "the").
    fn every_word(&self, query: &str, sets: &[Bits], limit: usize) -> Vec<u32> {
        let mut both = sets[0].clone();
        for set in &sets[1..] {
            both.intersect_with(set);
        }
        let mut tiers: [Vec<u32>; 4] = Default::default();
        let tier_of = |d: u32| rank::tier(query, self.texts[d as usize].split(FIELD_END));
        let head = words_of(query).next().filter(|w| query.starts_with(w));
        let Some(head) = head else {
            for d in both.iter() {
                let tier = tier_of(d) as usize;
                if tiers[tier].len() < limit {
                    tiers[tier].push(d);
                    if tier == 0 && tiers[0].len() == limit {
                        break;
                    }
                }
            }
            return tiers.into_iter().flatten().take(limit).collect();
        };
        let mut leading = Bits::new(self.len());
        for n in self.prefixed(head) {
            leading.extend(&self.leading[n]);
        }
        leading.intersect_with(&both);
        // Tiers 2 and 3 of the leading documents, placed in document order by the walk below.
        let mut later = [Bits::new(self.len()), Bits::new(self.len())];
        for d in leading.iter() {
            match tier_of(d) {
                t @ (rank::EXACT_FIELD | rank::FIELD_PREFIX) => {
                    let tier = &mut tiers[t as usize];
                    if tier.len() < limit {
                        tier.push(d);
                    }
                    if t == rank::EXACT_FIELD && tier.len() == limit {
                        return tiers.into_iter().flatten().take(limit).collect();
                    }
                }
                t => later[usize::from(t == rank::SUBSTRING)].insert(d),
            }
        }
        for d in both.iter() {
            if tiers[0].len() + tiers[1].len() + tiers[2].len() >= limit {
                break;
            }
            let tier = if !leading.contains(d) {
                tier_of(d) as usize
            } else if later[0].contains(d) {
                2
            } else if later[1].contains(d) {
                3
            } else {
                continue;
            };
            if tiers[tier].len() < limit {
                tiers[tier].push(d);
            }
        }
        tiers.into_iter().flatten().take(limit).collect()
    }

    /// Documents found only with typos: each query word within its budget of a word of the
    /// document (or of its start), fewest edits in all first, then document order.
    ///
    /// Only the words that look misspelt are corrected: those found nowhere as typed or, if
    /// every word was found, the one found in the fewest documents (a misspelling that
    /// happens to sit inside other words). Correcting every word of a long title against the
    /// whole vocabulary cost more than the rest of the search and found nothing more.
    fn typos(&self, terms: &[&str], exact: &[Bits], taken: &[u32], limit: usize) -> Vec<u32> {
        let budgets: Vec<usize> = terms
            .iter()
            .map(|t| typo_budget(t.chars().count()))
            .collect();
        let sizes: Vec<usize> = exact.iter().map(Bits::count).collect();
        let mut correct: Vec<bool> = sizes.iter().map(|&n| n == 0).collect();
        if !correct.iter().any(|&c| c) {
            let rarest = (0..terms.len())
                .filter(|&i| budgets[i] > 0)
                .min_by_key(|&i| sizes[i]);
            if let Some(i) = rarest {
                correct[i] = true;
            }
        }
        if !(0..terms.len()).any(|i| correct[i] && budgets[i] > 0) {
            return Vec::new();
        }
        // levels[t][k]: documents with a word k edits from term t (level 0: as typed);
        // near[t]: the vocabulary's words a correction of term t found.
        let mut levels: Vec<Vec<Bits>> = Vec::with_capacity(terms.len());
        let mut near: Vec<HashSet<&str>> = vec![HashSet::new(); terms.len()];
        for (i, (term, set)) in terms.iter().zip(exact).enumerate() {
            let mut osa = Osa::new(term);
            let budget = if correct[i] { budgets[i] } else { 0 };
            let mut by_edits = vec![set.clone()];
            by_edits.resize(budget + 1, Bits::new(self.len()));
            if budget > 0 {
                let span = (osa.len() + budget).min(MASKED_PREFIX) - 1;
                let wanted = term.chars().fold(0, |m, c| m | char_bit(c));
                for (n, word) in self.words.iter().enumerate() {
                    if (wanted & !self.masks[n][span]).count_ones() as usize > budget {
                        continue;
                    }
                    if let Some(d) = osa.distance_to(word, budget)
                        && d > 0
                    {
                        by_edits[d].extend(&self.postings[n]);
                        near[i].insert(word);
                    }
                }
            }
            levels.push(by_edits);
        }
        let mut candidates: Option<Bits> = None;
        for by_edits in &levels {
            let mut any = Bits::new(self.len());
            for level in by_edits {
                any.union_with(level);
            }
            match candidates.as_mut() {
                None => candidates = Some(any),
                Some(c) => c.intersect_with(&any),
            }
        }
        let Some(mut candidates) = candidates else {
            return Vec::new();
        };
        let mut seen = Bits::new(self.len());
        seen.extend(taken);
        candidates.remove_all(&seen);
        let mut found: Vec<(usize, u32)> = candidates
            .iter()
            .map(|d| {
                let edits = levels
                    .iter()
                    .map(|by_edits| by_edits.iter().position(|l| l.contains(d)).unwrap_or(0))
                    .sum();
                (edits, d)
            })
            .collect();
        found.sort_unstable();
        if terms.len() < 2 {
            return found.into_iter().take(limit).map(|(_, d)| d).collect();
        }
        // Among documents with as many edits, the words side by side in the order typed first.
        let as_typed: Vec<(&str, bool)> =
            terms.iter().map(|t| (*t, t.chars().count() >= 3)).collect();
        let matches = |t: usize, word: &str| {
            let (term, inside) = as_typed[t];
            word.starts_with(term) || (inside && word.contains(term)) || near[t].contains(word)
        };
        let mut out = Vec::with_capacity(limit);
        for group in found.chunk_by(|a, b| a.0 == b.0) {
            let want = limit - out.len();
            let mut by_proximity: [Vec<u32>; 3] = Default::default();
            for &(_, d) in group {
                let fields = self.texts[d as usize].split(FIELD_END);
                let p = rank::proximity(terms.len(), fields, matches) as usize;
                by_proximity[p].push(d);
                if by_proximity[0].len() == want {
                    break;
                }
            }
            out.extend(by_proximity.into_iter().flatten().take(want));
            if out.len() == limit {
                break;
            }
        }
        out
    }
}

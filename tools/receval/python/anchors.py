"""The `implicit` library's anchors on the Last.fm HetRec 2011 leave-one-out split.

Run by `mixtape-receval eval --anchors` in a venv it creates (see tools/receval/src/anchors.rs).
The split is the data set README's: for every user (sorted) with at least 5 artists,
`random.Random(seed).choice` over the user's rows in file order is held out; weights are
log(1 + plays); each method recommends 10 artists the user has not played.

Prints one JSON line per (seed, method): {"seed", "method", "users", "hit_rate", "ndcg"}.
"""

import argparse
import warnings
import json
import math
import os
import random
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from implicit.als import AlternatingLeastSquares  # noqa: E402
from implicit.nearest_neighbours import BM25Recommender, CosineRecommender  # noqa: E402


def load(path):
    data = {}
    with open(os.path.join(path, "user_artists.dat")) as f:
        next(f)
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3:
                continue
            data.setdefault(int(parts[0]), []).append((int(parts[1]), int(parts[2])))
    return data


def split(data, seed):
    rng = random.Random(seed)
    train, test = {}, {}
    for user in sorted(data):
        rows = data[user]
        if len(rows) >= 5:
            held = rng.choice(rows)
            test[user] = held[0]
            rest = list(rows)
            rest.remove(held)
            train[user] = rest
        else:
            train[user] = list(rows)
    return train, test


def matrix(train):
    users = sorted(train)
    items = sorted({a for rows in train.values() for a, _ in rows})
    uix = {u: k for k, u in enumerate(users)}
    iix = {a: k for k, a in enumerate(items)}
    r, c, v = [], [], []
    for u, rows in train.items():
        for a, plays in rows:
            r.append(uix[u])
            c.append(iix[a])
            v.append(math.log1p(plays))
    m = sp.csr_matrix((np.array(v, dtype=np.float32), (r, c)), shape=(len(users), len(items)))
    return m, uix, items


def evaluate(model, m, uix, items, test):
    users = sorted(test)
    rows = np.array([uix[u] for u in users])
    ids, _ = model.recommend(rows, m[rows], N=10, filter_already_liked_items=True)
    hits, ndcg = 0.0, 0.0
    for u, recs in zip(users, ids):
        ranked = [items[k] for k in recs if k >= 0]
        if test[u] in ranked[:10]:
            rank = ranked.index(test[u])
            hits += 1
            ndcg += 1 / math.log2(rank + 2)
    n = max(len(users), 1)
    return hits / n, ndcg / n, len(users)


def main():
    warnings.simplefilter("ignore")
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--seeds", default="1,2,3,4,5,6,7,8,9,10")
    args = ap.parse_args()
    data = load(args.dir)
    for seed in [int(s) for s in args.seeds.split(",") if s]:
        train, test = split(data, seed)
        m, uix, items = matrix(train)
        methods = [
            ("implicit cosine", CosineRecommender(K=100)),
            ("implicit BM25", BM25Recommender(K=100)),
            # random_state fixes the factors' initialisation, so a rerun gives the same figures.
            (
                "implicit ALS",
                AlternatingLeastSquares(
                    factors=64, regularization=0.05, iterations=20, random_state=seed
                ),
            ),
        ]
        for name, model in methods:
            model.fit(m, show_progress=False)
            hr, ndcg, n = evaluate(model, m, uix, items, test)
            print(
                json.dumps(
                    {"seed": seed, "method": name, "users": n, "hit_rate": hr, "ndcg": ndcg}
                ),
                flush=True,
            )


if __name__ == "__main__":
    sys.exit(main())

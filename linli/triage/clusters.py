"""Clustering of short appeals into issues: which messages report the same problem at the same place.

Deterministic, no training. The text is a character 1–3-gram TF-IDF (sublinear tf) of the title (weight 0.7) and
the first ``BODY_CHARS`` characters of the body (0.3), after dropping the boilerplate every appeal uses
(``STOP``: "咨询", "反映", "投诉", "关于", "问题", the anonymised "A市"/"A3区" …), so the shared words that remain
are mostly place names (an estate, a road, a company) and the problem itself. Longer n-grams (up to 4) and an extra
weight for longer n-grams were tried on the 4,326 voted messages of the Teddy 2020 C set and kept fewer of the
known clusters together, so shared place names count through their rarity (idf) alone.

Grouping is agglomerative with *centroid* linkage on a sparse neighbour graph: each text keeps at most
``NEIGHBOURS`` neighbours with cosine ≥ ``FLOOR`` (computed block by block, so memory is O(n·k), never n²); two
groups merge, best pair first, while the cosine of their summed vectors is ≥ ``threshold``. That cosine comes from
the graph alone: ``cos(A, B) = S(A, B) / √(S(A, A) · S(B, B))`` with ``S`` the sum of the pairwise similarities
(pairs outside the graph count as 0). Centroid linkage lets a long-running issue grow (a message joins if it is like
the issue as a whole) while the place-only or topic-only resemblances of single-link chaining stay apart. With
``window_days`` two messages further apart in time are never linked directly, so a burst is one issue.

Each ``Cluster`` carries its members, label (the title nearest the centroid) and shared terms, first/last time,
count, distinct reporters, likes and a heat score::

    heat = (reporters + ln(1 + count − reporters) + ln(1 + likes)) / √(1 + span_days / 90)

Distinct reporters are the main signal; messages repeated by the same reporter and likes count logarithmically
(2,000 likes weigh like 7.6 more reporters); an issue raised within days keeps its full weight, one spread over a
quarter of a year is divided by √2 (a hotspot is a concentration in time, as the Teddy 2020 C task defines it).
"""

from __future__ import annotations

import csv
import datetime as dt
import heapq
import math
import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from linli.triage import words

TITLE_WEIGHT = 0.7
BODY_CHARS = 400
NGRAM = (1, 3)
THRESHOLD = 0.3
NEIGHBOURS = 50
FLOOR = 0.1
BLOCK = 512
SPAN_SCALE_DAYS = 90.0
TERMS_SHOWN = 5

# Words nearly every appeal uses, and the anonymised division names of the Teddy data ("A市", "A3区", "西地省").
STOP = re.compile(
    r"[A-Z][0-9]*[省市区县]|西地省|咨询|反映|投诉|举报|建议|关于|请问|问题|相关|希望|请求|强烈|一事|事宜|"
    r"领导|您好|你好|谢谢"
)
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Item:
    """One message to cluster: ``key`` is the caller's id (a case id, a 留言编号)."""

    key: Hashable
    title: str
    body: str = ""
    at: dt.datetime | None = None
    reporter: str = ""  # a household / reporter digest; empty = unknown (then the message counts as its own)
    likes: int = 0


@dataclass
class Cluster:
    items: list[Item]
    label: str
    terms: list[str]
    first: dt.datetime | None
    last: dt.datetime | None
    count: int
    reporters: int
    likes: int
    heat: float
    central: Item = field(repr=False)

    @property
    def keys(self) -> list[Hashable]:
        return [i.key for i in self.items]

    @property
    def span_days(self) -> float:
        if self.first is None or self.last is None:
            return 0.0
        return (self.last - self.first).total_seconds() / 86400


def clean(text: str) -> str:
    return _SPACE.sub(" ", STOP.sub(" ", text or "")).strip()


def heat(count: int, reporters: int, likes: int, span_days: float) -> float:
    base = reporters + math.log1p(max(0, count - reporters)) + math.log1p(max(0, likes))
    return base / math.sqrt(1.0 + max(0.0, span_days) / SPAN_SCALE_DAYS)


def reporter_key(item: Item) -> str:
    return item.reporter or f"#{item.key}"


# ------------------------------------------------------------------------------------------------ vectors


def _block(texts: list[str]) -> sparse.csr_matrix:
    vec = TfidfVectorizer(analyzer="char", ngram_range=NGRAM, sublinear_tf=True, dtype=np.float32)
    try:
        return vec.fit_transform(texts)
    except ValueError:  # no text at all (every message empty after cleaning)
        return sparse.csr_matrix((len(texts), 0), dtype=np.float32)


def vectors(items: Sequence[Item]) -> sparse.csr_matrix:
    """L2-normalised rows: the title block and the body block side by side (n-grams of one text left out)."""
    titles = _block([clean(i.title) for i in items])
    bodies = _block([clean(_SPACE.sub(" ", i.body).strip()[:BODY_CHARS]) for i in items])
    x = sparse.hstack([titles * TITLE_WEIGHT, bodies * (1 - TITLE_WEIGHT)]).tocsr()
    if x.shape[1] == 0:
        return x
    x = normalize(x).astype(np.float32).tocsr()
    # An n-gram only one text has adds nothing to any dot product: dropped after normalising (same cosines, faster).
    df = np.bincount(x.indices, minlength=x.shape[1])
    return x[:, df >= 2].tocsr()


def _days(items: Sequence[Item]) -> np.ndarray | None:
    if any(i.at is None for i in items):
        return None
    return np.array([i.at.timestamp() / 86400 for i in items if i.at is not None])


def neighbour_graph(
    x: sparse.csr_matrix,
    *,
    k: int = NEIGHBOURS,
    floor: float = FLOOR,
    days: np.ndarray | None = None,
    window_days: float | None = None,
) -> sparse.coo_matrix:
    """Symmetric sparse graph: each row's ``k`` most similar rows with cosine ≥ ``floor`` (and, with a window,
    within ``window_days``). Computed ``BLOCK`` rows at a time."""
    n = x.shape[0]
    k = min(k, n - 1)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    if k <= 0:
        return sparse.coo_matrix((n, n), dtype=np.float32)
    xt = x.T.tocsc()
    for start in range(0, n, BLOCK):
        sims = np.asarray((x[start : start + BLOCK] @ xt).todense())
        for r in range(sims.shape[0]):
            i = start + r
            row = sims[r]
            row[i] = 0.0
            if days is not None and window_days is not None:
                row[np.abs(days - days[i]) > window_days] = 0.0
            top = np.argpartition(-row, k - 1)[:k] if k < n else np.arange(n)
            top = top[row[top] >= floor]
            rows.append(np.full(len(top), i))
            cols.append(top)
            vals.append(row[top])
    g = sparse.coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    ).tocsr()
    return g.maximum(g.T).tocoo()


# ------------------------------------------------------------------------------------------------ grouping


def centroid_groups(graph: sparse.coo_matrix, n: int, threshold: float) -> list[list[int]]:
    """Agglomerate ``n`` nodes by centroid cosine on the graph (see the module docstring); deterministic: the
    best pair first, ties by the smaller node ids."""
    adj: list[dict[int, float]] = [{} for _ in range(n)]
    for a, b, v in zip(graph.row.tolist(), graph.col.tolist(), graph.data.tolist(), strict=True):
        if a < b:
            adj[a][b] = adj[b][a] = float(v)
    own = [1.0] * n  # S(A, A): the sum of similarities over ordered pairs inside A, the diagonal included
    members = [[i] for i in range(n)]

    def score(a: int, b: int) -> float:
        return adj[a][b] / math.sqrt(own[a] * own[b])

    heap = [(-v, a, b) for a in range(n) for b, v in adj[a].items() if a < b and v >= threshold]
    heapq.heapify(heap)
    while heap:
        neg, a, b = heapq.heappop(heap)
        if b not in adj[a] or not members[a] or not members[b] or abs(score(a, b) + neg) > 1e-9:
            continue  # stale entry
        cross = adj[a].pop(b)
        del adj[b][a]
        own[a] += own[b] + 2 * cross
        members[a] += members[b]
        members[b] = []
        for c, v in adj[b].items():
            del adj[c][b]
            adj[a][c] = adj[c][a] = adj[a].get(c, 0.0) + v
        adj[b] = {}
        for c in adj[a]:
            s = score(a, c)
            if s >= threshold:
                heapq.heappush(heap, (-s, min(a, c), max(a, c)))
    return [sorted(m) for m in members if m]


# ------------------------------------------------------------------------------------------------ clusters


def shared_terms(titles: Sequence[str], limit: int = TERMS_SHOWN) -> list[str]:
    """The longest strings (2+ characters) of the first title that at least half of ``titles`` contain, longest
    first; a string inside a longer chosen one is left out. For one title: nothing. A string starts and ends at
    word boundaries (``linli.triage.words``) and holds at least one word: never a fragment."""
    cleaned = [clean(t) for t in titles]
    if len(cleaned) < 2:
        return []
    need = math.ceil(len(cleaned) / 2)
    others = cleaned[1:]

    def common(s: str) -> bool:
        return 1 + sum(s in t for t in others) >= need

    head, found = cleaned[0], set()
    spans = words.spans(head)
    starts, ends = {a for a, _ in spans}, {b for _, b in spans}
    for start in sorted(starts):
        end = start + 2
        if " " in head[start:end] or not common(head[start:end]):
            continue
        while end < len(head) and head[end] != " " and common(head[start : end + 1]):
            end += 1
        # Whole words only: the string is cut back to the last word that ends inside it ("梯又" is no word).
        while end > start and end not in ends:
            end -= 1
        if any(words.is_word(head[a:b]) for a, b in spans if start <= a and b <= end):
            found.add(head[start:end])
    chosen: list[str] = []
    for term in sorted(found, key=lambda t: (-len(t), head.index(t))):
        if not any(term in c for c in chosen):
            chosen.append(term)
    return chosen[:limit]


def _cluster(members: list[int], items: Sequence[Item], x: sparse.csr_matrix) -> Cluster:
    chosen = [items[i] for i in members]
    best = 0
    if len(members) > 1:
        sub = x[members]
        closeness = np.asarray((sub @ sub.T).sum(axis=1)).ravel()  # similarity to the centroid, unscaled
        best = int(np.argmax(closeness))  # the first of equals: the smallest index
    central = chosen[best]
    times = [i.at for i in chosen if i.at is not None]
    first, last = (min(times), max(times)) if times else (None, None)
    count = len(chosen)
    reporters = len({reporter_key(i) for i in chosen})
    likes = sum(max(0, i.likes) for i in chosen)
    span = (last - first).total_seconds() / 86400 if first and last else 0.0
    return Cluster(
        items=chosen,
        label=central.title.strip(),
        terms=shared_terms([central.title] + [i.title for i in chosen if i is not central]),
        first=first,
        last=last,
        count=count,
        reporters=reporters,
        likes=likes,
        heat=round(heat(count, reporters, likes, span), 4),
        central=central,
    )


def cluster(
    items: Sequence[Item],
    *,
    threshold: float = THRESHOLD,
    window_days: float | None = None,
    neighbours: int = NEIGHBOURS,
) -> list[Cluster]:
    """Every item in exactly one cluster, hottest first (ties: more messages, then the earliest first time, then
    input order). The same items in the same order always give the same clusters."""
    if not items:
        return []
    if not 0 < threshold <= 1:
        raise ValueError("threshold must be in (0, 1]")
    x = vectors(items)
    graph = neighbour_graph(
        x, k=neighbours, days=_days(items) if window_days else None, window_days=window_days
    )
    groups = centroid_groups(graph, len(items), threshold)
    ranked = sorted(
        ((_cluster(m, items, x), m[0]) for m in groups),
        key=lambda pair: (
            -pair[0].heat,
            -pair[0].count,
            pair[0].first is None,
            pair[0].first.timestamp() if pair[0].first else 0.0,
            pair[1],
        ),
    )
    return [c for c, _first_index in ranked]


def hotspots(
    items: Sequence[Item],
    *,
    top: int = 5,
    min_reporters: int = 2,
    threshold: float = THRESHOLD,
    window_days: float | None = None,
) -> list[Cluster]:
    """The ``top`` hottest clusters raised by at least ``min_reporters`` distinct reporters."""
    found = cluster(items, threshold=threshold, window_days=window_days)
    return [c for c in found if c.reporters >= min_reporters][:top]


# ------------------------------------------------------------------------------------------------ files

# The columns of a message-board export such as the Teddy 2020 C 附件3 (留言编号, 留言用户, 留言主题, 留言时间, 留言详情, 反对数, 点赞数).
TEDDY_COLUMNS = {
    "key": "留言编号",
    "title": "留言主题",
    "body": "留言详情",
    "at": "留言时间",
    "reporter": "留言用户",
    "likes": "点赞数",
}


def _time(text: str) -> dt.datetime | None:
    text = (text or "").strip().replace("/", "-")
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


def read_csv(path: str | Path, columns: dict[str, str] | None = None) -> list[Item]:
    """Items from a UTF-8 CSV with a header row. ``columns`` maps ``key``, ``title`` (required), ``body``, ``at``,
    ``reporter`` and ``likes`` to column names (default: the Teddy layout). Raises ``ValueError`` with the reason."""
    cols = {**TEDDY_COLUMNS, **(columns or {})}
    with Path(path).open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        missing = [cols[k] for k in ("key", "title") if cols[k] not in header]
        if missing:
            raise ValueError(f"{path}: no column {', '.join(missing)}; has {', '.join(header)}")
        items = []
        for n, row in enumerate(reader, 2):
            likes_text = (row.get(cols["likes"]) or "0").strip() or "0"
            try:
                likes = int(float(likes_text))
            except ValueError:
                raise ValueError(
                    f"{path}: line {n}: {cols['likes']} is not a number: {likes_text!r}"
                ) from None
            items.append(
                Item(
                    key=(row.get(cols["key"]) or "").strip() or f"row{n}",
                    title=row.get(cols["title"]) or "",
                    body=row.get(cols["body"]) or "",
                    at=_time(row.get(cols["at"]) or ""),
                    reporter=(row.get(cols["reporter"]) or "").strip(),
                    likes=likes,
                )
            )
    return items


def as_dict(c: Cluster, rank: int, messages: int = 5) -> dict[str, object]:
    """One cluster as plain data (the CLI's ``--json``, the bench): figures and the first ``messages`` messages."""
    return {
        "rank": rank,
        "label": c.label,
        "terms": c.terms,
        "count": c.count,
        "reporters": c.reporters,
        "likes": c.likes,
        "heat": c.heat,
        "first": c.first.isoformat(sep=" ") if c.first else None,
        "last": c.last.isoformat(sep=" ") if c.last else None,
        "span_days": round(c.span_days, 1),
        "messages": [
            {"key": str(i.key), "at": i.at.isoformat(sep=" ") if i.at else None, "title": i.title.strip()}
            for i in sorted(c.items, key=lambda i: (i.at is None, i.at.timestamp() if i.at else 0.0))[
                :messages
            ]
        ],
    }


def describe(found: Sequence[Cluster], messages: int = 5) -> str:
    """The clusters as text: one block per cluster with its figures and first messages."""
    lines = []
    for rank, c in enumerate(found, 1):
        d = as_dict(c, rank, messages)
        lines.append(
            f"{rank}. {c.label}  [heat {c.heat:.1f}; {c.count} messages, {c.reporters} reporters, {c.likes} likes; "
            f"{str(d['first'])[:10]} – {str(d['last'])[:10]}]"
        )
        if c.terms:
            lines.append(f"   shared: {'、'.join(c.terms)}")
        for m in d["messages"]:  # type: ignore[attr-defined]
            lines.append(f"   - {str(m['at'] or '')[:10]}  {m['title']}")
        if c.count > messages:
            lines.append(f"   … {c.count - messages} more")
    return "\n".join(lines)

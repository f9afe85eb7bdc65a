"""Words people read: what the triage pages show as the terms of a suggestion, a duplicate or a hotspot.

The classifier and the similarity measures work on character n-grams (no segmenter needed, ADR 0015); shown to a
person, an n-gram is often a fragment ("梯又" from "电梯又坏了", "动车" from "电动车"). So everything shown goes
through here: jieba (ADR 0030) cuts the text with its dictionary plus ``domain_words.txt`` (category names, their
keywords, common community terms) and without its HMM guesser, so every token is a dictionary word or a single
character; a term is a token of at least two characters that is in either dictionary and not a function word
(``STOP``). The dictionary is loaded once per process (about 0.7 s; jieba keeps a cache file in the temp dir).
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import jieba

DOMAIN_WORDS = Path(__file__).with_name("domain_words.txt")
# Dictionary words too common in appeals to say anything about one.
_STOP_WORDS = """
有人 我们 你们 他们 已经 没有 一个 这个 那个 这些 那些 现在 目前 一直 非常 十分 进行 相关 情况 问题 反映
投诉 咨询 举报 建议 希望 请求 要求 请问 关于 事宜 一事 领导 您好 你好 谢谢 麻烦 尽快 及时 处理 解决 还是
但是 因为 所以 如果 可以 能够 不能 需要 导致 造成 出现 发现 存在 经常 每天 多次 好几 几天 最近 今天 昨天
晚上 早上 上午 下午 时候 时间 地方 这里 那里 什么 怎么 为什么 是否 不了 起来 一下 以上 以下 居民 住户
"""
STOP = frozenset(_STOP_WORDS.split())
_CLAUSE = re.compile(r"[\u3400-\u9fffA-Za-z0-9]+")
_WORD_CHARS = re.compile(r"^[\u3400-\u9fffA-Za-z0-9]+$")
_LETTER = re.compile(r"[\u3400-\u9fffA-Za-z]")
_PARTICLE_END = re.compile(r"[了的着过吗呢吧啊]$")  # "又坏了", "有的": a phrase, not a word
_lock = threading.Lock()


@functools.cache
def _domain() -> frozenset[str]:
    words = []
    for line in DOMAIN_WORDS.read_text(encoding="utf-8").splitlines():
        word = line.split("#", 1)[0].strip().split(" ", 1)[0]
        if word:
            words.append(word)
    return frozenset(words)


@functools.cache
def tokenizer() -> jieba.Tokenizer:
    """jieba with the domain dictionary; built once (thread-safe), never the module-wide default one."""
    with _lock:
        jieba.setLogLevel(logging.WARNING)
        tok = jieba.Tokenizer()
        tok.initialize()
        for word in sorted(_domain()):
            tok.add_word(word)
        return tok


def tokens(text: str) -> list[str]:
    """The text cut into dictionary words and single characters (no HMM guesses), spaces and punctuation kept."""
    return list(tokenizer().cut(text or "", HMM=False))


def is_word(token: str) -> bool:
    """A term worth showing: two or more letters/digits with a letter, a word of jieba's or the domain dictionary,
    not a function word nor a phrase ending in a particle."""
    if len(token) < 2 or token in STOP or not _WORD_CHARS.match(token) or not _LETTER.search(token):
        return False
    if _PARTICLE_END.search(token):
        return False
    return token in _domain() or tokenizer().FREQ.get(token, 0) > 0


def words(text: str) -> list[str]:
    """The text's terms in reading order (repeats kept)."""
    return [t for t in tokens(text) if is_word(t)]


def words_around(text: str, pieces: Sequence[str], *, most: int = 5, per_piece: int = 1) -> set[str]:
    """The words of the clauses of ``text`` (runs between punctuation and spaces) that hold one of the first
    ``most`` of ``pieces`` (strings of two or more characters, strongest first; shorter ones are skipped), at most
    ``per_piece`` clauses for each. Only those clauses are cut: the classifier explains a long text by a few of its
    n-grams, and cutting all of it would cost several times the classification. jieba cuts each such run on its own
    anyway, so a clause's words are the ones the whole text gives there."""
    clauses = _CLAUSE.findall(text or "")
    chosen: dict[str, None] = {}
    for piece in [p for p in pieces if len(p) > 1][:most]:
        holding = [c for c in clauses if piece in c][:per_piece]
        chosen.update(dict.fromkeys(holding))
    return {w for clause in chosen for w in words(clause)}


def word_counts(text: str) -> Counter[str]:
    return Counter(words(text))


def spans(text: str) -> list[tuple[int, int]]:
    """Start and end offsets of every token of ``text`` (their boundaries are where a word can start or end)."""
    out, at = [], 0
    for token in tokens(text):
        out.append((at, at + len(token)))
        at += len(token)
    return out

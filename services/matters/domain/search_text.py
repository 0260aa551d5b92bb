"""Search terms (检索词) of a matter and of a query: Chinese words, 拼音 and codes.

A matter is indexed at write time into weighted terms (jieba word segmentation of the
name and keywords, 拼音 initials and full 拼音 of the name, codes); a query is split the
same way and matched by prefix with plain SQL, so the search runs unchanged on
PostgreSQL and SQLite. Pure: no I/O besides jieba's bundled dictionary.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import jieba
from pypinyin import Style, lazy_pinyin

MAX_TERM = 100
_WORD = re.compile(r"[0-9A-Za-z]+|[\u4e00-\u9fff]+")
_ALNUM = re.compile(r"^[0-9a-z]+$")
# Words that appear in almost every matter name and say nothing on their own.
STOPWORDS = frozenset({"的", "和", "与", "及", "或", "办理", "申请", "事项", "服务"})

# Weights: a name hit beats a keyword, which beats the department or the type.
W_NAME_FULL = 40
W_NAME_WORD = 12
W_PINYIN = 10
W_CODE = 30
W_KEYWORD = 8
W_DEPARTMENT = 4
W_TYPE = 2


@lru_cache(maxsize=1)
def _tokenizer() -> jieba.Tokenizer:
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().lower()


def words(text: str) -> list[str]:
    """Search-mode segmentation (long words and their parts), without stopwords."""
    out: list[str] = []
    for chunk in _WORD.findall(normalise(text)):
        if _ALNUM.match(chunk):
            out.append(chunk)
            continue
        for word in _tokenizer().cut_for_search(chunk):
            word = word.strip()
            # A lone character of a longer phrase matches nearly everything.
            if len(word) == 1 and len(chunk) > 1:
                continue
            if word and word not in STOPWORDS and word not in out:
                out.append(word)
    return out


def initials(text: str) -> str:
    """拼音 initials of the Chinese characters: 食品经营许可 → spjyxk."""
    han = "".join(_WORD.findall(normalise(text)))
    return "".join(p[0] for p in lazy_pinyin(han, style=Style.FIRST_LETTER) if p).lower()


def full_pinyin(text: str) -> str:
    han = "".join(_WORD.findall(normalise(text)))
    return "".join(lazy_pinyin(han)).lower()


@dataclass(frozen=True)
class IndexInput:
    implementation_code: str
    base_code: str | None
    name: str
    keywords: Iterable[str] = ()
    department: str | None = None
    matter_type: str | None = None


def index_terms(item: IndexInput) -> dict[str, int]:
    """term → weight (the highest when a term comes from several places)."""
    terms: dict[str, int] = {}

    def add(term: str, weight: int) -> None:
        term = normalise(term)[:MAX_TERM]
        if term and weight > terms.get(term, 0):
            terms[term] = weight

    add(item.name, W_NAME_FULL)
    for word in words(item.name):
        add(word, W_NAME_WORD)
    add(initials(item.name), W_PINYIN)
    add(full_pinyin(item.name), W_PINYIN)
    add(item.implementation_code, W_CODE)
    if item.base_code:
        add(item.base_code, W_CODE)
    for keyword in item.keywords:
        add(keyword, W_KEYWORD)
        for word in words(keyword):
            add(word, W_KEYWORD)
        add(initials(keyword), W_KEYWORD)
    if item.department:
        add(item.department, W_DEPARTMENT)
        for word in words(item.department):
            add(word, W_DEPARTMENT)
    if item.matter_type:
        add(item.matter_type, W_TYPE)
    return terms


def query_terms(query: str, limit: int = 8) -> list[str]:
    """The distinct terms of a query: its words (codes and 拼音 stay whole)."""
    text = normalise(query)
    if not text:
        return []
    found = words(text)
    compact = "".join(_WORD.findall(text))
    # A query that is one Chinese phrase also matches as a whole (a name prefix).
    if compact and compact not in found:
        found.insert(0, compact)
    return [t[:MAX_TERM] for t in found][:limit]

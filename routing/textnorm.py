"""Text normalisation for the classifier: one ``str.translate`` pass.

Reports arrive in traditional characters, with full-width Latin letters and digits, mixed
punctuation and stray whitespace. The lexicon and the model are written in simplified
characters with half-width ASCII, so every text goes through :func:`normalise` first. The
table maps one character to one character, so positions in the normalised text still point at
the same characters of the original.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

_T2S_FILE = "t2s.tsv"

# Sentence ends close the window in which an act and its object are paired; clause marks
# (commas and the like) also close the scope of a negation.
SENTENCE_ENDS = frozenset("。！？；!?;\n")
CLAUSE_MARKS = frozenset("，、：,:…—“”\"'‘’（）()【】[]《》<>")


def _read_t2s() -> dict[int, str]:
    text = resources.files("routing").joinpath("data", _T2S_FILE).read_text(encoding="utf-8")
    table: dict[int, str] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        traditional, simplified = line.split("\t")
        table[ord(traditional)] = simplified
    return table


@cache
def translation_table() -> dict[int, str]:
    """Traditional → simplified, full-width ASCII → ASCII, upper → lower case, spaces → one kind."""
    table = _read_t2s()
    for code in range(0xFF01, 0xFF5F):  # full-width ！ to ～
        table[code] = chr(code - 0xFEE0).lower()
    for code in range(ord("A"), ord("Z") + 1):
        table[code] = chr(code).lower()
    table[0x3000] = " "  # ideographic space
    table[ord("\t")] = " "
    table[ord("\r")] = "\n"
    # Keep the Chinese sentence marks distinct from commas after width folding.
    table[0xFF01] = "！"
    table[0xFF1F] = "？"
    table[0xFF1B] = "；"
    table[0xFF0C] = "，"
    table[0xFF1A] = "："
    table[0xFF08] = "（"
    table[0xFF09] = "）"
    return table


def normalise(text: str) -> str:
    """Return ``text`` in simplified characters, half-width ASCII, lower case; same length."""
    return text.translate(translation_table())

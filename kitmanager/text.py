"""Text people type or import, made safe to store, sort and show: one cleaning for every entry.

Every place where text enters the app (web forms, the CSV import, the JSON API, the command
line) passes it through :func:`clean_text`; every place that writes stored text somewhere
raw (the terminal, a CSV export) passes it through :func:`safe_text`, so rows stored before
the cleaning existed come out clean as well.

What the cleaning does, and why:

- NFC, so one name typed on two keyboards is stored the same way.
- Control characters (C0, DEL, C1) are removed: they are invisible on a page, move the cursor
  or change colours in a terminal, and nobody means them in a name. Line breaks and tabs in a
  one-line field become a single space; a multi-line field keeps line breaks (as ``\\n``) and
  tabs.
- Explicit bidirectional controls (embeddings and overrides U+202A-U+202E, isolates
  U+2066-U+2069) are removed from every field. Right-to-left names (Arabic, Hebrew) need none
  of them: the Unicode bidirectional algorithm orders their letters by itself. A stray or
  unbalanced control, on the other hand, reorders everything printed after it (the rest of a
  badge line, the other columns of a terminal listing) and can disguise a name. The implicit
  marks (LRM U+200E, RLM U+200F, ALM U+061C) open no scope, so they are kept, as are the
  joiners (ZWJ, ZWNJ) that Persian, Indic scripts and emoji need.
- Invisible characters no script needs in a name (zero-width space U+200B, word joiner
  U+2060, the byte-order mark U+FEFF) are removed: "Kit\u200bA" would look like "KitA"
  but sort and compare as another name. A text made only of invisible format characters
  (marks, joiners) and spaces is no text: it becomes ``""``, so "a name is needed" is said.
- A lone UTF-16 surrogate (U+D800-U+DFFF on its own) is not a character at all: it cannot be
  stored in UTF-8, so it is refused with :class:`UnreadableText` instead of being guessed at.

The same cleaning serves people's names and the names of things (kit types, components,
firmware, workshops, sessions): :func:`clean_for_column` also refuses text longer than its
column holds once cleaned, with a message giving the limit (:class:`TextRefused`, never a
database error); forms clean their fields with :func:`form_filter` and check them with
:func:`form_length`. A name that must be kept exactly as given (a file's name, written on a
board as it is) is not changed but refused when :func:`has_hidden_characters` finds
something the cleaning would remove; :func:`show_hidden` makes those characters visible in
the message that says so.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from flask_babel import lazy_gettext as _l
from sqlalchemy import Column
from wtforms.validators import Length

__all__ = [
    "UNREADABLE_MESSAGE",
    "TextRefused",
    "UnreadableText",
    "clean_for_column",
    "clean_text",
    "column_limit",
    "form_filter",
    "form_length",
    "has_hidden_characters",
    "has_lone_surrogate",
    "safe_text",
    "show_hidden",
    "sort_key",
]


class UnreadableText(ValueError):
    """The text holds a lone surrogate, which no encoding can store; ask for it again."""


class TextRefused(ValueError):
    """Text that cannot be stored in its field; ``str(error)`` says why and what to do,
    translated."""


#: What a form says about a field holding a lone surrogate.
UNREADABLE_MESSAGE = _l(
    "This text contains a broken character (half of an emoji or of a rare letter). "
    "Type it again or remove it."
)


_BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# Breaks a one-line field turns into a space (a multi-line one into a line end).
_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_CONTROLS = [chr(c) for c in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0))]

_INVISIBLE = "\u200b\u2060\ufeff"

_DROP = dict.fromkeys(map(ord, (*_CONTROLS, *_BIDI_CONTROLS, *_INVISIBLE)))
_ONE_LINE = str.maketrans({**_DROP, **dict.fromkeys(map(ord, _BREAKS + "\t"), "\n")})
_MULTI_LINE = str.maketrans({**_DROP, **dict.fromkeys(map(ord, _BREAKS), "\n"), ord("\t"): "\t"})
_SURROGATE = re.compile("[\ud800-\udfff]")


def has_lone_surrogate(value: str) -> bool:
    """True when ``value`` holds a UTF-16 surrogate code point (never valid in a Python str
    decoded from UTF-8, but JSON escapes and some form encodings can produce one)."""
    return _SURROGATE.search(value) is not None


def has_hidden_characters(value: str) -> bool:
    """True when ``value`` holds a character :func:`clean_text` removes (a control character,
    tabs and line breaks included, or a bidirectional control) or a lone surrogate: for a name
    that is refused rather than changed."""
    return value.translate(_DROP) != value or has_lone_surrogate(value)


def show_hidden(value: str) -> str:
    """``value`` with each character :func:`has_hidden_characters` finds written as its code
    point ("lib[U+202E]yp.py"), so a message can show what it refuses."""
    return "".join(
        f"[U+{ord(ch):04X}]" if ord(ch) in _DROP or _SURROGATE.match(ch) else ch for ch in value
    )


def clean_text(value: str | None, *, multiline: bool = False) -> str:
    """``value`` as the app stores it: NFC, no control or bidirectional control characters,
    surrounding whitespace removed; ``None`` becomes ``""``.

    A one-line field gets each run of line breaks and tabs as one space; a multi-line field
    keeps its line ends (CRLF and CR become ``\\n``) and tabs.

    :raise UnreadableText: ``value`` holds a lone surrogate.
    """
    if not value:
        return ""
    if has_lone_surrogate(value):
        raise UnreadableText(value)
    text = unicodedata.normalize("NFC", value.replace("\r\n", "\n"))
    if multiline:
        text = text.translate(_MULTI_LINE).strip()
    else:
        text = text.translate(_ONE_LINE)
        if "\n" in text:
            text = " ".join(part.strip() for part in text.split("\n") if part.strip())
        text = text.strip()
    return text if _visible(text) else ""


def _visible(text: str) -> bool:
    """Whether ``text`` shows anything: a character other than a space or a format mark."""
    return any(not char.isspace() and unicodedata.category(char) != "Cf" for char in text)


def clean_for_column(
    value: str | None,
    column: Column,
    too_long: str,
    *,
    multiline: bool = False,
    refuse: type[Exception] = TextRefused,
) -> str:
    """``value`` as the model's ``column`` stores it: :func:`clean_text`, and on one line each
    run of spaces folded into one (two names that look the same then compare the same).

    ``too_long`` is the message for text longer than the column holds once cleaned
    (:func:`column_limit`); it is given ``length``, ``limit`` and ``start`` (the text's first
    40 characters), so each field can say it in a whole sentence of its own.

    :raise TextRefused: (or the feature's error given as ``refuse``, made from the message) a
        broken character (:data:`UNREADABLE_MESSAGE`), or too long.
    """
    try:
        text = clean_text(value, multiline=multiline)
    except UnreadableText:
        raise refuse(str(UNREADABLE_MESSAGE)) from None
    if not multiline:
        text = " ".join(text.split())
    limit = column_limit(column)
    if len(text) > limit:
        params = {"length": len(text), "limit": limit, "start": text[:40]}
        raise refuse(str(too_long) % params)
    return text


def column_limit(column: Column) -> int:
    """The most characters the model's ``column`` holds: a ``String``'s length, or for a
    ``Text`` column the app's limit in its ``info["max_length"]``."""
    return getattr(column.type, "length", None) or column.info["max_length"]


def form_length(column: Column) -> Length:
    """A WTForms validator: the field holds at most what the model's ``column`` holds."""
    return Length(max=column_limit(column))


def form_filter(*, multiline: bool = False) -> Callable[[str | None], str]:
    """A WTForms filter that gives the field's text as :func:`clean_text` stores it, so the
    field's validators (its length, required) judge what will be stored; a broken character
    becomes the field's error."""

    def clean(value: str | None) -> str:
        try:
            return clean_text(value, multiline=multiline)
        except UnreadableText:
            raise ValueError(str(UNREADABLE_MESSAGE)) from None

    return clean


def safe_text(value: str | None, *, multiline: bool = False) -> str:
    """Like :func:`clean_text` but never raises: a lone surrogate becomes U+FFFD. For writing
    stored text to a terminal or a file, whatever was stored before."""
    return clean_text(_SURROGATE.sub("\ufffd", value or ""), multiline=multiline)


# Letters NFKD does not take apart but a reader files under a plain Latin letter.
_FOLD = str.maketrans(
    {"ł": "l", "ø": "o", "đ": "d", "ð": "d", "ħ": "h", "ŧ": "t", "ı": "i", "þ": "th",
     "æ": "ae", "œ": "oe"}
)  # fmt: skip


def sort_key(name: str) -> str:
    """How a name files in a list: case and accents ignored, spaces collapsed.

    "Éloïse" files with "eloise", before "Zanele"; "Aïssatou" next to "Awa". Without ICU on
    the laptops this is the part of Unicode collation that matters for Latin names: NFKD
    without combining marks, case folded. Other scripts keep their code point order, which is
    their alphabetical order for most of them.
    """
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).translate(_FOLD)
    return " ".join(bare.split())

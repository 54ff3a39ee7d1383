"""Tokenizer and vocabulary, as AttnGAN reads captions.

Tokenising follows AttnGAN: lower-case, ``\\w+`` tokens (NLTK's ``RegexpTokenizer``), and
only ASCII characters are kept (so the U+FFFD in a few CUB captions simply vanishes).
Encoding pads to a fixed maximum length (18 by default) with id 0; a caption longer than the
maximum is *cut*, keeping its first words in order (AttnGAN instead subsamples words at
random; cutting is deterministic, which evaluation needs). An empty caption encodes to length 0.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from nltk.tokenize import RegexpTokenizer

from ..errors import UserError

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1
DEFAULT_MAX_LEN = 18

_TOKENIZER = RegexpTokenizer(r"\w+")


def tokenize(caption: str) -> list[str]:
    """Split a caption into lower-case ASCII ``\\w+`` tokens."""
    ascii_text = caption.encode("ascii", "ignore").decode("ascii").lower()
    return _TOKENIZER.tokenize(ascii_text)


class Vocabulary:
    """Word <-> id mapping with ``<pad>`` = 0 and ``<unk>`` = 1."""

    def __init__(self, words: Iterable[str] = ()):
        self.itos: list[str] = [PAD, UNK]
        for w in words:
            if w not in (PAD, UNK):
                self.itos.append(w)
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("vocabulary words must be unique")
        self._known = frozenset(self.stoi)  # built once: the colour-word lookup's cache key

    @classmethod
    def build(cls, captions: Iterable[str], min_count: int = 1) -> Vocabulary:
        """Vocabulary of every token seen at least ``min_count`` times, most frequent first."""
        counts = Counter(tok for cap in captions for tok in tokenize(cap))
        kept = (w for w, c in counts.items() if c >= min_count)
        words = sorted(kept, key=lambda w: (-counts[w], w))
        return cls(words)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, word: str) -> bool:
        return word in self.stoi

    def read_as(self, word: str) -> str | None:
        """The vocabulary word ``word`` is read as: itself when known, else the basic colour
        term a colour name is nearest to (:mod:`.colour_words`), else None (``<unk>``)."""
        if word in self.stoi:
            return word
        from .colour_words import basic_colour_for

        return basic_colour_for(word, self._known)

    def _id(self, word: str) -> int:
        found = self.stoi.get(word)
        if found is None:
            found = self.stoi.get(self.read_as(word) or UNK, UNK_ID)
        return found

    def encode(self, caption: str, max_len: int = DEFAULT_MAX_LEN) -> tuple[np.ndarray, int]:
        """Token ids padded to ``max_len`` (int64) and the true length (≤ ``max_len``); an
        unknown colour name takes the id of the basic colour term it looks like."""
        ids = [self._id(tok) for tok in tokenize(caption)][:max_len]
        out = np.zeros(max_len, dtype=np.int64)
        out[: len(ids)] = ids
        return out, len(ids)

    def decode(self, ids: Iterable[int], length: int | None = None) -> list[str]:
        """Words for ``ids`` (the first ``length`` of them; padding dropped)."""
        ids = list(ids)[:length] if length is not None else [i for i in ids if i != PAD_ID]
        return [self.itos[i] if 0 <= i < len(self.itos) else UNK for i in ids]

    def save(self, path: str | Path) -> None:
        """Write the vocabulary as JSON: ``{"itos": [...]}``."""
        Path(path).write_text(json.dumps({"itos": self.itos}, indent=0))

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        """Read a vocabulary written by :meth:`save`."""
        path = Path(path)
        try:
            itos = json.loads(path.read_bytes().decode("utf-8"))["itos"]
        except FileNotFoundError:
            raise UserError(f"vocabulary file '{path}' does not exist") from None
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError, KeyError, TypeError):
            raise UserError(
                f"'{path}' is not a textinpaint vocabulary (JSON with 'itos')") from None
        if not isinstance(itos, list):
            raise UserError(f"'itos' in '{path}' must be a list of words, not a "
                            f"{type(itos).__name__}")
        bad = [w for w in itos if not isinstance(w, str)]
        if bad:
            raise UserError(f"'{path}' holds the non-word {bad[0]!r}; every entry of 'itos' "
                            "must be a string")
        if itos[:2] != [PAD, UNK]:
            raise UserError(f"'{path}' must start with '{PAD}' and '{UNK}'")
        seen: set[str] = set()
        for word in itos:
            if word in seen:
                raise UserError(f"'{path}' lists the word {word!r} twice; every word must be "
                                "unique (the ids would be ambiguous)")
            seen.add(word)
        return cls(itos[2:])

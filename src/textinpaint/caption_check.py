"""What a caption loses on its way into the model, said in words.

The tokenizer keeps ASCII ``\\w+`` words only, the vocabulary maps unknown words to ``<unk>``
and encoding cuts a caption at the model's maximum length (see :mod:`textinpaint.data.text`).
All three used to happen silently; :func:`caption_warnings` names each, so the CLI, the
Python API, the HTTP API and the painter can tell the user.
"""

from __future__ import annotations

import warnings

from .data.text import Vocabulary, tokenize


class CaptionWarning(UserWarning):
    """A caption word the model cannot read (unknown, cut off, or not ASCII)."""


def _quoted(words: list[str], most: int = 8) -> str:
    shown = ", ".join(f"'{w}'" for w in words[:most])
    return shown + (f" and {len(words) - most} more" if len(words) > most else "")


def caption_warnings(caption: str | None, vocab: Vocabulary, max_len: int) -> list[str]:
    """One sentence per problem of ``caption`` for a model with ``vocab`` reading ``max_len``
    words; empty when the model reads every word (or the caption is empty on purpose)."""
    if not caption or not caption.strip():
        return []
    words = tokenize(caption)
    if not words:
        return [f"the caption {caption[:40]!r} has no word the model can read (it reads ASCII "
                "words only), so the hole is filled as for an empty caption"]
    out: list[str] = []
    read, cut = words[:max_len], words[max_len:]
    # A colour name the model never read counts as read, as its basic colour term.
    mapped = {w: vocab.read_as(w) for w in dict.fromkeys(read) if w not in vocab}
    unknown = [w for w, term in mapped.items() if term is None]
    as_colour = [f"'{w}' as '{term}'" for w, term in mapped.items() if term is not None]
    if as_colour:
        out.append(f"colour word(s) not in the model's vocabulary were read as the nearest "
                   f"basic colour: {', '.join(as_colour[:8])}")
    if unknown and len(unknown) == len(set(read)):
        out.append(f"no word of the caption is in the model's vocabulary ({_quoted(unknown)}), "
                   "so the caption cannot guide the fill")
    elif unknown:
        out.append(f"unknown word(s) {_quoted(unknown)} are not in the model's vocabulary of "
                   f"{len(vocab)} words and were ignored")
    if cut:
        out.append(f"the caption has {len(words)} words but the model reads only the first "
                   f"{max_len}; ignored: {_quoted(cut)}")
    return out


def warn_caption(messages: list[str], stacklevel: int = 3) -> None:
    """Emit each message as a :class:`CaptionWarning` (shown once per message by default)."""
    for message in messages:
        warnings.warn(message, CaptionWarning, stacklevel=stacklevel)

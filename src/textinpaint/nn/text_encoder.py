"""DAMSM text encoder: word embedding -> bidirectional LSTM -> word and sentence features.

Follows AttnGAN's ``RNN_ENCODER``: 300-d embeddings, one bidirectional LSTM layer with 128
hidden units per direction, so every word gets a 256-d feature (forward and backward states
concatenated) and the sentence gets the two final hidden states (256-d).

Padding never leaks into the result: the LSTM runs on packed sequences, so the sentence
feature of a caption does not depend on what its padding ids are. A caption of length 0 (an
empty prompt) is legal: it skips the LSTM, gets zero word features and a learned "empty
caption" sentence feature, so there is never a crash or a NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..data.text import DEFAULT_MAX_LEN, PAD_ID


@dataclass
class TextEncoderConfig:
    """Constructor arguments of :class:`TextEncoder` (stored in a model folder's config)."""

    vocab_size: int = 2  # <pad> and <unk>; set from the run's vocabulary
    embed_dim: int = 300  # word embedding size (AttnGAN: 300)
    hidden_dim: int = 256  # word/sentence feature size, both LSTM directions together
    dropout: float = 0.5  # on the word embeddings during training (AttnGAN: 0.5)
    max_len: int = DEFAULT_MAX_LEN  # captions are cut to this many words by the vocabulary
    # "final": the two last LSTM states (AttnGAN); "final+mean": plus the mean word feature,
    # which hands the sentence the per-word features the word loss trains directly
    sentence_pool: str = "final"


class TextEncoder(nn.Module):
    """Bidirectional-LSTM caption encoder (see the module docstring)."""

    def __init__(self, cfg: TextEncoderConfig):
        super().__init__()
        if cfg.hidden_dim % 2:
            raise ValueError("TextEncoderConfig.hidden_dim must be even (two LSTM directions)")
        if cfg.sentence_pool not in ("final", "final+mean"):
            raise ValueError("TextEncoderConfig.sentence_pool must be 'final' or 'final+mean', "
                             f"got {cfg.sentence_pool!r}")
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.embed_dim, padding_idx=PAD_ID)
        self.drop = nn.Dropout(cfg.dropout)
        self.lstm = nn.LSTM(cfg.embed_dim, cfg.hidden_dim // 2, batch_first=True,
                            bidirectional=True)
        # What an empty caption means is learned like any other sentence feature.
        self.empty_sentence = nn.Parameter(torch.zeros(cfg.hidden_dim))
        nn.init.uniform_(self.embed.weight, -0.1, 0.1)  # AttnGAN's initialisation
        with torch.no_grad():
            self.embed.weight[PAD_ID].zero_()

    @property
    def out_dim(self) -> int:
        return self.cfg.hidden_dim

    def encode(self, token_ids: torch.Tensor, lengths: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encode a batch of padded captions.

        Args:
            token_ids: LongTensor B×T of vocabulary ids (padding values are ignored).
            lengths: LongTensor B, number of real words per caption (0 allowed, clipped to T).

        Returns:
            words: B×D×T word features (zero at padding), D = ``cfg.hidden_dim``.
            sentence: B×D sentence features.
            word_mask: bool B×T, True where a real word is.
        """
        b, t = token_ids.shape
        device = token_ids.device
        lengths = lengths.to(device=device, dtype=torch.long).clamp(0, t)
        word_mask = torch.arange(t, device=device)[None, :] < lengths[:, None]
        d = self.cfg.hidden_dim
        dtype = self.empty_sentence.dtype
        words = torch.zeros(b, t, d, device=device, dtype=dtype)
        sentence = self.empty_sentence.expand(b, d)
        rows = torch.nonzero(lengths > 0).flatten()
        if rows.numel():
            # pack_padded_sequence refuses length 0, so only non-empty rows go through the LSTM.
            ids = token_ids[rows].masked_fill(~word_mask[rows], PAD_ID)
            emb = self.drop(self.embed(ids))
            packed = pack_padded_sequence(emb, lengths[rows].cpu(), batch_first=True,
                                          enforce_sorted=False)
            out, (h, _) = self.lstm(packed)
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=t)
            words = words.index_copy(0, rows, out.to(dtype))
            # h: (directions, rows, D/2) -> rows × D, forward state first as in AttnGAN.
            final = torch.cat([h[0], h[1]], dim=1)
            if self.cfg.sentence_pool == "final+mean":
                # Padding rows of `out` are zeros, so the sum runs over real words only.
                final = final + out.sum(1) / lengths[rows, None].to(out.dtype)
            sentence = sentence.index_copy(0, rows, final.to(dtype))
        return words.transpose(1, 2), sentence, word_mask

    def forward(self, token_ids: torch.Tensor, lengths: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Same as :meth:`encode`."""
        return self.encode(token_ids, lengths)

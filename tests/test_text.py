"""Tokenizer and vocabulary: AttnGAN tokenising, unknown words, empty and long captions."""

import numpy as np
import pytest

from textinpaint.data.text import PAD_ID, UNK_ID, Vocabulary, tokenize
from textinpaint.errors import UserError


def test_tokenize_lowercases_and_drops_non_ascii_and_punctuation():
    assert tokenize("This Bird has a RED crown, and\ufffd a white-belly.") == [
        "this", "bird", "has", "a", "red", "crown", "and", "a", "white", "belly"]
    assert tokenize("") == [] and tokenize("  ...  ") == []


def test_build_respects_min_count_and_special_ids():
    vocab = Vocabulary.build(["a red bird", "a blue bird", "a bird"], min_count=2)
    assert vocab.itos[:2] == ["<pad>", "<unk>"]
    assert set(vocab.itos[2:]) == {"a", "bird"}
    assert vocab.stoi["a"] >= 2 and PAD_ID == 0 and UNK_ID == 1


def test_encode_unknown_empty_and_long():
    vocab = Vocabulary.build(["one two three four five six seven eight"])
    ids, n = vocab.encode("one zebra two", max_len=18)
    assert n == 3 and ids.dtype == np.int64 and ids.shape == (18,)
    assert ids[1] == UNK_ID and (ids[3:] == PAD_ID).all()
    ids, n = vocab.encode("", max_len=18)
    assert n == 0 and (ids == 0).all()
    long = " ".join(["one", "two", "three", "four", "five"] * 5)
    ids, n = vocab.encode(long, max_len=18)
    assert n == 18
    # Cut, not subsampled: the first 18 words in order.
    assert vocab.decode(ids, n) == long.split()[:18]


def test_save_load_round_trip(tmp_path):
    vocab = Vocabulary.build(["a small red circle", "a big blue square"])
    vocab.save(tmp_path / "vocab.json")
    loaded = Vocabulary.load(tmp_path / "vocab.json")
    assert loaded.itos == vocab.itos
    assert (loaded.encode("a red square")[0] == vocab.encode("a red square")[0]).all()


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(UserError, match="missing.json"):
        Vocabulary.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(UserError, match="bad.json"):
        Vocabulary.load(bad)


BIRD_WORDS = ["this", "bird", "has", "a", "crown", "red", "orange", "yellow", "green", "blue",
              "purple", "pink", "brown", "grey", "black", "white"]


@pytest.mark.parametrize("word, term", [
    ("cerulean", "blue"), ("cobalt", "blue"), ("ultramarine", "blue"), ("vermillion", "red"),
    ("jade", "green"), ("saffron", "orange"), ("tangerine", "orange"), ("indigo", "purple"),
])
def test_unknown_colour_names_read_as_their_basic_colour(word, term):
    vocab = Vocabulary(BIRD_WORDS)
    assert word not in vocab and vocab.read_as(word) == term
    ids, n = vocab.encode(f"this bird has a {word} crown")
    assert n == 6 and ids[4] == vocab.stoi[term]


def test_non_colour_unknown_words_stay_unknown_and_known_words_are_themselves():
    vocab = Vocabulary(BIRD_WORDS)
    assert vocab.read_as("xyzzy") is None and vocab.read_as("crown") == "crown"
    assert vocab.encode("xyzzy crown")[0][0] == UNK_ID
    # Without any basic colour term in the vocabulary there is nothing to read a colour as.
    assert Vocabulary(["bird"]).read_as("cobalt") is None


def test_caption_warnings_say_how_a_colour_name_was_read():
    from textinpaint.caption_check import caption_warnings

    said = caption_warnings("this bird has a cobalt crown and a xyzzy", Vocabulary(BIRD_WORDS),
                            18)
    assert any("'cobalt' as 'blue'" in s for s in said)
    assert any("'xyzzy'" in s and "ignored" in s for s in said)
    assert not any("'cobalt'" in s and "ignored" in s for s in said)

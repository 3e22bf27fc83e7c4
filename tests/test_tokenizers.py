"""Token counts must equal tiktoken's own, loaded through tiktoken's own cache and hash check."""

from __future__ import annotations

from typing import Any

import pytest

from promptguard.errors import ModelError
from promptguard.tokenizers import Message, get_encoding, tokenizer_for

SAMPLE = "You are a helpful assistant.\nSummarize the ticket in one sentence: <|endoftext|> café 東京 🚀\n"


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-5", "o200k_base"),
        ("gpt-5-mini", "o200k_base"),
        ("gpt-4.1", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-2024-08-06", "o200k_base"),
        ("gpt-4o-mini", "o200k_base"),
        ("o1", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("o4-mini", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-0613", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("gpt-35-turbo", "cl100k_base"),
        ("gpt-35-turbo-16k", "cl100k_base"),
        ("azure/gpt-4o", "o200k_base"),
    ],
)
def test_model_encoding_mapping(model: str, encoding: str) -> None:
    tokenizer = tokenizer_for(model)
    assert tokenizer.encoding_name == encoding
    assert tokenizer.method == "exact"


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_counts_equal_tiktoken(name: str, reference_encoding: Any) -> None:
    reference = reference_encoding(name)
    ours = get_encoding(name)
    for text in [SAMPLE, "", " ", "a" * 1000, "def f(x):\n    return x ** 2\n"]:
        assert len(ours.encode_ordinary(text)) == len(reference.encode_ordinary(text))
        assert ours.encode_ordinary(text) == reference.encode_ordinary(text)


def test_special_token_text_counts_as_plain_text(reference_encoding: Any) -> None:
    reference = reference_encoding("o200k_base")
    expected = len(reference.encode("<|endoftext|>", disallowed_special=()))
    assert tokenizer_for("gpt-4o").count_text("<|endoftext|>") == expected
    assert expected > 1


def test_single_message_costs_six_more_tokens(reference_encoding: Any) -> None:
    reference = reference_encoding("o200k_base")
    text_tokens = len(reference.encode_ordinary(SAMPLE))
    assert tokenizer_for("gpt-4o").count_messages([Message("system", SAMPLE)]) == text_tokens + 6


def test_chat_recipe_counts_names(reference_encoding: Any) -> None:
    reference = reference_encoding("cl100k_base")
    messages = [Message("system", "Be brief."), Message("user", "Hi there", name="dana")]
    expected = (
        3
        + len(reference.encode_ordinary("Be brief."))
        + 3
        + len(reference.encode_ordinary("Hi there"))
        + 1
        + len(reference.encode_ordinary("dana"))
        + 3
    )
    assert tokenizer_for("gpt-3.5-turbo").count_messages(messages) == expected


def test_alias_maps_to_known_model() -> None:
    tokenizer = tokenizer_for("my-deployment", {"my-deployment": "gpt-4o"})
    assert tokenizer.encoding_name == "o200k_base"
    assert tokenizer.method == "exact"
    assert tokenizer_for("legacy", {"legacy": "cl100k_base"}).encoding_name == "cl100k_base"


def test_claude_is_estimated() -> None:
    tokenizer = tokenizer_for("claude-sonnet-4-5")
    assert tokenizer.method == "estimated"
    base = len(get_encoding("o200k_base").encode_ordinary(SAMPLE))
    # 1.20 times the o200k_base count, rounded up.
    assert tokenizer.count_text(SAMPLE) == -(-base * 120 // 100)


def test_unsupported_encoding_rejected() -> None:
    with pytest.raises(ModelError, match="unsupported encoding"):
        get_encoding("r50k_base")


def test_decoded_ranks_cache_round_trip(tmp_path: Any) -> None:
    import gzip

    from promptguard import tokenizers

    reference = tokenizers._parse_ranks(gzip.decompress(tokenizers.encoding_file("cl100k_base").read_bytes()))
    path = tmp_path / "cl100k_base.ranks"
    tokenizers._write_cached_ranks(path, reference)
    assert tokenizers._read_cached_ranks(path) == reference

    damaged = bytearray(path.read_bytes())
    damaged[-1] ^= 0xFF
    path.write_bytes(bytes(damaged))
    assert tokenizers._read_cached_ranks(path) is None
    assert tokenizers._read_cached_ranks(tmp_path / "missing.ranks") is None


def test_parse_ranks_matches_tiktoken_loader(tmp_path: Any) -> None:
    import gzip

    from tiktoken.load import load_tiktoken_bpe

    from promptguard import tokenizers

    contents = gzip.decompress(tokenizers.encoding_file("cl100k_base").read_bytes())
    plain = tmp_path / "cl100k_base.tiktoken"
    plain.write_bytes(contents)
    assert tokenizers._parse_ranks(contents) == load_tiktoken_bpe(str(plain))


def test_parse_ranks_rejects_a_line_without_rank() -> None:
    from promptguard import tokenizers

    with pytest.raises(ValueError, match="two fields"):
        tokenizers._parse_ranks(b"IQ== 0\nIg==\n")

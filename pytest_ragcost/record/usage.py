"""Provider-reported usage in one shape.

:func:`normalize_usage` reads the usage a provider reported (OpenAI chat and Responses,
Anthropic, and OpenAI-compatible servers such as llama-cpp-python) into one
:class:`Usage` whose ``prompt`` includes cached tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral
from typing import Any

__all__ = ["Usage", "normalize_usage", "whole_tokens"]


def whole_tokens(value: object, where: str) -> int:
    """``value`` as a token count: a whole number >= 0 (``TypeError`` / ``ValueError``)."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        msg = f"token {where} must be an int (got {type(value).__name__} {value!r})"
        raise TypeError(msg)
    if value < 0:
        msg = f"token {where} must be >= 0 (got {value})"
        raise ValueError(msg)
    return int(value)



@dataclass(frozen=True)
class Usage:
    """Token usage a provider reported, in one inclusive shape.

    ``prompt`` counts every input token, cached ones included; ``cached_prompt`` (read
    from a prompt cache) and ``cache_write`` (written to it) are parts of ``prompt``.
    ``reasoning`` is part of ``completion``. ``source`` says which shape it was read
    from, e.g. ``"provider:openai-chat"`` or ``"provider:anthropic"``.
    """

    prompt: int
    completion: int
    total: int
    cached_prompt: int = 0
    cache_write: int = 0
    reasoning: int = 0
    source: str = "provider"
    model: str | None = None

    def __post_init__(self) -> None:
        for name in ("prompt", "completion", "total", "cached_prompt", "cache_write", "reasoning"):
            whole_tokens(getattr(self, name), f"Usage.{name}")

    def __add__(self, other: Usage) -> Usage:
        """Usage of two calls together (e.g. several LLM calls in one stage)."""
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(
            prompt=self.prompt + other.prompt,
            completion=self.completion + other.completion,
            total=self.total + other.total,
            cached_prompt=self.cached_prompt + other.cached_prompt,
            cache_write=self.cache_write + other.cache_write,
            reasoning=self.reasoning + other.reasoning,
            source=self.source if self.source == other.source else "provider:mixed",
            model=self.model if self.model == other.model else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "completion": self.completion,
            "total": self.total,
            "cached_prompt": self.cached_prompt,
            "cache_write": self.cache_write,
            "reasoning": self.reasoning,
            "source": self.source,
            "model": self.model,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Usage:
        return cls(
            prompt=data["prompt"],
            completion=data["completion"],
            total=data["total"],
            cached_prompt=data.get("cached_prompt", 0),
            cache_write=data.get("cache_write", 0),
            reasoning=data.get("reasoning", 0),
            source=data.get("source", "provider"),
            model=data.get("model"),
        )


_ACCEPTED_SHAPES = (
    "accepted shapes: OpenAI chat/completions/embeddings usage (prompt_tokens, "
    "completion_tokens, total_tokens, prompt_tokens_details, completion_tokens_details), "
    "OpenAI Responses usage (input_tokens, output_tokens, input_tokens_details, "
    "output_tokens_details), Anthropic usage (input_tokens, output_tokens, "
    "cache_creation_input_tokens, cache_read_input_tokens), or a whole response having "
    "one of these under .usage / ['usage'] (SDK objects, pydantic models and plain dicts, "
    "including llama-cpp-python's OpenAI-shaped dicts)"
)


class _Missing:
    pass


_MISSING = _Missing()


def _get(obj: object, name: str) -> object:
    if isinstance(obj, Mapping):
        return obj.get(name, _MISSING)
    if isinstance(obj, str | bytes | int | float | list | tuple | set):
        return _MISSING
    return getattr(obj, name, _MISSING)


def _has(obj: object, name: str) -> bool:
    return _get(obj, name) is not _MISSING


def _tokens(obj: object, name: str, where: str, *, required: bool) -> int:
    value = _get(obj, name)
    if value is _MISSING or value is None:
        if required:
            msg = f"usage field {where}.{name} is missing or None; {_ACCEPTED_SHAPES}"
            raise ValueError(msg)
        return 0
    if isinstance(value, bool) or not isinstance(value, Integral):
        msg = (
            f"usage field {where}.{name} must be a whole number of tokens "
            f"(got {type(value).__name__} {value!r})"
        )
        raise ValueError(msg)
    if value < 0:
        msg = f"usage field {where}.{name} must be >= 0 (got {value})"
        raise ValueError(msg)
    return int(value)


def _detail(obj: object, group: str, name: str, where: str) -> int:
    details = _get(obj, group)
    if details is _MISSING or details is None:
        return 0
    return _tokens(details, name, f"{where}.{group}", required=False)


def _total(usage: object, where: str, fallback: int) -> int:
    if _get(usage, "total_tokens") in (_MISSING, None):
        return fallback
    return _tokens(usage, "total_tokens", where, required=True)


def normalize_usage(obj: object) -> Usage:
    """Turn provider-reported usage (or a whole response carrying it) into :class:`Usage`.

    Anthropic reports ``input_tokens`` *without* the cached tokens, so its ``prompt`` is
    ``input_tokens + cache_read_input_tokens + cache_creation_input_tokens``; OpenAI's
    ``prompt_tokens`` / ``input_tokens`` already include cached tokens and are kept.
    OpenAI-compatible servers (llama-cpp-python, vLLM, Ollama) report the OpenAI chat
    shape and are labelled ``provider:openai-chat``.

    Raises ``TypeError`` for a shape it does not know and ``ValueError`` for a count that
    is missing, negative or not a whole number.
    """
    if isinstance(obj, Usage):
        return obj
    where = "usage"
    model: str | None = None
    hint: str | None = None
    usage: object = obj
    inner = _get(obj, "usage")
    if inner is not _MISSING and not _has(obj, "prompt_tokens") and not _has(obj, "input_tokens"):
        if inner is None:
            msg = (
                "the response has usage=None: the provider reported no usage. For OpenAI "
                "streams pass stream_options={'include_usage': True} and hand over the last "
                "chunk; otherwise count the text with stage.tokens(...)"
            )
            raise ValueError(msg)
        found_model = _get(obj, "model")
        model = found_model if isinstance(found_model, str) else None
        for key in ("object", "type"):
            found = _get(obj, key)
            if isinstance(found, str):
                hint = found
                break
        usage = inner
        where = "response.usage"

    if obj is None or isinstance(usage, str | bytes | int | float | list | tuple | set):
        found = f"{type(usage).__name__} {usage!r:.80}"
        msg = f"cannot read token usage from {found}; {_ACCEPTED_SHAPES}"
        raise TypeError(msg)

    if _has(usage, "prompt_tokens"):
        return _openai_chat(usage, where, model, hint)
    if _has(usage, "input_tokens") and _has(usage, "output_tokens"):
        anthropic = (
            _has(usage, "cache_creation_input_tokens")
            or _has(usage, "cache_read_input_tokens")
            or hint == "message"
            or (model is not None and model.startswith("claude"))
        )
        if anthropic:
            return _anthropic(usage, where, model)
        return _openai_responses(usage, where, model, hint)
    if isinstance(usage, Mapping):
        found_keys = ", ".join(sorted(str(k) for k in usage)) or "none"
    else:
        found_keys = (
            ", ".join(sorted(k for k in getattr(usage, "__dict__", {}) if not k.startswith("_")))
            or "none"
        )
    msg = (
        f"cannot read token usage from {type(usage).__name__} with fields [{found_keys}]; "
        f"{_ACCEPTED_SHAPES}"
    )
    raise TypeError(msg)


def _openai_chat(usage: object, where: str, model: str | None, hint: str | None) -> Usage:
    prompt = _tokens(usage, "prompt_tokens", where, required=True)
    has_completion = _get(usage, "completion_tokens") not in (_MISSING, None)
    completion = _tokens(usage, "completion_tokens", where, required=False)
    total = _total(usage, where, prompt + completion)
    if hint == "text_completion":
        source = "provider:openai-completion"
    elif not has_completion:
        source = "provider:openai-embeddings"
    else:
        source = "provider:openai-chat"
    return Usage(
        prompt=prompt,
        completion=completion,
        total=total,
        cached_prompt=_detail(usage, "prompt_tokens_details", "cached_tokens", where),
        cache_write=_detail(usage, "prompt_tokens_details", "cache_write_tokens", where),
        reasoning=_detail(usage, "completion_tokens_details", "reasoning_tokens", where),
        source=source,
        model=model,
    )


def _openai_responses(usage: object, where: str, model: str | None, hint: str | None) -> Usage:
    prompt = _tokens(usage, "input_tokens", where, required=True)
    completion = _tokens(usage, "output_tokens", where, required=True)
    total = _total(usage, where, prompt + completion)
    shaped = (
        hint == "response"
        or _has(usage, "input_tokens_details")
        or _has(usage, "output_tokens_details")
        or _has(usage, "total_tokens")
    )
    return Usage(
        prompt=prompt,
        completion=completion,
        total=total,
        cached_prompt=_detail(usage, "input_tokens_details", "cached_tokens", where),
        cache_write=_detail(usage, "input_tokens_details", "cache_write_tokens", where),
        reasoning=_detail(usage, "output_tokens_details", "reasoning_tokens", where),
        # a bare {input_tokens, output_tokens} could be either provider: say so
        source="provider:openai-responses" if shaped else "provider:input-output",
        model=model,
    )


def _anthropic(usage: object, where: str, model: str | None) -> Usage:
    uncached = _tokens(usage, "input_tokens", where, required=True)
    completion = _tokens(usage, "output_tokens", where, required=True)
    cache_read = _tokens(usage, "cache_read_input_tokens", where, required=False)
    cache_write = _tokens(usage, "cache_creation_input_tokens", where, required=False)
    # Anthropic's input_tokens excludes both cache counters; add them so prompt means
    # "every input token", as it does for OpenAI
    prompt = uncached + cache_read + cache_write
    return Usage(
        prompt=prompt,
        completion=completion,
        total=prompt + completion,
        cached_prompt=cache_read,
        cache_write=cache_write,
        reasoning=_detail(usage, "output_tokens_details", "reasoning_tokens", where),
        source="provider:anthropic",
        model=model,
    )

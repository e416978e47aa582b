"""``Secrets``: a credential echoed whole, percent-encoded or in pieces is found and replaced."""

from __future__ import annotations

from urllib.parse import quote, quote_plus

from ffn_async._redact import REDACTED, Secrets

# Opaque, with the characters percent-encoding changes, about as long as a JTL access token.
TOKEN = ("AbC+dEf/GhI=" + "x1Y2z3W4v5U6t7S8" * 55)[:900]


def pieces(secret: str, size: int = 8) -> set[str]:
    return {secret[i : i + size] for i in range(len(secret) - size + 1)}


def test_whole_encoded_and_split_echoes_are_redacted() -> None:
    half = len(TOKEN) // 2
    text = (
        f"Bearer {TOKEN}; q={quote(TOKEN, safe='')}; form={quote_plus(TOKEN)}; "
        f"start={TOKEN[:half]} end={TOKEN[half:]} glued=ref{TOKEN[100:140]}X tail {TOKEN[-9:]}"
    )
    clean = Secrets([TOKEN]).redact(text)
    assert clean.startswith(f"Bearer {REDACTED}; q={REDACTED}; form={REDACTED}; ")
    assert not pieces(TOKEN) & pieces(clean)
    assert not pieces(quote(TOKEN, safe="")) & pieces(clean)


def test_ordinary_text_and_short_secrets_are_left_alone() -> None:
    text = "Shared_ModelValidation: merchantSku is required (SKU-12345678)"
    assert Secrets([TOKEN, None, "abc"]).redact(text) == text
    assert Secrets([]).redact(text) is text
    assert not Secrets([None, "abc"])


def test_bytes_keep_everything_but_the_secret() -> None:
    body = b"\xff\xfe not utf-8 \x00 " + TOKEN.encode() + b" \xc3\xa9"
    assert Secrets([TOKEN]).redact_bytes(body) == b"\xff\xfe not utf-8 \x00 <redacted> \xc3\xa9"
    assert Secrets([TOKEN]).redact_bytes(b"clean") == b"clean"

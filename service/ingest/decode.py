"""Bytes → text: BOM first, then strict UTF-8, then GB18030 vs Big5 by plausibility."""

from __future__ import annotations

import codecs

from service.errors import EmptyInput, UndecodableInput

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Magic numbers of binary formats people upload by mistake.
_BINARY_MAGIC: tuple[bytes, ...] = (
    b"\x89PNG",
    b"%PDF",
    b"PK\x03\x04",
    b"GIF8",
    b"\xff\xd8\xff",
    b"\x1f\x8b",
)
_LEGACY = ("gb18030", "big5")


def decode_bytes(data: bytes, source_name: str) -> tuple[str, str]:
    """Return ``(text, encoding)`` with LF line ends; raise a clear error naming the file."""
    if not data.strip():
        raise EmptyInput(f"{source_name}: the file is empty (nothing but whitespace).")
    text, encoding = _decode(data, source_name)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise EmptyInput(f"{source_name}: the file is empty (nothing but whitespace).")
    return text, encoding


def _decode(data: bytes, source_name: str) -> tuple[str, str]:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _strict(data, encoding, source_name), encoding
    _reject_binary(data, source_name)
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    candidates = {enc: text for enc in _LEGACY if (text := _try(data, enc)) is not None}
    if not candidates:
        raise UndecodableInput(
            f"{source_name}: not UTF-8, UTF-16 (with BOM), GB18030 or Big5; "
            "re-save the file as UTF-8."
        )
    best = min(candidates, key=lambda enc: implausibility(candidates[enc], enc))
    return candidates[best], best


def _strict(data: bytes, encoding: str, source_name: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise UndecodableInput(
            f"{source_name}: starts with a {encoding} byte-order mark but is not valid "
            f"{encoding} (byte {exc.start}); re-save the file as UTF-8."
        ) from None


def _try(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def _reject_binary(data: bytes, source_name: str) -> None:
    # Text in any supported 8-bit encoding never contains NUL; UTF-16 was handled by its BOM.
    if data.startswith(_BINARY_MAGIC) or b"\x00" in data[:65536]:
        raise UndecodableInput(
            f"{source_name}: looks like a binary file, not text; give a text, HTML, PDF "
            "or .docx file."
        )


def implausibility(text: str, encoding: str) -> float:
    """Share of characters that a wrong legacy decoding typically produces (lower is better).

    Wrongly decoded Big5 as GB18030 yields kana/Greek/Cyrillic/symbol rows (GB lead bytes
    A1-AF); wrongly decoded GB as Big5 lands half its characters in Big5's rare level-2 block
    (lead byte >= C9). Real text of either kind stays in the common blocks.
    """
    # A sample is enough to tell the two apart and keeps multi-megabyte inputs fast.
    chars = [c for c in text[:50_000] if ord(c) > 0x7F]
    if not chars:
        return 0.0
    odd = sum(1 for c in chars if not _is_cjk_or_punct(c))
    rare = sum(1 for c in chars if _is_cjk(c) and _lead_byte(c, encoding) >= _RARE_LEAD[encoding])
    return (odd + rare) / len(chars)


_RARE_LEAD = {"big5": 0xC9, "gb18030": 0xD8}


def _lead_byte(char: str, encoding: str) -> int:
    encoded = char.encode(encoding)
    return encoded[0] if len(encoded) >= 2 else 0


def _is_cjk(char: str) -> bool:
    return 0x4E00 <= ord(char) <= 0x9FFF


def _is_cjk_or_punct(char: str) -> bool:
    code = ord(char)
    return (
        _is_cjk(char)
        or 0x3000 <= code <= 0x303F  # CJK symbols and punctuation
        or 0xFF00 <= code <= 0xFFEF  # full-width forms
        or 0x2010 <= code <= 0x206F  # general punctuation: “ ” — …
        or code in (0x00B7, 0x00A0)
    )

"""Phone numbers as hospital systems write them, normalised to E.164 with ``phonenumbers``.

What a HIS export holds in its phone column: Chinese mobiles (``13800138000``, ``138 0013 8000``,
``138-0013-8000``, ``+86 138…``, ``0086138…``, ``86138…``, full-width digits ``１３８…``), landlines with an
area code (``0571-88888888``, ``(010)12345678``, ``0571 8888 8888``), sometimes with an extension
(``0571-88888888-123``, ``…转123``) or two numbers in one cell (``13800138000/13900139000``), and the odd
foreign number in E.164. ``parse_phone`` turns each into E.164 or raises ``PhoneError`` (a ValueError) whose
message says why not: empty, letters, too short, too long, a mobile with the wrong number of digits, a
landline without its area code, not a valid Chinese number, … An extension cannot be dialled by the
dialer, so it is dropped and a note says so; of several numbers the first is used, with a note.

``mask_phone`` is the only form a number may take in output and logs; ``phone_hash`` is the keyed hash
stored next to it (``Patient.phone_hash``) for joins and logs that must not carry the number.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, ValidationResult

__all__ = [
    "Phone",
    "PhoneError",
    "mask_phone",
    "normalize_phone",
    "parse_phone",
    "phone_hash",
    "phone_hasher",
]

DEFAULT_REGION = "CN"

# A clean mainland mobile: the common case, checked without phonenumbers' full parser (≈4× faster).
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
# phonenumbers' own pattern for mainland mobiles: a match is a valid number without the full type search.
_MOBILE_VALID = re.compile(
    phonenumbers.PhoneMetadata.metadata_for_region("CN").mobile.national_number_pattern
)
# Separators between several numbers in one cell.
_SEVERAL = re.compile(r"\s*[/;,|、，；]\s*")
# "…转123", "… ext. 123", "… x123", "…#123", "…分机123" at the end of the cell.
_EXTENSION_WORD = re.compile(r"\s*(?:转|分机|ext\.?|extension|x|#)\s*([0-9]{1,6})\s*$", re.IGNORECASE)
# A landline with area code followed by "-NNN" or " NNN": 0571-88888888-123.
_EXTENSION_DASH = re.compile(r"^(\(?0[0-9]{2,3}\)?[\s-]?[0-9]{7,8})[\s-]+([0-9]{1,6})$")
_ALLOWED = re.compile(r"[0-9+\s\-().]*")


class PhoneError(ValueError):
    """A phone number that cannot be dialled; the message says why."""


@dataclass(frozen=True)
class Phone:
    """A normalised number: ``e164`` (``+8613800138000``) and a ``note`` when something was dropped."""

    e164: str
    note: str | None = None


def _clean(raw: str) -> str:
    # NFKC folds full-width digits, "＋", "（）" and the ideographic space into their ASCII forms.
    text = unicodedata.normalize("NFKC", raw).strip()
    if text.startswith("'"):  # Excel's "store as text" apostrophe leaks into CSV exports
        text = text[1:].strip()
    return text


def parse_phone(raw: object, region: str = DEFAULT_REGION) -> Phone:
    """Normalise ``raw`` (text, or an int from a spreadsheet cell) to E.164; raise PhoneError if it cannot
    be a dialable number of ``region`` (default mainland China) or an international number in E.164."""
    if raw is None:
        raise PhoneError("empty")
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)  # spreadsheets store 13800138000 as a number
    text = _clean(str(raw))
    if not text:
        raise PhoneError("empty")
    notes: list[str] = []

    parts = [p for p in _SEVERAL.split(text) if p]
    if len(parts) > 1:
        notes.append(f"{len(parts)} numbers in the cell; the first was used")
        text = parts[0]

    match = _EXTENSION_WORD.search(text) or _EXTENSION_DASH.match(text)
    if match:
        notes.append(f"extension {match.group(match.lastindex or 1)} dropped (the dialer cannot dial it)")
        text = text[: match.start()] if match.re is _EXTENSION_WORD else match.group(1)

    if not _ALLOWED.fullmatch(text):
        bad = "".join(sorted({c for c in text if not _ALLOWED.fullmatch(c)}))
        raise PhoneError(f"contains characters that are not part of a phone number: {bad!r}")
    digits = re.sub(r"[^0-9]", "", text)
    plus = text.startswith("+")
    note = "; ".join(notes) or None

    # The common case first: a bare mainland mobile.
    if not plus and _MOBILE.fullmatch(digits):
        if _MOBILE_VALID.fullmatch(digits) or phonenumbers.is_valid_number(
            PhoneNumber(country_code=86, national_number=int(digits))
        ):
            return Phone("+86" + digits, note)
        raise PhoneError(f"not a valid Chinese mobile number (no mobile network uses {digits[:3]})")

    if not digits:
        raise PhoneError("no digits")
    if not plus and digits.startswith("00"):  # international call prefix, as in 0086…
        digits, plus = digits[2:], True
    elif (
        not plus
        and region == "CN"
        and len(digits) == 13
        and _MOBILE.fullmatch(digits[2:])
        and (digits.startswith("86"))
    ):
        digits, plus = digits[2:], False  # 86 + mobile, the "+" lost on the way
    if len(digits) < 7:
        raise PhoneError(f"too short ({len(digits)} digits)")
    if len(digits) > 15:
        raise PhoneError(f"too long ({len(digits)} digits)")

    try:
        number = phonenumbers.parse(("+" if plus else "") + digits, region)
    except NumberParseException as exc:
        reasons = {
            NumberParseException.INVALID_COUNTRY_CODE: f"unknown country code in +{digits[:4]}…",
            NumberParseException.TOO_SHORT_NSN: "too short",
            NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
            NumberParseException.TOO_LONG: "too long",
        }
        raise PhoneError(reasons.get(exc.error_type, "not a phone number")) from None
    if phonenumbers.is_valid_number(number):
        return Phone(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), note)
    raise PhoneError(_why_invalid(number, digits, plus))


def _why_invalid(number: PhoneNumber, digits: str, plus: bool) -> str:
    possible = phonenumbers.is_possible_number_with_reason(number)
    if number.country_code != 86:
        if possible == ValidationResult.INVALID_COUNTRY_CODE:
            return f"unknown country code in {'+' if plus else ''}{digits[:4]}…"
        return f"not a valid number for country code +{number.country_code}"
    national = str(number.national_number)
    if national.startswith("1"):
        if len(national) != 11:
            return f"a Chinese mobile number has 11 digits, this has {len(national)}"
        return f"not a valid Chinese mobile number (no mobile network uses {national[:3]})"
    if not plus and not digits.startswith("0") and len(digits) <= 8:
        return "landline number without its area code (write it as 0571-88888888)"
    if possible == ValidationResult.TOO_SHORT:
        return "too short for a Chinese landline (area code + 7 or 8 digits)"
    if possible == ValidationResult.TOO_LONG:
        return "too long for a Chinese landline (area code + 7 or 8 digits)"
    return "not a valid Chinese number"


def normalize_phone(raw: object, region: str = DEFAULT_REGION) -> str:
    """The E.164 form of ``raw``; raises PhoneError (a ValueError) saying why when there is none."""
    return parse_phone(raw, region).e164


def mask_phone(phone: str | None) -> str:
    """A number as it may appear in output and logs: everything but the last four digits hidden."""
    if not phone:
        return ""
    digits = re.sub(r"[^0-9]", "", phone)
    return "*" * max(len(digits) - 4, 3) + digits[-4:]


def phone_hasher(key: str) -> Callable[[str], str]:
    """``phone_hash`` with ``key`` bound, for many numbers (the keyed state is computed once)."""
    base = hmac.new(key.encode(), digestmod=hashlib.sha256)

    def digest(e164: str) -> str:
        h = base.copy()
        h.update(e164.encode())
        return h.hexdigest()

    return digest


def phone_hash(e164: str, key: str) -> str:
    """The keyed hash stored in ``Patient.phone_hash``: HMAC-SHA256 of the E.164 number, 64 hex digits.
    Keyed (the setting ``FOLLOWUP_PHONE_HASH_KEY``) so the hash of a known number cannot be looked up."""
    return hmac.new(key.encode(), e164.encode(), hashlib.sha256).hexdigest()

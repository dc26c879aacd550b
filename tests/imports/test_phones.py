"""Phone normalisation: what HIS exports hold → E.164, or a ValueError that says why not."""

from __future__ import annotations

import pytest

from models.phones import PhoneError, mask_phone, normalize_phone, parse_phone, phone_hash

VALID = [
    # (raw, E.164, note contains)
    ("13800138000", "+8613800138000", None),
    ("138 0013 8000", "+8613800138000", None),
    ("138-0013-8000", "+8613800138000", None),
    ("+86 138 0013 8000", "+8613800138000", None),
    ("+86-13800138000", "+8613800138000", None),
    ("008613800138000", "+8613800138000", None),
    ("8613800138000", "+8613800138000", None),
    ("１３８００１３８０００", "+8613800138000", None),  # full-width digits
    ("＋８６ １３８ ００１３ ８０００", "+8613800138000", None),
    ("'13800138000", "+8613800138000", None),  # Excel's text apostrophe
    (13800138000, "+8613800138000", None),  # a spreadsheet number cell
    (13800138000.0, "+8613800138000", None),
    ("19912345678", "+8619912345678", None),
    ("16612345678", "+8616612345678", None),
    ("0571-88888888", "+8657188888888", None),
    ("(010)12345678", "+861012345678", None),
    ("（010）12345678", "+861012345678", None),
    ("0571 8888 8888", "+8657188888888", None),
    ("021-61234567", "+862161234567", None),
    ("+86 10 1234 5678", "+861012345678", None),
    ("0571-88888888-123", "+8657188888888", "extension 123 dropped"),
    ("0571-88888888转8001", "+8657188888888", "extension 8001 dropped"),
    ("010-12345678 ext. 55", "+861012345678", "extension 55 dropped"),
    ("13800138000/13900139000", "+8613800138000", "2 numbers in the cell"),
    ("13800138000；0571-88888888", "+8613800138000", "2 numbers in the cell"),
    ("+44 20 7946 0958", "+442079460958", None),
    ("+1 650 253 0000", "+16502530000", None),
    ("0044 20 7946 0958", "+442079460958", None),
]

INVALID = [
    # (raw, reason contains)
    (None, "empty"),
    ("", "empty"),
    ("   ", "empty"),
    ("12345", "too short (5 digits)"),
    ("95588", "too short"),
    ("1380013800", "a Chinese mobile number has 11 digits, this has 10"),
    ("138001380001", "a Chinese mobile number has 11 digits, this has 12"),
    ("12012345678", "not a valid Chinese mobile number"),
    ("14012345678", "not a valid Chinese mobile number"),
    ("88888888", "landline number without its area code"),
    ("abc13800138000", "not part of a phone number"),
    ("138-0013-800O", "not part of a phone number"),  # a letter O for a zero
    ("+999 1234 5678", "unknown country code"),
    ("+44 20 7946", "not a valid number for country code +44"),
    ("1234567890123456", "too long"),
    ("-", "no digits"),
]


@pytest.mark.parametrize(("raw", "e164", "note"), VALID)
def test_valid_numbers_normalise_to_e164(raw: object, e164: str, note: str | None) -> None:
    phone = parse_phone(raw)
    assert phone.e164 == e164
    if note is None:
        assert phone.note is None
    else:
        assert phone.note is not None and note in phone.note
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize(("raw", "reason"), INVALID)
def test_invalid_numbers_say_why(raw: object, reason: str) -> None:
    with pytest.raises(PhoneError) as caught:
        parse_phone(raw)
    assert reason in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_mask_keeps_only_the_last_four_digits() -> None:
    assert mask_phone("+8613800138000") == "*********8000"
    assert "13800" not in mask_phone("+8613800138000")
    assert mask_phone("") == ""
    assert mask_phone("123") == "***123"


def test_phone_hash_is_keyed_and_stable() -> None:
    a = phone_hash("+8613800138000", "k1")
    assert a == phone_hash("+8613800138000", "k1")
    assert a != phone_hash("+8613800138000", "k2")
    assert len(a) == 64 and "13800138000" not in a

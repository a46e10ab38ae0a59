"""Phone numbers: parse and normalise to E.164 with phonenumbers, and mask them for logs."""

from __future__ import annotations

import phonenumbers

from .errors import InvalidPhoneNumberError

# Longer input is not a phone number; refuse it before the parser spends time on it.
MAX_INPUT_LENGTH = 64


def normalise(raw: str) -> str:
    """Return ``raw`` as E.164 (``+14155552671``) or raise InvalidPhoneNumberError."""
    text = raw.strip()
    # Without a leading '+' the country is a guess (is 4155552671 Swiss or Californian?): refuse it.
    if not text.startswith("+") or len(text) > MAX_INPUT_LENGTH:
        raise InvalidPhoneNumberError()
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumberError() from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumberError()
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def mask(number: str) -> str:
    """Hide the middle of an E.164 number for logs: ``+14155552671`` -> ``+1415*****71``."""
    if len(number) <= 7:
        return "*" * len(number)
    return number[:5] + "*" * (len(number) - 7) + number[-2:]

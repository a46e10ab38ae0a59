"""Phone numbers: parse and normalise to E.164 with phonenumbers, screen what may cost an SMS, mask for logs."""

from __future__ import annotations

from collections.abc import Collection

import phonenumbers
from phonenumbers import PhoneNumberType

from .errors import CountryNotAllowedError, InvalidPhoneNumberError, NumberNotSupportedError

# Longer input is not a phone number; refuse it before the parser spends time on it.
MAX_INPUT_LENGTH = 64
# Numbers that cannot receive a code or that SMS pumping abuses: an SMS to them earns someone else money.
REFUSED_TYPES = frozenset({
    PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST, PhoneNumberType.TOLL_FREE, PhoneNumberType.VOIP,
    PhoneNumberType.PAGER, PhoneNumberType.UAN, PhoneNumberType.VOICEMAIL,
})


def parse(raw: str) -> phonenumbers.PhoneNumber:
    """Parse ``raw`` as an international number or raise InvalidPhoneNumberError."""
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
    return number


def e164(number: phonenumbers.PhoneNumber) -> str:
    """Format a parsed number as E.164: ``+14155552671``."""
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def screen(number: phonenumbers.PhoneNumber, allowed_countries: Collection[str]) -> None:
    """Refuse a number outside the allowed countries, or of a type that should never get an SMS."""
    if allowed_countries and phonenumbers.region_code_for_number(number) not in allowed_countries:
        raise CountryNotAllowedError()
    if phonenumbers.number_type(number) in REFUSED_TYPES:
        raise NumberNotSupportedError(
            "Verification codes cannot be sent to premium-rate, toll-free, shared-cost, VoIP or pager numbers."
        )


def mask(number: str) -> str:
    """Hide the middle of an E.164 number for logs: ``+14155552671`` -> ``+1415*****71``."""
    if len(number) <= 7:
        return "*" * len(number)
    return number[:5] + "*" * (len(number) - 7) + number[-2:]

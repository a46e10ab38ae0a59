"""Phone numbers: parse and normalise to E.164 with phonenumbers, screen what may cost an SMS, mask for logs."""

from __future__ import annotations

import functools
import re
from collections.abc import Collection

import phonenumbers
from phonenumbers import PhoneNumberType

from .errors import CountryNotAllowedError, InvalidPhoneNumberError, NumberNotSupportedError

# Longer input is not a phone number; refuse it before the parser spends time on it.
MAX_INPUT_LENGTH = 64
# Numbers that cannot receive a code or that SMS pumping abuses: an SMS to them earns someone else money.
# Each is refused unless OTP_ALLOWED_NUMBER_TYPES names its kind; the sentence names it to the person.
REFUSED_TYPES = {
    PhoneNumberType.PREMIUM_RATE: ("premium_rate", "premium-rate numbers"),
    PhoneNumberType.SHARED_COST: ("shared_cost", "shared-cost numbers"),
    PhoneNumberType.TOLL_FREE: ("toll_free", "toll-free numbers"),
    PhoneNumberType.VOIP: ("voip", "VoIP numbers"),
    PhoneNumberType.PAGER: ("pager", "pagers"),
    PhoneNumberType.UAN: ("uan", "universal access numbers"),
    PhoneNumberType.VOICEMAIL: ("voicemail", "voicemail numbers"),
    # Personal numbers (UK 070, German 0700, US 500) forward anywhere, at rates their owner sets.
    PhoneNumberType.PERSONAL_NUMBER: ("personal_number", "personal (follow-me) numbers"),
}
# Country codes of no country: satellite networks (+870, +881), international networks (+882, +883),
# international freephone and premium rate (+800, +979) and the like; phonenumbers gives them region "001".
NON_GEOGRAPHIC = ("non_geographic", "satellite and international network numbers")


FULL_WIDTH_PLUS = "\uff0b"
# What a person may write between the digits of a number.
_SEPARATORS = re.compile(r"[\s.\-()/]")


def normalised(raw: str) -> str | None:
    """``raw`` as '+' and its digits (``+1 (500) 555-0006`` -> ``+15005550006``), or None when it is not
    written so: how a listed test number is matched, before any check of whether it could exist."""
    text = _SEPARATORS.sub("", raw.strip())
    return text if len(text) <= 16 and re.fullmatch(r"\+[1-9][0-9]{5,14}", text) else None


def parse(raw: str, listed: Collection[str] = ()) -> phonenumbers.PhoneNumber:
    """Parse ``raw`` as an international number or raise InvalidPhoneNumberError. A number in ``listed`` (the
    operator's test numbers) is taken as written, even one phonenumbers calls invalid (+44 7700 900xxx)."""
    text = raw.strip()
    if text[:1] == FULL_WIDTH_PLUS:  # an East Asian keyboard's; phonenumbers reads its full-width digits
        text = "+" + text[1:]
    # Without a leading '+' the country is a guess (is 4155552671 Swiss or Californian?): refuse it.
    if not text.startswith("+") or len(text) > MAX_INPUT_LENGTH:
        raise InvalidPhoneNumberError()
    if listed and (normal := normalised(text)) in listed:
        text = str(normal)
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumberError() from exc
    if not phonenumbers.is_valid_number(number) and text not in listed:
        raise InvalidPhoneNumberError()
    return number


class E164(str):
    """A parsed number as E.164 text (``+14155552671``) that carries its country, so that ``country`` does not
    parse it again for each of its users (the limits, the store's record, the metrics). Stored and read
    back, it is plain text, whose country ``country`` works out."""

    country: str


def e164(number: phonenumbers.PhoneNumber) -> E164:
    """Format a parsed number as E.164: ``+14155552671``, with its country."""
    text = E164(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    text.country = _iso(phonenumbers.region_code_for_number(number))
    return text


def screen(number: phonenumbers.PhoneNumber, allowed_countries: Collection[str],
           allowed_kinds: Collection[str] = ()) -> None:
    """Refuse a number outside the allowed countries, or of a kind that should never get an SMS."""
    region = phonenumbers.region_code_for_number(number)
    if allowed_countries and region not in allowed_countries:
        raise CountryNotAllowedError()
    refused = (NON_GEOGRAPHIC if region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY
               else REFUSED_TYPES.get(phonenumbers.number_type(number)))
    if refused is not None and refused[0] not in allowed_kinds:
        raise NumberNotSupportedError(f"Verification codes cannot be sent to {refused[1]}.")


def country(number: str) -> str:
    """The ISO 3166 alpha-2 code of an E.164 number; ZZ for none (metric labels stay a bounded set)."""
    return number.country if isinstance(number, E164) else _parsed_country(number)


# A check asks for its number's country more than once (limits, record, metric): parse it once.
@functools.lru_cache(maxsize=256)
def _parsed_country(number: str) -> str:
    return _iso(phonenumbers.region_code_for_number(phonenumbers.parse(number)))


def _iso(region: str | None) -> str:
    return region if region in phonenumbers.SUPPORTED_REGIONS else "ZZ"


def mask(number: str) -> str:
    """Hide the middle of an E.164 number for logs: ``+14155552671`` -> ``+1415*****71``."""
    if len(number) <= 7:
        return "*" * len(number)
    return number[:5] + "*" * (len(number) - 7) + number[-2:]

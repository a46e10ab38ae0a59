"""app.phone: a parsed number's E.164 text carries its country to the limits, the store and the metrics."""

from __future__ import annotations

import phonenumbers
import pytest

from app import phone


def test_a_parsed_numbers_country_travels_with_its_e164_text(monkeypatch: pytest.MonkeyPatch) -> None:
    number = phone.e164(phone.parse("+44 7400 123456"))

    def no_second_parse(*_: object) -> None:
        raise AssertionError("the number was parsed again")

    monkeypatch.setattr(phonenumbers, "parse", no_second_parse)
    assert number == "+447400123456"
    assert phone.country(number) == "GB"
    monkeypatch.undo()
    # The same text read back from a store is plain text: its country is worked out from it.
    assert type(str(number)) is str and phone.country(str(number)) == "GB"


def test_a_number_of_no_country_is_zz_whichever_way_its_country_is_asked() -> None:
    number = phone.e164(phonenumbers.parse("+80012345678"))
    assert (phone.country(number), phone.country(str(number))) == ("ZZ", "ZZ")

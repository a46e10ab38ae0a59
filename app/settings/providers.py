"""Which providers send codes (OTP_PROVIDER, an ordered list) and the channels of each one's workflow."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from .rules import LEGACY_WORKFLOWS

if TYPE_CHECKING:
    from . import Settings


class ProviderName(enum.StrEnum):
    VONAGE = "vonage"
    TWILIO = "twilio"
    CONSOLE = "console"


def provider_list(value: str) -> tuple[ProviderName, ...]:
    """``vonage,twilio`` -> the providers in the order starts try them; empty means Vonage."""
    names = [item.strip().lower() for item in value.split(",") if item.strip()] or [ProviderName.VONAGE.value]
    known = [p.value for p in ProviderName]
    if unknown := [n for n in names if n not in known]:
        raise ValueError(f"OTP_PROVIDER must be a comma-separated list of {', '.join(known)}, got "
                         f"{', '.join(repr(n) for n in unknown)}")
    if len(set(names)) < len(names):
        raise ValueError(f"OTP_PROVIDER names a provider twice: {value!r}")
    if ProviderName.CONSOLE in names and len(names) > 1:
        raise ValueError("OTP_PROVIDER=console sends nothing and stands alone: it cannot be listed with another "
                         "provider")
    return tuple(ProviderName(n) for n in names)


def channels(settings: Settings, provider: ProviderName) -> tuple[str, ...]:
    """The channels of ``provider``'s delivery steps, in order: the token's amr and the next channel.
    The console provider shows the Vonage workflow's steps, as production would take them."""
    if provider is ProviderName.TWILIO:
        return settings.TWILIO_WORKFLOW
    if settings.VONAGE_VERIFY_API == "v2":
        return settings.VONAGE_WORKFLOW
    return LEGACY_WORKFLOWS.get(settings.VONAGE_WORKFLOW_ID, ("sms",))


def provider_channels(settings: Settings) -> dict[str, tuple[str, ...]]:
    """Each configured provider's channels, by its name."""
    return {name.value: channels(settings, name) for name in settings.OTP_PROVIDER}

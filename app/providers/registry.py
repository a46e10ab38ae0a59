"""The providers the settings name: OTP_PROVIDER -> the modules that build them, behind one Failover.

Each provider's module is imported only when the settings name it, so the SDK of a provider that is not
used is never loaded.
"""

from __future__ import annotations

from typing import Any

from ..breaker import Breaker
from ..errors import ConfigError
from ..settings import ProviderName, Settings, channels
from . import Provider
from .failover import Failover
from .test_numbers import TestNumbers


def _console(settings: Settings) -> Provider:
    from .console import ConsoleProvider

    # The same delivery steps as the configured workflow, so a page shows what production would do.
    return ConsoleProvider(code_length=settings.VONAGE_CODE_LENGTH, pin_expiry=settings.VONAGE_PIN_EXPIRY,
                           channels=channels(settings, ProviderName.CONSOLE))


def _vonage(settings: Settings) -> Provider:
    from jwt import PyJWTError
    from pydantic import ValidationError
    from vonage_http_client import Auth
    from vonage_verify import VerifyError as V2VerifyError
    from vonage_verify_legacy import VerifyError as LegacyVerifyError

    from .vonage_http import quiet_sdk_logger
    from .vonage_legacy import VonageLegacyProvider
    from .vonage_v2 import VonageV2Provider

    quiet_sdk_logger()
    common: dict[str, Any] = {"api_host": settings.VONAGE_API_HOST, "timeout": settings.VONAGE_TIMEOUT,
                           "brand": settings.VONAGE_BRAND, "code_length": settings.VONAGE_CODE_LENGTH}
    if settings.VONAGE_APPLICATION_ID:
        auth = Auth(application_id=settings.VONAGE_APPLICATION_ID, private_key=settings.VONAGE_PRIVATE_KEY)
        try:
            # Sign one token now: a key that cannot sign (a corrupt PEM, an EC key where Vonage wants RSA)
            # would otherwise turn every send into a 500.
            auth.create_jwt_auth_string()
        except (ValueError, TypeError, PyJWTError) as exc:
            raise ConfigError(f"VONAGE_PRIVATE_KEY cannot sign the RS256 token Vonage needs ({type(exc).__name__}); "
                              "use the application's private key from the Vonage dashboard") from None
    else:
        auth = Auth(api_key=settings.VONAGE_API_KEY, api_secret=settings.VONAGE_API_SECRET)
    try:
        if settings.VONAGE_VERIFY_API == "v2":
            return VonageV2Provider(auth=auth, channel_timeout=settings.VONAGE_PIN_EXPIRY,
                                    workflow=settings.VONAGE_WORKFLOW, whatsapp_from=settings.VONAGE_WHATSAPP_FROM,
                                    locale=settings.VONAGE_LOCALE, **common)
        return VonageLegacyProvider(auth=auth, pin_expiry=settings.VONAGE_PIN_EXPIRY,
                                    workflow_id=settings.VONAGE_WORKFLOW_ID, **common)
    except (ValidationError, V2VerifyError, LegacyVerifyError) as exc:
        # pydantic names the field and the rule; these values are settings, never secrets.
        raise ConfigError(f"invalid Vonage settings: {exc}") from None


def _twilio(settings: Settings) -> Provider:
    from .twilio import TwilioProvider

    api_key = bool(settings.TWILIO_API_KEY_SID)
    return TwilioProvider(account_sid=settings.TWILIO_ACCOUNT_SID,
                          username=settings.TWILIO_API_KEY_SID if api_key else settings.TWILIO_ACCOUNT_SID,
                          password=settings.TWILIO_API_KEY_SECRET if api_key else settings.TWILIO_AUTH_TOKEN,
                          service_sid=settings.TWILIO_VERIFY_SERVICE_SID, verify_url=settings.TWILIO_VERIFY_URL,
                          timeout=settings.TWILIO_TIMEOUT, workflow=settings.TWILIO_WORKFLOW,
                          lifetime=settings.TWILIO_CODE_TTL)


FACTORIES = {ProviderName.CONSOLE: _console, ProviderName.VONAGE: _vonage, ProviderName.TWILIO: _twilio}


def provider_from_settings(settings: Settings, name: ProviderName | None = None) -> Provider:
    """Build one provider (the first the settings name by default); settings its SDK refuses stop startup
    with its reason."""
    return FACTORIES[name or settings.OTP_PROVIDER[0]](settings)


def providers_from_settings(settings: Settings, breaker: Breaker | None) -> Failover:
    """The providers of OTP_PROVIDER in order, sharing ``breaker`` when there are several."""
    providers = [provider_from_settings(settings, name) for name in settings.OTP_PROVIDER]
    return Failover(providers, breaker, TestNumbers(settings.OTP_TEST_NUMBERS, providers[0].lifetime))

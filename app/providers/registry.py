"""The provider the settings name: OTP_PROVIDER -> the module that builds it.

Each provider's module is imported only when the settings name it, so the SDK of a provider that is not
used is never loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..config import ConfigError
from . import Provider


def _console(config: Mapping[str, Any]) -> Provider:
    from .console import ConsoleProvider

    # The same delivery steps as the configured workflow, so a page shows what production would do.
    return ConsoleProvider(code_length=config["VONAGE_CODE_LENGTH"], pin_expiry=config["VONAGE_PIN_EXPIRY"],
                           deliveries=len(config["OTP_CHANNELS"]))


def _vonage(config: Mapping[str, Any]) -> Provider:
    from jwt import PyJWTError
    from pydantic import ValidationError
    from vonage_http_client import Auth
    from vonage_verify import VerifyError as V2VerifyError
    from vonage_verify_legacy import VerifyError as LegacyVerifyError

    from .vonage_legacy import VonageLegacyProvider
    from .vonage_v2 import VonageV2Provider

    common = {"api_host": config["VONAGE_API_HOST"], "timeout": config["VONAGE_TIMEOUT"],
              "brand": config["VONAGE_BRAND"], "code_length": config["VONAGE_CODE_LENGTH"]}
    if config["VONAGE_APPLICATION_ID"]:
        auth = Auth(application_id=config["VONAGE_APPLICATION_ID"], private_key=config["VONAGE_PRIVATE_KEY"])
        try:
            # Sign one token now: a key that cannot sign (a corrupt PEM, an EC key where Vonage wants RSA)
            # would otherwise turn every send into a 500.
            auth.create_jwt_auth_string()
        except (ValueError, TypeError, PyJWTError) as exc:
            raise ConfigError(f"VONAGE_PRIVATE_KEY cannot sign the RS256 token Vonage needs ({type(exc).__name__}); "
                              "use the application's private key from the Vonage dashboard") from None
    else:
        auth = Auth(api_key=config["VONAGE_API_KEY"], api_secret=config["VONAGE_API_SECRET"])
    try:
        if config["VONAGE_VERIFY_API"] == "v2":
            return VonageV2Provider(auth=auth, channel_timeout=config["VONAGE_PIN_EXPIRY"],
                                    workflow=config["VONAGE_WORKFLOW"], whatsapp_from=config["VONAGE_WHATSAPP_FROM"],
                                    locale=config["VONAGE_LOCALE"], **common)
        return VonageLegacyProvider(auth=auth, pin_expiry=config["VONAGE_PIN_EXPIRY"],
                                    workflow_id=config["VONAGE_WORKFLOW_ID"], **common)
    except (ValidationError, V2VerifyError, LegacyVerifyError) as exc:
        # pydantic names the field and the rule; these values are settings, never secrets.
        raise ConfigError(f"invalid Vonage settings: {exc}") from None


FACTORIES = {"console": _console, "vonage": _vonage}


def provider_from_settings(config: Mapping[str, Any]) -> Provider:
    """Build the provider the settings name; settings the SDK refuses stop startup with its reason."""
    return FACTORIES[config["OTP_PROVIDER"]](config)

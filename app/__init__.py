"""The OTP service: send a one-time code by SMS through a verification provider (Vonage Verify) and check it.

Layout: app.web (the only Flask importer: parse -> lifecycle -> render), app.lifecycle (the verification's
rules, plain Python), app.providers (one module per provider), app.store (one module per backend),
app.limits, app.settings.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    # The one version: pyproject.toml's, as installed (the OpenAPI document and otp_build_info say the same).
    __version__ = version("otp-service")
except PackageNotFoundError:  # pragma: no cover - run from a tree that was never installed
    __version__ = "0+unknown"

from .web import create_app  # noqa: E402 - after the version it reports

__all__ = ["__version__", "create_app"]

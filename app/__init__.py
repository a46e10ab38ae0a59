"""The OTP service: send a one-time code by SMS through a verification provider (Vonage Verify) and check it.

Layout: app.web (the only Flask importer: parse -> lifecycle -> render), app.lifecycle (the verification's
rules, plain Python), app.providers (one module per provider), app.store (one module per backend),
app.limits, app.settings.
"""

from .web import create_app

__all__ = ["create_app"]

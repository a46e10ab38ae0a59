"""The limits' scopes: the setting each is read from, and its name in answers and log lines."""

from __future__ import annotations

# Limits on where codes go, as carriers' and Vonage's anti-fraud do: they name SMS pumping, so a breach is a
# warning for operators, not a client's mistake.
VELOCITY_SCOPES = ("send-country", "send-prefix", "send-network", "send-global", "send-spend-cap")
# The shared budgets' names in answers (``limit``): which brake the send met.
BUDGET_NAMES = {"send-country": "country", "send-prefix": "prefix", "send-network": "network", "send-global": "global",
                "send-spend-cap": "spend_cap"}
# Every scope's name in a 429 (``limit``): what a caller can tell apart (wait for the cooldown, this number
# had enough, this client or key is past its limit, sends are capped).
LIMIT_NAMES = {**BUDGET_NAMES, "send-ip": "client", "check-ip": "client", "refused-ip": "client", "api-key": "api_key",
               "send-number": "number", "send-number-total": "number", "check-number": "number",
               "send-cooldown": "cooldown"}
# scope -> the setting that holds its limits.
SETTINGS = {"refused-ip": "OTP_RATELIMIT_REFUSED_IP", "send-network": "OTP_RATELIMIT_REQUEST_NETWORK",
            "send-spend-cap": "OTP_RATELIMIT_SPEND_CAP",
            "send-ip": "OTP_RATELIMIT_REQUEST_IP", "check-ip": "OTP_RATELIMIT_CHECK_IP", "api-key": "OTP_RATELIMIT_KEY",
            "send-number": "OTP_RATELIMIT_REQUEST_NUMBER", "send-number-total": "OTP_RATELIMIT_REQUEST_NUMBER_TOTAL",
            "send-country": "OTP_RATELIMIT_COUNTRY", "send-prefix": "OTP_RATELIMIT_PREFIX",
            "send-global": "OTP_RATELIMIT_GLOBAL", "check-number": "OTP_RATELIMIT_CHECK_NUMBER"}

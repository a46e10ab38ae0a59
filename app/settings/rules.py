"""What app.settings checks beyond a value's type: the Verify APIs' rules, key files, API keys, origins."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import phonenumbers
from pydantic.fields import FieldInfo

from .. import phone
from ..tokens import PrivateKey, PublicKey, SigningKeyError, load_private_key, load_public_keys

# What each Verify API accepts: legacy pin_expiry 60-3600 s and codes of 4 or 6 digits; v2 a
# channel_timeout of 15-900 s, codes of 4-10 digits and a brand of at most 16 characters.
API_RULES: dict[str, dict[str, Any]] = {
    "legacy": {"brand_max": 18, "code_lengths": (4, 6), "code_lengths_text": "4 or 6", "pin_expiry": (60, 3600)},
    "v2": {"brand_max": 16, "code_lengths": tuple(range(4, 11)), "code_lengths_text": "4 to 10",
           "pin_expiry": (15, 900)},
}
CHANNELS = ("sms", "voice", "whatsapp")
# The delivery steps of each legacy workflow (Vonage's "Workflows and Events" guide; TTS is a voice call).
LEGACY_WORKFLOWS = {1: ("sms", "voice", "voice"), 2: ("sms", "sms", "voice"), 3: ("voice", "voice"),
                    4: ("sms", "sms"), 5: ("sms", "voice"), 6: ("sms",), 7: ("voice",)}
# Kinds of number refused unless OTP_ALLOWED_NUMBER_TYPES names them (app.phone has their meaning).
NUMBER_KINDS = ("premium_rate", "shared_cost", "toll_free", "voip", "pager", "uan", "voicemail", "personal_number",
                "non_geographic")
CAPTCHAS = ("turnstile", "hcaptcha", "recaptcha")
API_KEY_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
ORIGIN_PATTERN = re.compile(r"https?://[^/?#@\s]+")
# Settings whose text holds a list or a table: comma-separated values, name:digest pairs, PEM keys.
STRUCTURED = ("VONAGE_WORKFLOW", "TWILIO_WORKFLOW", "OTP_ALLOWED_COUNTRIES", "OTP_ALLOWED_NUMBER_TYPES", "OTP_API_KEYS",
              "OTP_TOKEN_PREVIOUS_KEYS", "OTP_TOKEN_AUDIENCE", "OTP_ALLOWED_ORIGINS", "OTP_TEST_NUMBERS")


def _csv(name: str, value: str) -> list[str]:
    """A comma-separated setting as the list of its items, each checked against what the setting allows."""
    items = [item.strip() for item in value.split(",") if item.strip()]
    if name == "OTP_TOKEN_AUDIENCE":
        return items
    if name == "OTP_ALLOWED_COUNTRIES":
        codes = [item.upper() for item in items]
        if unknown := sorted(set(codes) - phonenumbers.SUPPORTED_REGIONS):
            raise ValueError(f"OTP_ALLOWED_COUNTRIES has unknown ISO 3166 alpha-2 codes: {', '.join(unknown)}")
        return codes
    items = [item.lower() for item in items]
    if name.endswith("_WORKFLOW") and not items:
        return ["sms"]
    allowed = CHANNELS if name.endswith("_WORKFLOW") else NUMBER_KINDS
    if unknown := sorted(set(items) - set(allowed)):
        what = "channels " if name.endswith("_WORKFLOW") else ""
        raise ValueError(f"{name} {what}must be among {', '.join(allowed)}, got {', '.join(unknown)}")
    return items


def structured(name: str, value: str) -> Any:
    """A setting whose text holds a list or a table (one of STRUCTURED), parsed and checked."""
    parse = {"OTP_API_KEYS": api_keys, "OTP_ALLOWED_ORIGINS": origins, "OTP_TOKEN_PREVIOUS_KEYS": public_keys,
             "OTP_TEST_NUMBERS": test_numbers}
    return parse[name](value) if name in parse else _csv(name, value)


def api_rule_problem(name: str, value: Any, api: str) -> str:
    """What the Verify API ``api`` refuses in VONAGE_BRAND, VONAGE_CODE_LENGTH or VONAGE_PIN_EXPIRY, or ''."""
    rules = API_RULES[api]
    if name == "VONAGE_BRAND" and len(value) > rules["brand_max"]:
        return f"VONAGE_BRAND must be at most {rules['brand_max']} characters with the {api} API, got {len(value)}"
    if name == "VONAGE_CODE_LENGTH" and value not in rules["code_lengths"]:
        return f"VONAGE_CODE_LENGTH must be {rules['code_lengths_text']} with the {api} API, got {value}"
    low, high = rules["pin_expiry"]
    if name == "VONAGE_PIN_EXPIRY" and not low <= value <= high:
        return f"VONAGE_PIN_EXPIRY must be between {low} and {high}, got {value}"
    return ""


def pem(name: str, value: str, problems: list[str]) -> str:
    """The PEM itself, or the text of the file a path names ('' when neither, with the problem noted)."""
    if "-----BEGIN" in value:
        return value.replace("\\n", "\n")  # one-line .env values often carry literal \n
    try:
        with open(value, encoding="ascii") as key_file:
            return key_file.read()
    except (OSError, UnicodeDecodeError):
        problems.append(f"{name} is neither a PEM nor a readable key file")
        return ""


def private_key_pem(value: str, problems: list[str]) -> str:
    """VONAGE_PRIVATE_KEY: the PEM itself, or the file a path names; PKCS#8, as the SDK's JWT client wants it."""
    if not value:
        return ""
    text = pem("VONAGE_PRIVATE_KEY", value, problems)
    if text and "-----BEGIN PRIVATE KEY-----" not in text:
        problems.append("VONAGE_PRIVATE_KEY must be a PKCS#8 key (-----BEGIN PRIVATE KEY-----); convert with "
                        "'openssl pkcs8 -topk8 -nocrypt -in old.pem -out new.pem'")
        return ""
    return text


def credential_problems(api: str, data: Mapping[str, Any], private_key_given: bool) -> list[str]:
    """What OTP_PROVIDER=vonage misses: an API key and secret, or (v2) an application id and its key."""
    application_id = data.get("VONAGE_APPLICATION_ID", "")
    if api == "v2" and (application_id or private_key_given):
        # JWT is meant; an unusable key was reported already.
        if not application_id:
            return ["missing VONAGE_APPLICATION_ID (JWT auth needs it beside VONAGE_PRIVATE_KEY)"]
        if not private_key_given:
            return ["missing VONAGE_PRIVATE_KEY (JWT auth needs it beside VONAGE_APPLICATION_ID)"]
        return []
    missing = [n for n in ("VONAGE_API_KEY", "VONAGE_API_SECRET") if not data.get(n)]
    if not missing:
        return []
    jwt = " or VONAGE_APPLICATION_ID and VONAGE_PRIVATE_KEY" if api == "v2" else ""
    return [f"missing {', '.join(missing)} (required with OTP_PROVIDER=vonage{jwt}; set OTP_PROVIDER=console to try "
            "the service without a Vonage account)"]


def twilio_problems(data: Mapping[str, Any], service_sid: str) -> list[str]:
    """What OTP_PROVIDER=twilio misses: the account, its auth token or an API key, the Verify service."""
    missing = [name for name, given in (("TWILIO_ACCOUNT_SID", data.get("TWILIO_ACCOUNT_SID")),
                                        ("TWILIO_VERIFY_SERVICE_SID", service_sid)) if not given]
    if data.get("TWILIO_API_KEY_SID") or data.get("TWILIO_API_KEY_SECRET"):
        missing += [n for n in ("TWILIO_API_KEY_SID", "TWILIO_API_KEY_SECRET") if not data.get(n)]
    elif not data.get("TWILIO_AUTH_TOKEN"):
        missing.append("TWILIO_AUTH_TOKEN (or TWILIO_API_KEY_SID and TWILIO_API_KEY_SECRET)")
    return [f"missing {', '.join(missing)} (required with OTP_PROVIDER=twilio)"] if missing else []


def signing_key(value: str) -> PrivateKey:
    """OTP_TOKEN_PRIVATE_KEY: the key itself or a path to it."""
    problems: list[str] = []
    text = pem("OTP_TOKEN_PRIVATE_KEY", value, problems)
    if problems:
        raise ValueError(problems[0])
    try:
        return load_private_key(text)
    except SigningKeyError as exc:
        raise ValueError(f"OTP_TOKEN_PRIVATE_KEY {exc}") from None


def public_keys(value: str) -> tuple[PublicKey, ...]:
    """OTP_TOKEN_PREVIOUS_KEYS: PEM text as one item, or paths separated by commas."""
    items = [value] if "-----BEGIN" in value else [path.strip() for path in value.split(",") if path.strip()]
    keys: list[PublicKey] = []
    problems: list[str] = []
    for item in items:
        text = pem("OTP_TOKEN_PREVIOUS_KEYS", item, problems)
        if text:
            try:
                keys.extend(load_public_keys(text))
            except SigningKeyError as exc:
                problems.append(f"OTP_TOKEN_PREVIOUS_KEYS {exc}")
    if problems:
        raise ValueError("; ".join(problems))
    return tuple(keys)


def api_keys(value: str) -> dict[bytes, str]:
    """OTP_API_KEYS: ``name:sha256-hex`` pairs, comma-separated -> {digest: name}."""
    keys: dict[bytes, str] = {}
    problems: list[str] = []
    for item in value.split(","):
        if not item.strip():
            continue
        name, _, digest = item.strip().partition(":")
        name, digest = name.strip(), digest.strip().lower()
        if not API_KEY_NAME.fullmatch(name) or not SHA256_HEX.fullmatch(digest):
            problems.append("OTP_API_KEYS entries must be name:sha256-hex as 'flask --app wsgi otp apikey NAME' "
                            f"prints them, got {name[:64]!r}")
            continue
        if name in keys.values():
            problems.append(f"OTP_API_KEYS names {name!r} twice")
        keys[bytes.fromhex(digest)] = name
    if problems:
        raise ValueError("; ".join(problems))
    return keys


TEST_CODE = re.compile(r"[0-9]{4,10}")


def test_numbers(value: str) -> dict[str, str]:
    """OTP_TEST_NUMBERS: ``+NUMBER=CODE`` pairs, comma-separated -> {E.164-style number: code}. A number is
    '+' and its digits (spaces, dots, dashes and brackets dropped), valid for phonenumbers or not: the
    operator lists it on purpose. No problem quotes a code."""
    numbers: dict[str, str] = {}
    problems: list[str] = []
    for at, item in enumerate((i for i in value.split(",") if i.strip()), 1):
        number, _, code = item.partition("=")
        normal = phone.normalised(number)
        if normal is None:
            problems.append(f"OTP_TEST_NUMBERS entry {at} must start with '+' and a number of 6 to 15 digits")
        elif not TEST_CODE.fullmatch(code.strip()):
            problems.append(f"OTP_TEST_NUMBERS entry {at} ({phone.mask(normal)}) must be NUMBER=CODE with a code "
                            "of 4 to 10 digits")
        elif normal in numbers:
            problems.append(f"OTP_TEST_NUMBERS lists {phone.mask(normal)} twice")
        else:
            numbers[normal] = code.strip()
    if problems:
        raise ValueError("; ".join(problems))
    return numbers


def origins(value: str) -> tuple[str, ...]:
    """OTP_ALLOWED_ORIGINS: origins such as https://app.example.com, comma-separated."""
    found, problems = [], []
    for item in value.split(","):
        origin = item.strip().rstrip("/").lower()
        if not origin:
            continue
        if not ORIGIN_PATTERN.fullmatch(origin):
            problems.append(f"OTP_ALLOWED_ORIGINS entries must be origins such as https://app.example.com, "
                            f"got {item.strip()!r}")
        found.append(origin)
    if problems:
        raise ValueError("; ".join(problems))
    return tuple(found)


# pydantic's words for a refused value, in the service's: what the setting allows.
_KINDS = {"int_parsing": "must be a whole number", "int_from_float": "must be a whole number",
          "float_parsing": "must be a number", "bool_parsing": "must be true or false"}


def problem(error: Mapping[str, Any], fields: Mapping[str, FieldInfo]) -> str:
    """One sentence for one of pydantic's errors: the variable, what it allows and (unless it is kept out of
    the repr, as secrets are) the value given."""
    name = str(error["loc"][0]) if error["loc"] else "settings"
    kind, ctx, given = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    secret = name in fields and fields[name].repr is False
    if kind in ("greater_than_equal", "less_than_equal"):
        bounds = {type(m).__name__: m for m in fields[name].metadata}
        return f"{name} must be between {bounds['Ge'].ge} and {bounds['Le'].le}" + ("" if secret else f", got {given}")
    shown = "" if secret else f", got {given!r}"
    if kind in _KINDS:
        return f"{name} {_KINDS[kind]}{shown}"
    if kind in ("enum", "literal_error"):
        return f"{name} must be {ctx.get('expected', '')}{shown}"
    return f"{name}: {error['msg']}"

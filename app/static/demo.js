// The demo page: a reference integration. Post the phone number, then the code; show every answer to the
// person, tied to the field it concerns, with the code's lifetime and the resend cooldown counted down.
"use strict";

const $ = (id) => document.getElementById(id);
const main = document.querySelector("main");

// The handle of this page's verification. The service also keeps it in an HttpOnly cookie; sending it
// in the body as well is what a page on another origin (no cookie) must do, so this page shows that way.
let verificationId = "";
let phoneNumber = "";
let busyNow = false;
let expiresAt = 0;
let resendAt = 0;
let nextChannel = null;
let ticker = 0;

const BY = { sms: "by SMS", voice: "by a voice call", whatsapp: "on WhatsApp" };

// The number as the service's logs show it: +1415*****71.
function mask(number) {
  const digits = number.replace(/[^0-9+]/g, "");
  return digits.length <= 7 ? digits : digits.slice(0, 5) + "*".repeat(digits.length - 7) + digits.slice(-2);
}

function clock(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

// The claims of a JWT, for display only: the page never trusts them, the backend verifies the signature.
function claimsOf(token) {
  const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(atob(payload.padEnd(payload.length + (4 - payload.length % 4) % 4, "=")));
}

// --- the CAPTCHA widget, when the service asks for one (data-captcha on <main>) ------------------------
const CAPTCHAS = {
  turnstile: { script: "https://challenges.cloudflare.com/turnstile/v0/api.js", className: "cf-turnstile",
               field: "cf-turnstile-response", api: "turnstile" },
  hcaptcha: { script: "https://js.hcaptcha.com/1/api.js", className: "h-captcha", field: "h-captcha-response",
              api: "hcaptcha" },
  recaptcha: { script: "https://www.google.com/recaptcha/api.js", className: "g-recaptcha",
               field: "g-recaptcha-response", api: "grecaptcha" },
};
const captcha = CAPTCHAS[main.dataset.captcha];

if (captcha) {
  const widget = document.createElement("div");
  widget.className = captcha.className;
  widget.dataset.sitekey = main.dataset.captchaSiteKey;
  $("phone-form").insertBefore(widget, $("send"));
  const script = document.createElement("script");
  script.src = captcha.script;
  script.async = true;
  document.head.appendChild(script);
}

function captchaToken() {
  const field = captcha && $("phone-form").querySelector(`[name="${captcha.field}"]`);
  return field ? { captchaToken: field.value } : {};
}

function resetCaptcha() {
  // A token is good for one check: ask the widget for a new one.
  const api = captcha && window[captcha.api];
  if (api && api.reset) api.reset();
}

// --- the proof-of-work challenge, when the service asks for one (428 challenge_required) -----------------
// The ALTCHA widget (its MIT build in /static) is loaded only then. It solves the challenge in a worker; the
// send is then made again with the solution as `altcha`.
async function solveChallenge() {
  try { await import("/static/altcha.js"); } catch (_) { return null; }
  const box = $("challenge");
  const widget = document.createElement("altcha-widget");
  for (const [name, value] of Object.entries({ challengeurl: "/challenge", workerurl: "/static/altcha-worker.js",
                                               auto: "onload", hidefooter: "", hidelogo: "" })) {
    widget.setAttribute(name, value);
  }
  const solved = new Promise((resolve) => {
    widget.addEventListener("verified", (event) => resolve(event.detail.payload));
    widget.addEventListener("statechange", (event) => {
      if (["error", "expired"].includes(event.detail.state)) resolve(null);
    });
  });
  box.append(widget);
  box.hidden = false;
  const payload = await solved;
  box.hidden = true;
  widget.remove();
  return payload;
}

// POST, and when the service asks for a challenge, solve it and POST again with its solution.
async function send(path, body) {
  const answer = await post(path, body);
  if (answer.body.code !== "challenge_required") return answer;
  show("Confirming that a person is asking…", "");
  const altcha = await solveChallenge();
  return altcha ? post(path, { ...body, altcha }) : answer;
}

// --- talking to the service --------------------------------------------------------------------------
// POST a JSON body; resolve to {ok, status, body, retryAfter} whatever the answer, network faults included.
async function post(path, body) {
  try {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    });
    let data = {};
    try { data = await response.json(); } catch (_) { /* not JSON: keep the generic sentence */ }
    const retry = parseInt(response.headers.get("Retry-After") || "", 10);
    return { ok: response.ok, status: response.status, body: data, retryAfter: Number.isNaN(retry) ? 0 : retry };
  } catch (_) {
    return { ok: false, status: 0, body: { error: "The service could not be reached. Check your connection." },
             retryAfter: 0 };
  }
}

function sentence(answer) {
  if (answer.body.code === "rate_limited" && answer.retryAfter) {
    return `Too many attempts. Try again in ${answer.retryAfter} seconds.`;
  }
  let text = answer.body.error || "Something went wrong. Please try again.";
  if (answer.retryAfter) text += ` Try again in ${answer.retryAfter} seconds.`;
  return text;
}

// Buttons are never disabled while a request runs: a disabled button drops the keyboard focus to <body>.
// aria-disabled says they do nothing now, and this flag makes them do nothing.
async function busy(button, work) {
  if (busyNow || button.getAttribute("aria-disabled") === "true") return;
  busyNow = true;
  button.setAttribute("aria-busy", "true");
  try { await work(); } finally {
    busyNow = false;
    button.removeAttribute("aria-busy");
  }
}

// --- what the person sees -------------------------------------------------------------------------
function show(text, kind) {
  const status = $("status");
  status.textContent = text;
  status.className = kind || "";
}

// An error about a field: written next to it, tied to it, and read out once as focus moves to it.
function fieldError(field, text) {
  const input = $(field);
  const error = $(`${field}-error`);
  error.textContent = text;
  error.hidden = false;
  input.setAttribute("aria-invalid", "true");
  input.setAttribute("aria-describedby", `${input.dataset.hint} ${field}-error`);
  show("", "");
  input.blur();
  input.focus();
  if (input.select) input.select();
}

function clearErrors() {
  for (const field of ["phone", "code"]) {
    const input = $(field);
    $(`${field}-error`).hidden = true;
    input.removeAttribute("aria-invalid");
    input.setAttribute("aria-describedby", input.dataset.hint);
  }
}

function stopClock() {
  clearInterval(ticker);
  ticker = 0;
}

function tick() {
  const now = Date.now();
  const left = (expiresAt - now) / 1000;
  if (expiresAt && left <= 0) {
    expired();
    return;
  }
  $("code-validity").textContent = expiresAt ? `The code is valid for ${clock(left)}.` : "";
  const resend = $("resend");
  const wait = (resendAt - now) / 1000;
  const label = nextChannel === "voice" ? "Call me with the code" : "Send it again";
  if (wait > 0) {
    resend.setAttribute("aria-disabled", "true");
    resend.textContent = `${label} (${Math.ceil(wait)} s)`;
  } else {
    resend.removeAttribute("aria-disabled");
    resend.textContent = label;
  }
}

function startClock() {
  stopClock();
  tick();
  ticker = setInterval(tick, 1000);
}

// After a send: say where the code went and by what, and what "send it again" would do.
function delivered(body) {
  const to = mask(phoneNumber);
  $("sent-to").textContent = !body.channel ? `A code was sent to ${to} earlier.`
    : body.channel === "test" ? `${to} is a test number: nothing was sent. Enter its fixed code.`
    : body.channel === "voice" ? `We are calling ${to} to read the code out.`
      : `We sent a code ${BY[body.channel] || ""} to ${to}.`;
  nextChannel = body.nextChannel === undefined ? null : body.nextChannel;
  resendAt = Date.now() + (body.resendIn || 0) * 1000;
  describeNext();
}

function describeNext() {
  $("resend").hidden = nextChannel === null;
  $("resend-hint").textContent = nextChannel === null
    ? "No more deliveries of this code: enter it, or use another number."
    : nextChannel === "voice"
      ? "The next delivery is a voice call that reads the code out."
      : `The next delivery comes ${BY[nextChannel] || "again"}.`;
}

function askForCode(body) {
  clearErrors();
  $("phone-form").hidden = true;
  $("verified").hidden = true;
  $("code-form").hidden = false;
  $("code").value = "";
  expiresAt = body.expiresIn ? Date.now() + body.expiresIn * 1000 : 0;
  delivered(body);
  startClock();
  $("code").focus();
}

function askForPhone(message, kind) {
  stopClock();
  verificationId = "";
  expiresAt = 0;
  clearErrors();
  $("code-form").hidden = true;
  $("verified").hidden = true;
  $("phone-form").hidden = false;
  show(message || "", kind);
  (message ? $("send") : $("phone")).focus();
}

function expired() {
  askForPhone("The code has expired. Send a new one.", "error");
}

// --- the forms ------------------------------------------------------------------------------------
$("phone").dataset.hint = "phone-hint";
$("code").dataset.hint = "code-validity";

$("phone-form").addEventListener("submit", (event) => {
  event.preventDefault();
  busy($("send"), async () => {
    phoneNumber = $("phone").value.trim();
    const answer = await send("/request-otp", { phoneNumber, ...captchaToken() });
    resetCaptcha();
    if (answer.ok) {
      verificationId = answer.body.verificationId;
      phoneNumber = answer.body.phoneNumber;
      show(answer.body.message, "ok");
      askForCode(answer.body);
    } else if (answer.body.verificationId) {
      // The provider may have sent the code though its answer was lost: it may still arrive, and this
      // verification is the one to check it with.
      verificationId = answer.body.verificationId;
      show(`${sentence(answer)} A code may still arrive: if it does, enter it.`, "error");
      askForCode({});
    } else if (answer.body.code === "verification_in_progress") {
      // A code sent earlier is still valid; this browser's cookie may still name its verification.
      show(answer.body.error, "ok");
      askForCode({});
    } else if (["invalid_phone_number", "invalid_request", "number_not_supported",
                "country_not_allowed"].includes(answer.body.code)) {
      fieldError("phone", sentence(answer));
    } else {
      show(sentence(answer), "error");
    }
  });
});

$("code-form").addEventListener("submit", (event) => {
  event.preventDefault();
  busy($("verify"), async () => {
    // Spaces and dashes between digit groups ("084 249", "084-249", as some messages and pastes show a
    // code) are not part of it: the service takes the digits only.
    const code = $("code").value.replace(/[\s-]/g, "");
    if (!/^[0-9]{4,10}$/.test(code)) {
      fieldError("code", "Enter the code from the message: 4 to 10 digits.");
      return;
    }
    const answer = await post("/check-otp", { ...(verificationId ? { verificationId } : {}), code });
    if (answer.ok) {
      stopClock();
      verificationId = "";
      clearErrors();
      show(answer.body.message, "ok");
      $("code-form").hidden = true;
      $("verified-number").textContent = answer.body.phoneNumber;
      $("claims").textContent = JSON.stringify(claimsOf(answer.body.token), null, 2);
      $("verified").hidden = false;
      $("verified-heading").focus();
      return;
    }
    if (["no_pending_verification", "too_many_attempts", "code_expired",
         "verification_id_required"].includes(answer.body.code)) {
      askForPhone(sentence(answer), "error");
    } else if (["wrong_code", "invalid_code_format"].includes(answer.body.code)) {
      fieldError("code", sentence(answer));
    } else {
      show(sentence(answer), "error");
      $("code").focus();
    }
  });
});

$("resend").addEventListener("click", () => {
  busy($("resend"), async () => {
    const answer = await send("/resend-otp", verificationId ? { verificationId } : {});
    if (answer.ok) {
      delivered(answer.body);
      if (answer.body.newCode) {
        // Another provider sent a new code: the earlier one no longer works, and this one has its own lifetime.
        expiresAt = Date.now() + answer.body.expiresIn * 1000;
        $("code").value = "";
      }
      tick();
      show(answer.body.message, "ok");
      $("code").focus();
    } else if (answer.body.code === "rate_limited") {
      resendAt = Date.now() + answer.retryAfter * 1000;
      tick();
      show(sentence(answer), "error");
    } else if (["no_pending_verification", "code_expired", "verification_id_required"].includes(answer.body.code)) {
      askForPhone(sentence(answer), "error");
    } else {
      if (answer.body.code === "action_refused") {
        nextChannel = null;
        describeNext();
      }
      show(sentence(answer), "error");
      $("code").focus();
    }
  });
});

// Another number: back to the phone form. Nothing is cancelled at Vonage: the pending code simply expires.
$("other").addEventListener("click", () => askForPhone());

$("again").addEventListener("click", () => {
  $("phone").value = "";
  askForPhone();
});

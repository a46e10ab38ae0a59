// The demo page: post the phone number, then the code, and show each answer to the person.
"use strict";

const $ = (id) => document.getElementById(id);
let phoneNumber = "";
// The handle of this page's verification. The service also keeps it in an HttpOnly cookie; sending it
// in the body as well is what a page on another origin (no cookie) must do, so this page shows that way.
let verificationId = "";

// The claims of a JWT, for display only: the page never trusts them, the backend verifies the signature.
function claimsOf(token) {
  const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(atob(payload.padEnd(payload.length + (4 - payload.length % 4) % 4, "=")));
}

function handle() {
  return verificationId ? { verificationId } : {};
}

// The CAPTCHA widget, when the service asks for one (it sets data-captcha on <main>). Each provider
// renders into a div of its class and leaves its token in a hidden input of the form.
const CAPTCHAS = {
  turnstile: { script: "https://challenges.cloudflare.com/turnstile/v0/api.js", className: "cf-turnstile",
               field: "cf-turnstile-response", api: "turnstile" },
  hcaptcha: { script: "https://js.hcaptcha.com/1/api.js", className: "h-captcha", field: "h-captcha-response",
              api: "hcaptcha" },
  recaptcha: { script: "https://www.google.com/recaptcha/api.js", className: "g-recaptcha",
               field: "g-recaptcha-response", api: "grecaptcha" },
};
const captcha = CAPTCHAS[document.querySelector("main").dataset.captcha];

if (captcha) {
  const widget = document.createElement("div");
  widget.className = captcha.className;
  widget.dataset.sitekey = document.querySelector("main").dataset.captchaSiteKey;
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

function show(text, kind) {
  const status = $("status");
  status.textContent = text;
  status.className = kind;
}

function busy(on) {
  for (const button of document.querySelectorAll("button")) button.disabled = on;
}

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
    return { ok: response.ok, status: response.status, body: data,
             retryAfter: response.headers.get("Retry-After") };
  } catch (_) {
    return { ok: false, status: 0, body: { error: "The service could not be reached. Check your connection." } };
  }
}

function problem(answer) {
  if (answer.body.code === "rate_limited" && answer.retryAfter) {
    return `Too many attempts. Try again in ${answer.retryAfter} seconds.`;
  }
  let text = answer.body.error || "Something went wrong. Please try again.";
  if (answer.retryAfter) text += ` Try again in ${answer.retryAfter} seconds.`;
  return text;
}

function askForCode() {
  $("phone-form").hidden = true;
  $("code-form").hidden = false;
  $("code").value = "";
  $("code").focus();
}

function askForPhone() {
  verificationId = "";
  $("code-form").hidden = true;
  $("phone-form").hidden = false;
  $("phone").focus();
}

$("phone-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  phoneNumber = $("phone").value.trim();
  busy(true);
  const answer = await post("/request-otp", { phoneNumber, ...captchaToken() });
  resetCaptcha();
  busy(false);
  if (answer.ok) {
    verificationId = answer.body.verificationId;
    show(answer.body.message, "ok");
    askForCode();
  } else if (answer.body.code === "verification_in_progress") {
    show(answer.body.error, "ok");
    askForCode();
  } else {
    show(problem(answer), "error");
  }
});

$("code-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  busy(true);
  const answer = await post("/check-otp", { ...handle(), code: $("code").value.trim() });
  busy(false);
  if (answer.ok) {
    verificationId = "";
    show(answer.body.message, "ok");
    $("code-form").hidden = true;
    $("verified-number").textContent = answer.body.phoneNumber;
    $("claims").textContent = JSON.stringify(claimsOf(answer.body.token), null, 2);
    $("verified").hidden = false;
    $("verified-heading").focus();
    return;
  }
  show(problem(answer), "error");
  if (["no_pending_verification", "too_many_attempts", "code_expired"].includes(answer.body.code)) askForPhone();
  else $("code").select();
});

$("resend").addEventListener("click", async () => {
  busy(true);
  const answer = await post("/resend-otp", handle());
  busy(false);
  show(answer.ok ? answer.body.message : problem(answer), answer.ok ? "ok" : "error");
});

$("cancel").addEventListener("click", async () => {
  busy(true);
  const answer = await post("/cancel-otp", handle());
  busy(false);
  // Whatever Vonage says, the person wants another number: offer the phone form again.
  show(answer.ok ? "Enter another number." : problem(answer), answer.ok ? "ok" : "error");
  if (answer.ok || answer.status === 404) askForPhone();
});

$("again").addEventListener("click", () => {
  $("verified").hidden = true;
  show("", "");
  askForPhone();
});

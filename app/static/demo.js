// The demo page: post the phone number, then the code, and show each answer to the person.
"use strict";

const $ = (id) => document.getElementById(id);
let phoneNumber = "";

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
  $("code-form").hidden = true;
  $("phone-form").hidden = false;
  $("phone").focus();
}

$("phone-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  phoneNumber = $("phone").value.trim();
  busy(true);
  const answer = await post("/request-otp", { phoneNumber });
  busy(false);
  if (answer.ok) {
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
  const answer = await post("/check-otp", { phoneNumber, code: $("code").value.trim() });
  busy(false);
  if (answer.ok) {
    show(answer.body.message, "ok");
    $("code-form").hidden = true;
    return;
  }
  show(problem(answer), "error");
  if (["no_pending_verification", "too_many_attempts", "code_expired"].includes(answer.body.code)) askForPhone();
  else $("code").select();
});

$("resend").addEventListener("click", async () => {
  busy(true);
  const answer = await post("/resend-otp", { phoneNumber });
  busy(false);
  show(answer.ok ? answer.body.message : problem(answer), answer.ok ? "ok" : "error");
});

$("cancel").addEventListener("click", async () => {
  busy(true);
  const answer = await post("/cancel-otp", { phoneNumber });
  busy(false);
  // Whatever Vonage says, the person wants another number: offer the phone form again.
  show(answer.ok ? "Enter another number." : problem(answer), answer.ok ? "ok" : "error");
  if (answer.ok || answer.status === 404) askForPhone();
});

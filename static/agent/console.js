// PayLine agent console: starts a Payments API session and follows it by short polling the
// database (any worker can answer), so several agents can work several calls at once.
// No inline script: this file is the page's only code (Content-Security-Policy script-src 'self').
"use strict";

const HEADERS = { "Content-Type": "application/json", "X-PayLine-Console": "1" };
const POLL_MS = 700;
const FINAL = ["completed", "failed", "cancelled", "unknown", "review"];

async function post(url, body) {
  const response = await fetch(url, {
    method: "POST",
    headers: HEADERS,
    body: JSON.stringify(body || {}),
    credentials: "same-origin",
  });
  let data;
  try {
    data = await response.json();
  } catch (_) {
    data = { ok: false, message: "PayLine answered HTTP " + response.status + "." };
  }
  return data;
}

function text(id, value) {
  const node = document.getElementById(id);
  if (node) node.textContent = value === null || value === undefined || value === "" ? "—" : value;
}

// -- the start form ------------------------------------------------------------------------------

function startForm(form) {
  const invoice = form.querySelector("#invoice");
  const save = form.querySelector("#save");
  const showInvoice = () => {
    const option = invoice.selectedOptions[0];
    text("amount", option && option.value ? option.dataset.amount : "");
    document.getElementById("currency").textContent = option && option.value ? option.dataset.currency : "";
    document.getElementById("customer").textContent = option && option.dataset.customer ? option.dataset.customer : "";
  };
  const showMethod = () => {
    const bank = form.querySelector("input[name=method]:checked").value === "bank";
    form.querySelectorAll(".card-only").forEach((n) => { n.hidden = bank; });
    form.querySelectorAll(".bank-only").forEach((n) => { n.hidden = !bank; });
    save.disabled = bank;
    if (bank) save.checked = false;
  };
  invoice.addEventListener("change", showInvoice);
  form.querySelectorAll("input[name=method]").forEach((n) => n.addEventListener("change", showMethod));
  showInvoice();
  showMethod();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("#start");
    const message = document.getElementById("start-message");
    const value = (name) => (form.elements[name] ? form.elements[name].value : "");
    const checked = (name) => Boolean(form.elements[name] && form.elements[name].checked);
    const bank = form.querySelector("input[name=method]:checked").value === "bank";
    const body = {
      call_sid: value("call_sid").trim(),
      invoice: value("invoice"),
      method: form.querySelector("input[name=method]:checked").value,
      purpose: checked("save") ? "save" : "pay",
      security_code: checked("security_code"),
      postal_code: checked("postal_code"),
      min_postal_code_length: value("min_postal_code_length"),
      confirmation: checked("confirmation"),
      require_matching_inputs: Array.from(
        form.querySelectorAll("input[name=require_matching_inputs]:checked")).map((n) => n.value),
      token_type: checked("save") ? value("token_type") : "",
      bank_account_type: bank ? value("bank_account_type") : "",
      avs_name: bank ? value("avs_name") : "",
    };
    button.disabled = true;
    message.textContent = "Starting…";
    try {
      const answer = await post(form.dataset.api, body);
      message.textContent = answer.message || "";
      if (answer.ok && answer.url) {
        window.location.assign(answer.url);
        return;
      }
    } catch (_) {
      message.textContent = "PayLine did not answer. Check the session list before starting again.";
    }
    button.disabled = false;
  });
}

// -- a session -----------------------------------------------------------------------------------

function sessionPage(root) {
  const api = root.dataset.api;
  let busy = false;
  let last = null;

  async function act(path, body) {
    if (busy) return;
    busy = true;
    render(last);
    try {
      const answer = await post(path, body);
      text("message", answer.message);
    } catch (_) {
      text("message", "PayLine did not answer; the session below is still live.");
    }
    busy = false;
    await refresh();
  }

  function fieldRow(view, name) {
    const row = document.createElement("tr");
    row.dataset.field = name;
    const base = name.replace(/-matcher$/, "");
    const label = (view.labels[base] || name) + (name.endsWith("-matcher") ? " (again, to match)" : "");
    const required = view.required.includes(name);
    const current = view.capture === name;
    let status = required ? "required" : "captured";
    if (current && view.partial_result) status = "caller keying…";
    else if (current && view.error_type) status = "error: " + view.error_type;
    else if (current && required) status = "asked";
    const valueFor = {
      "payment-card-number": view.values.card_number,
      "expiration-date": view.values.expiration_date,
      "security-code": view.values.security_code,
      "postal-code": view.values.postal_code,
      "bank-routing-number": view.values.routing_number,
      "bank-account-number": view.values.account_number,
    };
    const cells = [label, status, name.endsWith("-matcher") ? "" : valueFor[name] || ""];
    cells.forEach((value, i) => {
      const cell = document.createElement("td");
      cell.textContent = value;
      if (i === 1) cell.className = "status " + (required ? "required" : "done");
      row.appendChild(cell);
    });
    const cell = document.createElement("td");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "capture";
    button.dataset.capture = name;
    button.textContent = required && !current ? "Capture" : "Capture again";
    button.disabled = busy || view.state !== "active";
    button.addEventListener("click", () =>
      act(api + "/capture", { capture: name }));
    cell.appendChild(button);
    row.appendChild(cell);
    return row;
  }

  let rendered = "";

  function render(view) {
    if (!view) return;
    const key = JSON.stringify(view) + busy;
    if (key === rendered) return; // nothing changed: keep the buttons under the agent's pointer
    rendered = key;
    const method = view.payment_method === "ach-debit" ? "bank account" : "card";
    const what = view.options.purpose === "save" ? "save a card" : view.amount + " " + view.currency;
    text("summary", "Invoice " + view.invoice_number + " · " + what + " by " + method +
      " · call " + view.call_sid);
    text("state", view.state);
    text("capture", view.capture);
    text("partial", view.capture ? (view.partial_result ? "yes" : "no") : "");
    text("required", view.required.join(", ") || "nothing: ready to complete");
    text("error-type", view.error_type);
    text("card-number", view.values.card_number || view.values.account_number);
    text("card-type", view.values.card_type);
    text("expiry", view.values.expiration_date);
    if (view.message) text("message", view.message);
    const body = root.querySelector("#fields tbody");
    body.replaceChildren(...view.captures.map((name) => fieldRow(view, name)));
    const open = view.state === "active";
    document.getElementById("complete").disabled = busy || !open;
    document.getElementById("cancel").disabled = busy || !(open || view.state === "completing");
    const retries = document.getElementById("retries");
    retries.replaceChildren(...view.unanswered.map((op) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "retry";
      button.textContent = "Retry " + op.kind;
      button.disabled = busy;
      button.addEventListener("click", () =>
        act(root.dataset.retryApi.replace(/\/0\/retry$/, "/" + op.id + "/retry")));
      return button;
    }));
    const result = document.getElementById("result");
    result.hidden = !FINAL.includes(view.state);
    text("result-text", view.message || view.result);
    text("confirmation", view.confirmation_code);
    const restart = document.getElementById("restart");
    restart.href = restart.href.split("?")[0] + "?call_sid=" + encodeURIComponent(view.call_sid) +
      "&invoice=" + encodeURIComponent(view.invoice_number || "");
  }

  async function refresh() {
    try {
      const response = await fetch(api, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.ok) {
        last = await response.json();
        render(last);
      }
    } catch (_) {
      // the next poll tries again
    }
  }

  async function poll() {
    await refresh();
    if (!last || !FINAL.includes(last.state)) window.setTimeout(poll, POLL_MS);
  }

  document.getElementById("complete").addEventListener("click", () => act(api + "/complete"));
  document.getElementById("cancel").addEventListener("click", () => act(api + "/cancel"));
  poll();
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("start-form");
  if (form) startForm(form);
  const session = document.getElementById("session");
  if (session) sessionPage(session);
});

// The classroom page: live from server-sent events (GET /~admin/events), or, when
// a stream cannot be had, from polling GET /~admin/live every 300 ms.
// Controls are built once per certificate and fault: a live update only changes
// text, so a reason the teacher is choosing stays chosen.
// Changes go as JSON bodies (the admin guard's CSRF rule: a cross-site page cannot
// send JSON without a CORS preflight, which this server never grants).
"use strict";

(function () {
  const prefix = document.body.dataset.prefix;
  const POLL_MS = 300;
  let last = 0;
  let polling = null;
  const certRows = new Map();
  const faultRows = new Map();
  let currentFaults = {};
  const MARKS = { good: "✔", revoked: "✖", hold: "⏸", unknown: "?" };
  const TRUST_WORDS = {
    dtm: "Delegated Trust Model (the signer is the CA or its delegated responder)",
    trp: "Trusted Responder (the signer's certificate is in the trust store)",
    none: "no trust model accepted the signer",
  };

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function statusWord(status, extra) {
    const kind = MARKS[status] ? status : "other";
    const mark = MARKS[status] || "•";
    return el("span", { class: "st st-" + kind }, mark + " " + status + (extra ? " " + extra : ""));
  }

  function say(text, ok) {
    const box = document.getElementById("message");
    box.textContent = text;
    box.className = "message " + (ok ? "ok" : "error");
    box.hidden = false;
  }

  async function call(method, path, body) {
    let answer;
    try {
      answer = await fetch(prefix + path, {
        method: method,
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin",
      });
    } catch (err) {
      say("The responder did not answer (" + err.message + ").", false);
      return null;
    }
    let doc = null;
    try {
      doc = await answer.json();
    } catch (err) {
      doc = null;
    }
    if (!answer.ok) {
      const why = doc && doc.error ? doc.error : "HTTP " + answer.status;
      say("Refused: " + why, false);
      return null;
    }
    return doc || {};
  }

  // ---- the PKI tree with its controls -------------------------------------------------

  function certRow(cert, reasons) {
    const status = el("span", { class: "status" });
    const since = el("span", { class: "since" });
    const select = el("select", { name: "reason", "aria-label": "revocation reason for " + cert.name });
    select.append(el("option", { value: "" }, "(no reason)"));
    for (const reason of reasons) select.append(el("option", { value: reason }, reason));
    const act = (action) => async () => {
      const body = { name: cert.name };
      if (action === "revoke" && select.value) body.reason = select.value;
      const done = await call("POST", "/" + action, body);
      if (done) say(action + " " + cert.name + ": now " + done.status, true);
    };
    const controls = el(
      "div",
      { class: "controls" },
      el("label", {}, "reason ", select),
      el("button", { type: "button", class: "act-revoke", onclick: act("revoke") }, "revoke"),
      el("button", { type: "button", class: "act-hold", onclick: act("hold") }, "hold"),
      el("button", { type: "button", class: "act-release", onclick: act("release") }, "release"),
      el("button", { type: "button", class: "act-forget", onclick: act("forget"),
        title: "the responder no longer knows it: it answers unknown" }, "forget"),
    );
    const signs = el("span", { class: "signs" });
    const node = el(
      "div",
      { class: "cert", id: "cert-" + cert.name, "data-name": cert.name },
      el("div", { class: "head" },
        el("span", { class: "name" }, (cert.depth ? "└ " : "") + cert.name),
        status, since, signs),
      el("div", { class: "role" }, cert.role_words + " · serial ", el("code", {}, cert.serial),
        " · ", cert.subject, cert.from_file ? " · " + cert.from_file : ""),
      controls,
    );
    node.style.marginLeft = (cert.depth * 1.6) + "rem";
    return { node, status, since, signs };
  }

  function showPki(state, reasons) {
    const box = document.getElementById("pki");
    for (const cert of state.certificates) {
      let row = certRows.get(cert.name);
      if (!row) {
        row = certRow(cert, reasons);
        certRows.set(cert.name, row);
        box.append(row.node);
      }
      const extra = cert.reason ? "(" + cert.reason + ")" : "";
      row.status.replaceChildren(statusWord(cert.status, extra));
      row.since.textContent = cert.revoked_at ? "since " + cert.revoked_at : "";
      row.signs.textContent = cert.signs_for.length
        ? "signs answers for the certificates of: " + cert.signs_for.join(", ") : "";
    }
  }

  // ---- faults -------------------------------------------------------------------------

  function faultRow(fault) {
    let input;
    if (fault.kind === "choice") {
      input = el("select", { "aria-label": fault.key });
      for (const word of fault.words) input.append(el("option", { value: word }, word));
    } else if (fault.kind === "switch" || fault.kind === "word") {
      input = null;
    } else {
      input = el("input", { type: "text", size: "10", "aria-label": fault.key,
        placeholder: fault.kind === "http_status" ? "503" : fault.kind === "duration" ? "2s"
          : fault.kind === "offset" ? "-2d" : "text/html" });
    }
    const set = async () => {
      let value = true;
      if (fault.kind === "word") value = fault.words[0];
      else if (input) value = input.value.trim();
      if (fault.kind === "http_status") value = Number(value);
      const wanted = Object.assign({}, currentFaults, { [fault.key]: value });
      const done = await call("PUT", "/faults", wanted);
      if (done) say("fault " + fault.key + " set", true);
    };
    const node = el("div", { class: "fault", id: "fault-" + fault.key },
      el("span", { class: "what" }, el("b", {}, fault.key), ": it " + fault.imitates),
      el("div", { class: "controls" }, input,
        el("button", { type: "button", class: "set", onclick: set }, "set " + fault.key),
        input ? el("small", {}, "expects " + fault.expected) : null));
    return node;
  }

  let shownFaults = null;

  function showFaults(doc) {
    currentFaults = doc.state.faults;
    showFaultCatalog(doc);
    // Redrawn only when the faults changed: a button being clicked stays in place.
    const shown = JSON.stringify(currentFaults);
    if (shown === shownFaults) return;
    shownFaults = shown;
    const now = document.getElementById("faults-now");
    const keys = Object.keys(currentFaults);
    now.replaceChildren();
    now.className = "faults-now" + (keys.length ? "" : " none");
    if (!keys.length) {
      now.append(el("p", {}, "✔ No fault: the responder behaves as RFC 6960 says."));
    } else {
      const list = el("ul", {});
      keys.forEach((key, i) => {
        const clear = async () => {
          const wanted = Object.assign({}, currentFaults, { [key]: null });
          const done = await call("PUT", "/faults", wanted);
          if (done) say("fault " + key + " cleared", true);
        };
        list.append(el("li", {}, "⚠ It " + doc.state.misbehaviour[i] + " ",
          el("code", {}, key + " = " + JSON.stringify(currentFaults[key])), " ",
          el("button", { type: "button", class: "clear", onclick: clear }, "clear " + key)));
      });
      now.append(el("p", {}, el("b", {}, "In force:")), list);
    }
  }

  function showFaultCatalog(doc) {
    const box = document.getElementById("fault-list");
    for (const fault of doc.faults_catalog) {
      if (!faultRows.has(fault.key)) {
        const row = faultRow(fault);
        faultRows.set(fault.key, row);
        box.append(row);
      }
    }
  }

  // ---- requests as stories ------------------------------------------------------------

  function decision(label, verdict) {
    if (!verdict) return null;
    const allowed = verdict.decision === "allowed";
    return el("span", { class: "decision" }, label + ": ",
      el("span", { class: "verdict " + (allowed ? "allowed" : "refused") },
        (allowed ? "✔ allows" : "✖ refuses") + " the connection"),
      " — " + verdict.sentence);
  }

  function story(req) {
    const asked = req.asked.length
      ? req.asked.map((a) => (a.name || "a certificate unknown to the lab") + " (serial " + a.serial + ")").join(", ")
      : "nothing readable";
    const judged = req.judged || {};
    const answerBits = [];
    if (judged.signer) answerBits.push("signed by " + judged.signer);
    if (judged.this_update) answerBits.push("thisUpdate " + judged.this_update);
    answerBits.push("nextUpdate " + (judged.next_update || "none"));
    answerBits.push(req.nonce ? "nonce: " + (judged.nonce || "sent") : "no nonce asked");
    const reason = judged.reason ? "(" + judged.reason + ")" : "";
    const summary = el("summary", {},
      el("div", { class: "line" },
        el("span", {}, req.at),
        el("span", {}, req.client + " asked (" + req.method + ") about " + asked),
        el("span", {}, "answer: ", statusWord(req.answer, reason), req.cached ? " (from the cache of pre-signed answers)" : "")),
      el("div", { class: "line small" }, answerBits.join(" · ")),
      judged.error ? el("div", {}, judged.error) : el("div", { class: "decisions" },
        decision("Unified CM, Common Criteria ON", judged.cc_on),
        decision("Common Criteria OFF", judged.cc_off)));
    const steps = el("ol", { class: "steps" });
    if (judged.trust) steps.append(el("li", {}, el("span", { class: "outcome" }, "trust: "), judged.trust));
    for (const step of judged.steps || []) {
      steps.append(el("li", {}, el("span", { class: "outcome" }, step.step + " " + step.outcome + ": "),
        step.detail));
    }
    if (!steps.children.length) steps.append(el("li", {}, "no evidence kept for this answer"));
    return el("details", { class: "story fresh", id: "req-" + req.id, "data-id": String(req.id) },
      summary, steps);
  }

  function showRequests(doc) {
    const box = document.getElementById("requests");
    if (!doc.requests.length) return;
    const empty = box.querySelector(".empty");
    if (empty) empty.remove();
    for (const old of box.querySelectorAll(".story.fresh")) old.classList.remove("fresh");
    for (const req of doc.requests) {
      if (document.getElementById("req-" + req.id)) continue;
      box.prepend(story(req));
    }
    while (box.children.length > 60) box.lastElementChild.remove();
  }

  // ---- TLS connections, beside the OCSP requests they caused ---------------------------

  // A request belongs to the connection it was answered during (the staple fetched for
  // it, or the peer's own OCSP check); SLACK_S covers the two clocks' rounding. Each
  // request goes to one connection at most: the one that contains it, else the nearest.
  const SLACK_S = 0.005;
  const requestsSeen = new Map();  // request id -> {t, label}
  const connsSeen = new Map();     // connection id -> {conn, node, caused, shown}

  function connection(conn) {
    const kind = conn.outcome === "completed" ? "completed" : conn.refused ? "refused" : "other";
    const mark = kind === "completed" ? "✔ " : kind === "refused" ? "✖ " : "• ";
    const bits = [conn.staple_words];
    if (conn.protocol) bits.push(conn.protocol);
    bits.push(conn.ms + " ms");
    const caused = el("div", { class: "caused small" });
    const node = el("div", { class: "conn conn-" + kind + " fresh", id: "conn-" + conn.id,
      "data-id": String(conn.id) },
      el("div", { class: "line" },
        el("span", {}, conn.at),
        el("span", {}, conn.peer + " connected; the endpoint presented " + conn.presented),
        el("span", { class: "small" }, bits.join(" · "))),
      el("div", { class: "did" }, el("span", { class: "verdict " +
        (kind === "completed" ? "allowed" : kind === "refused" ? "refused" : "") }, mark),
        conn.words),
      caused);
    return { conn, node, caused };
  }

  function owner(t) {
    let best = null;
    let distance = Infinity;
    for (const row of connsSeen.values()) {
      const off = t < row.conn.t_start ? row.conn.t_start - t
        : t > row.conn.t_end ? t - row.conn.t_end : 0;
      if (off <= SLACK_S && off < distance) {
        best = row;
        distance = off;
      }
    }
    return best;
  }

  function relate() {
    const caused = new Map();
    for (const [id, req] of requestsSeen) {
      const row = owner(req.t);
      if (!row) continue;
      if (!caused.has(row)) caused.set(row, []);
      caused.get(row).push(id);
    }
    for (const row of connsSeen.values()) {
      const ids = (caused.get(row) || []).sort((a, b) => a - b);
      const key = ids.join(",");
      if (row.shown === key) continue;
      row.shown = key;
      if (!ids.length) {
        row.caused.replaceChildren("no OCSP request reached the responder while it lasted");
        continue;
      }
      row.caused.replaceChildren("OCSP requests while it lasted: ");
      ids.forEach((id, i) => {
        if (i) row.caused.append(" · ");
        row.caused.append(el("a", { href: "#req-" + id }, requestsSeen.get(id).label));
        const story = document.getElementById("req-" + id);
        if (story && !story.querySelector(".during")) {
          story.querySelector("summary").append(el("div", { class: "during small" },
            "↔ during the TLS connection from " + row.conn.peer + " at " + row.conn.at +
            " (" + row.conn.words + ")"));
        }
      });
    }
  }

  function showConnections(doc) {
    const box = document.getElementById("connections");
    const conns = doc.connections || [];
    for (const old of box.querySelectorAll(".conn.fresh")) old.classList.remove("fresh");
    for (const conn of conns) {
      if (connsSeen.has(conn.id)) continue;
      const empty = box.querySelector(".empty");
      if (empty) empty.remove();
      const row = connection(conn);
      connsSeen.set(conn.id, row);
      box.prepend(row.node);
    }
    while (box.children.length > 30) {
      const gone = box.lastElementChild;
      connsSeen.delete(Number(gone.dataset.id));
      gone.remove();
    }
    for (const req of doc.requests) {
      const asked = req.asked.map((a) => a.name || "serial " + a.serial).join(", ");
      requestsSeen.set(req.id, { t: req.t, label: req.at + " " + (asked || "?") + ": " + req.answer });
    }
    // Bounded, as the rows are: the oldest requests are forgotten first (Map keeps order).
    for (const id of requestsSeen.keys()) {
      if (requestsSeen.size <= 200) break;
      requestsSeen.delete(id);
    }
    relate();
  }

  // ---- CSR upload: the form's POST, answered with the certificate --------------------

  function signCsr(form) {
    const result = document.getElementById("csr-result");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();  // without script the form posts and the PEM downloads
      result.replaceChildren(el("p", {}, "signing…"));
      let answer;
      let doc = null;
      try {
        // The page's CSRF token travels in the form (the guard's double submit).
        answer = await fetch(form.action, { method: "POST", body: new FormData(form),
          headers: { Accept: "application/json" }, credentials: "same-origin" });
        doc = await answer.json();
      } catch (err) {
        answer = answer || { ok: false, status: "no answer" };
      }
      if (!answer.ok || !doc) {
        const why = doc && doc.error ? doc.error : "HTTP " + answer.status;
        result.replaceChildren(el("p", { class: "refusal" }, "✖ Refused: " + why));
        say("Refused: " + why, false);
        return;
      }
      const link = el("a", { download: doc.name + ".pem", id: "csr-download",
        href: URL.createObjectURL(new Blob([doc.pem], { type: "application/x-pem-file" })) },
        "download " + doc.name + ".pem");
      result.replaceChildren(
        el("p", {}, "✔ Signed by " + doc.issuer + " as ", el("b", {}, doc.name),
          " (serial ", el("code", {}, doc.serial), ", " + doc.subject + "): status ",
          statusWord(doc.status), " · ", link),
        el("pre", { id: "csr-pem", class: "pem" }, doc.pem));
      say("signed " + doc.name + ": now " + doc.status, true);
    });
  }

  // ---- the timeline serve runs on the real clock ---------------------------------------

  // Relative times count from the responder's clock (the feed's now_t), not this
  // browser's: a projector's laptop may be minutes off. Redrawn every second.
  let timeline = null;
  let skew = 0;  // responder clock minus this browser's clock, in seconds
  const STEP_MARKS = { pending: "○", done: "✔", failed: "✖", product: "▶" };

  function span(seconds) {
    const s = Math.round(Math.abs(seconds));
    if (s < 60) return s + " s";
    const minutes = Math.round(s / 60);
    if (minutes < 60) return minutes + " min";
    const h = Math.floor(minutes / 60);
    const m = minutes % 60;
    if (h < 24) return h + " h" + (m ? " " + m + " min" : "");
    return Math.floor(h / 24) + " d" + (h % 24 ? " " + (h % 24) + " h" : "");
  }

  function relative(t, now) {
    const d = t - now;
    if (Math.abs(d) < 1) return "now";
    return d > 0 ? "in " + span(d) : span(d) + " ago";
  }

  function stepWords(step, now) {
    if (step.state === "pending") return "pending — " + relative(step.due_t, now);
    const when = relative(step.ran_t, now);
    if (step.state === "done") return "done " + when;
    if (step.state === "failed") return "failed " + when + ": " + step.error;
    return "the product's part, " + when + " (expected " + step.expected + ")";
  }

  function drawTimeline() {
    const section = document.getElementById("timeline-section");
    if (!timeline || !timeline.steps.length) {
      section.hidden = true;
      return;
    }
    section.hidden = false;
    const now = Date.now() / 1000 + skew;
    const next = timeline.next === null ? null : timeline.steps[timeline.next];
    document.getElementById("timeline-next").textContent = next
      ? "next: " + next.label + " — " + relative(next.due_t, now) + " (" + next.due + ")"
      : "no step comes next: every step of the timeline has run";
    document.getElementById("timeline-started").textContent =
      "Started at " + timeline.started + " (" + relative(timeline.started_t, now) + ")";
    // Rows are made once per plan and then only their words change (as the PKI's are).
    const list = document.getElementById("timeline-steps");
    const labels = timeline.steps.map((step) => step.label).join("\n");
    if (list.dataset.labels !== labels) {
      list.dataset.labels = labels;
      list.replaceChildren(...timeline.steps.map((step) =>
        el("li", { class: "tl-step", id: "tl-step-" + step.index },
          el("span", { class: "tl-mark" }), " ", el("b", {}, step.label), " ",
          el("span", { class: "small" }, "due " + step.due), " · ",
          el("span", { class: "tl-state" }))));
    }
    timeline.steps.forEach((step, i) => {
      const row = list.children[i];
      row.className = "tl-step tl-" + step.state + (next === step ? " tl-next" : "");
      row.dataset.state = step.state;
      row.querySelector(".tl-mark").textContent = STEP_MARKS[step.state] || "•";
      row.querySelector(".tl-state").textContent = stepWords(step, now);
    });
  }

  function showTimeline(doc) {
    timeline = doc.timeline || null;
    if (timeline) skew = timeline.now_t - Date.now() / 1000;
    drawTimeline();
  }

  setInterval(drawTimeline, 1000);

  // ---- live ---------------------------------------------------------------------------

  function apply(doc) {
    document.getElementById("now").textContent = doc.state.now;
    showPki(doc.state, doc.reasons);
    showFaults(doc);
    showRequests(doc);
    showConnections(doc);
    showTimeline(doc);
    last = Math.max(last, doc.last);
  }

  function live(text) {
    document.getElementById("live").textContent = text;
  }

  function poll() {
    if (polling) return;
    live("live (polling every " + POLL_MS + " ms)");
    const tick = async () => {
      try {
        const answer = await fetch(prefix + "/live?after=" + last, { headers: { Accept: "application/json" } });
        if (answer.ok) apply(await answer.json());
      } catch (err) {
        live("the responder does not answer; trying again");
      }
      polling = setTimeout(tick, POLL_MS);
    };
    polling = setTimeout(tick, 0);
  }

  function stream() {
    if (!window.EventSource) return poll();
    const source = new EventSource(prefix + "/events?after=" + last);
    source.addEventListener("feed", (event) => {
      live("● live (server-sent events)");
      apply(JSON.parse(event.data));
    });
    source.addEventListener("error", () => {
      // CLOSED: refused (too many streams, or no access): poll instead. CONNECTING:
      // the stream ended on purpose or dropped, and the browser reconnects by itself.
      if (source.readyState === EventSource.CLOSED) poll();
      else live("reconnecting…");
    });
  }

  const csrForm = document.getElementById("csr-form");
  if (csrForm) signCsr(csrForm);
  const first = document.getElementById("first-feed");
  if (first) apply(JSON.parse(first.textContent));
  stream();
})();

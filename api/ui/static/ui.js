// Clausewise web UI: keyboard review, live upload progress. Loaded from 'self' (CSP: no inline script).
// Every request that changes something carries the session's CSRF token (X-CSRF-Token); text is set with
// textContent only, never parsed as HTML.
(function () {
  "use strict";
  const csrf = document.body.dataset.csrf || "";

  // ---- documents: upload several files at once, each with live progress ----
  const drop = document.getElementById("upload");
  const picker = document.getElementById("files");
  const list = document.getElementById("uploads");
  const watching = new Map(); // document id -> <li>

  function line(name) {
    const li = document.createElement("li");
    li.textContent = name + ": uploading";
    list.appendChild(li);
    return li;
  }

  async function send(file) {
    const li = line(file.name);
    const body = new FormData();
    body.append("file", file, file.name);
    try {
      const r = await fetch("/ui/documents", {method: "POST", body, headers: {"X-CSRF-Token": csrf},
                                              credentials: "same-origin"});
      const j = await r.json();
      if (!r.ok) { li.textContent = file.name + ": refused (" + (j.error_code || r.status) + ") " + (j.detail || ""); return; }
      li.dataset.documentId = j.document_id;
      li.textContent = file.name + ": " + (j.duplicate_of ? "already uploaded, " + j.status : j.status);
      watching.set(j.document_id, {li, name: file.name});
      poll();
    } catch (e) { li.textContent = file.name + ": upload failed"; }
  }

  let timer = null;
  async function poll() {
    if (timer) return;
    timer = setTimeout(async function tick() {
      const ids = [...watching.keys()];
      if (!ids.length) { timer = null; return; }
      try {
        const r = await fetch("/ui/documents/status?ids=" + encodeURIComponent(ids.join(",")),
                              {credentials: "same-origin"});
        const j = await r.json();
        for (const [id, st] of Object.entries(j)) {
          const w = watching.get(id);
          if (!w) continue;
          w.li.textContent = w.name + ": " + st.status +
            (st.error_code ? ": " + (st.error_plain || "") + " (" + st.error_code + ")" : "");
          w.li.className = "status-" + st.status;
          if (st.status === "indexed" || st.status === "failed") {
            const a = document.createElement("a");
            a.href = "/ui/documents/" + encodeURIComponent(id);
            a.textContent = " open";
            w.li.appendChild(a);
            watching.delete(id);
          }
        }
      } catch (e) { /* keep polling */ }
      timer = watching.size ? setTimeout(tick, 1000) : null;
    }, 500);
  }

  if (drop && picker) {
    picker.addEventListener("change", () => { [...picker.files].forEach(send); picker.value = ""; });
    drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over");
                                           [...e.dataTransfer.files].forEach(send); });
  }

  // ---- review page: select a suggestion, its passage is highlighted and scrolled to; j/k/a/r/? keys ----
  const items = [...document.querySelectorAll("li.suggestion")];
  let current = -1;

  function select(i) {
    if (!items.length) return;
    current = Math.max(0, Math.min(items.length - 1, i));
    items.forEach((el) => el.classList.remove("active"));
    document.querySelectorAll("mark.active").forEach((m) => m.classList.remove("active"));
    const el = items[current];
    el.classList.add("active");
    el.scrollIntoView({block: "nearest"});
    const mark = document.querySelector('mark[data-suggestion-id="' + CSS.escape(el.dataset.suggestionId) + '"]');
    if (mark) { mark.classList.add("active"); mark.scrollIntoView({block: "center"}); }
  }

  async function decide(el, decision) {
    const form = el.querySelector("form.decide");
    if (!form) return;
    const body = new URLSearchParams();
    body.set("decision", decision);
    body.set("csrf", csrf);
    if (decision === "reject") {
      body.set("reason_code", form.querySelector("select[name=reason_code]").value);
      body.set("comment", form.querySelector("input[name=comment]").value);
    }
    const r = await fetch(form.action, {method: "POST", body, credentials: "same-origin",
                                        headers: {"X-CSRF-Token": csrf}});
    if (r.ok) {
      el.classList.remove("decided-confirm", "decided-reject");
      el.classList.add("decided-" + decision);
      let d = el.querySelector(".decision");
      if (!d) { d = document.createElement("div"); d.className = "decision"; form.before(d); }
      d.textContent = decision + (decision === "reject" ? " (" + body.get("reason_code") + ")" : "");
      select(current + 1);
    } else {
      const j = await r.json().catch(() => ({}));
      alertLine(el, (j.error_code || r.status) + ": " + (j.detail || "refused"));
    }
  }

  function alertLine(el, text) {
    let p = el.querySelector(".error");
    if (!p) { p = document.createElement("p"); p.className = "error"; el.appendChild(p); }
    p.textContent = text;
  }

  items.forEach((el, i) => el.addEventListener("click", (e) => {
    if (e.target.closest("form")) return;
    select(i);
  }));
  document.querySelectorAll("form.decide").forEach((form) => form.addEventListener("submit", (e) => {
    e.preventDefault();
    const el = form.closest("li.suggestion");
    current = items.indexOf(el);
    decide(el, (e.submitter && e.submitter.value) || "confirm");
  }));

  document.addEventListener("keydown", (e) => {
    if (e.target.closest("input, select, textarea") || e.ctrlKey || e.metaKey || e.altKey) return;
    const review = document.getElementById("review");
    if (e.key === "n" && review && review.dataset.documentId) {
      e.preventDefault();
      window.location.assign("/ui/queue/next?after=" + encodeURIComponent(review.dataset.documentId));
      return;
    }
    if (!items.length) return;
    if (e.key === "j") select(current + 1);
    else if (e.key === "k") select(current - 1);
    else if (e.key === "a" && current >= 0) decide(items[current], "confirm");
    else if (e.key === "r" && current >= 0) decide(items[current], "reject");
    else if (e.key === "?") { const d = document.getElementById("keys"); if (d) d.open ? d.close() : d.showModal(); }
    else return;
    e.preventDefault();
  });
  if (items.length) select(0);

  // ---- add a mapping: the passage the reviewer selected in the text, a control picked from the catalog ----
  const add = document.getElementById("add-mapping");
  const text = document.querySelector("article.text");
  let selected = "";
  if (add && text) {
    const shown = add.querySelector(".selected");
    document.addEventListener("selectionchange", () => {
      const sel = window.getSelection();
      if (!sel || sel.isCollapsed || !text.contains(sel.anchorNode)) return;
      selected = sel.toString().trim();
      shown.textContent = selected ? "Selected: “" + selected.slice(0, 160) + (selected.length > 160 ? "…" : "") + "”"
                                   : "No passage selected.";
    });
    add.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!selected) { shown.textContent = "Select a passage in the text first."; return; }
      const body = {framework: add.querySelector("select[name=framework]").value,
                    control_id: add.querySelector("input[name=control_id]").value.trim(), quote: selected};
      const r = await fetch("/ui/documents/" + encodeURIComponent(add.dataset.documentId) + "/mappings", {
        method: "POST", credentials: "same-origin", body: JSON.stringify(body),
        headers: {"X-CSRF-Token": csrf, "Content-Type": "application/json"}});
      const j = await r.json().catch(() => ({}));
      shown.textContent = r.ok ? "Added " + body.control_id + " (confirmed by you)."
                               : "Refused: " + (j.error_code || r.status) + " " + (j.detail || "");
      shown.className = r.ok ? "selected ok" : "selected error";
    });
  }
  // ---- review queue: j/k open the next/previous item beside the list, a/r decide it, x selects for bulk ----
  const queue = document.getElementById("queue-table");
  let row = -1;
  function rows() { return [...document.querySelectorAll("#queue-table tbody tr[data-suggestion-id]")]; }
  function openRow(i) {
    const all = rows();
    if (!all.length) return;
    row = Math.max(0, Math.min(all.length - 1, i));
    all.forEach((r) => r.classList.remove("active"));
    all[row].classList.add("active");
    all[row].scrollIntoView({block: "nearest"});
    const b = all[row].querySelector("button.open");
    if (b) b.click();
  }
  if (queue) {
    document.addEventListener("keydown", (e) => {
      if (e.target.closest("input, select, textarea") || e.ctrlKey || e.metaKey || e.altKey) return;
      const pane = document.querySelector("#item form.decide");
      if (e.key === "j") openRow(row + 1);
      else if (e.key === "k") openRow(row - 1);
      else if (e.key === "a" && pane) pane.querySelector("button.confirm").click();
      else if (e.key === "r" && pane) pane.querySelector("button.reject").click();
      else if (e.key === "x" && row >= 0) {
        const c = rows()[row] && rows()[row].querySelector("input[type=checkbox]:not([disabled])");
        if (c) c.checked = !c.checked;
      } else if (e.key === "?") { const d = document.getElementById("keys"); if (d) d.open ? d.close() : d.showModal(); }
      else return;
      e.preventDefault();
    });
    // after a decision the table is swapped in afresh: mark the row of the item now open
    document.body.addEventListener("htmx:afterSettle", () => {
      const open = document.querySelector("#item .item-open");
      const all = rows();
      all.forEach((r) => r.classList.remove("active"));
      if (!open) return;
      const i = all.findIndex((r) => r.dataset.suggestionId === open.dataset.suggestionId);
      if (i >= 0) { row = i; all[i].classList.add("active"); }
    });
  }

  // ---- htmx: a refused request shows its error in plain words (code kept) instead of failing silently ----
  document.body.addEventListener("htmx:responseError", (e) => {
    const flash = document.getElementById("flash");
    if (!flash) return;
    let text = "Request refused (" + e.detail.xhr.status + ")";
    try {
      const j = JSON.parse(e.detail.xhr.responseText);
      text = (j.detail || "refused") + " (" + (j.error_code || e.detail.xhr.status) + ")";
    } catch (err) { /* not JSON */ }
    flash.textContent = text;
    flash.hidden = false;
  });

  document.addEventListener("keydown", (e) => {
    if (e.key === "/" && !e.target.closest("input, select, textarea")) {
      const box = document.querySelector("#add-mapping input[name=control_id]");
      if (box) { e.preventDefault(); box.focus(); }
    }
  });
})();

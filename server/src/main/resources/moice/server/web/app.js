// The moice web page: chat with the served model over its own OpenAI-compatible API (/v1/chat/completions,
// streamed), one method or two side by side, and the MoICE routing of the last answer. Plain JavaScript, no build
// step, nothing loaded from elsewhere.
"use strict";

const $ = (id) => document.getElementById(id);
// Categorical colours for the experts (RoPE bases), in expert order; distinct on a dark background.
const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#edc948", "#76b7b2", "#ff9da7",
                 "#9c755f", "#bab0ac"];

const state = {
  model: null,            // the model id
  methods: [],            // method names, the default first
  routingMethods: [],     // those that report routing (MoICE family)
  conv: { a: [], b: [] }, // the conversation of each pane: [{role, content}]
  routing: { a: null, b: null }, // the routing of each pane's last answer
  busy: false,
};

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("key").value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

function showError(message) {
  const e = $("error");
  e.textContent = message;
  e.hidden = !message;
}

async function loadModels() {
  const r = await fetch("v1/models", { headers: headers() });
  if (r.status === 401) {
    $("key-label").hidden = false;
    $("model").textContent = "this server needs an API key";
    return false;
  }
  const body = await r.json();
  const m = body.data[0];
  state.model = m.id;
  state.methods = m.moice.methods;
  state.routingMethods = m.moice.routing_methods || [];
  $("model").textContent = m.id + " · context " + m.moice.context;
  for (const sel of [$("method-a"), $("method-b")]) {
    sel.replaceChildren(...state.methods.map((name) => {
      const o = document.createElement("option");
      o.value = o.textContent = name;
      return o;
    }));
  }
  // the second method defaults to the first one that differs from the default
  if (state.methods.length > 1) $("method-b").value = state.methods[1];
  paneTitles();
  return true;
}

function paneTitles() {
  const compare = $("compare").checked;
  $("pane-b").hidden = !compare;
  $("method-b").disabled = !compare;
  $("panes").classList.toggle("two", compare);
  $("pane-a").querySelector(".pane-title").textContent = compare ? $("method-a").value : "";
  $("pane-b").querySelector(".pane-title").textContent = $("method-b").value;
  $("routing-pane-label").hidden = !compare;
}

function resetChat() {
  for (const p of ["a", "b"]) {
    state.conv[p] = [];
    state.routing[p] = null;
    $("pane-" + p).querySelector(".messages").replaceChildren();
  }
  $("routing").hidden = true;
  $("routing").dataset.ready = "false";
  showError("");
}

function addMessage(pane, role, text) {
  const div = document.createElement("div");
  div.className = "msg " + role;
  const body = document.createElement("div");
  body.className = "text";
  body.textContent = text;
  div.append(body);
  const box = $("pane-" + pane).querySelector(".messages");
  box.append(div);
  box.scrollTop = box.scrollHeight;
  return div;
}

/** The answer as displayed: the model's text without the line breaks it may start with. */
function shown(answer) {
  return answer.replace(/^\n+/, "");
}

/** Sends the pane's conversation to METHOD, streaming the answer into a new message; resolves when it ends. */
async function ask(pane, method) {
  const msg = addMessage(pane, "assistant", "");
  msg.dataset.method = method;
  msg.dataset.done = "false";
  const text = msg.querySelector(".text");
  text.classList.add("streaming");
  const routing = state.routingMethods.includes(method);
  const request = {
    model: state.model,
    messages: state.conv[pane],
    max_tokens: Math.max(1, parseInt($("max-tokens").value, 10) || 256),
    temperature: Math.max(0, parseFloat($("temperature").value) || 0),
    stream: true,
    stream_options: { include_usage: true },
    moice: { method: method, routing_tokens: routing },
  };
  const started = performance.now();
  let first = null, answer = "", usage = null, ext = null, finish = null;
  try {
    const r = await fetch("v1/chat/completions", { method: "POST", headers: headers(), body: JSON.stringify(request) });
    if (!r.ok) {
      let message = "HTTP " + r.status;
      try { message = (await r.json()).error.message; } catch (e) { /* not JSON */ }
      throw new Error(message);
    }
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        for (const line of event.split("\n")) {
          if (!line.startsWith("data: ")) continue;
          const data = line.slice(6);
          if (data === "[DONE]") continue;
          const chunk = JSON.parse(data);
          if (chunk.error) throw new Error(chunk.error.message);
          if (chunk.usage) usage = chunk.usage;
          if (chunk.moice) ext = chunk.moice;
          const choice = chunk.choices && chunk.choices[0];
          if (!choice) continue;
          if (choice.finish_reason) finish = choice.finish_reason;
          const piece = choice.delta && choice.delta.content;
          if (piece) {
            if (first === null) first = performance.now();
            answer += piece;
            text.textContent = shown(answer);
            const box = msg.parentElement;
            box.scrollTop = box.scrollHeight;
          }
        }
      }
    }
  } catch (e) {
    msg.classList.add("failed");
    text.textContent = shown(answer) + (answer ? "\n" : "") + "⚠ " + e.message;
    msg.dataset.done = "error";
    text.classList.remove("streaming");
    return;
  }
  text.classList.remove("streaming");
  state.conv[pane].push({ role: "assistant", content: answer });
  const seconds = (performance.now() - started) / 1000;
  const meta = document.createElement("div");
  meta.className = "meta";
  const parts = [method];
  if (usage) parts.push(usage.completion_tokens + " tokens", usage.prompt_tokens + " in context");
  parts.push(seconds.toFixed(2) + " s");
  if (first !== null) parts.push("first token " + ((first - started) / 1000).toFixed(2) + " s");
  if (finish === "length") parts.push("cut at max tokens");
  meta.textContent = parts.join(" · ");
  msg.append(meta);
  msg.dataset.done = "true";
  if (ext && ext.routing) {
    state.routing[pane] = { method: method, data: ext.routing };
    $("routing-pane").value = pane;
  }
}

async function send(event) {
  event.preventDefault();
  if (state.busy) return;
  const prompt = $("prompt").value.trim();
  if (!prompt) return;
  showError("");
  state.busy = true;
  $("send").disabled = true;
  $("prompt").value = "";
  const panes = $("compare").checked ? [["a", $("method-a").value], ["b", $("method-b").value]]
                                     : [["a", $("method-a").value]];
  for (const [p] of panes) {
    state.conv[p].push({ role: "user", content: prompt });
    addMessage(p, "user", prompt);
  }
  try {
    // compare: both methods at once, each in its own request (the server runs them concurrently when it may)
    await Promise.all(panes.map(([p, m]) => ask(p, m)));
  } finally {
    state.busy = false;
    $("send").disabled = false;
    $("prompt").focus();
  }
  // show the routing of the left pane's answer, else the right one's
  const shown = state.routing.a ? "a" : state.routing.b ? "b" : null;
  if (shown) {
    $("routing-pane").value = shown;
    renderRouting();
  } else {
    $("routing").hidden = true;
  }
}

// ---- routing view ----

function fmtBase(b) {
  if (b >= 1e6) return (b / 1e6).toFixed(b % 1e6 ? 2 : 0) + "M";
  if (b >= 1e3) return (b / 1e3).toFixed(b % 1e3 ? 1 : 0) + "k";
  return String(b);
}

function showToken(t) {
  return JSON.stringify(t).slice(1, -1);
}

function renderRouting() {
  const entry = state.routing[$("routing-pane").value] || state.routing.a || state.routing.b;
  if (!entry) return;
  const r = entry.data;
  const section = $("routing");
  section.hidden = false;
  $("routing-method").textContent = "(" + entry.method + ", top " + r.top_k + " of " + r.bases.length + " bases)";
  // legend
  $("legend").replaceChildren(...r.bases.map((b, e) => {
    const item = document.createElement("span");
    item.className = "swatch";
    const dot = document.createElement("i");
    dot.style.background = PALETTE[e % PALETTE.length];
    item.append(dot, document.createTextNode("base " + fmtBase(b) + " (×" + (b / r.bases[0]).toFixed(2) + ")"));
    return item;
  }));
  // layer choice
  const sel = $("routing-layer");
  const keep = sel.value;
  sel.replaceChildren(...["all", ...r.layers.map((l) => String(l.layer))].map((v) => {
    const o = document.createElement("option");
    o.value = v;
    o.textContent = v === "all" ? "all" : "layer " + v;
    return o;
  }));
  sel.value = [...sel.options].some((o) => o.value === keep) ? keep : "all";
  drawHeatmap(r);
  drawShares(r);
  section.dataset.ready = "true";
}

function drawHeatmap(r) {
  const canvas = $("heatmap");
  const wrap = $("heatmap-wrap");
  const layers = $("routing-layer").value === "all" ? r.layers : r.layers.filter((l) => String(l.layer) === $("routing-layer").value);
  const heads = layers.length ? layers[0].experts.length : 0;
  const T = r.tokens.length;
  const rows = layers.length * heads;
  const label = 44;
  const cellW = Math.max(3, Math.min(22, Math.floor((wrap.clientWidth - label - 4) / Math.max(1, T))));
  const cellH = layers.length === 1 ? 18 : Math.max(3, Math.min(12, Math.floor(560 / Math.max(1, rows))));
  const gap = layers.length === 1 ? 0 : 2; // between layers
  const width = label + T * cellW, height = rows * cellH + (layers.length - 1) * gap;
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.ceil(width * dpr);
  canvas.height = Math.ceil(height * dpr);
  canvas.style.width = width + "px";
  canvas.style.height = height + "px";
  canvas.dataset.tokens = T;
  canvas.dataset.rows = rows;
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, width, height);
  g.font = "11px system-ui, sans-serif";
  g.textBaseline = "middle";
  const cells = []; // row -> {layer, head, y}
  let y = 0;
  for (const l of layers) {
    g.fillStyle = "#9aa4b2";
    g.fillText("L" + l.layer, 2, y + Math.min(heads * cellH, 14) / 2 + 1);
    for (let h = 0; h < heads; h++) {
      cells.push({ layer: l, head: h, y: y });
      const ex = l.experts[h], wt = l.weights[h];
      for (let p = 0; p < T && p < ex.length; p++) {
        const e = ex[p][0];
        g.globalAlpha = 0.3 + 0.7 * Math.min(1, wt[p][0]);
        g.fillStyle = PALETTE[e % PALETTE.length];
        g.fillRect(label + p * cellW, y, cellW - (cellW > 5 ? 1 : 0), cellH - (cellH > 5 ? 1 : 0));
      }
      g.globalAlpha = 1;
      y += cellH;
    }
    y += gap;
  }
  // the answer starts here
  if (r.prompt_tokens < T) {
    g.fillStyle = "#ffffff";
    g.fillRect(label + r.prompt_tokens * cellW - 1, 0, 2, height);
  }
  const tip = $("tip");
  tip.hidden = true;
  canvas.onmousemove = (ev) => {
    const box = canvas.getBoundingClientRect();
    const x = ev.clientX - box.left, yy = ev.clientY - box.top;
    const p = Math.floor((x - label) / cellW);
    const row = cells.find((c) => yy >= c.y && yy < c.y + cellH);
    if (p < 0 || p >= T || !row) { tip.hidden = true; return; }
    const ex = row.layer.experts[row.head][p], wt = row.layer.weights[row.head][p];
    const choices = ex.map((e, k) => "base " + fmtBase(r.bases[e]) + " " + (100 * wt[k]).toFixed(1) + "%").join(", ");
    tip.textContent = "“" + showToken(r.tokens[p]) + "” · token " + p + (p >= r.prompt_tokens ? " (answer)" : " (prompt)")
        + " · layer " + row.layer.layer + " head " + row.head + " · " + choices;
    tip.hidden = false;
    // fixed to the viewport, so that the scrolling heat map never clips it
    tip.style.left = Math.max(4, Math.min(ev.clientX + 12, window.innerWidth - tip.offsetWidth - 8)) + "px";
    tip.style.top = (ev.clientY + 16) + "px";
  };
  canvas.onmouseleave = () => { tip.hidden = true; };
}

function drawShares(r) {
  const rows = r.layers.map((l) => {
    const counts = new Array(r.bases.length).fill(0);
    for (const head of l.selected) head.forEach((c, e) => { counts[e] += c; });
    const total = counts.reduce((a, b) => a + b, 0) || 1;
    const row = document.createElement("div");
    row.className = "layer";
    row.dataset.layer = l.layer;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = "L" + l.layer;
    const bar = document.createElement("span");
    bar.className = "bar";
    counts.forEach((c, e) => {
      const share = c / total;
      const seg = document.createElement("i");
      seg.className = "seg";
      seg.dataset.expert = e;
      seg.dataset.share = share.toFixed(6);
      seg.style.width = (100 * share) + "%";
      seg.style.background = PALETTE[e % PALETTE.length];
      seg.title = "layer " + l.layer + ", base " + fmtBase(r.bases[e]) + ": " + (100 * share).toFixed(1) + "% ("
          + c + " of " + total + ")";
      if (share >= 0.08) seg.textContent = Math.round(100 * share) + "%";
      bar.append(seg);
    });
    row.append(name, bar);
    return row;
  });
  $("shares").replaceChildren(...rows);
}

// ---- wiring ----

window.addEventListener("DOMContentLoaded", async () => {
  $("ask").addEventListener("submit", send);
  $("prompt").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      $("ask").requestSubmit();
    }
  });
  $("compare").addEventListener("change", paneTitles);
  $("method-a").addEventListener("change", paneTitles);
  $("method-b").addEventListener("change", paneTitles);
  $("reset").addEventListener("click", resetChat);
  $("routing-layer").addEventListener("change", renderRouting);
  $("routing-pane").addEventListener("change", renderRouting);
  $("key").addEventListener("change", () => loadModels().catch((e) => showError(e.message)));
  window.addEventListener("resize", () => { if (!$("routing").hidden) renderRouting(); });
  try {
    if (await loadModels()) document.body.dataset.ready = "true";
  } catch (e) {
    showError("cannot reach the server: " + e.message);
  }
});

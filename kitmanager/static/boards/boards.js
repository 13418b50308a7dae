// Boards page: follows the running job by polling its small JSON every second (a request
// never waits on a board, and no worker thread is held open), and refreshes the list of
// connected ports every few seconds while nobody is typing in it.

const job = document.getElementById("job");
const ports = document.getElementById("ports");

function text(element, value) {
  if (element && element.textContent !== value) element.textContent = value;
}

function summaryLine(template, state) {
  const values = { done: state.done, total: state.total, ...state.counts };
  return template.replace(/\{(\w+)\}/g, (_match, key) => String(values[key] ?? ""));
}

function render(state) {
  for (const board of state.boards) {
    const row = job.querySelector(`li[data-port="${CSS.escape(board.port)}"]`);
    if (!row) continue;
    row.className = `job-board status-${board.status}`;
    text(row.querySelector(".phase"), board.phase_label);
    text(row.querySelector(".result"), board.status === "running" ? "" : board.status_label);
    text(row.querySelector(".notice-text"), board.notice);
    text(row.querySelector(".summary"), board.summary);
    row.querySelector(".reflash").hidden = !board.needs_reflash;
    const bar = row.querySelector("progress");
    if (board.percent === null) bar.removeAttribute("value");
    else bar.value = board.percent;
  }
  const summary = document.getElementById("job-summary");
  text(summary, summaryLine(summary.dataset.template, state));
  document.getElementById("stop-form").hidden = !state.running;
  if (!state.running) {
    job.dataset.running = "no";
    const stateLabel = document.getElementById("job-state");
    text(stateLabel, stateLabel.dataset.finished);
  }
}

async function follow() {
  let failures = 0;
  while (job.dataset.running === "yes") {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    try {
      const reply = await fetch(job.dataset.url, { headers: { Accept: "application/json" } });
      if (!reply.ok) throw new Error(String(reply.status));
      render(await reply.json());
      failures = 0;
    } catch {
      failures += 1; // the laptop out of reach for a moment: keep trying, slower
      await new Promise((resolve) => setTimeout(resolve, Math.min(failures, 10) * 1000));
    }
  }
  refreshPorts(true);
}

function busyTyping() {
  if (ports.contains(document.activeElement)) return true;
  return [...ports.querySelectorAll("input[name=label]")].some((input) => input.value);
}

async function refreshPorts(force = false) {
  if (!ports || (!force && busyTyping())) return;
  try {
    const reply = await fetch(ports.dataset.url);
    if (!reply.ok) return;
    const html = await reply.text();
    const ticked = new Set([...ports.querySelectorAll("input[name=port]:checked")].map((i) => i.value));
    if (html.trim() === ports.dataset.last) return;
    ports.dataset.last = html.trim();
    if (!force && busyTyping()) return;
    ports.innerHTML = html;
    for (const box of ports.querySelectorAll("input[name=port]")) box.checked = ticked.has(box.value);
  } catch {
    // offline for a moment: the next refresh tries again
  }
}

if (job && job.dataset.running === "yes") follow();
if (ports) setInterval(refreshPorts, 3000);

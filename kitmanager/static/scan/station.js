// The scan station: badge and kit scans from a camera or a keyboard-wedge scanner, sent to the
// laptop, queued on this device (IndexedDB) while the laptop is out of reach and sent when it is
// back. Each scan has a client id made here, so a scan sent twice is applied once by the server.
// Kits: a badge and a kit scanned here make a handout on the server (it pairs them by their own
// times, so scans queued offline pair as they happened); a kit that is out shows its return
// checklist, whose submission goes through the same queue with its own client id.
import { sha256Hex } from "./sha256.js";

const config = JSON.parse(document.getElementById("station-config").textContent);
const say = config.messages;
const $ = (id) => document.getElementById(id);
const resultBox = $("result");
const resultText = resultBox.querySelector(".result-text");
const wedge = $("wedge");
const wedgeInput = $("wedge-input");
const queueLine = $("queue");
const undoButton = $("undo");
const cameraButton = $("camera-toggle");
const cameraStatus = $("camera-status");
const video = $("camera");
const confirmBox = $("kit-confirm");
const confirmReasons = $("kit-reasons");
const confirmButton = $("kit-confirm-button");
const returnForm = $("kit-return");
const returnTitle = $("kit-return-title");
const returnLines = $("kit-return-lines");
const returnNote = $("kit-return-note");

const RESEND_MS = 4000;
const SEND_TIMEOUT_MS = 8000;
const KIOSK_CLEAR_MS = 4000;
// A badge held in front of the camera is read many times a second: the same code counts again
// only once it has been out of sight this long.
const SAME_CODE_MS = 5000;
const ROSTER_REFRESH_MS = 60000;

// ---------------------------------------------------------------- what a scanned text is
// The same rules as kitmanager.checkin.services.classify_code: only the /b/<token> path of a
// badge URL counts (any host), or a bare token.
const TOKEN = /^[A-Za-z0-9_-]{16,64}$/;

export function badgeToken(text) {
  const value = text.trim();
  if (value.includes("/")) {
    let path = value;
    try {
      path = new URL(value, "http://x").pathname;
    } catch {
      return null;
    }
    const at = path.lastIndexOf("/b/");
    if (at < 0) return null;
    const token = path.slice(at + 3).replace(/\/+$/, "");
    return TOKEN.test(token) ? token : null;
  }
  return TOKEN.test(value) ? value : null;
}

// A kit label: <any host>/k/<token>.
export function kitToken(text) {
  const value = text.trim();
  if (!value.includes("/")) return null;
  let path;
  try {
    path = new URL(value, "http://x").pathname;
  } catch {
    return null;
  }
  const at = path.lastIndexOf("/k/");
  if (at < 0) return null;
  const token = path.slice(at + 3).replace(/\/+$/, "");
  return TOKEN.test(token) ? token : null;
}

function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// ---------------------------------------------------------------- IndexedDB
// Two databases: the queue survives a logout (scans must never be lost), the roster copy does
// not (app.js deletes it when anyone logs out).
function openDb(name, store, keyPath) {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(name, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(store, { keyPath });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function run(db, store, mode, action) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(store, mode);
    const request = action(tx.objectStore(store));
    tx.oncomplete = () => resolve(request ? request.result : undefined);
    tx.onerror = () => reject(tx.error);
  });
}

const queueDb = openDb("kitmanager-queue", "scans", "client_id");
const rosterDb = openDb("kitmanager-roster", "rosters", "workshop");

const queue = {
  put: async (scan) => run(await queueDb, "scans", "readwrite", (s) => s.put(scan)),
  remove: async (id) => run(await queueDb, "scans", "readwrite", (s) => s.delete(id)),
  all: async () => {
    const scans = await run(await queueDb, "scans", "readonly", (s) => s.getAll());
    return scans.sort((a, b) => a.scanned_at.localeCompare(b.scanned_at));
  },
};

let roster = new Map();

async function loadRoster() {
  try {
    const stored = await run(await rosterDb, "rosters", "readonly", (s) => s.get(config.workshop));
    if (stored) roster = new Map(stored.people.map((p) => [p.h, p]));
  } catch {
    // no copy yet: offline scans then show without a name
  }
}

async function refreshRoster() {
  try {
    const response = await fetch(config.api.roster, { credentials: "same-origin" });
    if (!response.ok) return;
    const { people } = await response.json();
    roster = new Map(people.map((p) => [p.h, p]));
    await run(await rosterDb, "rosters", "readwrite", (s) =>
      s.put({ workshop: config.workshop, people, at: new Date().toISOString() }),
    );
  } catch {
    // offline: keep the copy we have
  }
}

// ---------------------------------------------------------------- feedback
let audio = null;
function beep(kind) {
  try {
    audio = audio || new AudioContext();
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = { ok: 880, warn: 520, bad: 220, queued: 660 }[kind] || 440;
    gain.gain.value = 0.15;
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + (kind === "bad" ? 0.45 : 0.15));
  } catch {
    // no sound on this device
  }
  if (navigator.vibrate) navigator.vibrate(kind === "bad" ? [120, 80, 120] : 80);
}

const KIND = {
  checked_in: "ok",
  already_checked_in: "warn",
  no_session: "warn",
  kit_label: "warn",
  kit_handed_out: "ok",
  kit_waiting: "warn",
  kit_needs_confirmation: "warn",
  kit_return: "warn",
  kit_returned: "ok",
  kit_unavailable: "bad",
  kit_needs_station: "bad",
  kit_not_out: "bad",
  unknown_code: "bad",
  revoked: "bad",
  wrong_workshop: "bad",
};

const NEEDS_EYES = new Set(["kit_needs_confirmation", "kit_unavailable", "kit_needs_station"]);

let clearTimer = null;
function show(kind, text) {
  resultBox.className = `result ${kind}`;
  resultBox.dataset.kind = kind;
  resultText.textContent = text;
  beep(kind);
  clearTimeout(clearTimer);
  if (config.kiosk) {
    clearTimer = setTimeout(() => {
      resultBox.className = "result idle";
      resultBox.dataset.kind = "idle";
      resultText.textContent = "";
    }, KIOSK_CLEAR_MS);
  }
}

async function updateQueueLine() {
  const waiting = (await queue.all()).length;
  queueLine.dataset.waiting = String(waiting);
  if (waiting === 0) queueLine.textContent = say.all_sent;
  else if (waiting === 1) queueLine.textContent = say.waiting_one;
  else queueLine.textContent = say.waiting_many.replace("{n}", String(waiting));
}

// ---------------------------------------------------------------- sending
let loginEnded = false;

// What a queued item sends: a scan, or a kit's return checklist (kind "return").
function request(item) {
  if (item.kind === "return") {
    return {
      url: item.url,
      body: { ...item.body, client_id: item.client_id, scanned_at: item.scanned_at },
    };
  }
  return {
    url: config.api.scan,
    body: {
      code: item.code,
      session: item.session,
      // a badge of another workshop is refused here, chosen session or not
      workshop: config.workshop,
      client_id: item.client_id,
      station: item.station,
      scanned_at: item.scanned_at,
      confirm: Boolean(item.confirm),
    },
  };
}

async function send(scan) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), SEND_TIMEOUT_MS);
  const { url, body } = request(scan);
  try {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      signal: controller.signal,
      headers: { "Content-Type": "application/json", "X-CSRFToken": config.csrf },
      body: JSON.stringify(body),
    });
    if (response.ok) return { status: "answered", body: await response.json() };
    if (response.status === 401 || response.status === 403) return { status: "login" };
    if (response.status === 400 || response.status === 404 || response.status === 422) {
      const body = await response.json().catch(() => ({}));
      return { status: "refused", reason: body.error || String(response.status) };
    }
    return { status: "offline" }; // 5xx, 429: the laptop is busy; try again later
  } catch {
    return { status: "offline" };
  } finally {
    clearTimeout(timer);
  }
}

let lastScan = null;
const sending = new Set();

async function deliver(scan, visible) {
  if (sending.has(scan.client_id)) return "busy";
  sending.add(scan.client_id);
  try {
    const answer = await send(scan);
    if (answer.status === "answered" || answer.status === "refused") {
      await queue.remove(scan.client_id);
    }
    if (answer.status === "login") loginEnded = true;
    // A kit scan sent from the queue whose answer needs someone (confirm, or refused) is
    // shown even though it was sent in the background.
    if (!visible && answer.status === "answered" && NEEDS_EYES.has(answer.body.outcome)) {
      answered(scan, answer.body);
    }
    if (visible) {
      if (answer.status === "answered") {
        answered(scan, answer.body);
      } else if (answer.status === "refused") {
        show("bad", say.server_refused.replace("{reason}", answer.reason));
      } else if (answer.status === "login") {
        show("warn", say.login_again);
      } else {
        showQueued(scan);
      }
    }
    return answer.status;
  } finally {
    sending.delete(scan.client_id);
    updateQueueLine();
  }
}

function showQueued(scan) {
  if (scan.kind === "return") {
    show("queued", say.offline_return.replace("{code}", scan.label));
    return;
  }
  if (kitToken(scan.code)) {
    show("queued", say.offline_kit);
    return;
  }
  const token = badgeToken(scan.code);
  const person = token ? roster.get(sha256Hex(token).slice(0, 32)) : null;
  if (token === null && roster.size) {
    show("bad", say.not_a_badge);
  } else if (person) {
    show("queued", say.offline_known.replace("{name}", person.name));
  } else {
    show("queued", say.offline_saved);
  }
}

// ---------------------------------------------------------------- kits: confirm, return
function hideKitPanels() {
  confirmBox.hidden = true;
  returnForm.hidden = true;
}

let toConfirm = null;
function askToConfirm(scan, body) {
  confirmReasons.replaceChildren(
    ...(body.reasons || []).map((reason) => {
      const item = document.createElement("li");
      item.textContent = reason;
      return item;
    }),
  );
  toConfirm = { code: scan.code, kit: body.kit ? body.kit.code : "" };
  confirmBox.hidden = false;
}

function element(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text) node.textContent = text;
  return node;
}

let returning = null;
// The kit's components, all ticked: untick what did not come back in good order; for a
// quantity above one, the count that came back; "damaged" when it came back broken.
function showChecklist(body) {
  returning = {
    url: config.api.kitReturn.replace("__token__", encodeURIComponent(body.kit.token)),
    code: body.kit.code,
  };
  returnTitle.textContent = say.checklist_title.replace("{code}", body.kit.code);
  returnLines.replaceChildren(
    ...body.checklist.map((line) => {
      const item = element("li", { "data-component": String(line.id) });
      const box = element("input", {
        type: "checkbox",
        id: `back-${line.id}`,
        "data-quantity": String(line.quantity),
      });
      box.checked = true;
      const label = element(
        "label",
        { for: box.id },
        line.quantity > 1 ? `${line.name} × ${line.quantity}` : line.name,
      );
      if (!line.must_return) label.append(" ", element("span", { class: "hint" }, say.consumable));
      item.append(box, label);
      let count = null;
      if (line.quantity > 1) {
        count = element("input", {
          type: "number",
          id: `count-${line.id}`,
          min: "0",
          max: String(line.quantity),
          value: String(line.quantity),
          inputmode: "numeric",
        });
        const counted = element("label", { class: "extra" }, `${say.count_back} `);
        counted.append(count);
        item.append(counted);
        box.addEventListener("change", () => {
          count.value = box.checked ? String(line.quantity) : "0";
        });
        count.addEventListener("input", () => {
          box.checked = Number(count.value) >= line.quantity;
        });
      }
      const damaged = element("input", { type: "checkbox", id: `damaged-${line.id}` });
      damaged.addEventListener("change", () => {
        if (damaged.checked && box.checked) {
          box.checked = false;
          if (count) count.value = "0";
        }
      });
      const broken = element("label", { class: "extra" });
      broken.append(damaged, ` ${say.damaged}`);
      item.append(broken);
      return item;
    }),
  );
  returnNote.value = "";
  returnForm.hidden = false;
  const first = returnLines.querySelector("input");
  if (first) first.focus();
}

function checklistCounts() {
  const missing = {};
  const damaged = {};
  for (const item of returnLines.querySelectorAll("li")) {
    const id = item.dataset.component;
    const box = item.querySelector(`#back-${id}`);
    const quantity = Number(box.dataset.quantity);
    const count = item.querySelector(`#count-${id}`);
    let back = box.checked ? quantity : 0;
    if (!box.checked && count) back = Math.max(0, Math.min(quantity, Number(count.value) || 0));
    const lacking = quantity - back;
    if (lacking > 0) {
      if (item.querySelector(`#damaged-${id}`).checked) damaged[id] = lacking;
      else missing[id] = lacking;
    }
  }
  return { missing, damaged };
}

async function submitReturn() {
  if (!returning) return;
  const item = {
    kind: "return",
    client_id: newClientId(),
    url: returning.url,
    label: returning.code,
    body: { ...checklistCounts(), note: returnNote.value.trim(), station: config.station },
    scanned_at: new Date().toISOString(),
  };
  returning = null;
  hideKitPanels();
  await queue.put(item); // like a scan: stored first, sent until the laptop answers
  wedgeInput.focus();
  await deliver(item, true);
}

function answered(scan, body) {
  let kind = KIND[body.outcome] || "bad";
  if (body.outcome === "kit_returned" && body.condition === "needs_attention") kind = "warn";
  show(kind, body.message);
  hideKitPanels();
  if (config.kiosk) return;
  if (body.outcome === "kit_needs_confirmation") askToConfirm(scan, body);
  else if (body.outcome === "kit_return" && body.checklist) showChecklist(body);
}

async function scanned(code, options = {}) {
  const text = code.trim();
  if (!text) return;
  const scan = {
    client_id: newClientId(),
    code: text,
    session: config.session,
    station: config.station,
    scanned_at: new Date().toISOString(),
    confirm: Boolean(options.confirm),
  };
  await queue.put(scan); // stored before sending: a crash or reload never loses it
  lastScan = scan.client_id;
  undoButton.disabled = false;
  await deliver(scan, true);
}

let draining = false;
async function drain() {
  if (draining || loginEnded) return;
  draining = true;
  try {
    for (const scan of await queue.all()) {
      const status = await deliver(scan, false);
      if (status === "offline" || status === "login") break;
    }
    if (resultBox.dataset.kind === "queued" && (await queue.all()).length === 0) {
      resultBox.className = "result ok";
      resultBox.dataset.kind = "ok";
      resultText.textContent = say.all_sent;
    }
  } finally {
    draining = false;
  }
}

async function undo() {
  if (!lastScan) {
    show("warn", say.nothing_to_undo);
    return;
  }
  const id = lastScan;
  lastScan = null;
  undoButton.disabled = true;
  const waiting = (await queue.all()).some((scan) => scan.client_id === id);
  if (waiting) {
    await queue.remove(id);
    updateQueueLine();
    show("warn", say.undone);
    return;
  }
  try {
    const response = await fetch(config.api.undo, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": config.csrf },
      body: JSON.stringify({ client_id: id }),
    });
    show(response.ok ? "warn" : "bad", response.ok ? say.undone : say.nothing_to_undo);
  } catch {
    show("bad", say.nothing_to_undo);
  }
}

// ---------------------------------------------------------------- keyboard-wedge scanner
// A USB or Bluetooth scanner types the code and Enter into whatever has focus: keep the field
// focused unless the person is using another control on purpose.
wedge.addEventListener("submit", (event) => {
  event.preventDefault();
  const code = wedgeInput.value;
  wedgeInput.value = "";
  scanned(code);
  wedgeInput.focus();
});
wedgeInput.addEventListener("blur", () => {
  setTimeout(() => {
    const active = document.activeElement;
    if (!active || active === document.body) wedgeInput.focus();
  }, 150);
});
undoButton.addEventListener("click", () => undo().then(() => wedgeInput.focus()));
confirmButton.addEventListener("click", () => {
  const asked = toConfirm;
  toConfirm = null;
  hideKitPanels();
  wedgeInput.focus();
  if (asked) scanned(asked.code, { confirm: true });
});
$("kit-confirm-cancel").addEventListener("click", () => {
  // the question goes with its buttons: the answer says nothing was done
  if (toConfirm) show("warn", say.not_handed_out.replace("{code}", toConfirm.kit));
  toConfirm = null;
  hideKitPanels();
  wedgeInput.focus();
});
returnForm.addEventListener("submit", (event) => {
  event.preventDefault();
  submitReturn();
});
$("kit-return-cancel").addEventListener("click", () => {
  if (returning) show("warn", say.not_returned.replace("{code}", returning.code));
  returning = null;
  hideKitPanels();
  wedgeInput.focus();
});

// ---------------------------------------------------------------- camera
let stream = null;
let detector = null;
let lastCode = { text: "", at: 0 };

async function makeDetector() {
  if ("BarcodeDetector" in window) {
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      if (formats.includes("qr_code")) return new window.BarcodeDetector({ formats: ["qr_code"] });
    } catch {
      // fall through to the bundled reader
    }
  }
  cameraStatus.textContent = say.loading_decoder;
  const module = await import(config.vendor.ponyfill);
  module.prepareZXingModule({
    overrides: {
      locateFile: (path, prefix) => (path.endsWith(".wasm") ? config.vendor.wasm : prefix + path),
    },
  });
  return new module.BarcodeDetector({ formats: ["qr_code"] });
}

async function look() {
  if (!stream) return;
  if (video.readyState >= 2) {
    try {
      const codes = await detector.detect(video);
      const now = Date.now();
      for (const found of codes) {
        const text = found.rawValue;
        const seenJustNow = text === lastCode.text && now - lastCode.at < SAME_CODE_MS;
        lastCode = { text, at: now };
        if (seenJustNow) continue;
        scanned(text);
        break;
      }
    } catch {
      // a frame that could not be read: try the next one
    }
  }
  setTimeout(look, 120);
}

async function startCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    cameraStatus.textContent = say.camera_needs_https;
    cameraButton.disabled = true;
    return;
  }
  try {
    detector = detector || (await makeDetector());
    stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: "environment" },
      audio: false,
    });
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    cameraStatus.textContent = say.camera_on;
    cameraButton.setAttribute("aria-pressed", "true");
    look();
  } catch (error) {
    cameraStatus.textContent = say.camera_failed.replace("{reason}", error.message || error.name);
    stopCamera();
  }
}

function stopCamera() {
  if (stream) for (const track of stream.getTracks()) track.stop();
  stream = null;
  video.hidden = true;
  cameraButton.setAttribute("aria-pressed", "false");
}

cameraButton.addEventListener("click", () => {
  if (stream) stopCamera();
  else startCamera();
  wedgeInput.focus(); // a scanner's keystrokes must keep landing in the field
});

// ---------------------------------------------------------------- start
if (!window.isSecureContext || !navigator.mediaDevices) {
  cameraStatus.textContent = say.camera_needs_https;
  cameraButton.disabled = true;
} else if (config.kiosk || new URLSearchParams(location.search).get("camera") === "1") {
  startCamera();
}
// Kiosk: the whole screen is the station. Browsers allow full screen only after a gesture,
// so the first tap or key press asks for it.
if (config.kiosk && document.documentElement.requestFullscreen) {
  const fullScreen = () => {
    if (!document.fullscreenElement) document.documentElement.requestFullscreen().catch(() => {});
  };
  document.addEventListener("pointerdown", fullScreen, { once: true });
  document.addEventListener("keydown", fullScreen, { once: true });
}
if ("serviceWorker" in navigator && window.isSecureContext) {
  navigator.serviceWorker
    .register(config.serviceWorker, { scope: config.scope })
    .then(() => navigator.serviceWorker.ready)
    .then((registration) => {
      registration.active.postMessage({ precache: [location.href, ...config.precache] });
      document.body.dataset.offlineReady = "1";
    })
    .catch(() => {});
}
window.addEventListener("online", drain);
setInterval(drain, RESEND_MS);
setInterval(refreshRoster, ROSTER_REFRESH_MS);
loadRoster().then(refreshRoster);
updateQueueLine().then(drain);
document.body.dataset.stationReady = "1";

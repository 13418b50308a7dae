// The scan station: badge and kit scans from a camera or a keyboard-wedge scanner, sent to the
// laptop, queued on this device (IndexedDB) while the laptop is out of reach and sent when it is
// back. Each request has a client id made here, so a request sent twice is applied once.
//
// Nothing is recorded that a person did not see and confirm:
// - a kit scanned alone waits on this page (a card with a countdown) for the next badge; the
//   badge goes with `with` = the kit, and the answer asks "Hand KIT-010 to <name>?": only the
//   Hand out button sends the handout (`confirm`). Badge then kit asks the same. The waiting
//   kit lives in this page only: a reload forgets it.
// - a kit that is out opens its return checklist, sent only by its button.
// - while a question or a checklist is open, every other scan waits ("Next: …") and is applied
//   after it closes, in order; the scanner's Enter never reaches the dialog's controls.
// Offline, the same questions are asked from the roster copy, and the queue keeps the answers.
import { sha256Hex } from "./sha256.js";

const $ = (id) => document.getElementById(id);
const config = JSON.parse($("station-config").textContent);
const say = config.messages;
// Paths, code patterns, outcomes and the pairing window: the server's, never copied here.
const vocabulary = config.scan;
const TOKEN = new RegExp(vocabulary.token);
const KIT_CODE = new RegExp(vocabulary.kit_code);
const PAIR_WINDOW_MS = vocabulary.pair_window * 1000;

const resultBox = $("result");
const resultText = resultBox.querySelector(".result-text");
const resultDetail = $("result-detail");
const nextLine = $("next");
const historyList = $("history");
const wedge = $("wedge");
const wedgeInput = $("wedge-input");
const queueLine = $("queue");
const undoButton = $("undo");
const cameraButton = $("camera-toggle");
const cameraStatus = $("camera-status");
const video = $("camera");
const pendingCard = $("kit-pending");
const pendingText = $("kit-pending-text");
const pendingLeft = $("kit-pending-left");
const questionBox = $("kit-question");
const questionTitle = $("kit-question-title");
const questionCheckIn = $("kit-question-check-in");
const questionReasons = $("kit-reasons");
const handOutButton = $("kit-hand-out");
const returnBox = $("kit-return");
const returnTitle = $("kit-return-title");
const returnLines = $("kit-return-lines");
const returnNote = $("kit-return-note");

const RESEND_MS = 4000;
const SEND_TIMEOUT_MS = 8000;
const KIOSK_CLEAR_MS = 4000;
// A code held in front of the camera is read many times a second: it counts again only once
// it has been out of sight this long.
const SAME_CODE_MS = 5000;
const ROSTER_REFRESH_MS = 60000;
// A scanner types a code's characters a few milliseconds apart; a person is far slower.
const BURST_GAP_MS = 250;
// Where a person's keys and a scanner's mix (a count, the note), the scanner is told apart by
// its pace: a run of at least SCANNER_MIN_CHARS characters, less than SCANNER_GAP_MS apart on
// average (a busy device may delay one key: a run ends only at a pause of RUN_BREAK_MS).
const SCANNER_GAP_MS = 35;
const SCANNER_MIN_CHARS = 4;
const RUN_BREAK_MS = 80;
// Answers that someone must see even when they come back for a request sent from the queue.
const NEEDS_EYES = new Set(["kit_needs_confirmation", "kit_unavailable", "kit_return"]);
// A badge answer that identified someone of this workshop: it may pair with a kit.
const IDENTIFIED = new Set(["checked_in", "already_checked_in", "no_session"]);
// Fields a person types into: their keys are theirs (the note and the counts are handled apart).
const TYPED = new Set(["text", "search", "password", "email", "url", "tel"]);

const fill = (key, values = {}) =>
  say[key].replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------- what a scanned text is
// As kitmanager.scans.classify_code: a URL counts by its /b/<token> or /k/<token> path (any
// host); a bare token is a badge; a bare kit code (KIT-002, any case) is a kit.
export function classify(text) {
  const value = String(text || "").trim();
  if (value.includes("/")) {
    let path;
    try {
      path = new URL(value, "http://x").pathname;
    } catch {
      return { kind: "unknown", text: value };
    }
    for (const [prefix, kind] of [
      [vocabulary.paths.badge, "badge"],
      [vocabulary.paths.kit, "kit"],
    ]) {
      const at = path.lastIndexOf(prefix);
      if (at >= 0) {
        const token = path.slice(at + prefix.length).replace(/\/+$/, "");
        if (TOKEN.test(token)) return { kind, token, text: value };
      }
    }
    return { kind: "unknown", text: value };
  }
  if (TOKEN.test(value)) return { kind: "badge", token: value, text: value };
  const upper = value.toUpperCase();
  if (KIT_CODE.test(upper)) return { kind: "kit", code: upper, text: value };
  return { kind: "unknown", text: value };
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

// Every scan is stored the moment it arrives, before anything else: a crash or a reload never
// loses it. `held` marks a scan not yet applied (it waits for a dialog to close); the drain
// sends only the others.
const queue = {
  put: async (item) => run(await queueDb, "scans", "readwrite", (s) => s.put(item)),
  remove: async (id) => run(await queueDb, "scans", "readwrite", (s) => s.delete(id)),
  get: async (id) => run(await queueDb, "scans", "readonly", (s) => s.get(id)),
  has: async (id) => Boolean(await run(await queueDb, "scans", "readonly", (s) => s.get(id))),
  all: async () => {
    const items = await run(await queueDb, "scans", "readonly", (s) => s.getAll());
    return items.sort((a, b) => a.scanned_at.localeCompare(b.scanned_at));
  },
};

// ---------------------------------------------------------------- the roster copy
// People and kits by the first 32 hex digits of SHA-256 of their token; kits also by code.
const roster = { people: new Map(), kits: new Map(), kitCodes: new Map() };

function useRoster({ people = [], kits = [] }) {
  roster.people = new Map(people.map((p) => [p.h, p]));
  roster.kits = new Map(kits.map((k) => [k.h, k]));
  roster.kitCodes = new Map(kits.map((k) => [k.code, k]));
}

const digest = (token) => sha256Hex(token).slice(0, 32);
const personOf = (what) => (what.kind === "badge" ? roster.people.get(digest(what.token)) : null);
function kitOf(what) {
  if (what.kind !== "kit") return null;
  return what.token ? roster.kits.get(digest(what.token)) : roster.kitCodes.get(what.code);
}

async function loadRoster() {
  try {
    const stored = await run(await rosterDb, "rosters", "readonly", (s) => s.get(config.workshop));
    if (stored) useRoster(stored);
  } catch {
    // no copy yet: offline scans then show without a name
  }
}

async function refreshRoster() {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), SEND_TIMEOUT_MS);
  try {
    const response = await fetch(config.api.roster, {
      credentials: "same-origin",
      signal: controller.signal,
    });
    away = false; // the laptop answered
    // A kiosk waiting between participants learns here that its login ended.
    if (response.status === 401 && config.kiosk) endLogin();
    if (!response.ok) return;
    const { people = [], kits = [] } = await response.json();
    useRoster({ people, kits });
    await run(await rosterDb, "rosters", "readwrite", (s) =>
      s.put({ workshop: config.workshop, people, kits, at: new Date().toISOString() }),
    );
  } catch {
    // offline: keep the copy we have
  } finally {
    clearTimeout(timer);
  }
}

// What a waiting scan is called on the "Next" line.
function nameOf(what) {
  if (what.kind === "badge") {
    const person = personOf(what);
    return person ? person.name : say.a_badge;
  }
  if (what.kind === "kit") {
    const kit = kitOf(what);
    if (kit) return kit.code;
    if (what.code) return what.code;
  }
  return what.text.length > 24 ? `${what.text.slice(0, 23)}…` : what.text;
}

// ---------------------------------------------------------------- feedback
let audio = null;
function beep(tone) {
  try {
    audio = audio || new AudioContext();
    const sound = audio.createOscillator();
    const gain = audio.createGain();
    sound.frequency.value = { ok: 880, warn: 520, bad: 220, queued: 660 }[tone] || 440;
    gain.gain.value = 0.15;
    sound.connect(gain).connect(audio.destination);
    sound.start();
    sound.stop(audio.currentTime + (tone === "bad" ? 0.45 : 0.15));
  } catch {
    // no sound on this device
  }
  if (navigator.vibrate) navigator.vibrate(tone === "bad" ? [120, 80, 120] : 80);
}

function toneOf(body) {
  if (body.outcome === "kit_returned" && body.condition === "needs_attention") return "warn";
  const known = vocabulary.outcomes[body.outcome];
  return known ? known.tone : "bad";
}

// The answers before the one shown, newest first: one replaced at once by the next scan's
// stays readable here.
const HISTORY_SIZE = 4;
function keepInHistory() {
  const tone = resultBox.dataset.kind;
  const text = resultText.textContent.trim();
  if (!text || !tone || tone === "idle") return;
  const detail = resultDetail.hidden ? "" : resultDetail.textContent;
  const entry = element("li", { "data-kind": tone }, detail ? `${text} — ${detail}` : text);
  historyList.prepend(entry);
  while (historyList.children.length > HISTORY_SIZE) historyList.lastElementChild.remove();
  historyList.hidden = false;
}

let clearTimer = null;
function show(tone, text, detail = "") {
  if (!config.kiosk) keepInHistory();
  resultBox.className = `result ${tone}`;
  resultBox.dataset.kind = tone;
  resultText.textContent = text;
  resultDetail.textContent = detail;
  resultDetail.hidden = !detail;
  beep(tone);
  clearTimeout(clearTimer);
  if (config.kiosk) {
    clearTimer = setTimeout(() => {
      resultBox.className = "result idle";
      resultBox.dataset.kind = "idle";
      resultText.textContent = "";
      resultDetail.hidden = true;
    }, KIOSK_CLEAR_MS);
  }
}

async function updateQueueLine() {
  const waiting = (await queue.all()).filter((item) => !item.held).length;
  queueLine.dataset.waiting = String(waiting);
  if (waiting === 0) queueLine.textContent = say.all_sent;
  else if (waiting === 1) queueLine.textContent = say.waiting_one;
  else queueLine.textContent = fill("waiting_many", { n: waiting });
}

// ---------------------------------------------------------------- sending
let loginEnded = false;

// The login under this page ended. A kiosk has nobody at it who could log in again: it
// loads its page anew, which the laptop answers with the login page (the kiosk ended with
// the login). The waiting scans stay queued on this device.
function endLogin() {
  loginEnded = true;
  if (config.kiosk) location.reload();
}

// Client ids being sent right now: the drain leaves them alone.
const sending = new Set();

// What a queued item sends: a scan (perhaps a confirmed handout), or a return checklist.
function request(item) {
  if (item.kind === "return") {
    return {
      url: item.url,
      body: { ...item.body, client_id: item.client_id, scanned_at: item.scanned_at },
    };
  }
  const body = {
    code: item.code,
    session: item.session,
    // a badge of another workshop is refused here, chosen session or not
    workshop: config.workshop,
    client_id: item.client_id,
    station: item.station,
    scanned_at: item.scanned_at,
    confirm: Boolean(item.confirm),
  };
  if (item.with) body.with = item.with;
  if (item.seen_reasons) body.seen_reasons = item.seen_reasons;
  return { url: config.api.scan, body };
}

async function send(item) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), SEND_TIMEOUT_MS);
  const { url, body } = request(item);
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
    // 409: another login sent this client id first; its answer is not this device's.
    if ([400, 404, 409, 422].includes(response.status)) {
      const answer = await response.json().catch(() => ({}));
      return { status: "refused", reason: answer.error || String(response.status) };
    }
    return { status: "offline" }; // 5xx, 429: the laptop is busy; try again later
  } catch {
    return { status: "offline" };
  } finally {
    clearTimeout(timer);
  }
}

// Whether the laptop failed to answer last time: a scan made meanwhile goes straight to the
// queue (an unreachable laptop can take SEND_TIMEOUT_MS per try), and the drain, which keeps
// trying, says when it is back.
let away = false;

// Send an item the caller has put in `sending`; an answered or refused item leaves the queue.
async function transmit(item, drained = false) {
  if (away && !drained) return { status: "offline" };
  // Once a request may have left, Undo can no longer just drop it: the laptop may have applied
  // it even if its answer never came back. A browser that knows it is offline sent nothing.
  if (!item.attempted && navigator.onLine !== false) {
    item.attempted = true;
    await queue.put(item);
  }
  const answer = await send(item);
  away = answer.status === "offline";
  if (answer.status === "answered" || answer.status === "refused") {
    await queue.remove(item.client_id);
  }
  if (answer.status === "login") endLogin();
  if (answer.status === "answered") noteAnswer(item, answer.body, drained);
  return answer;
}

// Store an item and send it once; the answer is the caller's to show.
async function storeAndSend(item) {
  sending.add(item.client_id);
  try {
    await queue.put(item);
    return await transmit(item);
  } finally {
    sending.delete(item.client_id);
    updateQueueLine();
  }
}

let draining = false;
async function drain() {
  if (draining || loginEnded) return;
  draining = true;
  try {
    for (const item of await queue.all()) {
      if (item.held || sending.has(item.client_id)) continue;
      sending.add(item.client_id);
      let answer;
      let takenBack = false;
      try {
        const stored = await queue.get(item.client_id);
        if (!stored) continue; // taken back by Undo meanwhile
        takenBack = Boolean(stored.undo);
        answer = takenBack ? await takeBack(stored) : await transmit(item, true);
      } finally {
        sending.delete(item.client_id);
      }
      if (answer.status === "offline" || answer.status === "login") break;
      if (takenBack) continue;
      // A queued request whose answer needs someone is shown now, after any open dialog.
      const asked = item.asked && answer.body && answer.body.outcome === "kit_needs_confirmation";
      if (answer.status === "answered" && NEEDS_EYES.has(answer.body.outcome) && !asked) {
        inbox.push({ item, answer: answer.body });
        pump();
      }
    }
    // Nothing was waiting to tell whether the laptop is back: ask it.
    if (away) await refreshRoster();
    if (resultBox.dataset.kind === "queued" && (await queue.all()).every((i) => i.held)) {
      resultBox.className = "result ok";
      resultBox.dataset.kind = "ok";
      resultText.textContent = say.all_sent;
      resultDetail.hidden = true;
    }
  } finally {
    draining = false;
    updateQueueLine();
  }
}

// ---------------------------------------------------------------- undo: a stack of changes
// What this page changed, the newest last: requests answered `undoable`, and requests still in
// the queue that will change something (with the sentence naming them if taken back there).
// Each press of Undo takes back the newest one left.
const changes = [];

function updateUndo() {
  undoButton.setAttribute("aria-disabled", changes.length ? "false" : "true");
}

function noteQueuedChange(item, unsent) {
  if (!changes.some((change) => change.client_id === item.client_id)) {
    changes.push({ client_id: item.client_id, unsent });
  }
  updateUndo();
}

// `drained`: sent from the queue, perhaps by an earlier page; only this page's own count.
function noteAnswer(item, body, drained) {
  const at = changes.findIndex((change) => change.client_id === item.client_id);
  if (body.undoable) {
    if (at < 0 && !drained) changes.push({ client_id: item.client_id, unsent: "" });
  } else if (at >= 0) {
    changes.splice(at, 1); // it changed nothing after all (already checked in, ...)
  }
  updateUndo();
}

// What the laptop says to `POST /scans/undo`: its named message, or why it could not.
async function postUndo(clientId) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), SEND_TIMEOUT_MS);
  try {
    const response = await fetch(config.api.undo, {
      method: "POST",
      credentials: "same-origin",
      signal: controller.signal,
      headers: { "Content-Type": "application/json", "X-CSRFToken": config.csrf },
      body: JSON.stringify({ client_id: clientId }),
    });
    if (response.status === 403) return { status: "forbidden" };
    if (response.status === 401) return { status: "login" };
    if (response.status >= 500 || response.status === 429) return { status: "offline" };
    const body = await response.json().catch(() => ({}));
    return { status: "answered", message: (response.ok && body.message) || say.nothing_to_undo };
  } catch {
    return { status: "offline" };
  } finally {
    clearTimeout(timer);
  }
}

// An item marked `undo` whose request may have reached the laptop: send it first (the laptop
// applies it once, or gives back its stored answer), then take it back there. The item leaves
// the queue only when both are done. The caller has put it in `sending`.
async function takeBack(item) {
  if (!item.sent) {
    const answer = await send(item);
    away = answer.status === "offline";
    if (answer.status === "login") endLogin();
    if (answer.status === "offline" || answer.status === "login") return answer;
    if (answer.status === "refused") {
      await queue.remove(item.client_id); // refused: it changed nothing
      show("warn", say.nothing_to_undo);
      return answer;
    }
    item.sent = true;
    await queue.put(item);
  }
  const undone = await postUndo(item.client_id);
  if (undone.status === "offline") away = true;
  if (undone.status === "login") endLogin();
  if (undone.status === "offline" || undone.status === "login") return undone;
  await queue.remove(item.client_id);
  if (undone.status === "forbidden") show("bad", say.undo_forbidden);
  else show("warn", undone.message);
  return undone;
}

// Undo a change also forgets what it would have paired with: its badge, its open question.
function forgetChange(clientId) {
  if (lastBadge && lastBadge.client_id === clientId) lastBadge = null;
  if (question && question.badgeId === clientId && dialog && dialog.box === questionBox) {
    const asked = question;
    question = null;
    closeDialog();
    return fill("not_handed_out", { code: asked.kitCode });
  }
  return "";
}

async function undo() {
  if (config.kiosk) return;
  const change = changes.pop();
  updateUndo();
  if (!change) {
    show("warn", say.nothing_to_undo);
    return;
  }
  const dropped = forgetChange(change.client_id);
  while (sending.has(change.client_id)) await sleep(100);
  const item = await queue.get(change.client_id);
  if (item && !item.attempted) {
    // Never sent: it is simply taken back here.
    await queue.remove(change.client_id);
    updateQueueLine();
    show("warn", change.unsent || say.undo_queued_scan, dropped);
    return;
  }
  if (item) {
    // Sent once, its answer lost: the laptop may have applied it. Keep it, marked.
    item.undo = true;
    await queue.put(item);
    sending.add(item.client_id);
    let answer;
    try {
      answer = await takeBack(item);
    } finally {
      sending.delete(item.client_id);
      updateQueueLine();
    }
    if (answer.status === "offline") show("queued", say.undo_when_back, dropped);
    else if (answer.status === "login") show("warn", say.login_again);
    return;
  }
  const undone = await postUndo(change.client_id);
  if (undone.status === "offline") {
    changes.push(change);
    updateUndo();
    show("bad", say.undo_offline);
  } else if (undone.status === "forbidden") show("bad", say.undo_forbidden);
  else if (undone.status === "login") show("warn", say.login_again);
  else show("warn", undone.message, dropped);
}

// ---------------------------------------------------------------- pairing
// The kit waiting for a badge (`pending`), or the badge that may take the next kit
// (`lastBadge`): at most one of them, each for the workshop's pairing window, in this page only.
let pending = null;
let lastBadge = null;
let pendingTimer = null;

function expirePairs() {
  if (lastBadge && Date.now() > lastBadge.until) lastBadge = null;
  if (pending && Date.now() > pending.until) {
    const { code } = pending;
    clearPending();
    show("warn", fill("kit_wait_over", { code }));
  }
}

// Returns the code of another kit this one replaces, if any.
function setPending(text, code) {
  lastBadge = null;
  const replaced = pending && pending.code !== code ? pending.code : "";
  pending = { text, code, until: Date.now() + PAIR_WINDOW_MS };
  pendingText.textContent = fill("kit_waits", { code });
  pendingCard.hidden = false;
  clearInterval(pendingTimer);
  pendingTimer = setInterval(tickPending, 1000);
  tickPending();
  return replaced;
}

// What the result says when a kit starts waiting: and which kit it replaced.
function waitsMessage(code, replaced, message) {
  return replaced ? fill("kit_replaced", { old: replaced, code }) : message;
}

function tickPending() {
  if (!pending) return;
  const left = Math.ceil((pending.until - Date.now()) / 1000);
  if (left <= 0) expirePairs();
  else pendingLeft.textContent = fill("seconds_left", { n: left });
}

function clearPending() {
  pending = null;
  clearInterval(pendingTimer);
  pendingCard.hidden = true;
}

// `client_id`: the badge scan's, so that undoing its check-in forgets it.
function setLastBadge(text, clientId) {
  clearPending();
  lastBadge = { text, client_id: clientId, until: Date.now() + PAIR_WINDOW_MS };
}

function forgetPairs() {
  clearPending();
  lastBadge = null;
}

// ---------------------------------------------------------------- arriving scans, in order
// Each scan waits its turn; while a dialog is open (or its request is on its way) they wait
// on the "Next" line. An inbox entry is a scan, or the answer to a queued request.
const inbox = [];
let dialog = null;
let holding = 0;
let pumping = false;

async function arrive(text) {
  const code = text.trim();
  if (!code) return;
  // The kit or the badge a dialog is about, read again (the camera still sees it): no news.
  if (dialog && dialog.about.has(code)) return;
  const scan = {
    client_id: newClientId(),
    code,
    session: config.session,
    station: config.station,
    scanned_at: new Date().toISOString(),
    held: true,
  };
  await queue.put(scan);
  inbox.push({ scan });
  pump();
}

async function pump() {
  showNext();
  if (pumping) return;
  pumping = true;
  try {
    while (inbox.length && !dialog && !holding) {
      const entry = inbox.shift();
      showNext();
      if (entry.scan) await apply(entry.scan);
      else answered(entry.item, entry.answer);
    }
  } finally {
    pumping = false;
    showNext();
  }
}

function showNext() {
  if (!inbox.length || !(dialog || holding)) {
    nextLine.hidden = true;
    nextLine.textContent = "";
    return;
  }
  const names = inbox.map((entry) =>
    entry.scan ? nameOf(classify(entry.scan.code)) : entry.answer.kit?.code || entry.answer.message,
  );
  nextLine.textContent = fill("next", { scans: names.join(", ") });
  nextLine.hidden = false;
}

async function apply(scan) {
  const what = classify(scan.code);
  expirePairs();
  delete scan.held;
  if (!config.kiosk) {
    if (what.kind === "badge" && pending) scan.with = pending.text;
    if (what.kind === "kit" && lastBadge) {
      scan.with = lastBadge.text;
      scan.with_id = lastBadge.client_id;
    }
  }
  sending.add(scan.client_id);
  try {
    await queue.put(scan);
    const answer = await transmit(scan);
    if (answer.status === "answered") answered(scan, answer.body);
    else if (answer.status === "refused") {
      forgetPairs();
      show("bad", fill("server_refused", { reason: answer.reason }));
    } else await unanswered(scan, what, answer.status);
  } finally {
    sending.delete(scan.client_id);
    updateQueueLine();
  }
}

// The laptop did not answer (offline) or the login ended: ask here what can be asked.
async function unanswered(scan, what, status) {
  if (what.kind !== "badge") {
    // A kit scan records nothing by itself, and an unknown code is refused anyway.
    await queue.remove(scan.client_id);
    if (status === "login") {
      show("warn", say.login_again);
      return;
    }
    if (what.kind === "kit") offlineKit(scan, what);
    else show("bad", say.not_a_badge);
    return;
  }
  // A badge is queued as a plain check-in; the question about a waiting kit is asked here.
  const person = personOf(what);
  const kit = scan.with ? pending : null;
  if (scan.with) {
    delete scan.with;
    scan.asked = Boolean(kit);
    await queue.put(scan);
  }
  noteQueuedChange(
    scan,
    person ? fill("undo_queued_check_in", { name: person.name }) : say.undo_queued_scan,
  );
  if (status === "login") {
    show("warn", say.login_again);
    return;
  }
  const saved = person ? fill("offline_known", { name: person.name }) : say.offline_saved;
  show("queued", saved);
  if (kit) {
    forgetPairs();
    ask({
      kitText: kit.text,
      kitCode: kit.code,
      badgeText: scan.code,
      badgeId: scan.client_id,
      name: person ? person.name : say.badge_holder,
      title: fill("hand_question", { code: kit.code, name: person ? person.name : say.badge_holder }),
      reasons: [],
      checkIn: { tone: "queued", message: saved },
    });
  } else if (person) {
    setLastBadge(scan.code, scan.client_id);
  }
}

function offlineKit(scan, what) {
  const kit = kitOf(what);
  const code = kit ? kit.code : what.code;
  if (kit && kit.out) {
    lastBadge = null;
    show("warn", fill("offline_kit_out", { code }));
    return;
  }
  if (!kit && !what.token && roster.kitCodes.size) {
    // A bare word: not a badge token, not a kit code this device knows.
    const text = what.text.length > 24 ? `${what.text.slice(0, 23)}…` : what.text;
    show("bad", fill("offline_neither", { text }));
    return;
  }
  if (!code || (!kit && roster.kitCodes.size)) {
    show("bad", say.offline_kit_unknown);
    return;
  }
  if (lastBadge) {
    const badge = classify(lastBadge.text);
    const person = personOf(badge);
    const name = person ? person.name : say.badge_holder;
    const badgeText = lastBadge.text;
    const badgeId = lastBadge.client_id;
    forgetPairs();
    show("warn", fill("hand_question", { code, name }));
    ask({
      kitText: scan.code,
      kitCode: code,
      badgeText,
      badgeId,
      name,
      title: fill("hand_question", { code, name }),
      reasons: [],
    });
    return;
  }
  const replaced = setPending(scan.code, code);
  show("warn", waitsMessage(code, replaced, fill("kit_waits", { code })));
}

// An answer from the laptop, for a scan just made or for a queued request.
function answered(item, body) {
  const tone = toneOf(body);
  if (config.kiosk) {
    show(tone, body.message);
    return;
  }
  const kitCode = body.kit ? body.kit.code : "";
  const known = kitCode ? roster.kitCodes.get(kitCode) : null;
  if (known && body.outcome === "kit_handed_out") known.out = true;
  if (known && body.outcome === "kit_returned") known.out = false;
  const checkIn = body.check_in || null;
  const detail = checkIn && body.outcome !== "kit_needs_confirmation" ? checkIn.message : "";
  switch (body.outcome) {
    case "kit_waiting": {
      const replaced = setPending(item.code, kitCode);
      show(replaced ? "warn" : tone, waitsMessage(kitCode, replaced, body.message));
      return;
    }
    case "kit_needs_confirmation": {
      forgetPairs();
      const isKit = classify(item.code).kind === "kit";
      const kitText = isKit ? item.code : item.with;
      const badgeText = isKit ? item.with : item.code;
      // The person's check-in is what the result shows; the question is the dialog's.
      if (checkIn) show(vocabulary.outcomes[checkIn.outcome]?.tone || "warn", checkIn.message);
      else show(tone, body.message);
      if (!kitText || !badgeText) return; // an old queued scan: nothing to confirm with
      ask({
        kitText,
        kitCode,
        badgeText,
        badgeId: isKit ? item.with_id : item.client_id,
        name: body.participant ? body.participant.name : say.badge_holder,
        title: body.message,
        reasons: body.reasons || [],
        checkIn: checkIn
          ? { tone: vocabulary.outcomes[checkIn.outcome]?.tone || "warn", message: checkIn.message }
          : null,
      });
      return;
    }
    case "kit_return":
      forgetPairs();
      show(tone, body.message);
      if (body.checklist) openChecklist(body, item.code);
      return;
    case "kit_unavailable":
    case "kit_handed_out":
      forgetPairs();
      show(tone, body.message, detail);
      return;
    default:
      if (IDENTIFIED.has(body.outcome) && classify(item.code).kind === "badge") {
        setLastBadge(item.code, item.client_id);
      }
      show(tone, body.message, detail);
  }
}

// ---------------------------------------------------------------- dialogs
// One open at a time. `about`: the codes it is about, which the camera may keep seeing.
function openDialog(box, about, cancel, first) {
  dialog = { box, about: new Set(about.filter(Boolean)), cancel, first };
  box.hidden = false;
  first.focus();
  showNext();
}

// The dialog goes; its request (if any) is answered before the next scan is applied.
async function closeDialog(work) {
  const closing = dialog;
  if (!closing) return;
  closing.box.hidden = true;
  dialog = null;
  // what it was about stays "just seen" for the camera a little longer
  const now = Date.now();
  for (const code of closing.about) seen.set(code, now);
  wedgeInput.focus();
  holding += 1;
  try {
    if (work) await work();
  } finally {
    holding -= 1;
    pump();
  }
}

let question = null;
function ask(asked) {
  question = { ...asked, askedAt: new Date().toISOString() };
  questionTitle.textContent = asked.title;
  questionCheckIn.hidden = !asked.checkIn;
  questionCheckIn.textContent = asked.checkIn ? asked.checkIn.message : "";
  questionCheckIn.dataset.kind = asked.checkIn ? asked.checkIn.tone : "";
  questionReasons.replaceChildren(
    ...asked.reasons.map((reason) => element("li", {}, reason)),
  );
  questionReasons.hidden = asked.reasons.length === 0;
  // Focus on the question itself, never on Hand out: an Enter or a Space commits nothing.
  openDialog(questionBox, [asked.kitText, asked.badgeText], notThisPerson, questionTitle);
}

function handOut() {
  if (!dialog || dialog.box !== questionBox) return;
  const asked = question;
  question = null;
  closeDialog(async () => {
    const item = {
      client_id: newClientId(),
      code: asked.kitText,
      with: asked.badgeText,
      confirm: true,
      seen_reasons: asked.reasons,
      session: config.session,
      station: config.station,
      scanned_at: asked.askedAt,
    };
    const answer = await storeAndSend(item);
    if (answer.status === "answered") answered(item, answer.body);
    else if (answer.status === "refused") {
      show("bad", fill("server_refused", { reason: answer.reason }));
    } else {
      noteQueuedChange(
        item,
        fill("undo_queued_handout", { code: asked.kitCode, name: asked.name }),
      );
      if (answer.status === "login") show("warn", say.login_again);
      else show("queued", fill("offline_handout", { code: asked.kitCode, name: asked.name }));
    }
  });
}

function notThisPerson() {
  if (!dialog || dialog.box !== questionBox) return;
  const asked = question;
  question = null;
  // The kit waits for the right badge (often already on the "Next" line, applied as the
  // dialog closes: so it waits first).
  setPending(asked.kitText, asked.kitCode);
  show("warn", fill("not_handed_out", { code: asked.kitCode }));
  closeDialog();
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
function openChecklist(body, scanned) {
  returning = {
    url: config.api.kitReturn.replace("__token__", encodeURIComponent(body.kit.token)),
    code: body.kit.code,
  };
  returnTitle.textContent = fill("checklist_title", { code: body.kit.code });
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
  const first = returnLines.querySelector("input") || $("kit-return-record");
  openDialog(returnBox, [scanned], cancelReturn, first);
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

function recordReturn() {
  if (!dialog || dialog.box !== returnBox || !returning) return;
  const item = {
    kind: "return",
    client_id: newClientId(),
    url: returning.url,
    label: returning.code,
    body: { ...checklistCounts(), note: returnNote.value.trim(), station: config.station },
    scanned_at: new Date().toISOString(),
  };
  returning = null;
  closeDialog(async () => {
    const answer = await storeAndSend(item); // like a scan: stored first, sent until answered
    if (answer.status === "answered") answered(item, answer.body);
    else if (answer.status === "refused") {
      show("bad", fill("server_refused", { reason: answer.reason }));
    } else {
      noteQueuedChange(item, fill("undo_queued_return", { code: item.label }));
      if (answer.status === "login") show("warn", say.login_again);
      else show("queued", fill("offline_return", { code: item.label }));
    }
  });
}

function cancelReturn() {
  if (!dialog || dialog.box !== returnBox) return;
  const code = returning ? returning.code : "";
  returning = null;
  closeDialog();
  show("warn", fill("not_returned", { code }));
}

// ---------------------------------------------------------------- keyboard-wedge scanner
// A USB or Bluetooth scanner types the code and Enter into whatever has focus. In the scan
// field that is a scan. Anywhere else (a dialog's box or button, the Undo button, the page) a
// burst of characters followed by Enter is a scan too, and its Enter must not press what has
// focus. In the note field, Enter never records the return: a code typed there is pulled out.
let burst = { text: "", at: 0, before: null };
// The current run of keys at a scanner's pace in a count or the note, and the field's value
// before it started.
// `afterFast`: the run before this one was at a scanner's pace too (a key delayed in the middle
// of one fast run, rather than a scan starting).
let pace = { text: "", start: 0, at: 0, before: null, afterFast: false };
const atScannerPace = (run) => (run.at - run.start) / (run.text.length - 1) < SCANNER_GAP_MS;

function followRun(event, target, now) {
  if (now - pace.at > RUN_BREAK_MS) {
    const afterFast = pace.text.length >= 2 && atScannerPace(pace);
    pace = { text: "", start: now, at: now, before: null, afterFast };
  }
  if (event.key.length !== 1) return;
  if (!pace.text) {
    pace.before = target.value;
    pace.start = now;
  }
  pace.text += event.key;
  pace.at = now;
}

// The run that just ended with Enter, if it was a scanner's.
function scannerRun() {
  const ended = pace;
  pace = { text: "", start: 0, at: 0, before: null, afterFast: false };
  if (ended.text.length < SCANNER_MIN_CHARS || /\s/.test(ended.text)) return null; // no spaces
  return atScannerPace(ended) ? ended : null;
}

function isTyped(target) {
  return (
    target instanceof HTMLTextAreaElement ||
    target.isContentEditable ||
    (target instanceof HTMLInputElement && TYPED.has(target.type))
  );
}

document.addEventListener(
  "keydown",
  (event) => {
    const target = event.target;
    if (event.key === "Escape" && dialog) {
      event.preventDefault();
      dialog.cancel();
      return;
    }
    if (event.key === "Escape" && pending && (target === wedgeInput || !isTyped(target))) {
      event.preventDefault();
      cancelPending();
      return;
    }
    if (target === wedgeInput || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.isComposing) return;
    const now = performance.now();
    if (target === returnNote) {
      if (event.key === "Enter") {
        event.preventDefault();
        const scanned = scannerRun();
        const value = returnNote.value;
        const rest = scanned ? value.slice(0, value.length - scanned.text.length) : "";
        // At the end of the note, typed at a scanner's pace (and not the end of a word typed
        // as fast).
        const alone = scanned && (!scanned.afterFast || !rest || /\s$/.test(rest));
        if (alone && value.endsWith(scanned.text)) {
          // A code at a scanner's pace (a bare KIT-003 too): out of the note, and scanned.
          returnNote.value = rest.trimEnd();
          arrive(scanned.text);
        } else pullCodeFromNote();
      } else followRun(event, target, now);
      return;
    }
    if (isTyped(target)) return; // a PIN, a search: the person's own keys
    // A count: digits pass (a person types them), and are taken back if they were a scan.
    const count = target instanceof HTMLInputElement && target.type === "number";
    if (count && event.key !== "Enter") followRun(event, target, now);
    if (now - burst.at > BURST_GAP_MS) burst = { text: "", at: now, before: null };
    if (event.key === "Enter") {
      let { text, before } = burst;
      burst = { text: "", at: 0, before: null };
      const scanned = count ? scannerRun() : null;
      // Only the scanner's own keys are the scan: a count typed just before it stays.
      if (scanned && !scanned.afterFast) ({ text, before } = scanned);
      if (count) event.preventDefault();
      if (!text || (count && /^\d{1,4}$/.test(text))) return;
      event.preventDefault();
      event.stopPropagation();
      if (count && before !== null) {
        target.value = before;
        target.dispatchEvent(new Event("input", { bubbles: true }));
      }
      arrive(text);
      return;
    }
    if (event.key.length !== 1 || (event.key === " " && !burst.text)) return;
    if (count && !burst.text) burst.before = target.value;
    burst.text += event.key;
    burst.at = now;
    if (!count) event.preventDefault();
  },
  true,
);

// A badge or kit address at the end of the note (the scanner typed it there), or a bare token
// (digits or dashes in a word of 16 or more characters: not a word of a note).
const TOKEN_BODY = vocabulary.token.replace(/^\^|\$$/g, "");
const escapeRe = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const ADDRESS_AT_END = new RegExp(
  `(?:https?://\\S*?)?(?:${escapeRe(vocabulary.paths.badge)}|${escapeRe(vocabulary.paths.kit)})${TOKEN_BODY}/?$`,
  "i",
);

function pullCodeFromNote() {
  const value = returnNote.value.trimEnd();
  let found = ADDRESS_AT_END.exec(value);
  if (!found || classify(found[0]).kind === "unknown") {
    found = /\S+$/.exec(value);
    if (!found || !TOKEN.test(found[0]) || !/[0-9_-]/.test(found[0])) return;
  }
  returnNote.value = value.slice(0, found.index).trimEnd();
  arrive(found[0]);
}

wedge.addEventListener("submit", (event) => {
  event.preventDefault();
  const code = wedgeInput.value;
  wedgeInput.value = "";
  arrive(code);
  wedgeInput.focus();
});

// Keep the keys landing somewhere useful when nothing has focus.
function focusHome() {
  if (dialog) dialog.first.focus();
  else wedgeInput.focus();
}
wedgeInput.addEventListener("blur", () => {
  setTimeout(() => {
    const active = document.activeElement;
    if (!active || active === document.body) focusHome();
  }, 150);
});

undoButton.addEventListener("click", () => undo().then(focusHome));
handOutButton.addEventListener("click", handOut);
$("kit-not-this-person").addEventListener("click", notThisPerson);
$("kit-return-record").addEventListener("click", recordReturn);
$("kit-return-cancel").addEventListener("click", cancelReturn);
function cancelPending() {
  if (pending) show("warn", fill("not_handed_out", { code: pending.code }));
  clearPending();
  focusHome();
}
$("kit-pending-cancel").addEventListener("click", cancelPending);

// ---------------------------------------------------------------- camera
let stream = null;
let detector = null;
// Codes the camera saw, with when it last saw each.
const seen = new Map();

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
        const text = found.rawValue.trim();
        const last = seen.get(text);
        seen.set(text, now);
        if (last === undefined || now - last >= SAME_CODE_MS) arrive(text);
      }
      for (const [text, at] of seen) if (now - at > 4 * SAME_CODE_MS) seen.delete(text);
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
    for (const track of stream.getTracks()) track.addEventListener("ended", () => stopCamera());
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    cameraStatus.textContent = say.camera_on;
    cameraButton.setAttribute("aria-pressed", "true");
    look();
  } catch (error) {
    stopCamera(fill("camera_failed", { reason: error.message || error.name }));
  }
}

function stopCamera(status = say.camera_off) {
  if (stream) for (const track of stream.getTracks()) track.stop();
  stream = null;
  video.srcObject = null;
  video.hidden = true;
  cameraButton.setAttribute("aria-pressed", "false");
  cameraStatus.textContent = status;
}

cameraButton.addEventListener("click", () => {
  if (stream) stopCamera();
  else startCamera();
  focusHome(); // a scanner's keystrokes must keep landing where they count
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

// Scans a closed page had not applied yet (it held them for a dialog) come first, in order.
async function releaseHeld() {
  for (const item of await queue.all()) if (item.held) inbox.push({ scan: item });
  pump();
}

window.addEventListener("online", drain);
setInterval(drain, RESEND_MS);
setInterval(refreshRoster, ROSTER_REFRESH_MS);
updateUndo();
loadRoster()
  .then(releaseHeld)
  .then(refreshRoster);
updateQueueLine().then(drain);
document.body.dataset.stationReady = "1";

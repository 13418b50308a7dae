// The session board on a projector: asks the laptop every few seconds who has arrived.
// Polling instead of a stream: a page left open all day must not hold a server thread.
const board = document.querySelector(".board");
const POLL_MS = 3000;

function fill(list, items, render) {
  list.replaceChildren(
    ...items.map((item) => {
      const li = document.createElement("li");
      render(li, item);
      return li;
    }),
  );
}

async function poll() {
  try {
    const response = await fetch(board.dataset.poll, { credentials: "same-origin" });
    if (response.ok) {
      const state = await response.json();
      document.getElementById("board-present").textContent = state.present;
      document.getElementById("board-expected").textContent = state.expected;
      document.getElementById("board-missing-count").textContent = state.missing.length;
      fill(document.getElementById("board-last"), state.last, (li, item) => {
        const name = document.createElement("span");
        name.className = "name";
        name.textContent = item.name;
        const at = document.createElement("span");
        at.className = "at";
        at.textContent = item.at;
        li.append(name, " ", at);
      });
      fill(document.getElementById("board-missing"), state.missing, (li, name) => {
        li.textContent = name;
      });
      board.dataset.updated = String(Date.now());
      document.getElementById("board-status").textContent = "";
    }
  } catch {
    document.getElementById("board-status").textContent = "…";
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

setTimeout(poll, POLL_MS);

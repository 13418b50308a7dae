// Search a long <datalist> as you type: an input with data-search-list gets a listbox of
// the options containing what was typed ("Abidjan" finds "Africa/Abidjan"). Keyboard: arrows
// move, Enter picks, Escape closes. Without this module the browser's own datalist still works.
const MAX_SHOWN = 12;

function searchKey(text) {
  return text.toLowerCase().replace(/[_\s]+/g, " ").trim();
}

function enhance(input, index) {
  const datalist = document.getElementById(input.getAttribute("list"));
  if (!datalist) return;
  const values = Array.from(datalist.options, (option) => option.value);
  const keys = values.map(searchKey);
  input.removeAttribute("list"); // one list at a time: ours replaces the browser's popup
  const listbox = document.createElement("ul");
  listbox.id = `${input.id || "search"}-listbox-${index}`;
  listbox.setAttribute("role", "listbox");
  listbox.hidden = true;
  const box = document.createElement("div");
  box.className = "combo-box";
  input.replaceWith(box);
  box.append(input, listbox);
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-controls", listbox.id);
  input.setAttribute("aria-expanded", "false");
  let active = -1;

  function close() {
    listbox.hidden = true;
    active = -1;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function highlight(position) {
    const items = listbox.querySelectorAll("[role=option]");
    if (!items.length) return;
    active = (position + items.length) % items.length;
    items.forEach((item, i) => item.setAttribute("aria-selected", String(i === active)));
    input.setAttribute("aria-activedescendant", items[active].id);
    items[active].scrollIntoView({ block: "nearest" });
  }

  function pick(value) {
    input.value = value;
    close();
    input.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function show() {
    const typed = searchKey(input.value);
    listbox.replaceChildren();
    active = -1;
    input.removeAttribute("aria-activedescendant");
    if (!typed) return close();
    const found = [];
    for (let i = 0; i < values.length && found.length < MAX_SHOWN; i++) {
      if (keys[i].includes(typed)) found.push(values[i]);
    }
    if (found.length === 1 && found[0] === input.value) return close();
    if (!found.length) {
      const empty = document.createElement("li");
      empty.className = "no-match";
      empty.textContent = input.dataset.noMatch || "";
      listbox.append(empty);
    }
    found.forEach((value, i) => {
      const item = document.createElement("li");
      item.id = `${listbox.id}-${i}`;
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", "false");
      item.textContent = value;
      // mousedown, not click: it comes before the input loses focus and closes the list
      item.addEventListener("mousedown", (event) => {
        event.preventDefault();
        pick(value);
      });
      listbox.append(item);
    });
    listbox.hidden = false;
    input.setAttribute("aria-expanded", "true");
  }

  input.addEventListener("input", show);
  input.addEventListener("blur", close);
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (listbox.hidden) show();
      highlight(active + (event.key === "ArrowDown" ? 1 : -1));
      event.preventDefault();
    } else if (event.key === "Enter" && !listbox.hidden && active >= 0) {
      event.preventDefault(); // pick the zone; a second Enter submits the form
      pick(listbox.querySelectorAll("[role=option]")[active].textContent);
    } else if (event.key === "Escape" && !listbox.hidden) {
      event.preventDefault();
      close();
    }
  });
}

document.querySelectorAll("input[data-search-list][list]").forEach(enhance);

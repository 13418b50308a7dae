// Small progressive enhancements; every page works without them.
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("[data-confirm]")) {
    button.addEventListener("click", (event) => {
      if (!window.confirm(button.dataset.confirm)) event.preventDefault();
    });
  }
});

// Logging out deletes the scan station's offline copy of the roster (names of participants);
// scans still waiting to be sent stay queued on the device.
document.addEventListener("submit", (event) => {
  if (event.target.matches("form.logout") && window.indexedDB) {
    window.indexedDB.deleteDatabase("kitmanager-roster");
  }
});

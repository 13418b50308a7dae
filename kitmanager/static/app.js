// Small progressive enhancements; every page works without them.
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("[data-confirm]")) {
    button.addEventListener("click", (event) => {
      if (!window.confirm(button.dataset.confirm)) event.preventDefault();
    });
  }
});

// fastmango's page behaviour, for every project: htmx settings, the CSRF header, error
// toasts, and the Alpine components the base layout uses (theme toggle, dismissable
// messages). Alpine is the CSP build: components are registered by name, never eval'd.

document.addEventListener("htmx:configRequest", (event) => {
  // Every htmx request carries the CSRF token from <meta name="csrf-token">.
  const token = document.querySelector('meta[name="csrf-token"]');
  if (token) event.detail.headers["X-CSRF-Token"] = token.content;
});

if (window.htmx) {
  // No eval (hx-on / js: values) and no injected <style>: both would need a weaker CSP.
  htmx.config.allowEval = false;
  htmx.config.allowScriptTags = false;
  htmx.config.includeIndicatorStyles = false;
  // Back/forward asks the server for the page (it answers HX-History-Restore-Request with the
  // whole page) instead of restoring a saved copy of the DOM: that copy would carry the
  // style="" attributes Alpine set, which the CSP refuses, and could be stale.
  htmx.config.historyCacheSize = 0;
  // Settling copies attributes onto swapped elements; not `style`, which the CSP refuses.
  htmx.config.attributesToSettle = ["class", "width", "height"];
  // Forms answer 422 (invalid) and 413 (file too large) with the form and its inline errors.
  htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "(409|413|422)", swap: true },
    { code: "[45]..", swap: false, error: true },
  ];
}

document.addEventListener("htmx:responseError", (event) => {
  const status = event.detail.xhr.status;
  showToast(status === 403 ? "You do not have permission to do that." : `Request failed (${status}).`, "error");
});
document.addEventListener("htmx:sendError", () => showToast("The server could not be reached.", "error"));

function showToast(text, level) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const item = document.createElement("div");
  item.className = `alert alert-${level}`;
  item.setAttribute("role", "alert");
  item.textContent = text;
  box.append(item);
  setTimeout(() => item.remove(), 5000);
}

document.addEventListener("alpine:init", () => {
  Alpine.data("themeToggle", () => ({
    theme: document.documentElement.dataset.theme || "light",
    get isDark() {
      return this.theme === "dark";
    },
    toggle() {
      this.theme = this.isDark ? "light" : "dark";
      document.documentElement.dataset.theme = this.theme;
      try {
        localStorage.setItem("theme", this.theme);
      } catch {
        // Not remembered when storage is blocked; the toggle still works for this page.
      }
    },
  }));

  // A flash message that can be dismissed; it was shown once already by the server.
  Alpine.data("dismissable", () => ({
    open: true,
    close() {
      this.open = false;
    },
  }));
});

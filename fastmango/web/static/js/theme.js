// Loaded in <head> before the CSS paints: applies the remembered light/dark theme so the
// page never flashes the wrong one. (A file, not an inline script: the CSP allows no inline.)
(() => {
  let theme = null;
  try {
    theme = localStorage.getItem("theme");
  } catch {
    // Storage can be blocked (private mode); fall back to the system preference.
  }
  if (theme !== "light" && theme !== "dark") {
    theme = matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }
  document.documentElement.dataset.theme = theme;
  // Scripts run: elements Alpine shows later (x-cloak) may start hidden. Without
  // JavaScript they stay visible, so plain forms still work.
  document.documentElement.classList.add("js");
})();

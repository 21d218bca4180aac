// Starts ReDoc on /redoc under our Content-Security-Policy (see security_headers.py).
// Loaded before ReDoc's bundle: the bundle writes <style> elements while it loads and
// while it renders, and the /redoc policy accepts inline styles only with the page's
// nonce. Every <style> element made on this page gets it; scripts here are only ours
// and ReDoc's (script-src 'self').
(function () {
  "use strict";
  var nonce = document.currentScript.nonce;
  var createElement = Document.prototype.createElement;
  Document.prototype.createElement = function () {
    var element = createElement.apply(this, arguments);
    if (element.localName === "style") element.nonce = nonce;
    return element;
  };
  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("redoc");
    window.Redoc.init(root.dataset.specUrl, { nonce: nonce }, root);
  });
})();

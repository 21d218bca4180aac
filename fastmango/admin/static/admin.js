/* fastmango admin: the site's CSRF token on sqladmin's scripted requests, and the
 * site's logout.
 *
 * The app refuses any unsafe request without the token. sqladmin's forms carry it
 * (templates/admin/sqladmin), but its scripts delete with jQuery ajax (DELETE),
 * import with fetch (POST) and run actions by loading a GET URL; the action routes
 * check the X-CSRF-Token header themselves, since a GET passes the middleware.
 */
(function () {
  "use strict";

  var HEADER = "X-CSRF-Token";
  var SAFE = /^(GET|HEAD|OPTIONS|TRACE)$/i;
  var token = readMeta("csrf-token");
  var logoutUrl = readMeta("logout-url");
  var nativeFetch = window.fetch.bind(window);

  function readMeta(name) {
    var meta = document.querySelector('meta[name="' + name + '"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function sameOrigin(url) {
    return new URL(url, window.location.href).origin === window.location.origin;
  }

  // jQuery ajax: the delete modal.
  if (window.jQuery) {
    window.jQuery.ajaxPrefilter(function (options, _original, xhr) {
      if (!SAFE.test(options.type || "GET") && sameOrigin(options.url)) {
        xhr.setRequestHeader(HEADER, token);
      }
    });
  }

  // fetch: the CSV import, and whatever sqladmin scripts next.
  window.fetch = function (resource, init) {
    var request = new Request(resource, init);
    if (!SAFE.test(request.method) && sameOrigin(request.url)) {
      request.headers.set(HEADER, token);
    }
    return nativeFetch(request);
  };

  // Plain forms: the templates add the field; this catches any form they do not draw.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if ((form.method || "").toLowerCase() !== "post") return;
    if (form.querySelector('input[name="csrf_token"]')) return;
    form.appendChild(hiddenToken());
  }, true);

  function hiddenToken() {
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = "csrf_token";
    input.value = token;
    return input;
  }

  function selectedPks() {
    var boxes = document.querySelectorAll("input.select-box:checked");
    return Array.prototype.map.call(boxes, function (box) {
      return box.parentElement.querySelector('input[type="hidden"]').value;
    });
  }

  function showError(response, body) {
    if ((response.headers.get("Content-Type") || "").indexOf("text/html") !== -1) {
      document.open();
      document.write(body);
      document.close();
    } else {
      window.alert(body || response.statusText);
    }
  }

  // Actions (list menu, confirmation modals, details buttons): run them with the
  // token in a header, then go to the URL the answer names (as sqladmin's delete).
  // Capture phase, so sqladmin's own handler (a bare navigation) never runs.
  document.addEventListener("click", function (event) {
    var trigger = event.target.closest("[id^='action-custom-'], a[href*='/action/']");
    if (!trigger) return;
    event.preventDefault();
    event.stopPropagation();
    var dataUrl = trigger.getAttribute("data-url");
    var url = dataUrl ? dataUrl + "?pks=" + selectedPks().join(",") : trigger.href;
    nativeFetch(url, { headers: { "X-CSRF-Token": token }, credentials: "same-origin" })
      .then(function (response) {
        return response.text().then(function (body) {
          if (response.ok) {
            window.location.href = body;
          } else {
            showError(response, body);
          }
        });
      });
  }, true);

  // sqladmin's logout link is a GET; sign out with the site's logout form instead.
  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[href$='/admin/logout']");
    if (!link || !logoutUrl) return;
    event.preventDefault();
    event.stopPropagation();
    var form = document.createElement("form");
    form.method = "post";
    form.action = logoutUrl;
    form.appendChild(hiddenToken());
    document.body.appendChild(form);
    form.submit();
  }, true);
})();

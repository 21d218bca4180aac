/* Shows sqladmin's flash toasts (templates/admin/sqladmin/flash.html): the code of
 * sqladmin's inline <script>, as a file the Content-Security-Policy allows. */
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  document.querySelectorAll(".toast.admin-toast").forEach(function (element) {
    new window.tabler.bootstrap.Toast(element, { delay: 3000 }).show();
  });
});

// Submits the OAuth 2.0 form post response; a static file because the CSP forbids inline script.
"use strict";
document.querySelectorAll("form[data-auto-submit]").forEach(function (form) {
  form.submit();
});

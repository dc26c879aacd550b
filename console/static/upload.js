// The upload form: refuse a file over the console's limit before sending it (the server answers 413 anyway,
// but only after the browser has sent the whole file).
(function () {
  "use strict";
  function start() {
    var input = document.querySelector("input[type=file][data-max-bytes]");
    if (!input) return;
    var message = document.getElementById("upload-too-large");
    var submit = input.form.querySelector("button[type=submit]");
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      var tooLarge = !!file && file.size > Number(input.dataset.maxBytes);
      message.classList.toggle("hidden", !tooLarge);
      submit.disabled = tooLarge;
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

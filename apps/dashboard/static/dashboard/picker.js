// The merchant and location pickers submit on change; a new merchant starts at its first location.
(function () {
  "use strict";
  const form = document.getElementById("dashboard-picker");
  if (!form) return;
  for (const select of form.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => {
      const resets = select.dataset.resets && form.elements[select.dataset.resets];
      if (resets) resets.disabled = true; // not submitted: the view picks the first location
      form.submit();
    });
  }
})();

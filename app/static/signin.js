// The sign-in page: the one-time code rides in the link's fragment (no server or log ever sees it); take it out of
// the address bar and send it at once, so the link opens the gallery in one step. A link opened on this very page
// only changes the fragment (no new page load): that is followed too.
(function () {
  "use strict";
  function signIn() {
    const code = window.location.hash.slice(1);
    if (!code.startsWith("pxs_")) return;
    window.history.replaceState(null, "", window.location.pathname);
    document.getElementById("signin-token").value = code;
    document.getElementById("signin-form").submit();
  }
  window.addEventListener("hashchange", signIn);
  signIn();
})();

/* global location, history, document, addEventListener */
// An approval link carries its token in the fragment (#token=...), which browsers never send to a server.
// This takes the token out of the address bar and the history entry and POSTs it, which shows the request.
// It runs on every page of the approval flow, and again when a new link is opened in the same tab (only
// the fragment changes then, so no page loads). Allowed by its SHA-256 hash in the pages' CSP: the only
// script that can run there. Without script, the link's page has a form to paste the link into.
(function () {
  function open() {
    var match = /(?:^#|&)token=([A-Za-z0-9_-]+)/.exec(location.hash);
    if (!match) return;
    history.replaceState(null, '', location.pathname + location.search);
    var form = document.createElement('form');
    form.method = 'post';
    form.action = location.pathname;
    [['token', match[1]], ['decision', 'view']].forEach(function (field) {
      var input = document.createElement('input');
      input.type = 'hidden';
      input.name = field[0];
      input.value = field[1];
      form.appendChild(input);
    });
    document.body.className = 'opening';
    document.body.appendChild(form);
    form.submit();
  }
  open();
  addEventListener('hashchange', open);
})();

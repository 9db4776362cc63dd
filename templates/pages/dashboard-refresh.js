/* global document, fetch, location, DOMParser, setTimeout */
// The dashboard refreshes itself: every few seconds it fetches this same page and swaps in the new
// content, keeping which stages the reader opened or closed. It pauses while the tab is hidden.
(function () {
  'use strict';
  var root = document.querySelector('.dashboard');
  var seconds = Number((document.querySelector('meta[name="refresh-seconds"]') || {}).content || 10);
  var state = document.getElementById('refresh-state');
  var toggled = {};
  function remember(event) {
    var d = event.target;
    if (d && d.matches && d.matches('details[data-key]')) toggled[d.getAttribute('data-key')] = d.open;
  }
  function say(text) {
    state = document.getElementById('refresh-state');
    if (state) state.textContent = text;
  }
  function restore(scope) {
    scope.querySelectorAll('details[data-key]').forEach(function (d) {
      var key = d.getAttribute('data-key');
      if (Object.prototype.hasOwnProperty.call(toggled, key)) d.open = toggled[key];
    });
  }
  function refresh() {
    if (document.hidden) return schedule();
    fetch(location.href, { headers: { accept: 'text/html' }, cache: 'no-store', credentials: 'same-origin' })
      .then(function (res) {
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.text();
      })
      .then(function (html) {
        var next = new DOMParser().parseFromString(html, 'text/html').querySelector('.dashboard');
        if (!next) throw new Error('no dashboard in the answer');
        restore(next);
        root.replaceWith(next);
        root = next;
        say('');
      })
      .catch(function (e) {
        say('· refresh failed (' + e.message + '), retrying');
      })
      .then(schedule);
  }
  function schedule() {
    setTimeout(refresh, seconds * 1000);
  }
  document.addEventListener('toggle', remember, true);
  schedule();
})();

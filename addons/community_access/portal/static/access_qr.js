// The resident's pass code (/access) asks a new code every half minute,
// before the shown one expires (a minute after it was issued), and swaps
// the QR code in place without reloading the page. Offline, an expired
// code is hidden rather than shown in vain; back online (or the phone
// woken), a new one is fetched at once. Without an active credential any
// more (suspended meanwhile) the page reloads and says so.
(function () {
  'use strict';
  var box = document.getElementById('access-qr');
  if (!box) {
    return;
  }
  var image = document.getElementById('access-qr-image');
  var stale = document.getElementById('access-qr-stale');
  var refresh = parseInt(box.dataset.refresh, 10) * 1000;
  var expires = Date.now() + parseInt(box.dataset.valid, 10) * 1000;
  var timer = null;
  var busy = false;

  function show(fresh) {
    image.classList.toggle('hidden', !fresh);
    stale.classList.toggle('hidden', fresh);
  }

  function schedule(delay) {
    window.clearTimeout(timer);
    timer = window.setTimeout(fetchCode, delay);
  }

  function fetchCode() {
    if (busy) {
      return;
    }
    busy = true;
    var asked = Date.now();
    fetch(box.dataset.url, {
      credentials: 'same-origin', cache: 'no-store',
      headers: {'Accept': 'application/json'}
    }).then(function (response) {
      if (response.status === 404 || response.redirected) {
        // no active credential any more, or logged out
        window.location.reload();
        throw new Error('gone');
      }
      if (!response.ok) {
        throw new Error(response.status);
      }
      return response.json();
    }).then(function (data) {
      busy = false;
      image.innerHTML = data.svg;
      box.dataset.code = data.code;
      expires = asked + data.valid * 1000;
      show(true);
      schedule(data.refresh * 1000);
    }).catch(function () {
      busy = false;
      // offline a moment, or the server restarting: ask again soon
      schedule(5000);
    });
  }

  // an expired code is never left on the screen
  window.setInterval(function () {
    if (Date.now() >= expires) {
      show(false);
    }
  }, 1000);
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'visible') {
      fetchCode();
    }
  });
  window.addEventListener('pageshow', function (event) {
    if (event.persisted) {
      fetchCode();
    }
  });
  schedule(refresh);
}());

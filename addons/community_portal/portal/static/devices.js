// The devices page asks the live state of the resident's devices every
// five seconds and updates each card in place (readings, online, the
// "switching…" mark); once a switch the resident pressed is reported, the
// page reloads so that its button offers the other action.
(function () {
  'use strict';
  var box = document.getElementById('devices');
  if (!box || !box.dataset.state) {
    return;
  }
  var delay = 5000;
  function update(card, state) {
    var pending = card.querySelector('.pending');
    var wasPending = pending && !pending.classList.contains('hidden');
    Object.keys(state.readings).forEach(function (key) {
      var cell = card.querySelector('.reading[data-key="' + key + '"]');
      if (cell) {
        cell.textContent = state.readings[key];
      }
    });
    var seen = card.querySelector('.seen');
    if (seen && state.seen) {
      seen.dataset.time = state.seen;
    }
    if (pending) {
      pending.classList.toggle('hidden', !state.pending);
    }
    card.dataset.online = state.online ? '1' : '0';
    return wasPending && !state.pending;
  }
  function poll() {
    fetch(box.dataset.state, {
      credentials: 'same-origin', cache: 'no-store',
      headers: {'Accept': 'application/json'}
    }).then(function (response) {
      if (!response.ok) {
        throw new Error(response.status);
      }
      return response.json();
    }).then(function (data) {
      var done = false;
      Object.keys(data).forEach(function (ref) {
        var card = document.getElementById('device-' + ref);
        if (card && update(card, data[ref])) {
          done = true;
        }
      });
      if (done) {
        window.location.reload();
        return;
      }
      window.setTimeout(poll, delay);
    }).catch(function () {
      window.setTimeout(poll, delay * 3);
    });
  }
  window.setTimeout(poll, delay);
}());

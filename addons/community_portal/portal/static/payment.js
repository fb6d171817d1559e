// The QR page of a payment asks its status every two seconds and turns
// into the receipt once the provider's notification has been booked,
// without reloading; it stops when the order is closed.
(function () {
  'use strict';
  var box = document.getElementById('payment');
  if (!box || !box.dataset.status) {
    return;
  }
  var delay = 2000;
  function poll() {
    fetch(box.dataset.status, {
      credentials: 'same-origin', cache: 'no-store',
      headers: {'Accept': 'application/json'}
    }).then(function (response) {
      if (!response.ok) {
        throw new Error(response.status);
      }
      return response.json();
    }).then(function (data) {
      if (data.state === 'paid') {
        box.innerHTML = data.receipt;
        box.dataset.state = 'paid';
        var title = document.getElementById('page-title');
        if (title && box.dataset.paidTitle) {
          title.textContent = box.dataset.paidTitle;
          document.title = box.dataset.paidTitle;
        }
        return;
      }
      if (data.state === 'closed') {
        var qr = document.getElementById('payment-qr');
        if (qr) {
          qr.classList.add('hidden');
        }
        document.getElementById('payment-closed').classList.remove(
          'hidden');
        box.dataset.state = 'closed';
        return;
      }
      window.setTimeout(poll, delay);
    }).catch(function () {
      // offline a moment, or the server restarting: ask again later
      window.setTimeout(poll, delay * 3);
    });
  }
  window.setTimeout(poll, delay);

  // Inside WeChat (JSAPI): WeChat's own payment sheet, with the
  // parameters the server signed; the page goes on asking its status
  var button = document.getElementById('wechat-pay');
  if (button) {
    button.addEventListener('click', function () {
      var parameters = JSON.parse(button.dataset.jsapi);
      if (window.WeixinJSBridge) {
        window.WeixinJSBridge.invoke(
          'getBrandWCPayRequest', parameters, function () {});
      }
    });
  }
}());

// The live refresh of the teambox pages (teambox/pages/live.py says why it polls).
// Every few seconds it asks <body data-live-url> what changed: stamps of the inbox, of
// the open chat and of the notifications drawer. A part whose stamp moved is fetched
// again and swapped in; the drawer comes with the answer. The poll is also the agent's
// heartbeat. Without this script every page still works, reloaded by hand.
(function () {
  "use strict";

  var HIDDEN_SLOWDOWN = 4; // a background tab polls four times less often
  var MOST_DELAY = 30000;

  // What the open chat refreshes from its own page when its stamp moves; parts holding
  // the focus (a reply being typed) are left alone.
  var CHAT_PARTS = ["#chat .chat-header", "#timeline", "#chat-actions"];
  var INBOX_PARTS = [".chat-list-column"];

  var body = document.body;
  var url = body.dataset.liveUrl;
  var chat = document.querySelector("#chat[data-conversation]");
  var drawer = document.getElementById("notification-drawer");
  var state = {
    inbox: body.dataset.liveInbox || null,
    chat: body.dataset.liveChat || null,
    notifications: drawer ? drawer.dataset.stamp : "",
    seen: drawer ? drawer.dataset.seen : "0",
    interval: 3000,
    failures: 0,
    lost: false,
    stopped: false,
    timer: null,
    busy: false,
  };

  function pollUrl() {
    var params = new URLSearchParams();
    if (chat && !state.lost) params.set("conversation", chat.dataset.conversation);
    params.set("notifications", state.notifications);
    params.set("seen", state.seen);
    return url + "?" + params.toString();
  }

  function fetchDocument(source) {
    return fetch(source, {
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" },
    }).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.text().then(function (html) {
        return new DOMParser().parseFromString(html, "text/html");
      });
    });
  }

  function holdsFocus(element) {
    return element.contains(document.activeElement) && document.activeElement !== document.body;
  }

  function swap(target, source) {
    if (!target || !source || holdsFocus(target)) return;
    var atBottom = target.scrollHeight - target.scrollTop - target.clientHeight < 40;
    var scrollTop = target.scrollTop;
    target.innerHTML = source.innerHTML;
    target.scrollTop = atBottom ? target.scrollHeight : scrollTop;
  }

  function swapParts(doc, selectors) {
    selectors.forEach(function (selector) {
      swap(document.querySelector(selector), doc.querySelector(selector));
    });
  }

  function refreshInbox() {
    var list = document.getElementById("inbox-list");
    if (list && list.dataset.liveUrl) {
      return fetchDocument(list.dataset.liveUrl).then(function (doc) {
        swap(list, doc.body);
      });
    }
    // A chat page this agent lost answers 404: its list stays as it is.
    if (state.lost) return null;
    return fetchDocument(window.location.href).then(function (doc) {
      swapParts(doc, INBOX_PARTS);
    });
  }

  function refreshChat(withInbox) {
    return fetchDocument(window.location.href).then(function (doc) {
      swapParts(doc, withInbox ? CHAT_PARTS.concat(INBOX_PARTS) : CHAT_PARTS);
    });
  }

  function loseChat(message) {
    state.lost = true;
    var notice = document.createElement("p");
    notice.className = "lost-access";
    notice.setAttribute("role", "alert");
    notice.textContent = message;
    var row = document.querySelector('.chat-row[data-conversation="' + chat.dataset.conversation + '"]');
    if (row) row.remove();
    chat.replaceChildren(notice);
    document.querySelectorAll(".contact-panel, #card-drawer").forEach(function (part) {
      part.remove();
    });
  }

  function showPresence(presence) {
    var form = document.querySelector(".presence-switch");
    if (!form || !presence) return;
    form.dataset.presence = presence.value;
    form.title = "Routing sees you as " + presence.label.toLowerCase();
    form.querySelectorAll("button[name=presence]").forEach(function (button) {
      button.setAttribute("aria-pressed", button.value === presence.chosen ? "true" : "false");
    });
  }

  function showNotifications(answer) {
    var count = document.getElementById("notification-count");
    if (count) {
      count.textContent = answer.count;
      count.hidden = !answer.count;
    }
    if (answer.html === undefined) return;
    state.notifications = answer.stamp;
    state.seen = String(answer.seen);
    var list = document.getElementById("notification-list");
    if (list) list.innerHTML = answer.html;
    (answer.alerts || []).forEach(alertInBrowser);
  }

  function alertInBrowser(alert) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    var shown = new Notification(alert.title, { body: alert.body, tag: "picky-" + alert.id });
    shown.onclick = function () {
      window.focus();
      if (alert.url) window.location.assign(alert.url);
    };
  }

  function apply(answer) {
    var jobs = [];
    state.interval = answer.interval || state.interval;
    showPresence(answer.presence);
    showNotifications(answer.notifications);
    var inboxMoved = answer.inbox !== state.inbox;
    state.inbox = answer.inbox;
    var conversation = answer.conversation;
    if (conversation && !conversation.access) {
      loseChat(conversation.message);
      if (inboxMoved) jobs.push(refreshInbox());
    } else if (conversation && conversation.stamp !== state.chat) {
      state.chat = conversation.stamp;
      jobs.push(refreshChat(inboxMoved));
    } else if (inboxMoved) {
      jobs.push(refreshInbox());
    }
    return Promise.all(jobs);
  }

  function schedule(delay) {
    if (state.stopped) return;
    clearTimeout(state.timer);
    state.timer = setTimeout(poll, delay);
  }

  function nextDelay() {
    var delay = state.interval * (document.hidden ? HIDDEN_SLOWDOWN : 1);
    return Math.min(MOST_DELAY, delay * Math.pow(2, state.failures));
  }

  function poll() {
    if (state.busy) return;
    state.busy = true;
    fetch(pollUrl(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        // 404: the project is gone for this user (removed from it): so is the chat.
        if (response.status === 404 || response.redirected) {
          state.stopped = true;
          if (chat && !state.lost) loseChat("You no longer have access to this chat.");
          return null;
        }
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json().then(apply);
      })
      .then(function () {
        state.failures = 0;
      })
      .catch(function () {
        state.failures = Math.min(state.failures + 1, 4);
      })
      .then(function () {
        state.busy = false;
        schedule(nextDelay());
      });
  }

  // The drawer's and the presence switch's forms send without leaving the page, then
  // the poll shows their outcome at once.
  function sendInPlace(event) {
    var form = event.target;
    if (!form.matches("form[data-live-form]")) return;
    event.preventDefault();
    var data = new FormData(form);
    if (event.submitter && event.submitter.name) {
      data.append(event.submitter.name, event.submitter.value);
    }
    var item = form.closest(".notification");
    if (item) item.remove();
    fetch(form.action, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .catch(function () {})
      .then(function () {
        state.notifications = "";
        schedule(0);
      });
  }

  // Browser notifications only after the agent asks for them, from a button; a refusal
  // is explained when it answers that click, not on every page.
  function setUpPermission() {
    var button = document.getElementById("notification-permission");
    var note = document.getElementById("notification-permission-note");
    if (!button || !("Notification" in window)) return;
    button.hidden = Notification.permission !== "default";
    button.addEventListener("click", function () {
      Notification.requestPermission().then(function (answer) {
        button.hidden = answer !== "default";
        note.hidden = answer !== "denied";
        note.textContent =
          "Browser notifications are blocked for this site in the browser's settings.";
      });
    });
  }

  if (!url || !window.fetch) return;
  document.addEventListener("submit", sendInPlace);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) schedule(0);
  });
  document.addEventListener("DOMContentLoaded", function () {
    setUpPermission();
    schedule(state.interval);
  });
})();

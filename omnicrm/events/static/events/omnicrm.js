/*! omnicrm.js: first-party tracking snippet served by omnicrm (MIT). See docs/tracking.md.
 *
 * <script>
 *   !function(w){var o=w.omnicrm=w.omnicrm||{q:[]};["page","track","identify","consent",
 *   "greet","flush"].forEach(function(m){o[m]=o[m]||function(){o.q.push([m,[].slice.call(arguments)])}})}(window);
 *   omnicrm.page();
 * </script>
 * <script async src="https://crm.example.com/t.js" data-write-key="wk_..."></script>
 */
(function (window, document) {
  "use strict";

  var VERSION = "1.0.0";
  var COOKIE = "ocrm_aid";
  var USER_KEY = "ocrm_uid";
  var CONSENT_KEY = "ocrm_consent";
  var MAX_QUEUE = 20;
  var FLUSH_MS = 2000;
  // sendBeacon refuses payloads over 64 KB; stay well under it, and under 500 KB per batch.
  var MAX_BEACON_BYTES = 60000;

  var script = document.currentScript;
  var stub = window.omnicrm && window.omnicrm.q ? window.omnicrm : { q: [] };
  var config = window.omnicrmConfig || {};
  var writeKey = config.writeKey || (script && script.getAttribute("data-write-key")) || "";
  var host = (config.host || (script && script.getAttribute("data-host")) ||
    (script && script.src ? new URL(script.src, document.baseURI).origin : "")).replace(/\/$/, "");

  var queue = [];
  var timer = null;

  function randomId() {
    if (window.crypto && window.crypto.randomUUID) {
      return window.crypto.randomUUID();
    }
    // randomUUID needs a secure context; getRandomValues does not.
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) {
      return (b + 0x100).toString(16).slice(1);
    }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" +
      hex.slice(16, 20) + "-" + hex.slice(20);
  }

  function readCookie(name) {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (parts[i].slice(0, eq) === name) {
        return decodeURIComponent(parts[i].slice(eq + 1));
      }
    }
    return "";
  }

  var anonId = "";

  function anonymousId() {
    if (!anonId) {
      anonId = readCookie(COOKIE) || randomId();
      // Set again on each page load so the year counts from the last visit. First-party, Lax.
      document.cookie = COOKIE + "=" + encodeURIComponent(anonId) + "; Max-Age=31536000; Path=/; SameSite=Lax" +
        (window.location.protocol === "https:" ? "; Secure" : "");
    }
    return anonId;
  }

  function forgetAnonymousId() {
    anonId = "";
    document.cookie = COOKIE + "=; Max-Age=0; Path=/; SameSite=Lax";
  }

  function storage(key, value) {
    try {
      if (value === undefined) {
        return window.localStorage.getItem(key) || "";
      }
      if (value === null) {
        window.localStorage.removeItem(key);
      } else {
        window.localStorage.setItem(key, value);
      }
    } catch (e) {
      // Storage can be disabled; tracking then lasts for the page only.
    }
    return "";
  }

  function trackingAllowed() {
    return storage(CONSENT_KEY) !== "denied";
  }

  function pageContext() {
    return {
      path: window.location.pathname,
      url: window.location.href,
      title: document.title,
      referrer: document.referrer,
      search: window.location.search
    };
  }

  function message(type, fields) {
    var msg = {
      type: type,
      messageId: "ocrm-" + randomId(),
      anonymousId: anonymousId(),
      timestamp: new Date().toISOString(),
      context: {
        library: { name: "omnicrm.js", version: VERSION },
        page: pageContext(),
        userAgent: window.navigator.userAgent,
        locale: window.navigator.language
      }
    };
    var userId = storage(USER_KEY);
    if (userId) {
      msg.userId = userId;
    }
    for (var key in fields) {
      if (Object.prototype.hasOwnProperty.call(fields, key)) {
        msg[key] = fields[key];
      }
    }
    return msg;
  }

  function body(batch) {
    return JSON.stringify({ batch: batch, sentAt: new Date().toISOString(), writeKey: writeKey });
  }

  // text/plain keeps the POST a "simple" cross-origin request: no preflight, and the one
  // content type sendBeacon may send everywhere. omnicrm reads the JSON either way.
  function send(batch, useBeacon) {
    var payload = body(batch);
    var url = host + "/v1/batch";
    if (useBeacon && window.navigator.sendBeacon && payload.length < MAX_BEACON_BYTES) {
      var blob = new Blob([payload], { type: "text/plain;charset=UTF-8" });
      if (window.navigator.sendBeacon(url, blob)) {
        return Promise.resolve(true);
      }
    }
    return window.fetch(url, {
      method: "POST",
      body: payload,
      headers: { "Content-Type": "text/plain;charset=UTF-8" },
      credentials: "omit",
      keepalive: payload.length < MAX_BEACON_BYTES,
      mode: "cors"
    }).then(function (response) {
      return response.ok;
    }, function () {
      return false;
    });
  }

  function flush(options) {
    if (timer) {
      window.clearTimeout(timer);
      timer = null;
    }
    var wait = options && options.wait;
    var sends = [];
    while (queue.length) {
      // Split so each request stays under the beacon limit.
      var batch = [];
      var size = 100;
      while (queue.length && (batch.length === 0 || size + JSON.stringify(queue[0]).length < MAX_BEACON_BYTES)) {
        var next = queue.shift();
        size += JSON.stringify(next).length + 1;
        batch.push(next);
      }
      sends.push(send(batch, !wait));
    }
    return Promise.all(sends).then(function (results) {
      return results.every(Boolean);
    });
  }

  // Takes a function, not a message: building one sets the id cookie, which must not
  // happen for a visitor who refused tracking.
  function enqueue(build, immediately) {
    if (!writeKey || !trackingAllowed()) {
      return Promise.resolve(false);
    }
    queue.push(build());
    if (immediately) {
      return flush({ wait: true });
    }
    if (queue.length >= MAX_QUEUE) {
      return flush();
    }
    if (!timer) {
      timer = window.setTimeout(flush, FLUSH_MS);
    }
    return Promise.resolve(true);
  }

  var api = {
    version: VERSION,

    page: function (name, properties) {
      if (typeof name === "object" && name !== null) {
        properties = name;
        name = undefined;
      }
      var props = pageContext();
      for (var key in properties || {}) {
        if (Object.prototype.hasOwnProperty.call(properties, key)) {
          props[key] = properties[key];
        }
      }
      var fields = { properties: props };
      if (name) {
        fields.name = String(name);
      }
      return enqueue(function () { return message("page", fields); });
    },

    track: function (event, properties) {
      return enqueue(function () {
        return message("track", { event: String(event), properties: properties || {} });
      });
    },

    // Sent at once (not batched): the login is what later greetings and events rely on.
    // The promise resolves when omnicrm has stored it.
    identify: function (userId, traits) {
      if (typeof userId === "object" && userId !== null) {
        traits = userId;
        userId = null;
      }
      if (userId !== null && userId !== undefined && userId !== "") {
        storage(USER_KEY, String(userId));
      }
      return enqueue(function () { return message("identify", { traits: traits || {} }); }, true);
    },

    // omnicrm.consent({tracking: false}) tells omnicrm and stops all sending; true resumes.
    consent: function (choices) {
      if (!choices || typeof choices.tracking !== "boolean") {
        return Promise.resolve(false);
      }
      function build() {
        return message("track", {
          event: "Segment Consent Preference Updated",
          context: {
            consent: { categoryPreferences: { tracking: choices.tracking } },
            library: { name: "omnicrm.js", version: VERSION },
            page: pageContext()
          }
        });
      }
      if (choices.tracking) {
        storage(CONSENT_KEY, "granted");
        return enqueue(build, true);
      }
      // The refusal is the last message: the queue is dropped, nothing is sent after it,
      // and the id cookie goes (omnicrm keeps the refusal on the profile).
      queue = [];
      var sent = writeKey ? send([build()], false) : Promise.resolve(false);
      storage(CONSENT_KEY, "denied");
      forgetAnonymousId();
      return sent;
    },

    // Fills every [data-omnicrm-greeting] element (or the one given) and resolves with
    // {greeting, known, language}.
    greet: function (target) {
      var params = new URLSearchParams({
        writeKey: writeKey,
        anonymousId: readCookie(COOKIE),
        language: document.documentElement.lang || window.navigator.language || ""
      });
      var userId = storage(USER_KEY);
      if (userId) {
        params.set("userId", userId);
      }
      return window.fetch(host + "/api/v1/personalize/greeting?" + params.toString(), {
        credentials: "omit",
        mode: "cors"
      }).then(function (response) {
        return response.json();
      }).then(function (data) {
        var nodes = target ? [typeof target === "string" ? document.querySelector(target) : target]
          : document.querySelectorAll("[data-omnicrm-greeting]");
        Array.prototype.forEach.call(nodes, function (node) {
          if (node && data.greeting) {
            node.textContent = data.greeting;
          }
        });
        return data;
      });
    },

    flush: flush,

    // On logout: the next visitor on this browser starts anonymous and unlinked.
    reset: function () {
      storage(USER_KEY, null);
      forgetAnonymousId();
    },

    anonymousId: function () {
      return anonymousId();
    }
  };

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      flush();
    }
  });
  window.addEventListener("pagehide", function () {
    flush();
  });

  window.omnicrm = api;
  // Replay what the page asked for before the script loaded.
  for (var i = 0; i < stub.q.length; i++) {
    var call = stub.q[i];
    if (typeof api[call[0]] === "function") {
      api[call[0]].apply(api, call[1]);
    }
  }
})(window, document);

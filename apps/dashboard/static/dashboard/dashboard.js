// Live stock dashboard: applies the events of ws/stock/ to the table without reloading.
// Resumes after a reconnect from the last event id seen; drops stale versions per level.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("stream-config").textContent);
  const table = document.querySelector("#stock-table tbody");
  const indicator = document.getElementById("connection");
  const alertsList = document.getElementById("alerts");
  const alertsEmpty = document.getElementById("alerts-empty");
  const movementsList = document.getElementById("movements");
  const FIELDS = ["on_hand", "reserved", "available", "in_transit", "damaged"];
  const MAX_MOVEMENTS = 25;
  let lastEventId = config.since;
  let retryDelay = 500;
  let socket = null;

  function setStatus(state, label) {
    indicator.className = "connection connection-" + state;
    indicator.querySelector(".label").textContent = label;
    indicator.dataset.state = state;
  }

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function rowFor(data) {
    let row = table.querySelector('tr[data-level="' + data.stock_level_id + '"]');
    if (row) return row;
    const empty = table.querySelector("tr.empty");
    if (empty) empty.remove();
    row = document.createElement("tr");
    row.dataset.level = data.stock_level_id;
    row.dataset.version = "-1";
    row.dataset.sku = data.sku;
    row.append(cell(data.sku, "sku"), cell(data.product_name || ""));
    for (const field of FIELDS) {
      const td = cell("", "num");
      td.dataset.field = field;
      row.append(td);
    }
    const after = Array.from(table.rows).find((r) => r.dataset.sku > data.sku);
    table.insertBefore(row, after || null);
    return row;
  }

  function applyStock(data) {
    const row = rowFor(data);
    if (Number(row.dataset.version) >= data.version) return; // stale or already shown
    row.dataset.version = data.version;
    for (const field of FIELDS) {
      const td = row.querySelector('td[data-field="' + field + '"]');
      const before = td.textContent === "" ? null : Number(td.textContent);
      const after = data[field];
      if (before === after) continue;
      td.textContent = after;
      td.classList.remove("changed", "up", "down");
      void td.offsetWidth; // restart the highlight animation
      td.classList.add("changed", before === null || after > before ? "up" : "down");
    }
  }

  function addMovement(m, isNew) {
    if (movementsList.querySelector('li[data-ledger="' + m.ledger_id + '"]')) return;
    const li = document.createElement("li");
    const time = new Date(m.at).toLocaleTimeString();
    li.append(time + " " + m.sku + " " + m.reason.replace(/_/g, " ") + " ");
    const delta = m.on_hand_delta || m.reserved_delta;
    if (delta) {
      const sign = document.createElement("span");
      sign.className = delta > 0 ? "delta-up" : "delta-down";
      sign.textContent = (delta > 0 ? "+" : "") + delta + (m.on_hand_delta ? " on hand" : " reserved");
      li.append(sign);
    }
    li.dataset.ledger = m.ledger_id;
    if (isNew) {
      li.classList.add("new");
      movementsList.prepend(li);
      while (movementsList.children.length > MAX_MOVEMENTS) movementsList.lastChild.remove();
    } else {
      movementsList.append(li);
    }
  }

  function renderAlert(alert) {
    let li = alertsList.querySelector('li[data-alert="' + alert.id + '"]');
    if (alert.status === "resolved") {
      if (li) li.remove();
    } else {
      if (!li) {
        li = document.createElement("li");
        li.dataset.alert = alert.id;
        alertsList.prepend(li);
      }
      li.className = alert.status;
      li.replaceChildren();
      const title = document.createElement("div");
      title.textContent = alert.message;
      const meta = document.createElement("div");
      meta.className = "meta";
      meta.textContent = alert.status + (alert.reorder_quantity ? " · reorder " + alert.reorder_quantity : "");
      li.append(title, meta);
    }
    markLowRows();
    alertsEmpty.hidden = alertsList.children.length > 0;
  }

  function markLowRows() {
    const low = new Set(
      Array.from(alertsList.querySelectorAll("li[data-level]")).map((li) => li.dataset.level)
    );
    for (const row of table.rows) row.classList.toggle("low", low.has(row.dataset.level));
  }

  function onAlert(alert) {
    if (alert.location_id !== config.location) return;
    renderAlert(alert);
    const li = alertsList.querySelector('li[data-alert="' + alert.id + '"]');
    if (li && alert.kind === "low_stock") {
      li.dataset.level = alert.stock_level_id;
      markLowRows();
    }
  }

  function onEvent(event) {
    if (typeof event.id === "number" && event.id > lastEventId) lastEventId = event.id;
    if (event.type === "stock.changed") {
      if (event.data.location_id !== config.location) return;
      applyStock(event.data);
      addMovement(
        {
          ledger_id: event.data.ledger_id, sku: event.data.sku, reason: event.data.reason,
          on_hand_delta: event.data.delta.on_hand, reserved_delta: event.data.delta.reserved,
          at: event.occurred_at,
        },
        true
      );
    } else if (event.type && event.type.startsWith("alert.")) {
      onAlert(event.data);
    } else if (event.type === "resync") {
      window.location.reload();
    }
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    const query = new URLSearchParams({
      merchant: config.merchant, locations: config.location, since: lastEventId,
    });
    // Websockets share the page's origin behind a proxy, or have a port of their own.
    const host = config.port ? window.location.hostname + ":" + config.port : window.location.host;
    socket = new WebSocket(scheme + host + config.path + "?" + query);
    socket.onopen = () => { retryDelay = 500; };
    socket.onmessage = (message) => {
      const event = JSON.parse(message.data);
      if (event.type === "subscribed") setStatus("live", "Live");
      onEvent(event);
    };
    socket.onclose = (closed) => {
      if (closed.code === 4403) {
        setStatus("offline", "Not allowed: sign in again");
        return;
      }
      setStatus("reconnecting", "Reconnecting…");
      window.setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 10000);
    };
  }

  for (const m of config.movements) addMovement(m, false);
  for (const alert of config.alerts.slice().reverse()) onAlert(alert); // newest ends on top
  alertsEmpty.hidden = alertsList.children.length > 0;
  window.addEventListener("offline", () => setStatus("offline", "Offline"));
  connect();
})();

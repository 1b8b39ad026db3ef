// The operator's live feed: WS /api/v1/ws?ticket=...&after=<last message id>.
// The ticket (POST /api/v1/ws-ticket) is fetched right before every connect: it works once
// and for seconds, so the URL never holds the reusable token.
// Reconnects with exponential backoff and jitter; waits for the browser to be back online;
// after a drop it passes after=<last seen message id> so the server replays what was missed.

export class LiveFeed {
  constructor({ getTicket, lastId, onEvent, onReady, onState, onUnauthorized }) {
    this.getTicket = getTicket; // () => Promise<{ticket}>; rejects with .status 401 when signed out
    this.lastId = lastId; // () => number | null
    this.onEvent = onEvent;
    this.onReady = onReady;
    this.onState = onState;
    this.onUnauthorized = onUnauthorized;
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.pinger = null;
    this.stopped = false;
    this.connects = 0;
    this._online = () => this._reconnectNow();
    this._offline = () => {
      // The network is gone: drop the socket now (its close may never complete) and wait
      // for the "online" event, then reconnect and catch up.
      clearTimeout(this.timer);
      const ws = this.ws;
      this.ws = null;
      if (ws) ws.close(4000, "offline");
      this.onState("offline");
    };
    window.addEventListener("online", this._online);
    window.addEventListener("offline", this._offline);
  }

  start() {
    this.stopped = false;
    this._connect();
  }

  // A signal to the server (typing); dropped while disconnected: it is only a hint.
  send(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.pinger);
    window.removeEventListener("online", this._online);
    window.removeEventListener("offline", this._offline);
    if (this.ws) this.ws.close(1000, "bye");
    this.ws = null;
  }

  _url(ticket) {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const params = new URLSearchParams({ ticket });
    const after = this.lastId();
    if (after !== null && after !== undefined) params.set("after", String(after));
    return `${proto}//${location.host}/api/v1/ws?${params}`;
  }

  async _connect() {
    if (this.stopped || this.opening) return;
    if (!navigator.onLine) {
      this.onState("offline");
      return; // the "online" event reconnects
    }
    this.onState(this.connects ? "reconnecting" : "connecting");
    let ticket;
    this.opening = true;
    try {
      ({ ticket } = await this.getTicket());
    } catch (e) {
      if (e && e.status === 401) {
        if (!this.stopped) this.onUnauthorized(); // signed out, deactivated or revoked
      } else if (!this.stopped) {
        this._schedule();
      }
      return;
    } finally {
      this.opening = false;
    }
    if (this.stopped || this.ws) return;
    const ws = new WebSocket(this._url(ticket));
    this.ws = ws;
    ws.onmessage = (e) => {
      let frame;
      try {
        frame = JSON.parse(e.data);
      } catch {
        return;
      }
      // A busy server sends what piled up as one {"type": "batch"} frame, in order.
      for (const ev of frame.type === "batch" ? frame.events : [frame]) {
        if (ev.type === "ready") {
          this.attempt = 0;
          const again = this.connects > 0;
          this.connects += 1;
          this.onState("live");
          this.onReady(again, ev);
        } else if (ev.type !== "pong") {
          this.onEvent(ev);
        }
      }
    };
    ws.onopen = () => {
      clearInterval(this.pinger);
      this.pinger = setInterval(() => ws.readyState === 1 && ws.send("ping"), 25000);
    };
    ws.onclose = (e) => {
      clearInterval(this.pinger);
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      // 4401: our credentials changed (logout elsewhere, new password, deactivation, new
      // role). The next ticket request tells: 401 signs out, otherwise we reconnect.
      this._schedule();
    };
  }

  _schedule() {
    clearTimeout(this.timer);
    if (!navigator.onLine) {
      this.onState("offline");
      return;
    }
    const base = Math.min(30000, 500 * 2 ** this.attempt);
    const delay = base / 2 + Math.random() * (base / 2);
    this.attempt += 1;
    this.onState("reconnecting", delay);
    this.timer = setTimeout(() => this._connect(), delay);
  }

  _reconnectNow() {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.attempt = 0;
    if (!this.ws) this._connect();
  }
}

// The public API of chatcentre, as the console uses it. The token lives in sessionStorage
// (or localStorage when "keep me signed in" was ticked).

const KEY = "chatcentre.token";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function savedToken() {
  return sessionStorage.getItem(KEY) || localStorage.getItem(KEY);
}

export function saveToken(token, remember) {
  clearToken();
  (remember ? localStorage : sessionStorage).setItem(KEY, token);
}

export function clearToken() {
  sessionStorage.removeItem(KEY);
  localStorage.removeItem(KEY);
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

export async function request(method, path, body, { raw = false } = {}) {
  const headers = {};
  const token = savedToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "network", "Cannot reach the server");
  }
  if (res.status === 401 && path !== "/api/v1/auth/login") onUnauthorized();
  if (!res.ok) {
    let code = "http_" + res.status;
    let message = res.statusText || "Request failed";
    try {
      const err = (await res.json()).error;
      if (err) ({ code, message } = err);
    } catch {
      /* not JSON */
    }
    throw new ApiError(res.status, code, message);
  }
  if (raw) return res;
  if (res.status === 204) return null;
  return res.json();
}

export const api = {
  login: (email, password) => request("POST", "/api/v1/auth/login", { email, password }),
  me: () => request("GET", "/api/v1/operators/me"),
  updateMe: (body) => request("PATCH", "/api/v1/operators/me", body),
  wsTicket: () => request("POST", "/api/v1/ws-ticket"),
  operators: () => request("GET", "/api/v1/operators"),
  channels: () => request("GET", "/api/v1/channels"),
  channelTypes: () => request("GET", "/api/v1/channel-types"),
  conversations: (params) => request("GET", "/api/v1/conversations?" + new URLSearchParams(params)),
  search: (q) => request("GET", "/api/v1/search?" + new URLSearchParams({ q, limit: 5 })),
  conversation: (id) => request("GET", `/api/v1/conversations/${id}`),
  messages: (id, params) =>
    request("GET", `/api/v1/conversations/${id}/messages?` + new URLSearchParams(params)),
  send: (id, body) => request("POST", `/api/v1/conversations/${id}/messages`, body),
  assign: (id, assigneeId) =>
    request("POST", `/api/v1/conversations/${id}/assign`, { assignee_id: assigneeId }),
  setStatus: (id, status) => request("POST", `/api/v1/conversations/${id}/status`, { status }),
  markRead: (id) => request("POST", `/api/v1/conversations/${id}/read`),
  contact: (id) => request("GET", `/api/v1/contacts/${id}`),
  touchpoints: (contactId) =>
    request("GET", "/api/v1/touchpoints?" + new URLSearchParams({ contact_id: contactId, limit: 30 })),
  templates: (channelId) => request("GET", `/api/v1/channels/${channelId}/templates`),
  presence: (operatorId, presence) =>
    request("POST", `/api/v1/operators/${operatorId}/presence`, { presence }),
  labels: () => request("GET", "/api/v1/labels"),
  setConversationLabels: (id, labels) =>
    request("POST", `/api/v1/conversations/${id}/labels`, { labels }),
  cannedResponses: () => request("GET", "/api/v1/canned-responses"),
  renderCanned: (id, conversationId) =>
    request("POST", `/api/v1/canned-responses/${id}/render`, { conversation_id: conversationId }),
  attachment: (messageId, index) =>
    request("GET", `/api/v1/messages/${messageId}/attachments/${index}`, undefined, { raw: true }),
};

export function newClientId() {
  const b = new Uint8Array(12);
  crypto.getRandomValues(b);
  return "c-" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

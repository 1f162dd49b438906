// Every call to the service goes through here; the caller's identity is built in one place (authHeaders).
const TOKEN_KEY = "lai-identity";

export function identity() {
  return localStorage.getItem(TOKEN_KEY) || "demo-tenant";
}

export function setIdentity(value) {
  localStorage.setItem(TOKEN_KEY, value);
}

// Today the service takes the tenant from X-Tenant-ID; when it authenticates callers (#26) this becomes
// {"Authorization": "Bearer " + identity()} and nothing else in the page changes.
export function authHeaders() {
  return {"X-Tenant-ID": identity()};
}

export class ApiFailure extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

const PLAIN = {
  404: "Not found: the record does not exist (or belongs to another tenant).",
  503: "The service's database is unreachable; try again in a moment.",
};

export async function call(method, path, body) {
  const headers = authHeaders();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
  } catch {
    throw new ApiFailure(0, "The service cannot be reached (network error); nothing was saved.", null);
  }
  if (response.status === 204) return null;
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  if (response.ok) return payload;
  const error = payload && payload.error;
  const message = PLAIN[response.status] || (error ? error.message : "The service answered " + response.status);
  throw new ApiFailure(response.status, message, error);
}

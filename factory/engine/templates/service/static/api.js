// Every call to the service goes through here; the caller's identity is built in one place (authHeaders).
const TENANT_KEY = "lai-tenant";
const TOKEN_KEY = "lai-token";

// The tenant is kept across visits; a token only for this tab's session (it is a credential).
export function tenant() {
  return localStorage.getItem(TENANT_KEY) || "demo-tenant";
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setTenant(value) {
  localStorage.setItem(TENANT_KEY, value.trim());
}

export function setToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value.trim());
}

// A service started with LAI_JWT_SECRET takes the tenant from a verified bearer token (and ignores
// X-Tenant-ID); without it the tenant header is the caller's identity.
export function authHeaders() {
  return token() ? {"Authorization": "Bearer " + token()} : {"X-Tenant-ID": tenant()};
}

export class ApiFailure extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

const PLAIN = {
  401: "Not signed in: the service requires a token (paste one above); ",
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
  const detail = error ? error.message : "the service answered " + response.status;
  const message = response.status === 401 ? PLAIN[401] + detail : PLAIN[response.status] || detail;
  throw new ApiFailure(response.status, message, error);
}

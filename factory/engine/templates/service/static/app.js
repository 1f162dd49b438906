// The admin page: reads the contract, then routes #/<plural>[/<id>[/edit]|/new] to a view.
import {setTenant, setToken, tenant, token} from "./api.js";
import {entities} from "./contract.js";
import {detailView, formView, listView} from "./views.js";

const main = document.getElementById("main");
const status = document.getElementById("status");
const nav = document.getElementById("entities");
const tenantBox = document.getElementById("tenant");
const tokenBox = document.getElementById("token");
let all = [];

function render() {
  const [path, search] = (location.hash.slice(1) || "/").split("?");
  const [plural, id, action] = path.split("/").filter(Boolean);
  const entity = all.find(e => e.plural === plural) || all[0];
  if (!entity) return;
  const ctx = {main, status, all};
  nav.querySelectorAll("a").forEach(a => a.setAttribute("aria-current", a.dataset.plural === entity.plural ? "page" : "false"));
  if (id === "new") return formView(ctx, entity, null);
  if (id && action === "edit") return formView(ctx, entity, id);
  if (id) return detailView(ctx, entity, id);
  return listView(ctx, entity, new URLSearchParams(search || ""));
}

// data-ready names the view once it is drawn (its records fetched): what a test, or a script, can wait for.
async function route() {
  delete main.dataset.ready;
  await render();
  main.dataset.ready = location.hash || "#/";
}

async function start() {
  tenantBox.value = tenant();
  tokenBox.value = token();
  tenantBox.addEventListener("change", () => { setTenant(tenantBox.value); route(); });
  tokenBox.addEventListener("change", () => { setToken(tokenBox.value); route(); });
  const response = await fetch("/openapi.json").catch(() => null);
  if (!response || !response.ok) {
    status.textContent = "The service's contract (/openapi.json) cannot be read; is the service running?";
    status.className = "status error";
    return;
  }
  const doc = await response.json();
  document.getElementById("title").textContent = doc.info.title;
  document.title = doc.info.title;
  all = entities(doc);
  for (const entity of all) {
    const a = document.createElement("a");
    a.href = "#/" + entity.plural;
    a.dataset.plural = entity.plural;
    a.textContent = entity.title;
    nav.append(a);
  }
  window.addEventListener("hashchange", () => {
    if (status.className.includes("error")) { status.textContent = ""; status.className = "status"; } // a new view: an old error no longer applies
    route();
  });
  await route();
}

start();

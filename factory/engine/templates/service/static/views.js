// The page's views: a list, a record, a form, a delete. Each renders into `main` from the contract.
import {call} from "./api.js";
import {byName, changes, children, fieldErrors, types} from "./contract.js";
import {el, makeField} from "./fields.js";

const PAGE = 20;
const base = entity => "/api/v1/" + entity.plural;
const link = (text, hash) => el("a", {href: "#" + hash}, text);

function cell(value) {
  return value === undefined || value === null ? "" : typeof value === "string" ? value : JSON.stringify(value);
}

export function showError(status, failure) {
  status.textContent = failure.message;
  status.className = "status error";
}

export async function listView(ctx, entity, params) {
  const {main, status} = ctx;
  const offset = Number(params.get("offset") || 0);
  const sort = params.get("sort") || "";
  const query = new URLSearchParams({limit: PAGE, offset});
  if (sort) query.set("sort", sort);
  const filters = el("form", {class: "filters", "aria-label": "Filters"});
  for (const p of entity.filters) {
    const spec = p.schema;
    const id = "filter-" + p.name;
    let control;
    if (spec.enum || types(spec).base === "boolean") {
      control = el("select", {id, name: p.name});
      control.append(new Option("(any)", ""));
      (spec.enum || [true, false]).forEach(v => control.append(new Option(String(v), String(v))));
    } else {
      const numeric = types(spec).base === "integer" || types(spec).base === "number";
      control = el("input", {id, name: p.name, type: numeric ? "number" : spec.format === "date" ? "date" : "text"});
    }
    control.value = params.get(p.name) || "";
    if (control.value) query.set(p.name, control.value);
    filters.append(el("div", {class: "field"}, el("label", {for: id}, p.name), control));
  }
  filters.append(el("button", {type: "submit"}, "Filter"));
  filters.addEventListener("submit", event => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [k, v] of new FormData(filters)) if (v !== "") next.set(k, v);
    if (sort) next.set("sort", sort);
    location.hash = "/" + entity.plural + "?" + next;
  });
  main.replaceChildren(el("h2", {}, entity.title + " list"), link("New " + entity.title, `/${entity.plural}/new`), filters);
  let page;
  try {
    page = await call("GET", base(entity) + "?" + query);
  } catch (failure) {
    showError(status, failure);
    return;
  }
  const columns = ["id", ...Object.keys(entity.input.properties)];
  const head = el("tr");
  for (const column of columns) {
    if (!entity.sortable.includes(column)) {
      head.append(el("th", {scope: "col"}, column));
      continue;
    }
    const next = new URLSearchParams(params);
    next.set("sort", sort === column ? "-" + column : column);
    next.delete("offset");
    const mark = sort === column ? " ▲" : sort === "-" + column ? " ▼" : "";
    const order = sort === column ? "ascending" : sort === "-" + column ? "descending" : "none";
    head.append(el("th", {scope: "col", "aria-sort": order}, link(column + mark, `/${entity.plural}?${next}`)));
  }
  // The id opens the record; a reference opens the parent record it names.
  const parentOf = c => byName(ctx.all, (entity.input.properties[c] || {})["x-references"]);
  const shown = (item, c) => {
    if (c === "id") return link(item.id.slice(0, 8), `/${entity.plural}/${item.id}`);
    const parent = parentOf(c);
    return parent && item[c] ? link(item[c].slice(0, 8), `/${parent.plural}/${item[c]}`) : cell(item[c]);
  };
  const body = el("tbody");
  for (const item of page.items) body.append(el("tr", {}, ...columns.map(c => el("td", {}, shown(item, c)))));
  const last = Math.min(page.offset + page.items.length, page.total);
  const pager = el("nav", {class: "pager", "aria-label": "Pages"},
    el("span", {class: "total"}, `${page.total ? page.offset + 1 : 0}–${last} of ${page.total}`));
  const turn = (label, to) => {
    const next = new URLSearchParams(params);
    next.set("offset", to);
    pager.append(link(label, `/${entity.plural}?${next}`));
  };
  if (page.offset > 0) turn("Previous", Math.max(0, page.offset - PAGE));
  if (last < page.total) turn("Next", page.offset + PAGE);
  main.append(el("div", {class: "scroll"}, el("table", {}, el("thead", {}, head), body)), pager);
}

async function displayOf(entity, id) {
  try {
    const record = await call("GET", `${base(entity)}/${id}`);
    return cell(record[entity.display]) || id;
  } catch {
    return id;
  }
}

export async function detailView(ctx, entity, id) {
  const {main, status, all} = ctx;
  let record;
  try {
    record = await call("GET", `${base(entity)}/${id}`);
  } catch (failure) {
    main.replaceChildren(el("h2", {}, entity.title));
    showError(status, failure);
    return;
  }
  const list = el("dl");
  for (const [name, value] of Object.entries(record)) {
    const spec = entity.input.properties[name] || {};
    const parent = spec["x-references"] && byName(all, spec["x-references"]);
    const shown = parent && value ? link(await displayOf(parent, value), `/${parent.plural}/${value}`) : cell(value);
    list.append(el("dt", {}, name), el("dd", {}, shown));
  }
  const related = el("ul", {class: "children"});
  for (const child of children(all, entity)) {
    related.append(el("li", {}, link(`${child.entity.title} records whose ${child.field} is this`, `/${child.entity.plural}?${child.field}=${id}`)));
  }
  const remove = el("button", {type: "button", class: "danger"}, "Delete");
  remove.addEventListener("click", () => deleteView(ctx, entity, record));
  main.replaceChildren(el("h2", {}, `${entity.title}: ${cell(record[entity.display]) || id}`), list, related,
    el("p", {class: "actions"}, link("Edit", `/${entity.plural}/${id}/edit`), " ", remove, " ", link("Back to the list", "/" + entity.plural)));
}

// Before deleting: what a cascade removes, what is set to null, and what a restrict refuses over.
async function deleteView(ctx, entity, record) {
  const {main, status, all} = ctx;
  const effects = el("ul", {class: "effects"});
  for (const child of children(all, entity)) {
    const page = await call("GET", `${base(child.entity)}?limit=1&${child.field}=${record.id}`).catch(() => null);
    if (!page || page.total === 0) continue;
    const n = `${page.total} ${child.entity.title} record(s) (${child.field})`;
    const says = {cascade: `${n} will be deleted too`, "set-null": `${n} will have ${child.field} set to null`};
    effects.append(el("li", {}, says[child.onDelete] || `refused: ${n} still refer to it; delete or change them first`));
  }
  const confirm = el("button", {type: "button", class: "danger"}, "Yes, delete");
  const cancel = el("button", {type: "button"}, "Cancel");
  const dialog = el("section", {class: "confirm", role: "alertdialog", "aria-labelledby": "confirm-title"},
    el("h3", {id: "confirm-title"}, `Delete ${entity.title} ${cell(record[entity.display]) || record.id}?`),
    effects.childElementCount ? effects : el("p", {}, "Nothing else refers to it."), confirm, cancel);
  main.append(dialog);
  confirm.focus();
  cancel.addEventListener("click", () => dialog.remove());
  confirm.addEventListener("click", async () => {
    try {
      await call("DELETE", `${base(entity)}/${record.id}`);
      status.textContent = `Deleted ${entity.title} ${record.id}.`;
      status.className = "status";
      location.hash = "/" + entity.plural;
    } catch (failure) {
      showError(status, failure);
      const {general} = fieldErrors(failure.body, []);
      if (general.length) status.textContent += " " + general.join("; ");
    }
  });
}

// A reference: a search box over the parent's records by its display field, choosing into a select.
function picker(ctx) {
  return (id, spec, required, nullable) => {
    const parent = byName(ctx.all, spec["x-references"]);
    const control = el("select", {id, name: id.slice(2), required});
    const search = el("input", {type: "search", id: id + "-search", "aria-label": `Search ${parent.title} by ${parent.display}`, placeholder: `search ${parent.title} by ${parent.display}`});
    const none = () => new Option(nullable ? "(empty: null)" : "(choose)", "");
    control.append(none());
    const fill = (items, keep) => {
      const current = keep ? control.value : "";
      control.replaceChildren(none(), ...items.map(r => new Option(`${cell(r[parent.display])} (${r.id.slice(0, 8)})`, r.id)));
      if (current && ![...control.options].some(o => o.value === current)) control.append(new Option(current, current));
      control.value = current;
    };
    const find = async () => {
      const text = search.value.trim().toLowerCase();
      const sorted = parent.sortable.includes(parent.display) ? `&sort=${parent.display}` : "";
      const page = await call("GET", `/api/v1/${parent.plural}?limit=${parent.maxLimit}${sorted}`).catch(() => ({items: []}));
      const hits = page.items.filter(r => cell(r[parent.display]).toLowerCase().includes(text));
      fill(hits, !text);
      if (text && hits.length) control.value = hits[0].id;
    };
    let timer;
    search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(find, 200); });
    find();
    const wrap = el("span", {class: "picker"}, search, control);
    wrap.setAttribute("aria-describedby", id + "-hint");
    const read = () => control.value === "" ? (nullable ? {set: true, value: null} : {set: false}) : {set: true, value: control.value};
    const show = v => {
      if (v && ![...control.options].some(o => o.value === v)) control.append(new Option(v, v));
      control.value = v || "";
    };
    return {control: wrap, read, show};
  };
}

export async function formView(ctx, entity, id) {
  const {main, status} = ctx;
  let original = {};
  if (id) {
    try {
      original = await call("GET", `${base(entity)}/${id}`);
    } catch (failure) {
      showError(status, failure);
      return;
    }
  }
  const props = entity.input.properties;
  const fields = Object.entries(props).map(([name, spec]) => makeField(name, spec, entity.input.required.includes(name), picker(ctx)));
  if (id) fields.forEach(f => f.show(original[f.name]));
  const form = el("form", {class: "record", novalidate: false}, ...fields.map(f => f.node),
    el("button", {type: "submit"}, id ? "Save changes" : "Create"));
  const formError = el("p", {class: "status error", role: "alert", id: "form-error", tabindex: "-1"});
  form.addEventListener("submit", async event => {
    event.preventDefault();
    fields.forEach(f => f.setError(""));
    formError.textContent = "";
    const edited = {};
    try {
      for (const f of fields) {
        const {set, value} = f.read();
        if (set) edited[f.name] = value;
      }
    } catch (problem) {
      formError.textContent = "A field is not valid JSON: " + problem.message;
      return;
    }
    const body = id ? changes(original, edited) : edited;
    try {
      const saved = await call(id ? "PATCH" : "POST", id ? `${base(entity)}/${id}` : base(entity), body);
      status.textContent = `${id ? "Saved" : "Created"} ${entity.title} ${saved.id}.`;
      status.className = "status";
      location.hash = `/${entity.plural}/${saved.id}`;
    } catch (failure) {
      // The form keeps everything typed; each message goes next to the field it names.
      const {byField, general} = fieldErrors(failure.body, Object.keys(props));
      for (const f of fields) if (byField[f.name]) f.setError(byField[f.name].join("; "));
      formError.textContent = [failure.message, ...general].join(" ");
      const first = fields.find(f => byField[f.name]);
      (first ? first.node.querySelector("input, select, textarea") : formError).focus();
    }
  });
  main.replaceChildren(el("h2", {}, (id ? "Edit " : "New ") + entity.title), formError, form,
    link("Back", id ? `/${entity.plural}/${id}` : "/" + entity.plural));
}

// One form control per contract field: the input type, constraints and value conversion the schema declares.
import {types} from "./contract.js";

const EMPTY = "";

function el(tag, attrs = {}, ...kids) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...kids);
  return node;
}
export {el};

function pad(n) {
  return String(n).padStart(2, "0");
}

// date-time: edited as the browser's local time, sent as UTC (the label says so).
function localDateTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return EMPTY;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// A time of day (RFC 3339 needs an offset): edited as local time, sent with the browser's offset today.
function offsetText(minutes) {
  const sign = minutes < 0 ? "-" : "+";
  return `${sign}${pad(Math.floor(Math.abs(minutes) / 60))}:${pad(Math.abs(minutes) % 60)}`;
}

const localOffset = () => -new Date().getTimezoneOffset();

function localTime(text) {
  const match = /^(\d\d):(\d\d):(\d\d)(?:\.\d+)?(Z|([+-])(\d\d):(\d\d))$/i.exec(text);
  if (!match) return EMPTY;
  const [, h, m, sec, zone, sign, oh, om] = match;
  const offset = zone.toUpperCase() === "Z" ? 0 : (sign === "-" ? -1 : 1) * (Number(oh) * 60 + Number(om));
  const minutes = (((Number(h) * 60 + Number(m) - offset + localOffset()) % 1440) + 1440) % 1440;
  return `${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}:${sec}`;
}

function inputAttrs(spec, base) {
  if (base === "integer" || base === "number") {
    const min = spec.minimum ?? spec.exclusiveMinimum;
    // HTML counts step from min, multipleOf from 0: a step the two disagree on would refuse valid values.
    const fits = step => step !== undefined && Number.isInteger((min ?? 0) / step);
    const step = fits(spec.multipleOf) ? spec.multipleOf : spec.multipleOf === undefined && fits(base === "integer" ? 1 : undefined) ? 1 : "any";
    return {type: "number", min, max: spec.maximum ?? spec.exclusiveMaximum, step};
  }
  const byFormat = {date: "date", "date-time": "datetime-local", time: "time", email: "email", uri: "url"};
  const type = byFormat[spec.format] || "text";
  const attrs = {type, maxlength: spec.maxLength, minlength: spec.minLength};
  if (type === "time" || type === "datetime-local") attrs.step = 1;
  // A JSON Schema pattern searches (unanchored), an HTML pattern must match the whole value: wrap it.
  if (spec.pattern && type === "text") attrs.pattern = `[\\s\\S]*(?:${spec.pattern})[\\s\\S]*`;
  return attrs;
}

function convert(text, spec, base) {
  if (base === "integer" || base === "number") return Number(text);
  if (spec.format === "date-time") return new Date(text).toISOString();
  if (spec.format === "time") return (/^\d\d:\d\d$/.test(text) ? text + ":00" : text) + offsetText(localOffset());
  return text;
}

function itemValue(line, spec) {
  const base = types(spec || {}).base;
  if (base === "integer" || base === "number") return Number(line);
  if (base === "boolean") return line === "true";
  if (base === "string") return line;
  return JSON.parse(line);
}

// A field: {node, read() -> {set, value}, show(value), setError(text)}. `set: false` means "leave it out".
export function makeField(name, spec, required, picker) {
  const {base, nullable} = types(spec);
  const id = "f-" + name;
  const hint = el("small", {id: id + "-hint", class: "hint"}, describe(spec, base, nullable));
  const error = el("span", {id: id + "-error", class: "field-error", role: "alert"});
  const described = `${id}-hint ${id}-error`;
  let control, read, show;
  let shownItems = false; // an array shown with items: emptying it sends [], else an empty box is left out
  if (spec["x-references"] && picker) {
    ({control, read, show} = picker(id, spec, required && !nullable, nullable));
  } else if (spec.enum) {
    control = el("select", {id, name, required: required && !nullable});
    control.append(new Option(nullable ? "(empty: null)" : "(not set)", EMPTY));
    spec.enum.filter(v => v !== null).forEach(v => control.append(new Option(String(v), JSON.stringify(v))));
    read = () => control.value === EMPTY ? (nullable ? {set: true, value: null} : {set: false}) : {set: true, value: JSON.parse(control.value)};
    show = v => { control.value = v === undefined || v === null ? EMPTY : JSON.stringify(v); };
    if (spec.default !== undefined) show(spec.default);
  } else if (base === "boolean" && !nullable) {
    control = el("input", {id, name, type: "checkbox"});
    control.checked = spec.default === true;
    read = () => ({set: true, value: control.checked});
    show = v => { control.checked = v === true; };
  } else if (base === "boolean") {
    control = el("select", {id, name});
    [["(empty: null)", "null"], ["true", "true"], ["false", "false"]].forEach(([t, v]) => control.append(new Option(t, v)));
    control.value = JSON.stringify(spec.default ?? null);
    read = () => ({set: true, value: JSON.parse(control.value)});
    show = v => { control.value = JSON.stringify(v ?? null); };
  } else if (base === "array" || base === "object" || base === "any") {
    control = el("textarea", {id, name, rows: 3, required: required && !nullable});
    read = () => {
      const text = control.value.trim();
      if (text === EMPTY) return nullable ? {set: true, value: null} : (base === "array" && shownItems ? {set: true, value: []} : {set: false});
      if (base !== "array") return {set: true, value: JSON.parse(text)};
      return {set: true, value: text.split("\n").map(s => s.trim()).filter(s => s !== EMPTY).map(s => itemValue(s, spec.items))};
    };
    show = v => {
      shownItems = Array.isArray(v) && v.length > 0;
      if (v === undefined || v === null) control.value = EMPTY;
      else if (base === "array") control.value = v.map(x => typeof x === "string" ? x : JSON.stringify(x)).join("\n");
      else control.value = JSON.stringify(v);
    };
  } else {
    control = el("input", {id, name, required: required && !nullable, ...inputAttrs(spec, base)});
    read = () => control.value === EMPTY ? (nullable ? {set: true, value: null} : {set: false}) : {set: true, value: convert(control.value, spec, base)};
    show = v => {
      if (v === undefined || v === null) control.value = EMPTY;
      else if (spec.format === "date-time") control.value = localDateTime(v);
      else control.value = spec.format === "time" ? localTime(v) : String(v);
    };
    if (spec.default !== undefined && spec.default !== null) show(spec.default);
  }
  ({read, show} = keepingShown(control, read, show));
  control.setAttribute("aria-describedby", described);
  const label = el("label", {for: id}, name + (required ? " *" : ""));
  const node = el("div", {class: "field", "data-field": name}, label, control, hint, error);
  const setError = text => {
    error.textContent = text || EMPTY;
    control.setAttribute("aria-invalid", text ? "true" : "false");
  };
  return {name, node, control, read, show, setError};
}

// Left as shown, a control reads back exactly the value it was shown: a time shown in local time, [] shown as an
// empty box or 1e21 shown as a number is not "changed" (an edit then PATCHes only what the user touched).
function keepingShown(control, read, show) {
  const state = () => {
    const input = control.matches("input, select, textarea") ? control : control.querySelector("select");
    return input.type === "checkbox" ? String(input.checked) : input.value;
  };
  let shown = null;
  return {
    show: v => { show(v); shown = {state: state(), value: v}; },
    read: () => shown && state() === shown.state ? (shown.value === undefined ? {set: false} : {set: true, value: shown.value}) : read(),
  };
}

function describe(spec, base, nullable) {
  const parts = [];
  if (spec.description) parts.push(spec.description);
  if (spec.format === "date-time") parts.push("your local time; sent as UTC");
  if (spec.format === "time") parts.push(`time of day, your time zone (UTC${offsetText(localOffset())})`);
  if (base === "array") parts.push("one item per line");
  if (nullable) parts.push("leave empty to send null");
  return parts.join(" · ");
}

// What the page knows about the module, read from the OpenAPI document the service serves. Pure functions.
const API = /^\/api\/v1\/([a-z0-9_]+)$/;
const PAGING = new Set(["limit", "offset", "sort"]);

function schemaOf(doc, ref) {
  return doc.components.schemas[ref.split("/").pop()];
}

export function types(spec) {
  const declared = spec.type === undefined ? [] : [].concat(spec.type);
  return {base: declared.find(t => t !== "null") || (spec.enum ? "string" : "any"), nullable: declared.includes("null")};
}

function sortable(parameters) {
  const sort = parameters.find(p => p.name === "sort");
  const match = sort && sort.schema.pattern && sort.schema.pattern.match(/^\^-\?\(([^)]*)\)/);
  return match ? match[1].split("|") : [];
}

// The field a record is shown and searched by: the first required plain string field (a Pack0 cannot declare
// one yet: an x-display keyword is issue #27's, not built).
function displayField(input) {
  const props = input.properties;
  const isText = name => types(props[name]).base === "string" && !props[name].format && !props[name]["x-references"];
  return input.required.find(isText) || Object.keys(props).find(isText) || "id";
}

export function entities(doc) {
  const found = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    const match = path.match(API);
    if (!match || !ops.post) continue;
    const input = schemaOf(doc, ops.post.requestBody.content["application/json"].schema.$ref);
    const parameters = ops.get.parameters.filter(p => p.name);
    found.push({
      plural: match[1],
      name: ops.post.operationId.replace(/^create_/, ""),
      title: input.title || match[1],
      description: input.description || "",
      input,
      display: displayField(input),
      filters: parameters.filter(p => !PAGING.has(p.name)),
      sortable: sortable(parameters),
      maxLimit: parameters.find(p => p.name === "limit").schema.maximum,
    });
  }
  return found;
}

// The records of other entities that refer to this one, and what deleting one of these does to them.
export function children(all, entity) {
  const refs = [];
  for (const other of all) {
    for (const [field, spec] of Object.entries(other.input.properties)) {
      if (spec["x-references"] === entity.name) {
        refs.push({entity: other, field, onDelete: spec["x-on-delete"] || "restrict"});
      }
    }
  }
  return refs;
}

export function byName(all, name) {
  return all.find(e => e.name === name);
}

// The changed fields only: a PATCH must not resend (or clobber) what the user left alone.
export function changes(original, edited) {
  const body = {};
  for (const [name, value] of Object.entries(edited)) {
    if (JSON.stringify(original[name] === undefined ? null : original[name]) !== JSON.stringify(value)) {
      body[name] = value;
    }
  }
  return body;
}

// error.fields of a 409/422 body, grouped by the field they name ("(body)" and unknown names go to the form).
export function fieldErrors(error, fieldNames) {
  const byField = {}, general = [];
  for (const item of (error && error.fields) || []) {
    const name = String(item.field).split(/[./[]/)[0];
    if (fieldNames.includes(name)) (byField[name] = byField[name] || []).push(item.message);
    else general.push(item.field + ": " + item.message);
  }
  return {byField, general};
}

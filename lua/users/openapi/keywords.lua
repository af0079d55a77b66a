--- The JSON Schema and OpenAPI schema keywords, by what the compiler does
-- with each: rules it translates, annotations it keeps or drops, and
-- rules it knows but cannot check (a compile error, never ignored). A
-- keyword in none of these lists is a compile error too; `x-` extensions
-- are ignored.
local _M = {}

local function set(list)
  local t = {}
  for _, k in ipairs(list) do t[k] = true end
  return t
end

--- Rules and annotations the compiler reads (users/openapi/flatten.lua).
_M.RULES = set {
  "$ref", "type", "nullable", "enum", "const", "format", "pattern", "minLength", "maxLength",
  "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "items",
  "minItems", "maxItems", "uniqueItems", "properties", "required", "additionalProperties",
  "unevaluatedProperties", "minProperties", "maxProperties", "allOf", "oneOf", "anyOf",
  "readOnly", "writeOnly", "default", "description", "deprecated", "contentMediaType",
}

--- Annotations that change nothing the client checks or sends.
_M.IGNORED = set {
  "title", "example", "examples", "externalDocs", "xml", "discriminator", "$comment",
  "$schema", "$id", "$anchor", "$defs", "definitions", "contentEncoding", "contentSchema",
  "$vocabulary", "summary",
}

--- Validation keywords the client cannot check: a compile error, named.
_M.UNSUPPORTED = set {
  "not", "if", "then", "else", "patternProperties", "propertyNames", "dependentRequired",
  "dependentSchemas", "dependencies", "contains", "minContains", "maxContains", "prefixItems",
  "unevaluatedItems", "additionalItems", "$dynamicRef", "$recursiveRef", "$dynamicAnchor",
  "$recursiveAnchor",
}

--- The formats the C core checks (other formats are annotations).
_M.FORMATS = set { "email", "uuid", "date-time", "date", "uri", "hostname", "ipv4", "ipv6" }

--- JSON types, in the order a declaration lists alternatives.
_M.TYPES = { "string", "integer", "number", "boolean", "array", "object" }

return _M

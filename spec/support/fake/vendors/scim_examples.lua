-- The examples of RFC 7643 (section 8.2, the full User; 8.3, the enterprise
-- User; 8.5, a ServiceProviderConfig) and RFC 7644 (section 3.12, error
-- bodies), as plain Lua data: the fake SCIM servers start from them and the
-- specs check against them. No JSON null and no empty array in here, so
-- the fakes' JSON module and the client's decode them alike.
-- `password` (returned "never") and `meta` are left to the server that
-- serves them.
local M = {}

M.CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
M.ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

M.BJENSEN_ID = "2819c223-7f76-453a-919d-413861904646"

-- RFC 7643 section 8.2, without password and meta.
function M.full_user()
  return {
    schemas = { M.CORE },
    id = M.BJENSEN_ID,
    externalId = "701984",
    userName = "bjensen@example.com",
    name = {
      formatted = "Ms. Barbara J Jensen, III", familyName = "Jensen", givenName = "Barbara",
      middleName = "Jane", honorificPrefix = "Ms.", honorificSuffix = "III",
    },
    displayName = "Babs Jensen",
    nickName = "Babs",
    profileUrl = "https://login.example.com/bjensen",
    emails = {
      { value = "bjensen@example.com", type = "work", primary = true },
      { value = "babs@jensen.org", type = "home" },
    },
    addresses = {
      { type = "work", streetAddress = "100 Universal City Plaza", locality = "Hollywood",
        region = "CA", postalCode = "91608", country = "USA",
        formatted = "100 Universal City Plaza\nHollywood, CA 91608 USA", primary = true },
      { type = "home", streetAddress = "456 Hollywood Blvd", locality = "Hollywood",
        region = "CA", postalCode = "91608", country = "USA",
        formatted = "456 Hollywood Blvd\nHollywood, CA 91608 USA" },
    },
    phoneNumbers = {
      { value = "555-555-5555", type = "work" },
      { value = "555-555-4444", type = "mobile" },
    },
    ims = { { value = "someaimhandle", type = "aim" } },
    photos = {
      { value = "https://photos.example.com/profilephoto/72930000000Ccne/F", type = "photo" },
      { value = "https://photos.example.com/profilephoto/72930000000Ccne/T", type = "thumbnail" },
    },
    userType = "Employee",
    title = "Tour Guide",
    preferredLanguage = "en-US",
    locale = "en-US",
    timezone = "America/Los_Angeles",
    active = true,
    groups = {
      { value = "e9e30dba-f08f-4109-8486-d5c6a331660a", display = "Tour Guides",
        ["$ref"] = "https://example.com/v2/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a" },
      { value = "fc348aa8-3835-40eb-a20b-c726e15c55b5", display = "Employees",
        ["$ref"] = "https://example.com/v2/Groups/fc348aa8-3835-40eb-a20b-c726e15c55b5" },
    },
    x509Certificates = { { value = "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx" } },
  }
end

-- RFC 7643 section 8.3: the same user with the enterprise extension.
function M.enterprise_user()
  local u = M.full_user()
  u.schemas = { M.CORE, M.ENTERPRISE }
  u[M.ENTERPRISE] = {
    employeeNumber = "701984", costCenter = "4130", organization = "Universal Studios",
    division = "Theme Park", department = "Tour Operations",
    manager = { value = "26118915-6090-4610-87e4-49d8ca9f808d",
                ["$ref"] = "../Users/26118915-6090-4610-87e4-49d8ca9f808d",
                displayName = "John Smith" },
  }
  return u
end

-- RFC 7643 section 8.5, with `patch` and `etag` as given.
function M.service_provider_config(patch, etag)
  return {
    schemas = { "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig" },
    documentationUri = "http://example.com/help/scim.html",
    patch = { supported = patch },
    bulk = { supported = false, maxOperations = 0, maxPayloadSize = 0 },
    filter = { supported = true, maxResults = 200 },
    changePassword = { supported = false },
    sort = { supported = false },
    etag = { supported = etag },
    authenticationSchemes = {
      { name = "OAuth Bearer Token", type = "oauthbearertoken", primary = true,
        description = "Authentication scheme using the OAuth Bearer Token Standard",
        specUri = "http://www.rfc-editor.org/info/rfc6750" },
    },
  }
end

-- RFC 7644 section 3.12: an error body.
function M.error(status, scim_type, detail)
  return {
    schemas = { "urn:ietf:params:scim:api:messages:2.0:Error" },
    status = tostring(status), scimType = scim_type, detail = detail,
  }
end

return M

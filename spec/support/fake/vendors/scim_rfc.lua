-- Fake SCIM server as RFC 7644 describes one: PATCH (200 with the user),
-- PUT, ETags honoured when If-Match is sent, filters in PATCH paths and
-- lists, application/json accepted beside application/scim+json.
return require("vendors.scim").dialect {
  name = "scim_rfc", prefix = "/scim-rfc/v2",
  patch = true, patch_status = 200, etag = true, filters = true,
}

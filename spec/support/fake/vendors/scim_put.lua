-- Fake SCIM server without PATCH (ServiceProviderConfig patch.supported
-- false, PATCH answers 501): an update is GET, then PUT with If-Match: 428
-- without it, 412 when the user changed since (behaviour on_get makes that
-- happen between a client's GET and its PUT). application/scim+json only.
return require("vendors.scim").dialect {
  name = "scim_put", prefix = "/scim-put/v2",
  patch = false, etag = true, require_if_match = true, strict_media = true,
}

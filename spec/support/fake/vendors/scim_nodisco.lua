-- Fake SCIM server with no ServiceProviderConfig (404): a client that
-- looks for one must PATCH all the same. PATCH answers 200 with the user.
return require("vendors.scim").dialect {
  name = "scim_nodisco", prefix = "/scim-nodisco/v2",
  spc = false, patch = true, patch_status = 200, etag = false, filters = true,
}

-- Fake SCIM server that keeps userName and email addresses unique across
-- its users: a change that takes another user's answers 409 with scimType
-- uniqueness (the seeded second user holds jsmith@example.com for both).
return require("vendors.scim").dialect {
  name = "scim_unique", prefix = "/scim-unique/v2",
  patch = true, patch_status = 200, etag = true, filters = true, unique_emails = true,
}

-- Fake SCIM server with the dialect of GitHub Enterprise and AWS IAM
-- Identity Center: no filter in a PATCH path (GitHub), eq filters only in
-- lists (AWS), a remove needs a path and may not target userName or active
-- (AWS), one value per multi-valued attribute (AWS), PATCH answers 204,
-- no ETags, and active: false deletes the identity (GitHub).
return require("vendors.scim").dialect {
  name = "scim_github", prefix = "/scim-github/v2",
  patch = true, patch_status = 204, etag = false, filters = false, filter_ops = { eq = true },
  single_values = true, keep_on_remove = { username = true, active = true },
  active_deletes = true, content_type = "application/json; charset=utf-8",
}

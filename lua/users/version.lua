-- The one place the version is written. The rockspec's name and version
-- must agree with it (spec/install_spec.lua checks).
return "0.1.0"

-- wrk's script for figure 7's floor: the benchmark's PATCH.
wrk.method = "PATCH"
wrk.body = '{"email":"jane@example.com","role":"member"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench-token"

-- Runs one test script (-D script=PATH) under pcall, so that a Lua error,
-- which miltertest would turn into a silent exit 1, becomes a FAIL line.
-- Used by run.sh; not a test itself.
local ok, err = pcall(dofile, script)
if not ok then
	err = tostring(err)
	-- finish() raises "N check(s) failed" after printing the FAIL lines.
	if not err:find("check%(s%) failed") then
		local name = script:match("([^/]+)%.lua$") or script
		mt.echo("FAIL: " .. name .. ": Lua error: " .. err)
	end
	error(err)
end

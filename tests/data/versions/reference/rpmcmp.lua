-- Reference harness for the differential tests, run inside rpm as
--   rpm --define "_pairs FILE" --eval "%{lua: dofile('rpmcmp.lua')}"
-- reads "A<TAB>B" lines from FILE and prints "<", "=" or ">" as rpm.vercmp orders
-- them, or "!" when rpm rejects either version.
local out = {}
for line in io.lines(rpm.expand("%{_pairs}")) do
  local tab = string.find(line, "\t", 1, true)
  local ok, r = pcall(rpm.vercmp, string.sub(line, 1, tab - 1), string.sub(line, tab + 1))
  if not ok then
    out[#out + 1] = "!"
  elseif r < 0 then
    out[#out + 1] = "<"
  elseif r > 0 then
    out[#out + 1] = ">"
  else
    out[#out + 1] = "="
  end
end
io.write(table.concat(out, "\n"), "\n")

-- Argo CD health check for serving.gemma.io/GemmaModel (Lua 5.1, run by gopher-lua as Argo CD runs it).
-- Install: the body of argocd-cm.yaml's resource.customizations.health.serving.gemma.io_GemmaModel (kept equal to
-- this file by a test). Order matters:
--   1. the operator has not yet seen the latest spec (status.observedGeneration < metadata.generation): Progressing
--   2. condition Degraded=True: Degraded (with the operator's message, which says what to change), even when Ready
--      is True: pods kept from before (their ServingRuntime deleted) serve, but the model is not as specified
--   3. condition Ready=True: Healthy
--   4. anything else (no status yet, rolling out, loading weights, waiting for a GPU): Progressing
local hs = { status = "Progressing", message = "Waiting for the operator to report status" }

local function condition(conditions, type)
  if conditions == nil then return nil end
  for _, c in ipairs(conditions) do
    if c.type == type then return c end
  end
  return nil
end

if obj.status == nil then
  return hs
end

local generation = (obj.metadata ~= nil and obj.metadata.generation) or 0
local observed = obj.status.observedGeneration
if observed == nil or observed < generation then
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local degraded = condition(obj.status.conditions, "Degraded")
if degraded ~= nil and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = degraded.message or degraded.reason or "Degraded"
  return hs
end

local ready = condition(obj.status.conditions, "Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or "Ready"
  return hs
end

if ready ~= nil and ready.message ~= nil and ready.message ~= "" then
  hs.message = ready.message
else
  local progressing = condition(obj.status.conditions, "Progressing")
  if progressing ~= nil and progressing.message ~= nil then hs.message = progressing.message end
end
return hs

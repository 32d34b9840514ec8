-- Argo CD health check for serving.gru.dev/GruModel (runs on gopher-lua, Lua 5.1).
-- The mapping is docs/API.md "Health as GitOps tools read it"; checks run from the most to the least
-- urgent, and a status the operator has not caught up with is never trusted.
local hs = {}

local function condition(status, type)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == type then
      return c
    end
  end
  return nil
end

local function textOr(value, fallback)
  if value == nil or value == "" then
    return fallback
  end
  return value
end

if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "GruModel is being deleted: the operator is removing its serving objects"
  return hs
end

local status = obj.status
if status == nil or status.observedGeneration == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe the GruModel"
  return hs
end

-- A status written for an older spec says nothing about the current one (Argo CD's own rule for Deployments).
local generation = obj.metadata.generation
if generation ~= nil and status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation) ..
    " (status is for generation " .. tostring(status.observedGeneration) .. ")"
  return hs
end

-- A replica serving a model other than the pinned one outranks everything else.
local verified = condition(status, "ModelVerified")
if verified ~= nil and verified.status == "False" then
  hs.status = "Degraded"
  hs.message = "ModelVerified=False (" .. textOr(verified.reason, "NoReason") .. "): " ..
    textOr(verified.message, "a served model does not match the pinned digest")
  return hs
end

local phase = status.phase
if phase == "RolledBack" or phase == "Degraded" or phase == "Failed" then
  hs.status = "Degraded"
  hs.message = phase .. ": " .. textOr(status.message, "no message from the operator")
  return hs
end

if phase == "Paused" then
  hs.status = "Suspended"
  hs.message = "Paused: " .. textOr(status.message, "the rollout is paused")
  return hs
end

local canary = status.canary
if canary ~= nil and canary.revision ~= nil and canary.revision ~= "" then
  hs.status = "Progressing"
  hs.message = "Canary revision " .. tostring(canary.revision) .. " at step " .. tostring(canary.step or 0) ..
    ", weight " .. tostring(canary.weight or 0) .. "%: " .. textOr(status.message, "analysis running")
  return hs
end

if phase == "Progressing" or phase == "Promoting" or phase == "Pending" then
  hs.status = "Progressing"
  hs.message = phase .. ": " .. textOr(status.message, "waiting for the rollout")
  return hs
end

local ready = condition(status, "Ready")
if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition"
  return hs
end
if ready.observedGeneration ~= nil and generation ~= nil and ready.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition of generation " .. tostring(generation)
  return hs
end

local stable = status.stable
if stable ~= nil and stable.replicas ~= nil and stable.readyReplicas ~= nil and stable.readyReplicas < stable.replicas then
  hs.status = "Progressing"
  hs.message = "Waiting for replicas: " .. tostring(stable.readyReplicas) .. "/" .. tostring(stable.replicas) .. " ready"
  return hs
end

if ready.status ~= "True" then
  hs.status = "Progressing"
  hs.message = "Ready=" .. tostring(ready.status) .. " (" .. textOr(ready.reason, "NoReason") .. "): " ..
    textOr(ready.message, "waiting for the model to be served")
  return hs
end

hs.status = "Healthy"
hs.message = textOr(status.message, "Serving")
return hs

using GruOperator.Api;
using GruOperator.Domain.Analysis;
using GruOperator.Providers.Prometheus;
using GruOperator.Tenancy;
using GruOperator.Domain.Rollout;
using GruServing.Contract.Durations;
using GruServing.Contract.Serving;
using k8s.Models;

namespace GruOperator.Reconciliation;

/// <summary>A spec the operator accepted: the parsed model source and the image to run.</summary>
internal sealed record ValidSpec(ModelSource Source, string Image);

/// <summary>
/// Checks what the CRD schema cannot: URL and digest consistency, durations, step order, quantities, resource
/// conflicts. Every problem names the field and the fix; the schema's own rules are not repeated here, except where
/// a cluster may lack CEL support and the operator must still refuse.
/// </summary>
internal static class SpecValidator
{
    /// <param name="bounds">What the admin allows (Prometheus addresses, images); <see cref="TenantBounds.Unbounded"/> when null.</param>
    public static (ValidSpec? Valid, IReadOnlyList<string> Problems) Validate(GruModelSpec spec, string defaultImage, TenantBounds? bounds = null)
    {
        var problems = new List<string>();
        ModelSource? source = null;
        if (spec.Model is null)
        {
            problems.Add("spec.model is missing: set spec.model.name and spec.model.source");
        }
        else
        {
            if (string.IsNullOrWhiteSpace(spec.Model.Name)) problems.Add("spec.model.name is empty: set the name the model is served under");
            if (!ModelSource.TryParse(spec.Model.Source, spec.Model.Sha256, out source, out var sourceError)) problems.Add(sourceError);
        }

        var serving = spec.Serving ?? new ServingSpec();
        var image = string.IsNullOrWhiteSpace(serving.Image) ? defaultImage : serving.Image;
        if (string.IsNullOrWhiteSpace(image)) problems.Add("spec.serving.image is empty and the operator has no default: set spec.serving.image");

        var gpuCount = serving.Gpu?.Count ?? 0;
        if (serving.ExecutionProvider == ExecutionProvider.CUDA && gpuCount == 0)
        {
            problems.Add("spec.serving.executionProvider is CUDA but spec.serving.gpu.count is 0: request a GPU or use Auto/CPU");
        }
        if (gpuCount == 0 && !string.IsNullOrEmpty(serving.Gpu?.Product))
        {
            problems.Add("spec.serving.gpu.product is set but spec.serving.gpu.count is 0: request a GPU or remove product");
        }
        CheckResources(serving, problems);

        if (serving.Batching is { } batching)
        {
            Duration(batching.MaxQueueDelay, "spec.serving.batching.maxQueueDelay", problems, allowZero: true);
            if (GoDuration.TryParse(batching.MaxQueueDelay, out var delay, out _) && delay > ServingLimits.MaxQueueDelayUpperBound)
            {
                problems.Add($"spec.serving.batching.maxQueueDelay {batching.MaxQueueDelay} is longer than GruServer allows ({GoDuration.Format(ServingLimits.MaxQueueDelayUpperBound)}): a request would wait that long for its batch; use a few milliseconds");
            }
        }
        Duration(serving.Sessions?.IdleTimeout, "spec.serving.sessions.idleTimeout", problems);
        if (GoDuration.TryParse(serving.Sessions?.IdleTimeout, out var idle, out _) && idle > ServingLimits.SessionIdleTimeoutUpperBound)
        {
            problems.Add($"spec.serving.sessions.idleTimeout {serving.Sessions!.IdleTimeout} is longer than GruServer allows ({GoDuration.Format(ServingLimits.SessionIdleTimeoutUpperBound)}); use minutes or hours");
        }
        Duration(serving.Sessions?.DrainTimeout, "spec.serving.sessions.drainTimeout", problems);
        if (GoDuration.TryParse(serving.Sessions?.DrainTimeout, out var drain, out _) && drain > ServingLimits.SequenceDrainTimeoutUpperBound)
        {
            problems.Add($"spec.serving.sessions.drainTimeout {serving.Sessions!.DrainTimeout} is longer than GruServer allows ({GoDuration.Format(ServingLimits.SequenceDrainTimeoutUpperBound)}): a pod would hold its node that long after removal; clients continue handed-off sequences elsewhere anyway");
        }
        Duration(spec.Slo?.LatencyP95, "spec.slo.latencyP95", problems);
        Duration(spec.Integrity?.VerifyInterval, "spec.integrity.verifyInterval", problems);

        if (spec.Rollout is { } rollout)
        {
            if (rollout.Strategy == RolloutStrategy.Recreate && rollout.Canary is not null)
            {
                problems.Add("spec.rollout.canary applies only to strategy Canary: remove it or set spec.rollout.strategy: Canary");
            }
            if (rollout.Canary is { } canary)
            {
                Duration(canary.ProgressDeadline, "spec.rollout.canary.progressDeadline", problems);
                Duration(canary.Analysis?.Interval, "spec.rollout.canary.analysis.interval", problems);
                CheckSteps(canary.Steps ?? [], problems);
                CheckShadow(canary, problems);
            }
        }

        // The analysis' own rules (built-in SLI names are reserved, unique names, bounds; an unparsed duration above is
        // read as its default here), and custom queries that would not render safely for a track.
        problems.AddRange(AnalysisSpecValidation.Validate(RolloutSpecMapping.ToSlo(spec.Slo), RolloutSpecMapping.ToAnalysis(spec.Rollout?.Canary?.Analysis)));
        foreach (var (metric, i) in (spec.Rollout?.Canary?.Analysis?.Metrics ?? []).Select((m, i) => (m, i)))
        {
            if (PromQlTemplateValidation.Problem(metric.Query) is { } problem)
            {
                problems.Add($"spec.rollout.canary.analysis.metrics[{i}].query cannot be used: {problem}");
            }
        }

        problems.AddRange(Scaling.AutoscalingSpecMapping.Problems(serving));
        problems.AddRange((bounds ?? TenantBounds.Unbounded).Problems(spec));

        return problems.Count == 0 && source is not null ? (new ValidSpec(source, image!), problems) : (null, problems);
    }

    private static void CheckSteps(IReadOnlyList<CanaryStep> steps, List<string> problems)
    {
        for (var i = 0; i < steps.Count; i++)
        {
            var step = steps[i];
            if (step.SetWeight is < 0 or > 100) problems.Add($"spec.rollout.canary.steps[{i}].setWeight {step.SetWeight} is outside 0..100");
            if (i > 0 && step.SetWeight <= steps[i - 1].SetWeight)
            {
                problems.Add($"spec.rollout.canary.steps[{i}].setWeight {step.SetWeight} is not above the previous step's {steps[i - 1].SetWeight}: weights must increase");
            }
            if (step.Pause is not null) Duration(step.Pause, $"spec.rollout.canary.steps[{i}].pause", problems);
            if (step.Shadow && i > 0)
            {
                problems.Add($"spec.rollout.canary.steps[{i}].shadow: only steps[0] may be a shadow step (the canary is judged on mirrored traffic before any user sees it); remove shadow here");
            }

            if (step.Shadow && step.SetWeight != 0)
            {
                problems.Add($"spec.rollout.canary.steps[{i}].setWeight {step.SetWeight}: a shadow step gives the canary no live traffic; set setWeight: 0");
            }

            if (step.Shadow && step.Pause is null)
            {
                problems.Add($"spec.rollout.canary.steps[{i}].pause is required for a shadow step: how long the canary is judged on mirrored traffic, e.g. 2m");
            }
        }
    }

    private static void CheckShadow(CanarySpec canary, List<string> problems)
    {
        var shadow = canary.Steps is [{ Shadow: true }, ..];
        if (canary.MirrorSample is { } text)
        {
            if (!shadow)
            {
                problems.Add("spec.rollout.canary.mirrorSample applies only with a shadow first step: add {shadow: true, setWeight: 0, pause: 2m} as steps[0] or remove mirrorSample");
            }

            if (!double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var sample) || !(sample is > 0 and <= 1))
            {
                problems.Add($"spec.rollout.canary.mirrorSample '{text}' must be a fraction above 0 and at most 1, e.g. \"0.5\"");
            }
        }

        if (canary.Analysis?.Divergence is not null && !shadow)
        {
            problems.Add("spec.rollout.canary.analysis.divergence needs a shadow first step (stable mirrors requests to the canary only then): add {shadow: true, setWeight: 0, pause: 2m} as steps[0] or remove divergence");
        }
    }

    private static void CheckResources(ServingSpec serving, List<string> problems)
    {
        var gpuResource = serving.Gpu?.ResourceName ?? "nvidia.com/gpu";
        var requests = serving.Resources?.Requests ?? [];
        var limits = serving.Resources?.Limits ?? [];
        foreach (var (kind, map) in new[] { ("requests", requests), ("limits", limits) })
        {
            if (map.ContainsKey(gpuResource))
            {
                problems.Add($"spec.serving.resources.{kind} names {gpuResource}: request GPUs with spec.serving.gpu.count instead");
            }
        }
        foreach (var (name, request) in requests)
        {
            if (!limits.TryGetValue(name, out var limit)) continue;
            if (TryValue(request, out var r) && TryValue(limit, out var l) && r > l)
            {
                problems.Add($"spec.serving.resources.requests.{name} ({request}) exceeds limits.{name} ({limit}): lower the request or raise the limit");
            }
        }
    }

    private static bool TryValue(ResourceQuantity quantity, out decimal value)
    {
        try
        {
            value = quantity.ToDecimal();
            return true;
        }
        catch (FormatException)
        {
            value = 0;
            return false;
        }
    }

    private static void Duration(string? value, string field, List<string> problems, bool allowZero = false)
    {
        if (value is null) return;
        if (!GoDuration.TryParse(value, out var parsed, out var error)) problems.Add($"{field} {error}");
        else if (parsed <= TimeSpan.Zero && !allowZero) problems.Add($"{field} must be longer than 0");
    }
}

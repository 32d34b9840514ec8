namespace GruOperator.Domain.Analysis;

/// <summary>Checks the analysis-related parts of a spec and says, per field, what is wrong and how to fix it.</summary>
public static class AnalysisSpecValidation
{
    /// <summary>Names metrics may use: what the status shows and what the built-ins already take.</summary>
    private static readonly HashSet<string> ReservedNames = new(StringComparer.Ordinal)
    {
        MetricNames.RequestCount, MetricNames.LatencyP95, MetricNames.ErrorRate, MetricNames.InputSchemaErrorRate, DivergenceJudge.MetricName,
    };

    /// <summary>Every problem found, each naming its field; empty when the spec is usable.</summary>
    public static IReadOnlyList<string> Validate(SloSpec slo, CanaryAnalysisSpec analysis)
    {
        var errors = new List<string>();
        if (slo.LatencyP95 is { } p95 && p95 <= TimeSpan.Zero)
        {
            errors.Add($"spec.slo.latencyP95 must be a positive duration such as 200ms, got {p95}.");
        }

        CheckFraction(errors, "spec.slo.errorRate", slo.ErrorRate);
        CheckFraction(errors, "spec.slo.inputSchemaErrorRate", slo.InputSchemaErrorRate);
        if (slo.MinRequests < 1)
        {
            errors.Add($"spec.slo.minRequests must be at least 1 so an idle canary is never judged healthy, got {slo.MinRequests}.");
        }

        const string prefix = "spec.rollout.canary.analysis";
        if (analysis.Interval < TimeSpan.FromSeconds(1))
        {
            errors.Add($"{prefix}.interval must be at least 1s, got {analysis.Interval}.");
        }

        if (analysis.FailureLimit < 1)
        {
            errors.Add($"{prefix}.failureLimit must be at least 1 (1 rolls back on the first failed run), got {analysis.FailureLimit}.");
        }

        if (analysis.InconclusiveLimit < 1)
        {
            errors.Add($"{prefix}.inconclusiveLimit must be at least 1, got {analysis.InconclusiveLimit}.");
        }

        if (analysis.Divergence is { } divergence)
        {
            foreach (var (name, value) in new[] { ("maxAbs", divergence.MaxAbs), ("maxRel", divergence.MaxRel) })
            {
                if (value is { } v && GruServing.Contract.Serving.DivergenceBuckets.OnGrid(v) is null)
                {
                    errors.Add($"{prefix}.divergence.{name} {v} is not a histogram bound: use {GruServing.Contract.Serving.DivergenceBuckets.Choices}, e.g. \"1e-2\".");
                }
            }

            if (!(divergence.Within is > 0 and <= 1))
            {
                errors.Add($"{prefix}.divergence.within must be a fraction above 0 and at most 1 such as \"0.99\", got {divergence.Within}.");
            }

            CheckFraction(errors, $"{prefix}.divergence.minArgMaxAgreement", divergence.MinArgMaxAgreement);
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < analysis.Metrics.Count; i++)
        {
            var metric = analysis.Metrics[i];
            var field = $"{prefix}.metrics[{i}]";
            if (string.IsNullOrWhiteSpace(metric.Name))
            {
                errors.Add($"{field}.name is required.");
            }
            else if (ReservedNames.Contains(metric.Name))
            {
                errors.Add($"{field}.name '{metric.Name}' is a built-in SLI name; choose another name.");
            }
            else if (!seen.Add(metric.Name))
            {
                errors.Add($"{field}.name '{metric.Name}' is used twice; metric names must be unique.");
            }

            if (string.IsNullOrWhiteSpace(metric.Query))
            {
                errors.Add($"{field}.query is required (PromQL returning one series).");
            }

            var range = metric.ThresholdRange;
            if (range.Min is null && range.Max is null)
            {
                errors.Add($"{field}.thresholdRange needs min, max or both.");
            }
            else if (range is { Min: { } min, Max: { } max } && min > max)
            {
                errors.Add($"{field}.thresholdRange.min ({min}) is above max ({max}).");
            }
            else if (range.Min is { } a && !double.IsFinite(a) || range.Max is { } b && !double.IsFinite(b))
            {
                errors.Add($"{field}.thresholdRange bounds must be finite numbers.");
            }
        }

        return errors;
    }

    private static void CheckFraction(List<string> errors, string field, double? value)
    {
        if (value is { } v && (!double.IsFinite(v) || v < 0 || v > 1))
        {
            errors.Add($"{field} must be a fraction between 0 and 1 such as \"0.01\", got {v}.");
        }
    }
}

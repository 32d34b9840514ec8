using System.Globalization;
using GruOperator.Domain.Analysis;
using GruOperator.Domain.Rollout;
using GruServing.Contract.Durations;

namespace GruOperator.Api;

/// <summary>
/// Maps <c>spec.rollout</c> and <c>spec.slo</c> onto what the rollout state machine and the analysis read. Only called on
/// a spec <see cref="Reconciliation.SpecValidator"/> accepted, so durations and fractions parse; a default stands in
/// for every omitted field, the same defaults the CRD schema documents.
/// </summary>
internal static class RolloutSpecMapping
{
    /// <summary>spec.rollout as a <see cref="RolloutPlan"/>.</summary>
    public static RolloutPlan ToPlan(GruModelSpec spec)
    {
        var rollout = spec.Rollout ?? new RolloutSpec();
        var canary = rollout.Canary ?? new CanarySpec();
        return new RolloutPlan(
            rollout.Strategy == RolloutStrategy.Recreate ? RolloutStrategyKind.Recreate : RolloutStrategyKind.Canary,
            rollout.Paused,
            [.. (canary.Steps ?? []).Select(s => new RolloutStep(s.SetWeight, Duration(s.Pause, TimeSpan.Zero)) { Shadow = s.Shadow })],
            ToAnalysis(canary.Analysis),
            canary.TrafficRouting?.GatewayApi is not null ? TrafficRouter.GatewayApi : TrafficRouter.Replicas,
            canary.Surge,
            Duration(canary.ProgressDeadline, RolloutPlan.Default.ProgressDeadline))
        {
            MirrorSample = Fraction(canary.MirrorSample) ?? RolloutPlan.DefaultMirrorSample,
        };
    }

    /// <summary>spec.rollout.canary.analysis as a <see cref="CanaryAnalysisSpec"/>.</summary>
    public static CanaryAnalysisSpec ToAnalysis(AnalysisSpec? analysis)
    {
        analysis ??= new AnalysisSpec();
        return new CanaryAnalysisSpec(
            Duration(analysis.Interval, CanaryAnalysisSpec.Default.Interval),
            analysis.FailureLimit,
            analysis.InconclusiveLimit,
            analysis.OnInconclusive == Api.InconclusiveAction.Rollback ? Domain.Analysis.InconclusiveAction.Rollback : Domain.Analysis.InconclusiveAction.Pause,
            analysis.CompareToStable,
            [.. (analysis.Metrics ?? []).Select(m => new CustomMetricSpec(m.Name, m.Query, new Domain.Analysis.ThresholdRange(m.ThresholdRange.Min, m.ThresholdRange.Max)))])
        {
            Divergence = analysis.Divergence is { } d
                ? new Domain.Analysis.DivergenceSpec(Fraction(d.MaxAbs), Fraction(d.MaxRel), Fraction(d.Within) ?? Domain.Analysis.DivergenceSpec.DefaultWithin, Fraction(d.MinArgMaxAgreement))
                : null,
        };
    }

    /// <summary>spec.slo as the analysis reads it; an omitted block means the documented defaults (200ms, 0.01, 0.05, 50).</summary>
    public static Domain.Analysis.SloSpec ToSlo(Api.SloSpec? slo)
    {
        slo ??= new Api.SloSpec();
        return new Domain.Analysis.SloSpec(
            GoDuration.TryParse(slo.LatencyP95, out var p95, out _) ? p95 : null,
            Fraction(slo.ErrorRate),
            Fraction(slo.InputSchemaErrorRate),
            slo.MinRequests);
    }

    private static TimeSpan Duration(string? text, TimeSpan fallback) =>
        GoDuration.TryParse(text, out var value, out _) ? value : fallback;

    private static double? Fraction(string? text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value : null;
}

using System.Collections.Concurrent;
using GruOperator.Api;
using GruOperator.Domain.Analysis;
using GruOperator.Domain.Rollout;
using GruOperator.Hosting;
using GruOperator.Providers.Prometheus;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GruOperator.Rollout;

/// <summary>
/// Answers a <see cref="RunAnalysis"/> action: runs <see cref="CanaryAnalysis"/> for the canary against the model's SLOs
/// with the Prometheus provider for <c>spec.prometheus.address</c> (or the operator's <c>--prometheus-address</c>).
/// One provider per address, kept for the process: its HttpClient comes from IHttpClientFactory, which pools handlers.
/// Never throws for backend trouble: an unreachable Prometheus is an Inconclusive run.
/// </summary>
internal sealed partial class AnalysisRunner(
    PrometheusMetricProviderFactory providers, IOptions<OperatorOptions> options, ILogger<AnalysisRunner> logger)
{
    private readonly ConcurrentDictionary<string, CanaryAnalysis> _analyses = new(StringComparer.Ordinal);
    private readonly string _defaultAddress = options.Value.DefaultPrometheusAddress;

    public async Task<AnalysisResult> RunAsync(GruModel model, string stableRevision, RunAnalysis run, CancellationToken cancellationToken)
    {
        var address = string.IsNullOrWhiteSpace(model.Spec.Prometheus?.Address) ? _defaultAddress : model.Spec.Prometheus!.Address!;
        var analysis = _analyses.GetOrAdd(address, a => new CanaryAnalysis(
            providers.Create(Uri.TryCreate(a, UriKind.Absolute, out var uri) ? uri : null), ComparisonPolicy.Default));
        var spec = RolloutSpecMapping.ToAnalysis(model.Spec.Rollout?.Canary?.Analysis);
        if (!RolloutPlan.IsShadow(RolloutSpecMapping.ToPlan(model.Spec).Steps, run.Step))
        {
            // Stable mirrors only during the shadow step: later steps would find nothing to compare.
            spec = spec with { Divergence = null };
        }

        var slo = RolloutSpecMapping.ToSlo(model.Spec.Slo);
        // Adjoining windows: each run judges only traffic the previous run did not, so failureLimit counts independent
        // failures. A degenerate window (a clock step) judges the last interval instead of throwing.
        var window = run.Until > run.Since ? AnalysisWindow.Between(run.Since, run.Until) : AnalysisWindow.Between(run.Until - spec.Interval, run.Until);
        var request = new AnalysisRequest(slo, spec, model.Metadata.NamespaceProperty, model.Spec.Model.Name, stableRevision, run.Revision, window,
            run.EvidenceSince is { } since && since < window.Start ? AnalysisWindow.Between(since, window.End) : null, run.StableServes,
            run.StepSince is { } from && from < window.Start ? AnalysisWindow.Between(from, window.End) : null, run.ClosesStep);
        var result = await analysis.RunAsync(request, cancellationToken).ConfigureAwait(false);
        Log.AnalysisRun(logger, model.Metadata.NamespaceProperty, model.Metadata.Name, run.Revision, run.Step + 1, result.Verdict, address, result.Reason);
        return new AnalysisResult(run.Revision, run.Step, result);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Analysis of {Namespace}/{Model} canary revision {Revision} step {Step}: {Verdict} (Prometheus {Address}): {Reason}")]
        public static partial void AnalysisRun(ILogger logger, string @namespace, string model, string revision, int step, Verdict verdict, string address, string reason);
    }
}

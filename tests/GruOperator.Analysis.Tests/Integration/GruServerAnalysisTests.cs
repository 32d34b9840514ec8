using GruOperator.Domain.Analysis;
using GruOperator.Analysis.Tests.Prometheus;
using GruOperator.Providers.Prometheus;
using Microsoft.Extensions.DependencyInjection;
using TestSupport;
using Xunit.Abstractions;

namespace GruOperator.Analysis.Tests.Integration;

/// <summary>The whole analysis against real GruServer processes scraped by a real Prometheus.</summary>
[Collection(GruServerCollection.Name)]
public sealed class GruServerAnalysisTests(GruServerFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>p95 under 100 ms, under 1% 5xx, at least 50 requests per 20 s window.</summary>
    private static readonly SloSpec Slo = new(TimeSpan.FromMilliseconds(100), 0.01, 0.05, 50);

    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(3));

    private CancellationToken Timeout => _timeout.Token;

    public Task InitializeAsync() => fixture.WaitForLoadedHistoryAsync(28, Timeout);

    public Task DisposeAsync()
    {
        _timeout.Dispose();
        return Task.CompletedTask;
    }

    private static string Explain(AnalysisRun run) =>
        run.Reason + "\n" + string.Join("\n", run.Metrics.Select(m =>
            $"  {m.Name}: {m.Verdict} value={AnalysisStatusFormat.Number(m.Value)} stable={AnalysisStatusFormat.Number(m.StableValue)} p={m.PValue:0.####} — {m.Reason}"));

    private async Task<AnalysisRun> Analyse(string canaryRevision, IMetricProvider? provider = null)
    {
        var run = await new CanaryAnalysis(provider ?? fixture.Services.GetRequiredService<PrometheusMetricProviderFactory>().Create(null), ComparisonPolicy.Default)
            .RunAsync(new AnalysisRequest(Slo, CanaryAnalysisSpec.Default, GruServerFixture.Namespace, GruServerFixture.Model, "1", canaryRevision,
                GruServerFixture.Window()), Timeout);
        output.WriteLine(Explain(run));
        return run;
    }

    [Fact]
    public async Task A_healthy_pair_passes()
    {
        var run = await Analyse("2");

        Assert.True(run.Verdict == Verdict.Passed, Explain(run));
        Assert.True(run.Metrics[0].Value >= Slo.MinRequests, Explain(run));
    }

    [Fact]
    public async Task A_canary_with_injected_latency_fails_on_latencyP95()
    {
        var run = await Analyse("3");

        Assert.True(run.Verdict == Verdict.Failed, Explain(run));
        var latency = run.Metrics.Single(m => m.Name == MetricNames.LatencyP95);
        Assert.True(latency.Verdict == Verdict.Failed && latency.Value > 0.1, Explain(run));
        Assert.Contains(MetricNames.LatencyP95, run.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_canary_with_injected_errors_fails_on_errorRate()
    {
        var run = await Analyse("4");

        Assert.True(run.Verdict == Verdict.Failed, Explain(run));
        var errors = run.Metrics.Single(m => m.Name == MetricNames.ErrorRate);
        Assert.True(errors.Verdict == Verdict.Failed, Explain(run));
        Assert.InRange(errors.Value!.Value, 0.3, 0.7); // --fault-error-rate 0.5
        Assert.Contains(MetricNames.ErrorRate, run.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stopped_Prometheus_is_inconclusive_never_passed()
    {
        var targets = fixture.Servers.Take(2).Select((s, i) => new ScrapeTarget($"gru-{i}", s.MetricsPort,
            new Dictionary<string, string> { ["namespace"] = GruServerFixture.Namespace })).ToArray();
        await using var doomed = await PrometheusProcess.StartAsync(targets, Timeout);
        await doomed.WaitForTargetsUpAsync(2, TimeSpan.FromSeconds(60), Timeout);
        await using var services = PrometheusServices.Build(doomed.Address, new Dictionary<string, string?> { ["Prometheus:MaxRetries"] = "1" });
        var provider = services.GetRequiredService<PrometheusMetricProviderFactory>().Create(null);
        await doomed.StopAsync();

        var run = await Analyse("2", provider);

        Assert.True(run.Verdict == Verdict.Inconclusive, Explain(run));
        Assert.All(run.Metrics, m => Assert.NotEqual(Verdict.Passed, m.Verdict));
        Assert.Contains("unreachable", run.Reason, StringComparison.Ordinal);
    }
}

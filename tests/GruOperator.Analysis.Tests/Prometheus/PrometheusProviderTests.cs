using GruOperator.Domain.Analysis;
using GruServing.Contract.Serving;
using GruOperator.Providers.Prometheus;
using Microsoft.Extensions.DependencyInjection;
using TestSupport;

namespace GruOperator.Analysis.Tests.Prometheus;

/// <summary>The provider and the whole analysis against a real Prometheus scraping synthetic GruServer metrics.</summary>
[Collection(RealPrometheusCollection.Name)]
public sealed class PrometheusProviderTests(SyntheticPrometheusFixture fixture) : IAsyncLifetime
{
    private static readonly SloSpec Slo = new(TimeSpan.FromMilliseconds(200), 0.01, 0.05, 50);

    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(90));

    private CancellationToken Timeout => _timeout.Token;

    // 20 s window + 5 s rates + a margin: every test sees full windows.
    public Task InitializeAsync() => fixture.WaitForHistoryAsync(28);

    public Task DisposeAsync()
    {
        _timeout.Dispose();
        return Task.CompletedTask;
    }

    private Task<Measurement> Measure(string model, MetricSource source, Track track = Track.Stable, AnalysisWindow? window = null) =>
        fixture.Provider.MeasureAsync(
            new MetricQuery("m", source, new TrackSelector(SyntheticPrometheusFixture.Namespace, model, track, track == Track.Stable ? "1" : "2"),
                window ?? SyntheticPrometheusFixture.WindowEndingNow()),
            Timeout);

    [Fact]
    public async Task Built_in_SLIs_are_exact_request_counts_from_GruServer_shaped_metrics()
    {
        var window = SyntheticPrometheusFixture.WindowEndingNow();
        var requests = await Measure("healthy", new BuiltInSli(Sli.RequestCount), window: window);
        var latency = await Measure("healthy", new BuiltInSli(Sli.LatencyP95), window: window);
        var errors = await Measure("healthy", new BuiltInSli(Sli.ErrorRate), window: window);
        var canaryErrors = await Measure("erroring", new BuiltInSli(Sli.ErrorRate), Track.Canary);

        Assert.InRange(requests.Value!.Value, 1000, 3000); // 100 req/s over 20 s …
        Assert.Equal(Math.Round(requests.Value.Value), requests.Value.Value); // … counted, never extrapolated
        Assert.Equal((long)requests.Value.Value, latency.Histogram!.Total); // the histogram counts the same requests
        Assert.Equal(latency.Histogram.Total, errors.Events!.Requests);
        Assert.InRange(latency.Value!.Value, 0.035, 0.075); // log-normal p95 ≈ 49 ms, the estimate shown in status
        Assert.Equal(0, errors.Events.Events); // traffic without 5xx is a real zero …
        Assert.Equal(0, errors.Value);
        Assert.InRange(canaryErrors.Value!.Value, 0.02, 0.09); // … and 5% errors read as about 0.05
    }

    [Fact]
    public async Task Adjoining_windows_add_up_to_the_window_they_split()
    {
        var end = DateTimeOffset.UtcNow.AddSeconds(-2);
        var whole = AnalysisWindow.Between(end.AddSeconds(-20), end);
        var first = AnalysisWindow.Between(whole.Start, end.AddSeconds(-10));
        var second = AnalysisWindow.Between(first.End, end);

        var total = await Measure("healthy", new BuiltInSli(Sli.LatencyP95), window: whole);
        var a = await Measure("healthy", new BuiltInSli(Sli.LatencyP95), window: first);
        var b = await Measure("healthy", new BuiltInSli(Sli.LatencyP95), window: second);

        Assert.Equal(total.Histogram!.Cumulative, a.Histogram!.Cumulative.Zip(b.Histogram!.Cumulative, (x, y) => x + y));
        Assert.True(a.Histogram.Total > 0 && b.Histogram.Total > 0);
    }

    [Theory]
    [InlineData(Sli.RequestCount)]
    [InlineData(Sli.LatencyP95)]
    [InlineData(Sli.ErrorRate)]
    [InlineData(Sli.InputSchemaErrorRate)]
    public async Task A_model_without_series_is_no_data_naming_the_query_never_zero(Sli sli)
    {
        var measurement = await Measure("no-such-model", new BuiltInSli(sli));

        Assert.True(measurement.IsNoData, $"{sli}: value {measurement.Value}, error {measurement.Error}");
        Assert.Null(measurement.Histogram);
        // Matching nothing is reported with the query, so a missing stable series can be named in the verdict.
        Assert.NotNull(measurement.UnmatchedQuery);
        Assert.Contains("model=\"no-such-model\"", measurement.UnmatchedQuery, StringComparison.Ordinal);
        Assert.Contains(sli == Sli.LatencyP95 ? "gru_request_duration_seconds_bucket" : "gru_requests_total", measurement.UnmatchedQuery, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("max(analysis_test_nan)")]
    [InlineData("max(analysis_test_inf)")]
    [InlineData("max(analysis_test_inf) * 0")]
    public async Task NaN_and_Inf_answers_are_no_data(string query)
    {
        var measurement = await Measure("healthy", new CustomQuery(query));

        Assert.True(measurement.IsNoData, $"{query}: value {measurement.Value}, error {measurement.Error}");
    }

    [Fact]
    public async Task Several_series_are_an_error_naming_the_query()
    {
        var measurement = await Measure("healthy", new CustomQuery("analysis_test_copies"));

        Assert.Contains("returned 2 series where one was expected", measurement.Error, StringComparison.Ordinal);
        Assert.Contains($"(query: analysis_test_copies{{namespace=\"{SyntheticPrometheusFixture.Namespace}\"}})", measurement.Error, StringComparison.Ordinal); // as confined
    }

    [Fact]
    public async Task Bad_PromQL_is_reported_with_Prometheus_own_words()
    {
        var measurement = await Measure("healthy", new CustomQuery("sum(rate(gru_requests_total{model=\"{{model}}\"}[{{window}}])"));

        Assert.Null(measurement.Value);
        Assert.Contains("bad_data", measurement.Error, StringComparison.Ordinal);
        Assert.Contains("parse error", measurement.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_hostile_model_name_cannot_inject_PromQL()
    {
        const string hostile = "x\"} or vector(1) or up{job=\"";
        const string template = "count(gru_requests_total{model=\"{{model}}\"})";
        var track = new TrackSelector(SyntheticPrometheusFixture.Namespace, hostile, Track.Canary, "2");

        // Control: naive substitution really is injectable here, so the assertion below can fail.
        var naive = template.Replace("{{model}}", hostile, StringComparison.Ordinal);
        var injected = await PrometheusServices.Client(fixture.Services).QueryAsync(fixture.Prometheus.Address, naive, DateTimeOffset.UtcNow, Timeout);
        Assert.NotNull(PrometheusMetricProvider.SingleValue(injected, naive));

        var measurement = await fixture.Provider.MeasureAsync(
            new MetricQuery("m", new CustomQuery(template), track, SyntheticPrometheusFixture.WindowEndingNow()), Timeout);

        Assert.True(measurement.IsNoData, $"value {measurement.Value}, error {measurement.Error}");
    }

    private Task<AnalysisRun> Analyse(string model, IMetricProvider? provider = null) =>
        new CanaryAnalysis(provider ?? fixture.Provider, ComparisonPolicy.Default).RunAsync(
            new AnalysisRequest(Slo, CanaryAnalysisSpec.Default, SyntheticPrometheusFixture.Namespace, model, "1", "2",
                SyntheticPrometheusFixture.WindowEndingNow()),
            Timeout);

    [Fact]
    public async Task A_healthy_pair_passes()
    {
        var run = await Analyse("healthy");

        Assert.True(run.Verdict == Verdict.Passed, run.Reason + " | " + string.Join(" | ", run.Metrics.Select(m => $"{m.Name}: {m.Reason}")));
        Assert.All(run.Metrics.Where(m => m.Name is MetricNames.LatencyP95 or MetricNames.ErrorRate), m => Assert.NotNull(m.PValue));
    }

    [Theory]
    [InlineData("slow", MetricNames.LatencyP95, "above the SLO")]
    [InlineData("slower30", MetricNames.LatencyP95, "worse than stable")]
    [InlineData("erroring", MetricNames.ErrorRate, "above the SLO")]
    public async Task A_bad_canary_fails_naming_the_metric(string model, string metric, string reason)
    {
        var run = await Analyse(model);

        Assert.True(run.Verdict == Verdict.Failed, run.Reason);
        var failed = run.Metrics.Single(m => m.Name == metric);
        Assert.Equal(Verdict.Failed, failed.Verdict);
        Assert.Contains(reason, failed.Reason, StringComparison.Ordinal);
        Assert.Contains(metric, run.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stopped_Prometheus_makes_the_run_inconclusive()
    {
        await using var doomed = await PrometheusProcess.StartAsync([new ScrapeTarget("synthetic", fixture.EndpointPort)], Timeout);
        await using var services = PrometheusServices.Build(doomed.Address, new Dictionary<string, string?> { ["Prometheus:MaxRetries"] = "1" });
        await doomed.StopAsync();

        var provider = services.GetRequiredService<PrometheusMetricProviderFactory>().Create(null);
        var run = await Analyse("healthy", provider);

        Assert.Equal(Verdict.Inconclusive, run.Verdict);
        Assert.All(run.Metrics, m => Assert.Equal(Verdict.Inconclusive, m.Verdict));
        Assert.Contains("unreachable", run.Metrics[0].Reason, StringComparison.Ordinal);
    }
}

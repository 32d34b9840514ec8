using System.Text.Json;
using GruOperator.Domain.Analysis;
using GruOperator.Providers.Prometheus;
using Microsoft.Extensions.DependencyInjection;
using TestSupport;

namespace GruOperator.Analysis.Tests.Prometheus;

[CollectionDefinition(Name)]
public sealed class RealPrometheusCollection : ICollectionFixture<SyntheticPrometheusFixture>
{
    public const string Name = "real prometheus";
}

/// <summary>
/// A real Prometheus scraping, every second, synthetic GruServer-shaped traffic for several canary/stable pairs
/// (one model name per scenario) plus a few odd series (NaN, duplicates) — started once for the collection.
/// </summary>
public sealed class SyntheticPrometheusFixture : IAsyncLifetime
{
    public const string Namespace = "analysis-tests";
    /// <summary>Another tenant's namespace, scraped by the same Prometheus: no query of a model in <see cref="Namespace"/> may read it.</summary>
    public const string OtherNamespace = "other-team";


    /// <summary>Healthy traffic: 100 req/s, median 30 ms, p95 about 49 ms, no errors.</summary>
    public static readonly TrackBehavior Healthy = new(100, 0.030, 0.3, 0);

    private readonly SyntheticGruTraffic _traffic = new(seed: 42, TimeProvider.System);
    private MetricsEndpoint? _endpoint;
    private MetricsEndpoint? _otherTeam;

    public PrometheusProcess Prometheus { get; private set; } = null!;

    public ServiceProvider Services { get; private set; } = null!;

    public int EndpointPort => _endpoint!.Port;

    public async Task InitializeAsync()
    {
        AddPair("healthy", Healthy, Healthy);
        AddPair("slow", Healthy, Healthy with { MedianLatency = 0.150 });
        AddPair("slower30", Healthy, Healthy with { MedianLatency = 0.039 });
        AddPair("erroring", Healthy, Healthy with { ErrorRate = 0.05 });
        _endpoint = MetricsEndpoint.Start(() => _traffic.Render() +
            "# TYPE analysis_test_nan gauge\nanalysis_test_nan NaN\n" +
            "# TYPE analysis_test_inf gauge\nanalysis_test_inf +Inf\n" +
            "# TYPE analysis_test_copies gauge\nanalysis_test_copies{copy=\"a\"} 1\nanalysis_test_copies{copy=\"b\"} 2\n");
        _otherTeam = MetricsEndpoint.Start(() => "# TYPE analysis_test_other_team_revenue gauge\nanalysis_test_other_team_revenue 42\n");
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        Prometheus = await PrometheusProcess.StartAsync(
            [
                new ScrapeTarget("synthetic", _endpoint.Port, new Dictionary<string, string> { ["namespace"] = Namespace }),
                new ScrapeTarget("other-team", _otherTeam.Port, new Dictionary<string, string> { ["namespace"] = OtherNamespace }),
            ], cts.Token);
        await Prometheus.WaitForTargetsUpAsync(2, TimeSpan.FromSeconds(60), cts.Token);
        Services = PrometheusServices.Build(Prometheus.Address);
    }

    public async Task DisposeAsync()
    {
        await Services.DisposeAsync();
        await Prometheus.DisposeAsync();
        await _endpoint!.DisposeAsync();
        await _otherTeam!.DisposeAsync();
    }

    public IMetricProvider Provider => Services.GetRequiredService<PrometheusMetricProviderFactory>().Create(null);

    /// <summary>Waits (by polling Prometheus) until it holds at least <paramref name="samples"/> scrapes of the synthetic target.</summary>
    public async Task WaitForHistoryAsync(int samples)
    {
        using var http = new HttpClient { BaseAddress = Prometheus.Address };
        var deadline = DateTime.UtcNow.AddSeconds(samples * 4 + 60);
        while (DateTime.UtcNow < deadline)
        {
            using var doc = JsonDocument.Parse(await http.GetStringAsync("api/v1/query?query=count_over_time(up%7Bjob%3D%22synthetic%22%7D%5B10m%5D)"));
            var result = doc.RootElement.GetProperty("data").GetProperty("result");
            if (result.GetArrayLength() == 1 && double.Parse(result[0].GetProperty("value")[1].GetString()!, System.Globalization.CultureInfo.InvariantCulture) >= samples)
            {
                return;
            }

            await Task.Delay(500);
        }

        throw new TimeoutException($"Prometheus did not collect {samples} scrapes in time; log: {Prometheus.Log}");
    }

    /// <summary>The last 20 s: twenty scrapes at the fixture's 1 s scrape interval.</summary>
    public static AnalysisWindow WindowEndingNow() => AnalysisWindow.Between(DateTimeOffset.UtcNow.AddSeconds(-20), DateTimeOffset.UtcNow);

    private void AddPair(string model, TrackBehavior stable, TrackBehavior canary)
    {
        _traffic.Add(model, "stable", "1", stable);
        _traffic.Add(model, "canary", "2", canary);
    }
}

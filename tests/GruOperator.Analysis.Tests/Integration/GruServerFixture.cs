using GruOperator.Domain.Analysis;
using GruServing.Contract.Serving;
using GruOperator.Analysis.Tests.Prometheus;
using GruOperator.Providers.Prometheus;
using Microsoft.Extensions.DependencyInjection;
using TestSupport;

namespace GruOperator.Analysis.Tests.Integration;

[CollectionDefinition(Name)]
public sealed class GruServerCollection : ICollectionFixture<GruServerFixture>
{
    public const string Name = "real gruserver";
}

/// <summary>
/// Real GruServer processes for one model — stable (revision 1), a healthy canary (2), a canary with 150 ms
/// injected latency (3) and one failing half its requests (4) — under bounded load from the test, scraped
/// every second by a real Prometheus. Canaries share <c>track="canary"</c> and differ by revision, exactly
/// the labels the analysis selects on.
/// </summary>
public sealed class GruServerFixture : IAsyncLifetime
{
    public const string Namespace = "analysis-it";
    public const string Model = "gru-it";

    private readonly List<GruServerProcess> _servers = [];
    private InferenceLoad? _load;

    public PrometheusProcess Prometheus { get; private set; } = null!;

    public ServiceProvider Services { get; private set; } = null!;

    public IReadOnlyList<GruServerProcess> Servers => _servers;

    public InferenceLoad Load => _load!;

    public async Task InitializeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        var model = await GruTestModels.WriteAsync(cancellationToken: cts.Token);
        GruServerStartOptions Options(string revision, string track) =>
            new() { ModelPath = model.Path, ModelName = Model, ModelSha256 = model.Sha256, Revision = revision, Track = track };
        var started = await Task.WhenAll(
            GruServerProcess.StartAsync(Options("1", "stable"), cts.Token),
            GruServerProcess.StartAsync(Options("2", "canary"), cts.Token),
            GruServerProcess.StartAsync(Options("3", "canary") with { FaultLatency = "150ms" }, cts.Token),
            GruServerProcess.StartAsync(Options("4", "canary") with { FaultErrorRate = 0.5 }, cts.Token));
        _servers.AddRange(started);

        Prometheus = await PrometheusProcess.StartAsync(
            _servers.Select((s, i) => new ScrapeTarget($"gruserver-{i}", s.MetricsPort, new Dictionary<string, string> { ["namespace"] = Namespace })).ToArray(),
            cts.Token);
        await Prometheus.WaitForTargetsUpAsync(_servers.Count, TimeSpan.FromSeconds(60), cts.Token);
        Services = PrometheusServices.Build(Prometheus.Address);

        // About 25 req/s per healthy server; the slow canary gets more workers so it still sees traffic.
        var request = GruTestModels.InferRequestJson(model.Spec, batch: 1, steps: 5);
        _load = new InferenceLoad(
            _servers.Select(s => new Uri(s.BaseUrl, $"v2/models/{Model}/infer")), request,
            workersPerServer: 2, pause: TimeSpan.FromMilliseconds(70), maxDuration: TimeSpan.FromMinutes(5));
    }

    public async Task DisposeAsync()
    {
        if (_load is not null)
        {
            await _load.DisposeAsync();
        }

        if (Services is not null)
        {
            await Services.DisposeAsync();
        }

        if (Prometheus is not null)
        {
            await Prometheus.DisposeAsync();
        }

        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }
    }

    /// <summary>Polls Prometheus until every server has <paramref name="samples"/> scrapes taken under load.</summary>
    public async Task WaitForLoadedHistoryAsync(int samples, CancellationToken cancellationToken)
    {
        var provider = Services.GetRequiredService<PrometheusMetricProviderFactory>().Create(null);
        var query = new CustomQuery($"min(count_over_time(gru_requests_total{{namespace=\"{Namespace}\",code=\"200\"}}[10m]) and on(revision) (sum by (revision) (rate(gru_requests_total{{namespace=\"{Namespace}\"}}[5s])) > 0))");
        var deadline = DateTime.UtcNow.AddSeconds(samples * 4 + 90);
        Measurement last = Measurement.Of((double?)null);
        while (DateTime.UtcNow < deadline)
        {
            last = await provider.MeasureAsync(new MetricQuery("history", query, new TrackSelector(Namespace, Model, Track.Stable, "1"), Window()), cancellationToken);
            if (last.Value >= samples)
            {
                return;
            }

            await Task.Delay(500, cancellationToken);
        }

        throw new TimeoutException($"no {samples} loaded scrapes per server in time (last {last.Value}, {last.Error}); sent {Load.Sent}, failed {Load.Failed}");
    }

    /// <summary>The last 20 s (twenty 1 s scrapes).</summary>
    public static AnalysisWindow Window() => AnalysisWindow.Between(DateTimeOffset.UtcNow.AddSeconds(-20), DateTimeOffset.UtcNow);
}

using GruOperator.Domain.Analysis;
using TestSupport;

namespace AnalysisBench;

/// <summary>
/// Many pairs at once through one real Prometheus, fed by simulated GruServer metrics: healthy-but-noisy pairs
/// (random rates and latencies, canary up to ±5% off stable, 0.2% background errors) and pairs that start to
/// breach at a known instant: p95 over the SLO, 5% errors, or 40% slower while still inside the SLO.
/// </summary>
internal sealed class SyntheticScenario(BenchSettings settings, Report report)
{
    private const string Namespace = "bench-synthetic";
    private static readonly SloSpec Slo = new(TimeSpan.FromMilliseconds(200), 0.01, 0.05, 50);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var random = new Random(settings.Seed);
        var traffic = new SyntheticGruTraffic(settings.Seed, TimeProvider.System);
        var healthy = new List<PairUnderAnalysis>();
        for (var i = 0; i < settings.SyntheticPairs; i++)
        {
            var stable = new TrackBehavior(20 + random.NextDouble() * 60, 0.02 + random.NextDouble() * 0.04, 0.35, 0.002);
            var canary = stable with { MedianLatency = stable.MedianLatency * (0.95 + random.NextDouble() * 0.1) };
            traffic.Add($"noisy-{i}", "stable", "1", stable);
            traffic.Add($"noisy-{i}", "canary", "2", canary);
            healthy.Add(new PairUnderAnalysis($"noisy-{i}", $"noisy-{i}", "1", "2"));
        }

        var breaches = new List<(PairUnderAnalysis Pair, SimulatedTrack Canary, TrackBehavior Bad, string Kind)>();
        var kinds = new (string Kind, Func<TrackBehavior, TrackBehavior> Bad)[]
        {
            ("synthetic: p95 above the SLO (median x4)", b => b with { MedianLatency = b.MedianLatency * 4 }),
            ("synthetic: 5% errors", b => b with { ErrorRate = 0.05 }),
            ("synthetic: 40% slower, inside the SLO", b => b with { MedianLatency = b.MedianLatency * 1.4 }),
        };
        foreach (var (kind, bad) in kinds)
        {
            for (var t = 0; t < settings.BreachTrials; t++)
            {
                var model = $"breach-{breaches.Count}";
                var behavior = new TrackBehavior(40, 0.03, 0.35, 0.002);
                traffic.Add(model, "stable", "1", behavior);
                var canary = traffic.Add(model, "canary", "2", behavior);
                breaches.Add((new PairUnderAnalysis(model, model, "1", "2"), canary, bad(behavior), kind));
            }
        }

        await using var endpoint = MetricsEndpoint.Start(traffic.Render);
        await using var prometheus = await PrometheusProcess.StartAsync(
            [new ScrapeTarget("synthetic", endpoint.Port, new Dictionary<string, string> { ["namespace"] = Namespace })], cancellationToken);
        await prometheus.WaitForTargetsUpAsync(1, TimeSpan.FromSeconds(60), cancellationToken);
        await using var services = BenchSettings.Services(prometheus.Address);
        var loop = BenchSettings.Loop(services, Namespace, Slo);
        await Task.Delay(BenchSettings.WarmUp, cancellationToken);

        // Breaches start at random instants spread over the run, never on a tick, so detection includes the wait for the next run.
        var interval = BenchSettings.Spec.Interval;
        var schedule = breaches.Select(b => (b, At: DateTimeOffset.UtcNow + interval * (2 + random.NextDouble() * (settings.NoiseRounds - 6)))).ToList();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var breaching = Task.Run(async () =>
        {
            foreach (var (b, at) in schedule.OrderBy(s => s.At))
            {
                var wait = at - DateTimeOffset.UtcNow;
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, stop.Token);
                }

                traffic.Change(b.Canary, b.Bad);
                b.Pair.BreachStartedAt = DateTimeOffset.UtcNow;
            }
        }, stop.Token);

        var all = healthy.Concat(breaches.Select(b => b.Pair)).ToArray();
        await loop.RunAsync(all, settings.NoiseRounds, _ => Task.FromResult(false), cancellationToken);
        await breaching;

        report.Noise.Add(Report.Summarise("synthetic healthy-but-noisy pairs", healthy, BenchSettings.Spec.FailureLimit));
        foreach (var b in breaches)
        {
            report.Detections.Add(Report.Detect(b.Kind, b.Pair, BenchSettings.Spec.FailureLimit));
        }

        report.Notes.Add($"Synthetic scenario SLO: p95 ≤ 200 ms, errors ≤ 1%, minRequests 50; {settings.SyntheticPairs} noisy pairs at 20–80 req/s, " +
            $"median latency 20–60 ms, log-normal sigma 0.35, canary median within ±5% of stable, 0.2% background errors; {settings.NoiseRounds} runs each.");
    }
}

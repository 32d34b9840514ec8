using GruOperator.Domain.Analysis;
using TestSupport;

namespace AnalysisBench;

/// <summary>
/// Real GruServer processes scraped by a real Prometheus. Breach detection: stable plus a canary whose traffic
/// moves, at a random instant, from a healthy process to one started with <c>--fault-latency 150ms</c> or
/// <c>--fault-error-rate 0.5</c> (same revision labels, so the canary "starts breaching" at that instant).
/// False verdicts: many independent healthy pairs under noisy load (mixed batch sizes and lengths, jittered pauses).
/// </summary>
internal sealed class GruServerScenario(BenchSettings settings, Report report)
{
    private const string Namespace = "bench-gruserver";
    private static readonly SloSpec Slo = new(TimeSpan.FromMilliseconds(100), 0.01, 0.05, 50);

    public async Task RunBreachesAsync(GruModelFile model, CancellationToken cancellationToken)
    {
        GruServerStartOptions Options(string name, string track, string revision) =>
            new() { ModelPath = model.Path, ModelName = name, ModelSha256 = model.Sha256, Track = track, Revision = revision };
        var servers = await Task.WhenAll(
            GruServerProcess.StartAsync(Options("breach", "stable", "1"), cancellationToken),
            GruServerProcess.StartAsync(Options("breach", "canary", "2"), cancellationToken),
            GruServerProcess.StartAsync(Options("breach", "canary", "2") with { FaultLatency = "150ms" }, cancellationToken),
            GruServerProcess.StartAsync(Options("breach", "canary", "2") with { FaultErrorRate = 0.5 }, cancellationToken));
        try
        {
            await using var prometheus = await StartPrometheusAsync(servers, cancellationToken);
            await using var services = BenchSettings.Services(prometheus.Address);
            var loop = BenchSettings.Loop(services, Namespace, Slo);
            var requests = NoisyRequests(model);
            InferenceLoad Load(GruServerProcess server, int seed) => new(
                [new Uri(server.BaseUrl, "v2/models/breach/infer")], requests, workersPerServer: 2, TimeSpan.FromMilliseconds(60),
                TimeSpan.FromMinutes(10), maxRequestsPerServer: 200_000, seed);
            await using var stableLoad = Load(servers[0], 1);
            var canaryLoad = Load(servers[1], 2);
            await Task.Delay(BenchSettings.WarmUp, cancellationToken);

            var random = new Random(settings.Seed);
            var interval = BenchSettings.Spec.Interval;
            using var timer = new PeriodicTimer(interval);
            for (var trial = 0; trial < settings.BreachTrials * 2; trial++)
            {
                var (faulty, kind) = trial % 2 == 0 ? (servers[2], "GruServer --fault-latency 150ms") : (servers[3], "GruServer --fault-error-rate 0.5");
                var pair = new PairUnderAnalysis($"trial-{trial}", "breach", "1", "2");

                // Baseline: two Passed runs in a row on the healthy canary (the previous breach must have left the window).
                for (var round = 0; round < 12 && pair.Runs.TakeLast(2).Count(r => r.Verdict == Verdict.Passed) < 2; round++)
                {
                    await timer.WaitForNextTickAsync(cancellationToken);
                    await loop.RunRoundAsync([pair], cancellationToken);
                }

                await Task.Delay(interval * random.NextDouble() * 0.8, cancellationToken);
                await canaryLoad.DisposeAsync();
                canaryLoad = Load(faulty, 10 + trial);
                pair.BreachStartedAt = DateTimeOffset.UtcNow;
                for (var round = 0; round < 12 && Report.RolledBackAt(pair.Runs.Where(r => r.Time >= pair.BreachStartedAt), BenchSettings.Spec.FailureLimit) is null; round++)
                {
                    await timer.WaitForNextTickAsync(cancellationToken);
                    await loop.RunRoundAsync([pair], cancellationToken);
                }

                report.Detections.Add(Report.Detect(kind, pair, BenchSettings.Spec.FailureLimit));
                await canaryLoad.DisposeAsync();
                canaryLoad = Load(servers[1], 20 + trial);
            }

            await canaryLoad.DisposeAsync();
        }
        finally
        {
            foreach (var server in servers)
            {
                await server.DisposeAsync();
            }
        }
    }

    public async Task RunHealthyPairsAsync(GruModelFile model, CancellationToken cancellationToken)
    {
        var pairs = new List<PairUnderAnalysis>();
        for (var first = 0; first < settings.RealPairs; first += settings.RealBatchSize)
        {
            var names = Enumerable.Range(first, Math.Min(settings.RealBatchSize, settings.RealPairs - first)).Select(i => $"pair-{i}").ToArray();
            var servers = await Task.WhenAll(names.SelectMany(name => new[]
            {
                GruServerProcess.StartAsync(new() { ModelPath = model.Path, ModelName = name, ModelSha256 = model.Sha256, Track = "stable", Revision = "1" }, cancellationToken),
                GruServerProcess.StartAsync(new() { ModelPath = model.Path, ModelName = name, ModelSha256 = model.Sha256, Track = "canary", Revision = "2" }, cancellationToken),
            }));
            try
            {
                await using var prometheus = await StartPrometheusAsync(servers, cancellationToken);
                await using var services = BenchSettings.Services(prometheus.Address);
                var loop = BenchSettings.Loop(services, Namespace, Slo);
                var urls = servers.Select((s, i) => new Uri(s.BaseUrl, $"v2/models/{names[i / 2]}/infer"));
                await using var load = new InferenceLoad(urls, NoisyRequests(model), workersPerServer: 2, TimeSpan.FromMilliseconds(60),
                    TimeSpan.FromMinutes(10), maxRequestsPerServer: 200_000, seed: 100 + first);
                await Task.Delay(BenchSettings.WarmUp, cancellationToken);
                var batch = names.Select(n => new PairUnderAnalysis(n, n, "1", "2")).ToArray();
                await loop.RunAsync(batch, Math.Max(3, settings.NoiseRounds / 3), _ => Task.FromResult(false), cancellationToken);
                pairs.AddRange(batch);
            }
            finally
            {
                foreach (var server in servers)
                {
                    await server.DisposeAsync();
                }
            }
        }

        report.Noise.Add(Report.Summarise("GruServer healthy pairs under noisy load", pairs, BenchSettings.Spec.FailureLimit));
        report.Notes.Add($"GruServer scenarios SLO: p95 ≤ 100 ms, errors ≤ 1%, minRequests 50; load 2 workers per server, 60 ms jittered pauses, " +
            $"requests drawn from batch 1–8 × 5–60 steps; healthy pairs started {settings.RealBatchSize} at a time, {Math.Max(3, settings.NoiseRounds / 3)} runs each.");
    }

    private static async Task<PrometheusProcess> StartPrometheusAsync(IReadOnlyList<GruServerProcess> servers, CancellationToken cancellationToken)
    {
        var prometheus = await PrometheusProcess.StartAsync(servers.Select((s, i) => new ScrapeTarget($"gruserver-{i}", s.MetricsPort,
            new Dictionary<string, string> { ["namespace"] = Namespace })).ToArray(), cancellationToken);
        await prometheus.WaitForTargetsUpAsync(servers.Count, TimeSpan.FromSeconds(60), cancellationToken);
        return prometheus;
    }

    private static string[] NoisyRequests(GruModelFile model) =>
        [.. from batch in new[] { 1, 2, 4, 8 } from steps in new[] { 5, 20, 60 } select GruTestModels.InferRequestJson(model.Spec, batch, steps, seed: batch * 100 + steps)];
}

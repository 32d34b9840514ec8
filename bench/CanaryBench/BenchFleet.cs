using System.Globalization;
using TestSupport;

namespace CanaryBench;

/// <summary>How a GruServer process behaves: the work of one request (stood in by a fixed delay, so speed differences
/// between pods are known exactly and independent of the shared machine's noise) and a share of failed requests.</summary>
public sealed record ServerBehaviour(string Name, TimeSpan Work, double ErrorRate = 0);

/// <summary>
/// One slot of the bench: one served model name (the <c>model</c> label), its stable GruServer (revision 1) and one
/// canary GruServer (revision 2) per behaviour. Every trial on the slot is a fresh GruModel whose stable is revision 1
/// and canary revision 2, so it is judged on these series; only the server a trial loads adds requests to its windows.
/// </summary>
public sealed class BenchSlot
{
    public BenchSlot(string model, GruServerProcess stable, IReadOnlyDictionary<string, GruServerProcess> canaries)
    {
        Model = model;
        Stable = stable;
        Canaries = canaries;
    }

    public string Model { get; }

    public GruServerProcess Stable { get; }

    public IReadOnlyDictionary<string, GruServerProcess> Canaries { get; }

    public Uri InferUrl(GruServerProcess server) => new(server.BaseUrl, $"v2/models/{Model}/infer");
}

/// <summary>
/// The real processes of the bench: GruServer per slot and behaviour, one Prometheus scraping them all every second
/// (labels <c>namespace</c> as Kubernetes service discovery would add), and the traffic: stable always loaded, a canary
/// server only while a trial routes traffic to it. The load runs in this process, off the servers' hot path.
/// </summary>
public sealed class BenchFleet : IAsyncDisposable
{
    private readonly List<GruServerProcess> _servers;
    private readonly List<InferenceLoad> _stableLoads;

    private BenchFleet(IReadOnlyList<BenchSlot> slots, List<GruServerProcess> servers, PrometheusProcess prometheus, List<InferenceLoad> stableLoads, IReadOnlyList<string> requests)
    {
        Slots = slots;
        _servers = servers;
        Prometheus = prometheus;
        _stableLoads = stableLoads;
        Requests = requests;
    }

    public IReadOnlyList<BenchSlot> Slots { get; }

    /// <summary>The Prometheus job that scrapes <paramref name="server"/> (its <c>job</c> label).</summary>
    public string JobOf(GruServerProcess server) => JobName(_servers.IndexOf(server));

    public PrometheusProcess Prometheus { get; }

    /// <summary>The request mix: batch 1-4, 3-20 steps, different values.</summary>
    public IReadOnlyList<string> Requests { get; }

    /// <summary>Starts <paramref name="slots"/> slots, each with a stable server of <paramref name="stable"/> and one canary server per behaviour of <paramref name="canariesOf"/> (the slot index).</summary>
    public static async Task<BenchFleet> StartAsync(string @namespace, int slots, ServerBehaviour stable, Func<int, IReadOnlyList<ServerBehaviour>> canariesOf, TimeSpan duration, CancellationToken cancellationToken)
    {
        var file = await GruTestModels.WriteAsync(cancellationToken: cancellationToken);
        string[] requests = [.. new[] { (1, 3), (1, 8), (2, 5), (1, 20), (4, 8), (2, 12) }
            .Select((shape, i) => GruTestModels.InferRequestJson(file.Spec, batch: shape.Item1, steps: shape.Item2, seed: i + 1))];
        GruServerStartOptions Options(string model, string revision, string track, ServerBehaviour b) => new()
        {
            ModelPath = file.Path, ModelName = model, ModelSha256 = file.Sha256, Revision = revision, Track = track,
            FaultLatency = $"{b.Work.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture)}ms",
            FaultErrorRate = b.ErrorRate > 0 ? b.ErrorRate : null,
            // As the operator passes spec.slo.latencyP95: the SLO threshold is a bucket bound.
            ExtraArguments = ["--latency-slo-boundaries", "100ms"],
        };

        var started = new List<GruServerProcess>();
        var built = new List<BenchSlot>();
        try
        {
            // Two at a time: a 2-core machine starting a dozen .NET processes at once times some of them out.
            using var gate = new SemaphoreSlim(2);
            async Task<GruServerProcess> Start(GruServerStartOptions o)
            {
                await gate.WaitAsync(cancellationToken);
                try
                {
                    var server = await GruServerProcess.StartAsync(o, cancellationToken);
                    lock (started) started.Add(server);
                    return server;
                }
                finally
                {
                    gate.Release();
                }
            }

            foreach (var s in Enumerable.Range(0, slots))
            {
                var model = $"bench-{s}";
                var stableServer = Start(Options(model, "1", "stable", stable));
                var canaries = canariesOf(s);
                var canaryServers = canaries.Select(b => (b.Name, Server: Start(Options(model, "2", "canary", b)))).ToList();
                await Task.WhenAll(canaryServers.Select(c => c.Server).Append(stableServer));
                built.Add(new BenchSlot(model, await stableServer, canaryServers.ToDictionary(c => c.Name, c => c.Server.Result, StringComparer.Ordinal)));
                Console.WriteLine($"  slot {model}: {1 + canaries.Count} GruServer processes ready");
            }

            var labels = new Dictionary<string, string> { ["namespace"] = @namespace };
            var prometheus = await PrometheusProcess.StartAsync([.. started.Select((s, i) => new ScrapeTarget(JobName(i), s.MetricsPort, labels))], cancellationToken);
            await prometheus.WaitForTargetsUpAsync(started.Count, TimeSpan.FromSeconds(90), cancellationToken);
            var loads = built.Select((slot, i) => Load(slot, slot.Stable, requests, duration, seed: 1000 * (i + 1))).ToList();
            return new BenchFleet(built, started, prometheus, loads, requests);
        }
        catch
        {
            foreach (var server in started) await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Traffic to one server: 3 workers, each pausing 40-120 ms (jittered) between requests drawn from the mix, about
    /// 30-40 requests a second with the fixed work; the same for stable and canary, as replica routing gives each pod.
    /// </summary>
    public static InferenceLoad Load(BenchSlot slot, GruServerProcess server, IReadOnlyList<string> requests, TimeSpan duration, int seed) =>
        new([slot.InferUrl(server)], requests, workersPerServer: 3, pause: TimeSpan.FromMilliseconds(80), maxDuration: duration, maxRequestsPerServer: int.MaxValue, seed: seed);

    private static string JobName(int index) => $"gruserver-{index}";

    public async ValueTask DisposeAsync()
    {
        foreach (var load in _stableLoads) await load.DisposeAsync();
        await Prometheus.DisposeAsync();
        await Task.WhenAll(_servers.Select(s => s.DisposeAsync().AsTask()));
    }
}

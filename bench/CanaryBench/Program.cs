// Issue 10's "Done when" bench: canary rollouts decided by the real operator (gru-operator.dll, its own process) on a
// LocalCluster in this process, judged on a real Prometheus scraping real GruServer processes that stand in for the
// stable and canary pods (LocalCluster marks the pods ready; the servers carry the pods' labels through Prometheus).
// Three scenarios, several GruModels at once:
//   breach     a canary passes its first analysis, then its traffic moves to a server 7x over the latency SLO at a random
//              instant: time from that instant to the rollback being complete (phase RolledBack, canary Deployment gone);
//   noisy      healthy canaries under jittered load of mixed request sizes, canary pods 0-6% slower than stable:
//              false rollbacks;
//   slower30   canaries 30% slower than stable, far inside the absolute SLO: the share compareToStable rolls back.
// Usage: CanaryBench [--out DIR] [--quick] [--operator PATH]
using System.Diagnostics;
using System.Globalization;
using CanaryBench;
using GruOperator.Api;
using GruOperator.Api.Schema;
using k8s;
using Kube.Local;

var outDir = Arg("--out") ?? "bench/results";
var quick = args.Contains("--quick");
var operatorDll = Arg("--operator") ?? Path.Combine("src", "GruOperator", "bin", "Release", "net10.0", "gru-operator.dll");
if (!File.Exists(operatorDll))
{
    Console.Error.WriteLine($"operator not built at {operatorDll}: run `dotnet build src/GruOperator -c Release` first");
    return 2;
}

const string Namespace = "default";
const int Slots = 3;
var settings = new TrialSettings(Interval: TimeSpan.FromSeconds(10), FailureLimit: 2, InconclusiveLimit: 3);
// The breach goal is 2 intervals + 5 s: at 10 s the 5 s cover the scrape, reconcile and clean-up slack; at 5 s as well.
var shortSettings = settings with { Interval = TimeSpan.FromSeconds(5) };
int breachRounds = quick ? 1 : 2, noisyRounds = quick ? 1 : 8, slowerRounds = quick ? 1 : 4;
// Each request's work is a fixed 20 ms on stable (fault-latency stands in for a model that takes that long; the small test
// model itself adds ~1 ms), so pod speeds differ by exactly what the bench says, and the machine's noise comes on top.
var work = TimeSpan.FromMilliseconds(20);
var stable = new ServerBehaviour("stable", work);
IReadOnlyList<ServerBehaviour> CanariesOf(int slot) =>
[
    new("healthy", work * (1 + 0.03 * slot)), // pods of slightly different speed: 0%, 3%, 6% slower than stable
    new("slower30", work * 1.3),
    new("breaching", TimeSpan.FromMilliseconds(150)), // p95 SLO is 100 ms
];

using var load = new LoadAverage();
var clock = Stopwatch.StartNew();
await using var cluster = await LocalCluster.StartAsync(new LocalClusterOptions { DeploymentController = true, AutoReadyPods = true });
var kubeconfig = cluster.WriteKubeconfig(Path.Combine(Path.GetTempPath(), $"gru-canary-bench-{Environment.ProcessId}", "kubeconfig"));
using var client = new Kubernetes(cluster.ClientConfiguration);
await client.ApiextensionsV1.CreateCustomResourceDefinitionAsync(CrdGenerator.Build());

var total = TimeSpan.FromMinutes(40);
Console.WriteLine($"starting {Slots} slots of GruServer processes and Prometheus");
await using var fleet = await BenchFleet.StartAsync(Namespace, Slots, stable, CanariesOf, total, CancellationToken.None);
await using var op = OperatorProcess.Start(new OperatorProcessOptions
{
    OperatorDll = operatorDll,
    Kubeconfig = kubeconfig,
    HealthPort = 0,
    PrometheusAddress = fleet.Prometheus.Address,
    // The pods are marked ready by LocalCluster with no server behind their IPs: nothing to verify there.
    Arguments = ["--verify-served-models", "false"],
    Environment = new Dictionary<string, string> { ["GRU_OPERATOR_Logging__LogLevel__Default"] = "Warning" },
    OutputLine = line => Console.WriteLine("  operator: " + line),
});
// A window of stable traffic in Prometheus before the first canary: the first comparison has stable data.
await Task.Delay(TimeSpan.FromSeconds(15));

var trial = new CanaryTrial(client, Namespace, settings);
var shortTrial = new CanaryTrial(client, Namespace, shortSettings);
var results = new List<TrialResult>();
var random = new Random(10);
var counter = 0;

async Task RoundsAsync(CanaryTrial trial, string scenario, int rounds, string behaviour, int[] weights, Func<TimeSpan?> breachAfter, string? breachBehaviour)
{
    for (var round = 0; round < rounds; round++)
    {
        var batch = await Task.WhenAll(fleet.Slots.Select(slot =>
        {
            var n = Interlocked.Increment(ref counter);
            return trial.RunAsync(scenario, $"{scenario}-{n:D2}", fleet, slot, behaviour, weights, seed: 7919 * n, breachAfter(), breachBehaviour);
        }));
        foreach (var r in batch)
        {
            Console.WriteLine($"  {r.GruModel} ({r.Behaviour} on {r.GruModel}): {r.Outcome} {r.Reason} after {r.CanarySeconds:0.0} s, {r.AnalysisRuns} runs"
                + (r.BreachToRollbackSeconds is { } s ? $", breach to rollback {s:0.0} s" : ""));
        }
        results.AddRange(batch);
    }
}

// Breach: the first step's run passes at ~1 interval; the breach starts at a uniformly random instant of the second window.
foreach (var (t, s) in new[] { (trial, settings), (shortTrial, shortSettings) })
{
    Console.WriteLine($"breach: canaries that start breaching their latency SLO mid-step, analysis every {s.IntervalText}");
    await RoundsAsync(t, "breach", breachRounds, "healthy", [20, 40, 60, 80], () => s.Interval * (1.1 + random.NextDouble()), "breaching");
}
Console.WriteLine("noisy: healthy canaries under noisy load");
await RoundsAsync(trial, "noisy", noisyRounds, "healthy", [25, 50, 75], () => null, null);
Console.WriteLine("slower30: canaries 30% slower than stable, inside the SLO");
await RoundsAsync(trial, "slower30", slowerRounds, "slower30", [25, 50, 75], () => null, null);

var latencies = await TrackLatencies.MeasureAsync(fleet, stable, CanariesOf);
var report = new BenchReport(results, latencies, settings, Slots, clock.Elapsed, load.Summary(), operatorDll);
Directory.CreateDirectory(outDir);
await report.WriteAsync(outDir);
Console.WriteLine(report.Markdown());
return 0;

string? Arg(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;

using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace CanaryBench;

/// <summary>Samples /proc/loadavg every 5 s while the bench runs: the machine is shared, and the figures say how busy it was.</summary>
public sealed class LoadAverage : IDisposable
{
    private readonly List<double> _samples = [];
    private readonly Timer _timer;

    public LoadAverage() => _timer = new Timer(_ => Sample(), null, TimeSpan.Zero, TimeSpan.FromSeconds(5));

    /// <summary>min / median / max of the 1-minute load average.</summary>
    public (double Min, double Median, double Max) Summary()
    {
        lock (_samples)
        {
            var sorted = _samples.Order().ToList();
            return sorted.Count == 0 ? (double.NaN, double.NaN, double.NaN) : (sorted[0], Stats.Median(sorted), sorted[^1]);
        }
    }

    public void Dispose() => _timer.Dispose();

    private void Sample()
    {
        var first = File.ReadAllText("/proc/loadavg").Split(' ')[0];
        lock (_samples) _samples.Add(double.Parse(first, CultureInfo.InvariantCulture));
    }
}

/// <summary>Latency one behaviour's servers really showed over the whole bench (all slots), read back from Prometheus.</summary>
public sealed record TrackLatency(string Behaviour, double Requests, double MeanMs, double P95Ms);

/// <summary>Reads each behaviour's served latency from Prometheus: what "30% slower" and "inside the SLO" measured.</summary>
public static class TrackLatencies
{
    public static async Task<IReadOnlyList<TrackLatency>> MeasureAsync(BenchFleet fleet, ServerBehaviour stable, Func<int, IReadOnlyList<ServerBehaviour>> canariesOf)
    {
        using var http = new HttpClient { BaseAddress = fleet.Prometheus.Address, Timeout = TimeSpan.FromSeconds(20) };
        var jobs = new Dictionary<string, List<string>>(StringComparer.Ordinal) { [stable.Name] = [.. fleet.Slots.Select(s => fleet.JobOf(s.Stable))] };
        for (var i = 0; i < fleet.Slots.Count; i++)
        {
            foreach (var b in canariesOf(i))
            {
                var name = b.Name == "healthy" ? $"healthy (slot {i}, +{(b.Work / stable.Work - 1) * 100:0}%)" : b.Name;
                if (!jobs.TryGetValue(name, out var list)) jobs[name] = list = [];
                list.Add(fleet.JobOf(fleet.Slots[i].Canaries[b.Name]));
            }
        }

        var result = new List<TrackLatency>();
        foreach (var (name, list) in jobs)
        {
            var bucketSelector = $"job=~\"{string.Join('|', list)}\"";
            var count = await ScalarAsync(http, $"sum(increase(gru_request_duration_seconds_count{{{bucketSelector}}}[2h]))");
            var sum = await ScalarAsync(http, $"sum(increase(gru_request_duration_seconds_sum{{{bucketSelector}}}[2h]))");
            var p95 = await ScalarAsync(http, $"histogram_quantile(0.95, sum by (le) (increase(gru_request_duration_seconds_bucket{{{bucketSelector}}}[2h])))");
            result.Add(new TrackLatency(name, Math.Round(count), Math.Round(sum / count * 1000, 1), Math.Round(p95 * 1000, 1)));
        }
        return result;
    }

    private static async Task<double> ScalarAsync(HttpClient http, string query)
    {
        using var doc = await http.GetFromJsonAsync<JsonDocument>($"api/v1/query?query={Uri.EscapeDataString(query)}");
        var results = doc!.RootElement.GetProperty("data").GetProperty("result");
        return results.GetArrayLength() == 0 ? double.NaN : double.Parse(results[0].GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture);
    }
}

internal static class Stats
{
    public static double Median(IReadOnlyList<double> sorted) =>
        sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
}

/// <summary>The bench's figures against issue 10's goals, as bench/results/canary-rollout.md and .json.</summary>
public sealed class BenchReport(
    IReadOnlyList<TrialResult> trials, IReadOnlyList<TrackLatency> latencies, TrialSettings settings, int slots, TimeSpan elapsed,
    (double Min, double Median, double Max) load, string operatorDll)
{
    private IEnumerable<TrialResult> Of(string scenario) => trials.Where(t => t.Scenario == scenario);

    public async Task WriteAsync(string directory)
    {
        var json = new
        {
            benchmark = "canary-rollout",
            setup = new
            {
                cluster = "LocalCluster (in-process, pods marked ready), operator as its own process (" + Path.GetFileName(operatorDll) + ")",
                servers = "real GruServer processes standing in for stable and canary pods, real Prometheus scraping every 1 s",
                analysisIntervalSeconds = settings.Interval.TotalSeconds,
                breachAlsoAtIntervalSeconds = Breaches().Select(b => b.Interval).ToList(),
                settings.FailureLimit,
                settings.InconclusiveLimit,
                slo = new { latencyP95 = "100ms", errorRate = "0.01", minRequests = 50 },
                compareToStable = true,
                concurrentModels = slots,
            },
            breach = Breaches().Select(b => new
            {
                analysisIntervalSeconds = b.Interval,
                goalSeconds = 2 * b.Interval + 5,
                rolledBack = b.Seconds.Count,
                b.Trials,
                medianSeconds = b.Seconds.Count > 0 ? Math.Round(Stats.Median(b.Seconds), 1) : double.NaN,
                maxSeconds = b.Seconds.Count > 0 ? Math.Round(b.Seconds[^1], 1) : double.NaN,
                withinGoal = b.Seconds.Count(x => x <= 2 * b.Interval + 5),
            }),
            noisy = new { trials = Of("noisy").Count(), falseRollbacks = Of("noisy").Count(t => t.Outcome == "RolledBack"), promoted = Of("noisy").Count(t => t.Outcome == "Promoted") },
            slower30 = new { trials = Of("slower30").Count(), caught = Of("slower30").Count(t => t.Outcome == "RolledBack"), promoted = Of("slower30").Count(t => t.Outcome == "Promoted") },
            latencies,
            machine = new { cores = Environment.ProcessorCount, loadAverage1m = new { min = load.Min, median = load.Median, max = load.Max }, shared = "other helpers' builds and tests ran on the same 2 cores" },
            elapsedMinutes = Math.Round(elapsed.TotalMinutes, 1),
            trialResults = trials,
            measuredAt = DateTimeOffset.UtcNow,
        };
        await File.WriteAllTextAsync(Path.Combine(directory, "canary-rollout.json"), JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true }));
        await File.WriteAllTextAsync(Path.Combine(directory, "canary-rollout.md"), Markdown());
    }

    public string Markdown()
    {
        var md = new StringBuilder();
        var interval = settings.Interval.TotalSeconds;
        var noisy = Of("noisy").ToList();
        var slower = Of("slower30").ToList();
        md.AppendLine("# Canary rollouts on real processes (issue 10, `make bench`)");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"The real operator (`gru-operator.dll`, its own process) on an in-process LocalCluster; a real Prometheus scraping real GruServer processes every 1 s, standing in for each GruModel's stable (revision 1) and canary (revision 2) pods; {slots} GruModels at a time. Analysis every {interval:0} s (the breach also at 5 s), failureLimit {settings.FailureLimit}, compareToStable on; SLO p95 < 100 ms, errors < 1%, minRequests 50. Each request does a fixed 20 ms of work on stable (`--fault-latency`, so pod speeds differ by exactly what is said; the small model adds ~1 ms and the machine its noise), 3 jittered load workers per server with six request shapes (batch 1-4, 3-20 steps). \"30% slower\" is 26 ms of work against stable's 20 ms; the table below shows what that became end to end. Breach: a canary passes its first run, then at a random instant of its second window its traffic moves to a server at 150 ms; measured from that instant to phase RolledBack with the canary Deployment gone (polled every 200 ms).");
        md.AppendLine();
        md.AppendLine("| measure | goal | measured |");
        md.AppendLine("|---|---|---|");
        foreach (var b in Breaches())
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| breach → rollback complete, analysis every {b.Interval:0} s ({b.Seconds.Count}/{b.Trials} rolled back) | ≤ 2 intervals + 5 s = {2 * b.Interval + 5:0} s | median {(b.Seconds.Count > 0 ? Stats.Median(b.Seconds) : double.NaN):0.0} s, max {(b.Seconds.Count > 0 ? b.Seconds[^1] : double.NaN):0.0} s ({b.Seconds.Count(x => x <= 2 * b.Interval + 5)} of {b.Trials} within) |");
        }
        md.AppendLine(CultureInfo.InvariantCulture, $"| false rollbacks of healthy noisy canaries (pods 0/3/6% slower) | 0 of ≥ 20 | {noisy.Count(t => t.Outcome == "RolledBack")} of {noisy.Count} ({noisy.Count(t => t.Outcome == "Promoted")} promoted, {noisy.Sum(t => t.AnalysisRuns)} analysis runs) |");
        md.AppendLine(CultureInfo.InvariantCulture, $"| 30% slower inside the SLO caught by compareToStable | (share) | {slower.Count(t => t.Outcome == "RolledBack")} of {slower.Count} ({Share(slower.Count(t => t.Outcome == "RolledBack"), slower.Count)}) |");
        md.AppendLine();
        md.AppendLine("Latency the servers really served over the whole bench (from Prometheus, all slots):");
        md.AppendLine();
        md.AppendLine("| servers | requests | mean | p95 | mean / stable's |");
        md.AppendLine("|---|---|---|---|---|");
        var stableMean = latencies.FirstOrDefault(l => l.Behaviour == "stable")?.MeanMs ?? double.NaN;
        foreach (var l in latencies) md.AppendLine(CultureInfo.InvariantCulture, $"| {l.Behaviour} | {l.Requests:0} | {l.MeanMs:0.0} ms | {l.P95Ms:0.0} ms | {l.MeanMs / stableMean:0.00} |");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores (whatever else runs on the machine shows in the load); 1-minute load average min {load.Min:0.0}, median {load.Median:0.0}, max {load.Max:0.0}. Bench time {elapsed.TotalMinutes:0.0} min.");
        md.AppendLine();
        md.AppendLine("Every canary:");
        md.AppendLine();
        md.AppendLine("| canary | scenario | interval | outcome | runs | canary s | breach at s | breach → rollback s | reason |");
        md.AppendLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var t in trials)
        {
            var why = (t.Message ?? "").Replace('|', '/').Replace('\n', ' ');
            if (why.Length > 160) why = why[..160] + "…";
            md.AppendLine(CultureInfo.InvariantCulture, $"| {t.GruModel} | {t.Scenario} | {t.IntervalSeconds:0} s | {t.Outcome} ({t.Reason}) | {t.AnalysisRuns} | {t.CanarySeconds:0.0} | {(t.BreachAtSeconds is { } at ? at.ToString("0.0", CultureInfo.InvariantCulture) : "")} | {(t.BreachToRollbackSeconds is { } s ? s.ToString("0.0", CultureInfo.InvariantCulture) : "")} | {why} |");
        }
        return md.ToString();
    }

    /// <summary>Breach trials by analysis interval: the breach-to-rollback times, sorted.</summary>
    private List<(double Interval, int Trials, List<double> Seconds)> Breaches() =>
        [.. Of("breach").GroupBy(t => t.IntervalSeconds).OrderByDescending(g => g.Key)
            .Select(g => (g.Key, g.Count(), g.Where(t => t.BreachToRollbackSeconds is not null).Select(t => t.BreachToRollbackSeconds!.Value).Order().ToList()))];

    private static string Share(int part, int whole) => whole == 0 ? "n/a" : (100.0 * part / whole).ToString("0", CultureInfo.InvariantCulture) + "%";
}

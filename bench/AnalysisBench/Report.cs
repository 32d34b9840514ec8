using System.Globalization;
using System.Text;
using GruOperator.Domain.Analysis;

namespace AnalysisBench;

/// <summary>Detection of one breach: how long from its start to the first Failed run, and which metric was named.</summary>
internal sealed record Detection(string Scenario, string Pair, double? SecondsToFirstFailed, double? SecondsToRollback, string? FailedMetrics, string VerdictsAfterBreach);

/// <summary>False verdicts over healthy pairs.</summary>
internal sealed record NoiseResult(string Scenario, int Pairs, int Runs, int FailedRuns, int PairsWithFailed, int PairsRolledBack, int InconclusiveRuns, IReadOnlyList<string> FailedReasons);

/// <summary>Collects results and writes bench/results/analysis.md and analysis.json.</summary>
internal sealed class Report
{
    public List<Detection> Detections { get; } = [];

    public List<NoiseResult> Noise { get; } = [];

    public List<string> Notes { get; } = [];

    /// <summary>Replays the runs through the domain counters: true once failureLimit consecutive failures were reached.</summary>
    public static DateTimeOffset? RolledBackAt(IEnumerable<AnalysisRun> runs, int failureLimit)
    {
        var counters = AnalysisCounters.Initial;
        foreach (var run in runs)
        {
            counters = counters.Record(run.Verdict);
            if (counters.ConsecutiveFailures >= failureLimit)
            {
                return run.Time;
            }
        }

        return null;
    }

    public static NoiseResult Summarise(string scenario, IReadOnlyList<PairUnderAnalysis> pairs, int failureLimit)
    {
        var runs = pairs.SelectMany(p => p.Runs).ToArray();
        var rolledBack = pairs.Count(p => RolledBackAt(p.Runs, failureLimit) is not null);
        return new NoiseResult(scenario, pairs.Count, runs.Length, runs.Count(r => r.Verdict == Verdict.Failed),
            pairs.Count(p => p.Runs.Any(r => r.Verdict == Verdict.Failed)), rolledBack, runs.Count(r => r.Verdict == Verdict.Inconclusive),
            runs.Where(r => r.Verdict == Verdict.Failed).Select(r => r.Reason).Take(10).ToArray());
    }

    public static Detection Detect(string scenario, PairUnderAnalysis pair, int failureLimit)
    {
        var start = pair.BreachStartedAt ?? throw new InvalidOperationException($"{pair.Name} never breached");
        var after = pair.Runs.Where(r => r.Time >= start).ToArray();
        var firstFailed = after.FirstOrDefault(r => r.Verdict == Verdict.Failed);
        var rollback = RolledBackAt(after, failureLimit);

        return new Detection(scenario, pair.Name, firstFailed is null ? null : (firstFailed.Time - start).TotalSeconds,
            rollback is null ? null : (rollback.Value - start).TotalSeconds,
            firstFailed is null ? null : string.Join(",", firstFailed.Metrics.Where(m => m.Verdict == Verdict.Failed).Select(m => m.Name)),
            string.Join(" ", after.Select(r => r.Verdict.ToString()[0])));
    }

    public async Task WriteAsync(string directory, string settings, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(directory);
        var json = System.Text.Json.JsonSerializer.Serialize(new { settings, Detections, Noise, Notes },
            new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
        await File.WriteAllTextAsync(Path.Combine(directory, "analysis.json"), json, cancellationToken);

        var md = new StringBuilder();
        md.AppendLine("# Canary analysis benchmark").AppendLine().AppendLine(settings).AppendLine();
        md.AppendLine("## Time from SLO breach to the first Failed verdict").AppendLine();
        md.AppendLine("| scenario | pair | first Failed after (s) | rollback (failureLimit 2) after (s) | metrics named | verdicts after the breach (P/F/I) |");
        md.AppendLine("| --- | --- | --- | --- | --- | --- |");
        foreach (var d in Detections)
        {
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {d.Scenario} | {d.Pair} | {Seconds(d.SecondsToFirstFailed)} | {Seconds(d.SecondsToRollback)} | {d.FailedMetrics ?? "never failed"} | {d.VerdictsAfterBreach} |");
        }

        foreach (var group in Detections.GroupBy(d => d.Scenario))
        {
            var times = group.Where(d => d.SecondsToFirstFailed is not null).Select(d => d.SecondsToFirstFailed!.Value).Order().ToArray();
            md.AppendLine().Append(CultureInfo.InvariantCulture, $"- {group.Key}: detected {times.Length}/{group.Count()}");
            if (times.Length > 0)
            {
                md.Append(CultureInfo.InvariantCulture, $", median {times[times.Length / 2]:0.0} s, max {times[^1]:0.0} s");
            }
        }

        md.AppendLine().AppendLine().AppendLine("## False Failed verdicts on healthy-but-noisy pairs").AppendLine();
        md.AppendLine("| scenario | pairs | runs | Failed runs | pairs with a Failed run | pairs rolled back (failureLimit 2) | Inconclusive runs |");
        md.AppendLine("| --- | --- | --- | --- | --- | --- | --- |");
        foreach (var n in Noise)
        {
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {n.Scenario} | {n.Pairs} | {n.Runs} | {n.FailedRuns} | {n.PairsWithFailed} | {n.PairsRolledBack} | {n.InconclusiveRuns} |");
        }

        foreach (var reason in Noise.SelectMany(n => n.FailedReasons))
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"- false Failed: {reason}");
        }

        if (Notes.Count > 0)
        {
            md.AppendLine().AppendLine("## Notes").AppendLine();
            foreach (var note in Notes)
            {
                md.AppendLine("- " + note);
            }
        }

        await File.WriteAllTextAsync(Path.Combine(directory, "analysis.md"), md.ToString(), cancellationToken);
        Console.WriteLine(md.ToString());
    }

    private static string Seconds(double? value) => value is { } v ? v.ToString("0.0", CultureInfo.InvariantCulture) : "—";
}

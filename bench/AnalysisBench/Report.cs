using System.Globalization;
using System.Text;
using System.Text.Json;
using GruOperator.Domain.Analysis;

namespace AnalysisBench;

/// <summary>One scenario over all its seeds.</summary>
public sealed record ScenarioResult(
    string Scenario,
    Goal Goal,
    int Seeds,
    int Promoted,
    int RolledBack,
    int Paused,
    int Unfinished,
    double RunsPerRollout,
    double FailedRunShare,
    double InconclusiveRunShare,
    double WaitingRunsPerRollout,
    double? MedianSecondsToFirstFailed,
    double? MaxSecondsToFirstFailed,
    double? MedianSecondsToRollback,
    int FirstFailedWithinTwoIntervals,
    bool? GoalMet,
    IReadOnlyList<string> FirstReasons,
    int? BestDetectorCaught = null,
    int? BestOnScheduleCaught = null,
    IReadOnlyList<string>? Misses = null)
{
    public static ScenarioResult Of(Scenario scenario, IReadOnlyList<(RolloutResult Result, double? Onset)> rollouts, IReadOnlyList<OracleVerdict?> oracles, TimeSpan interval)
    {
        var runs = rollouts.SelectMany(r => r.Result.Runs).ToArray();
        int Count(Outcome o) => rollouts.Count(r => r.Result.Outcome == o);
        var detections = rollouts.Select(r =>
        {
            if (r.Onset is not { } start)
            {
                return (First: (double?)null, Rollback: (double?)null);
            }

            var first = r.Result.Runs.FirstOrDefault(run => run.Verdict == Verdict.Failed && SecondsSinceStart(run) >= start);
            return (First: first is null ? (double?)null : SecondsSinceStart(first) - start,
                Rollback: r.Result.Outcome == Outcome.RolledBack ? r.Result.Seconds - start : (double?)null);
        }).ToArray();
        var firsts = detections.Where(d => d.First is not null).Select(d => d.First!.Value).Order().ToArray();
        var rollbacks = detections.Where(d => d.Rollback is not null).Select(d => d.Rollback!.Value).Order().ToArray();
        var within = detections.Count(d => d.First is { } f && f <= 2 * interval.TotalSeconds);
        var rolledBack = Count(Outcome.RolledBack);
        var judged = oracles.Where(o => o is not null).ToArray();
        var best = judged.Count(o => o!.Caught);
        var bestOnSchedule = judged.Count(o => o!.CaughtOnSchedule);
        bool? met = scenario.Goal switch
        {
            Goal.NoFalseRollback => rolledBack <= 0.005 * rollouts.Count,
            Goal.NoFailedRuns => rolledBack <= 0.005 * rollouts.Count && Share(runs, Verdict.Failed) <= 0.005,
            Goal.CatchSlowdown => rolledBack >= 0.9 * rollouts.Count,
            Goal.CatchBreach => rolledBack == rollouts.Count && within == rollouts.Count,
            Goal.CatchBreachAsBestDetector => rolledBack == rollouts.Count && within >= 0.85 * rollouts.Count && within >= 0.95 * bestOnSchedule,
            Goal.NeverPassed => Count(Outcome.Promoted) == 0 && runs.All(r => r.Verdict != Verdict.Passed),
            _ => null,
        };
        var reasons = scenario.Goal is Goal.NoFalseRollback or Goal.NoFailedRuns
            ? runs.Where(r => r.Verdict == Verdict.Failed).Select(r => r.Reason).Take(3).ToArray()
            : scenario.Goal is Goal.CatchSlowdown or Goal.CatchBreach or Goal.CatchBreachAsBestDetector
                ? rollouts.Where(r => r.Result.Outcome != Outcome.RolledBack).Select(r => $"{r.Result.Outcome}: {r.Result.Runs.LastOrDefault()?.Reason} [{string.Join("; ", r.Result.Runs.LastOrDefault()?.Metrics.Where(m => m.Name is "latencyP95" or "errorRate").Select(m => m.Reason) ?? [])}]").Take(3).ToArray()
                : rollouts.Select(r => $"{r.Result.Outcome} after {r.Result.Seconds:0} s ({r.Result.Reason}): {r.Result.Runs.LastOrDefault()?.Reason}").Take(2).ToArray();
        var missed = Enumerable.Range(0, rollouts.Count)
            .Where(i => rollouts[i].Onset is { } onset && oracles[i] is not null && !(detections[i].First is { } f && f <= 2 * interval.TotalSeconds))
            .Select(i => BreachOracle.DescribeMiss(rollouts[i].Onset!.Value, rollouts[i].Result, oracles[i]!, interval)).ToArray();
        return new ScenarioResult(scenario.Name, scenario.Goal, rollouts.Count, Count(Outcome.Promoted), rolledBack, Count(Outcome.Paused), Count(Outcome.Unfinished),
            (double)runs.Length / rollouts.Count, Share(runs, Verdict.Failed), Share(runs, Verdict.Inconclusive),
            rollouts.Average(r => r.Result.WaitingRuns),
            firsts.Length > 0 ? firsts[firsts.Length / 2] : null, firsts.Length > 0 ? firsts[^1] : null,
            rollbacks.Length > 0 ? rollbacks[rollbacks.Length / 2] : null, within, met, reasons,
            judged.Length > 0 ? best : null, judged.Length > 0 ? bestOnSchedule : null,
            missed.Length > 0 ? missed : null);
    }

    /// <summary>Seconds since the rollout started (every rollout starts at <see cref="BenchClock.Start"/>).</summary>
    private static double SecondsSinceStart(AnalysisRun run) => (run.Time - BenchClock.Start).TotalSeconds;

    private static double Share(AnalysisRun[] runs, Verdict verdict) => runs.Length == 0 ? 0 : (double)runs.Count(r => r.Verdict == verdict) / runs.Length;
}

/// <summary>The simulated clock's origin: every rollout starts here.</summary>
public static class BenchClock
{
    /// <summary>A fixed instant, so runs are reproducible.</summary>
    public static readonly DateTimeOffset Start = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
}

/// <summary>Writes bench/results/analysis.md and analysis.json.</summary>
public static class ReportWriter
{
    public static async Task WriteAsync(string directory, string settings, IReadOnlyList<ScenarioResult> results, IReadOnlyList<string> notes)
    {
        Directory.CreateDirectory(directory);
        await File.WriteAllTextAsync(Path.Combine(directory, "analysis.json"),
            JsonSerializer.Serialize(new { settings, results, notes }, new JsonSerializerOptions { WriteIndented = true }));

        var md = new StringBuilder();
        md.AppendLine("# Canary analysis benchmark (issues 13 and 22)").AppendLine().AppendLine(settings).AppendLine();
        md.AppendLine("| scenario | goal | seeds | promoted | rolled back | paused | unfinished | runs/rollout | Failed runs | Inconclusive runs | waiting runs/rollout | first Failed after onset (median / max s) | within 2 intervals | goal met |");
        md.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var r in results)
        {
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Scenario} | {GoalText(r.Goal)} | {r.Seeds} | {Pct(r.Promoted, r.Seeds)} | {Pct(r.RolledBack, r.Seeds)} | {Pct(r.Paused, r.Seeds)} | {Pct(r.Unfinished, r.Seeds)} | {r.RunsPerRollout:0.0} | {r.FailedRunShare:P2} | {r.InconclusiveRunShare:P1} | {r.WaitingRunsPerRollout:0.0} | {Sec(r.MedianSecondsToFirstFailed)} / {Sec(r.MaxSecondsToFirstFailed)} | {(r.MedianSecondsToFirstFailed is null && r.Goal != Goal.CatchBreach ? "—" : Pct(r.FirstFailedWithinTwoIntervals, r.Seeds))} | {(r.GoalMet is { } met ? (met ? "yes" : "**no**") : "—")} |");
        }

        foreach (var r in results.Where(r => r.BestDetectorCaught is not null))
        {
            md.AppendLine().AppendLine(CultureInfo.InvariantCulture,
                $"**{r.Scenario}**: the best possible detector (knows the onset, judges every canary request scraped in the two intervals after it with the judge's tests at the judge's levels) catches {Pct(r.BestDetectorCaught!.Value, r.Seeds)}; on the span that ends at the last run inside the two intervals (what runs every interval can have seen) it catches {Pct(r.BestOnScheduleCaught!.Value, r.Seeds)}; the analysis caught {Pct(r.FirstFailedWithinTwoIntervals, r.Seeds)} within two intervals: {Ratio(r.FirstFailedWithinTwoIntervals, r.BestOnScheduleCaught!.Value)} of the best detector on the runs' schedule, {Ratio(r.FirstFailedWithinTwoIntervals, r.BestDetectorCaught!.Value)} of the best detector on all the two intervals' data.");
            foreach (var miss in (r.Misses ?? []).Take(8))
            {
                md.AppendLine("- missed: " + miss);
            }
        }

        md.AppendLine().AppendLine("## Examples (first few per scenario)").AppendLine();
        foreach (var r in results.Where(r => r.FirstReasons.Count > 0))
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"- {r.Scenario}: {string.Join(" | ", r.FirstReasons)}");
        }

        md.AppendLine().AppendLine("## Notes").AppendLine();
        foreach (var note in notes)
        {
            md.AppendLine("- " + note);
        }

        await File.WriteAllTextAsync(Path.Combine(directory, "analysis.md"), md.ToString());
        Console.WriteLine(md.ToString());
    }

    private static string GoalText(Goal goal) => goal switch
    {
        Goal.NoFalseRollback => "rolled back ≤ 0.5%",
        Goal.NoFailedRuns => "rolled back ≤ 0.5%, runs Failed ≤ 0.5%",
        Goal.CatchSlowdown => "rolled back ≥ 90%",
        Goal.CatchBreach => "rolled back 100%, first Failed ≤ 2 intervals",
        Goal.CatchBreachAsBestDetector => "rolled back 100%, first Failed ≤ 2 intervals ≥ 85% and ≥ 95% of the best detector on the runs' schedule",
        Goal.NeverPassed => "no run Passed, none promoted",
        _ => "measured",
    };

    private static string Pct(int count, int total) => ((double)count / total).ToString("0.0%", CultureInfo.InvariantCulture);

    private static string Ratio(int count, int of) => of == 0 ? "—" : ((double)count / of).ToString("0.0%", CultureInfo.InvariantCulture);

    private static string Sec(double? seconds) => seconds is { } s ? s.ToString("0", CultureInfo.InvariantCulture) : "—";
}

using GruOperator.Domain.Analysis;

namespace AnalysisBench;

/// <summary>One canary/stable pair under analysis, and what happened to it.</summary>
internal sealed class PairUnderAnalysis(string name, string model, string stableRevision, string canaryRevision)
{
    public string Name { get; } = name;

    public string Model { get; } = model;

    public string StableRevision { get; } = stableRevision;

    public string CanaryRevision { get; } = canaryRevision;

    public List<AnalysisRun> Runs { get; } = [];

    public AnalysisCounters Counters { get; set; } = AnalysisCounters.Initial;

    /// <summary>When the canary started breaching; null for a healthy pair.</summary>
    public DateTimeOffset? BreachStartedAt { get; set; }
}

/// <summary>
/// What the operator will do per GruModel: every <c>interval</c>, one analysis run over the trailing window,
/// counters updated. Runs every pair of a scenario in the same tick, concurrently.
/// </summary>
internal sealed class AnalysisLoop(CanaryAnalysis analysis, string ns, SloSpec slo, CanaryAnalysisSpec spec, BenchWindow window)
{
    public SloSpec Slo => slo;

    public async Task RunRoundAsync(IReadOnlyList<PairUnderAnalysis> pairs, CancellationToken cancellationToken)
    {
        var end = DateTimeOffset.UtcNow;
        var runs = await Task.WhenAll(pairs.Select(pair => analysis.RunAsync(
            new AnalysisRequest(slo, spec, ns, pair.Model, pair.StableRevision, pair.CanaryRevision,
                new AnalysisWindow(end, window.Length, window.Step, window.RateWindow)),
            cancellationToken)));
        for (var i = 0; i < pairs.Count; i++)
        {
            pairs[i].Runs.Add(runs[i]);
            pairs[i].Counters = pairs[i].Counters.Record(runs[i].Verdict);
        }
    }

    /// <summary>Runs rounds every <c>interval</c> until <paramref name="done"/> says so or <paramref name="maxRounds"/> ran.</summary>
    public async Task RunAsync(
        IReadOnlyList<PairUnderAnalysis> pairs, int maxRounds, Func<int, Task<bool>> afterRound, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(spec.Interval);
        for (var round = 0; round < maxRounds; round++)
        {
            await timer.WaitForNextTickAsync(cancellationToken);
            await RunRoundAsync(pairs, cancellationToken);
            if (await afterRound(round))
            {
                return;
            }
        }
    }
}

/// <summary>The trailing window each run looks at: instant values over <see cref="Length"/>, per-step series every <see cref="Step"/> of <see cref="RateWindow"/> rates.</summary>
internal sealed record BenchWindow(TimeSpan Length, TimeSpan Step, TimeSpan RateWindow);

using GruOperator.Domain.Analysis;
using GruOperator.Domain.Rollout;

namespace AnalysisBench;

/// <summary>What a scenario must show to meet issue 13's and issue 22's goals.</summary>
public enum Goal
{
    /// <summary>A healthy canary: at most 0.5% of rollouts rolled back.</summary>
    NoFalseRollback,

    /// <summary>A healthy service at 70% of its SLO: at most 0.5% of rollouts rolled back and at most 0.5% of runs Failed.</summary>
    NoFailedRuns,

    /// <summary>A slower canary inside the SLO: rolled back in at least 90% of rollouts.</summary>
    CatchSlowdown,

    /// <summary>A breach from a random onset: rolled back in 100%, the first Failed run within two intervals.</summary>
    CatchBreach,

    /// <summary>
    /// A breach from a random onset where traffic is too thin for 100% in time (issue 22): rolled back in 100%, the first
    /// Failed run within two intervals in at least 85% of rollouts and at least 95% of what the best detector catches on the
    /// runs' schedule (every canary request scraped from the onset to the last run inside the two intervals: later data
    /// no run inside them can have seen). The report also gives the ratio to the best detector on all the two intervals' data.
    /// </summary>
    CatchBreachAsBestDetector,

    /// <summary>Missing data: no run Passed and no rollout promoted.</summary>
    NeverPassed,

    /// <summary>No goal: measured and reported (e.g. small slowdowns, idle canaries).</summary>
    Report,
}

/// <summary>One bench scenario; <see cref="Episodes"/> draws its changes (onset, incident) per seed.</summary>
public sealed record Scenario(
    string Name,
    Goal Goal,
    double RequestsPerSecond,
    TrackBehavior Stable,
    TrackBehavior Canary,
    Func<Random, IReadOnlyList<Episode>> Episodes,
    RolloutPlan Plan,
    double? CanaryPodSpeed = null,
    bool CanaryMissing = false,
    TimeSpan? Limit = null,
    bool StableMissing = false);

/// <summary>The scenarios of issue 13, with the defaults of docs/API.md (SLO p95 200 ms, errors 1%, minRequests 50).</summary>
public static class Scenarios
{
    /// <summary>The SLO every scenario is judged by.</summary>
    public static readonly SloSpec Slo = new(TimeSpan.FromMilliseconds(200), 0.01, 0.05, 50);

    /// <summary>Log-normal spread of latency (σ of ln seconds).</summary>
    public const double Sigma = 0.35;

    private static readonly RolloutPlan Documented = RolloutPlan.Default; // 10% 2m, 50% 5m, every 30s, failureLimit 2
    private static readonly RolloutPlan Longer = Documented with { Steps = [new RolloutStep(10, TimeSpan.FromMinutes(5)), new RolloutStep(50, TimeSpan.FromMinutes(5))] };
    private static readonly RolloutPlan TenPercent = Documented with { Steps = [new RolloutStep(10, TimeSpan.FromMinutes(5))] };
    private static readonly RolloutPlan FiftyPercent = Documented with { Steps = [new RolloutStep(50, TimeSpan.FromMinutes(5))] };
    private static readonly RolloutPlan ToFull = Documented with
    {
        Steps = [new RolloutStep(10, TimeSpan.FromMinutes(2)), new RolloutStep(50, TimeSpan.FromMinutes(2)), new RolloutStep(100, TimeSpan.FromMinutes(2))],
    };

    private static TrackBehavior Track(double p95Ms, double errors = 0.001) => new(p95Ms / 1000, Sigma, errors);

    /// <summary>A canary whose p95 is 30% worse than <paramref name="p95Ms"/> through a slow path taken by 10% of requests: the median moves only ~3%.</summary>
    private static TrackBehavior Tail(double p95Ms) => Track(p95Ms).WithTail(0.10, 1.3);

    private static IReadOnlyList<Episode> None(Random _) => [];

    /// <summary>A change on the canary from a random instant 30-150 s after the canary started, to the end.</summary>
    private static Func<Random, IReadOnlyList<Episode>> Onset(double latencyFactor, double? errorRate) =>
        random => [new Episode(30 + 120 * random.NextDouble(), null, Canary: true, Stable: false, latencyFactor, errorRate)];

    /// <summary>A 60 s incident on both tracks (a slow or failing dependency) from a random instant 20-320 s in.</summary>
    private static Func<Random, IReadOnlyList<Episode>> Shared(double latencyFactor, double? errorRate) => random =>
    {
        var from = 20 + 300 * random.NextDouble();
        return [new Episode(from, from + 60, Canary: true, Stable: true, latencyFactor, errorRate)];
    };

    public static IReadOnlyList<Scenario> All { get; } =
    [
        new("healthy, 8 req/s, p95 140 ms (70% of SLO)", Goal.NoFailedRuns, 8, Track(140), Track(140), None, Documented),
        new("healthy, 40 req/s, p95 140 ms (70% of SLO)", Goal.NoFailedRuns, 40, Track(140), Track(140), None, Documented),
        new("healthy, 400 req/s, p95 140 ms (70% of SLO)", Goal.NoFailedRuns, 400, Track(140), Track(140), None, Documented),
        new("healthy, 40 req/s, p95 160 ms (on a bucket bound)", Goal.NoFalseRollback, 40, Track(160), Track(160), None, Documented),
        new("healthy, 40 req/s, p95 120 ms (60% of SLO, between bounds)", Goal.NoFalseRollback, 40, Track(120), Track(120), None, Documented),
        new("healthy, 8 req/s, p95 100 ms (on a bucket bound)", Goal.NoFalseRollback, 8, Track(100), Track(100), None, Documented),
        new("healthy, 40 req/s, canary pod 7% slower (node)", Goal.NoFalseRollback, 40, Track(140), Track(140), None, Documented, CanaryPodSpeed: 1.07),
        new("healthy, 40 req/s, errors 0.5% vs stable 0.4%", Goal.NoFalseRollback, 40, Track(140, 0.004), Track(140, 0.005), None, Documented),
        new("healthy, 40 req/s, 10% 5m -> 50% 5m", Goal.NoFalseRollback, 40, Track(140), Track(140), None, Longer),
        new("healthy, 40 req/s, last step at 100%", Goal.NoFalseRollback, 40, Track(140), Track(140), None, ToFull),
        new("shared incident: 60 s slow dependency (x3) on both tracks", Goal.NoFalseRollback, 40, Track(140), Track(140),
            Shared(3, null), Documented),
        new("shared incident: 60 s of 10% errors on both tracks", Goal.NoFalseRollback, 40, Track(140), Track(140),
            Shared(1, 0.10), Documented),
        new("30% slower inside the SLO, p95 30 ms", Goal.CatchSlowdown, 40, Track(30), Track(39), None, Documented),
        new("30% slower inside the SLO, p95 60 ms", Goal.CatchSlowdown, 40, Track(60), Track(78), None, Documented),
        new("30% slower inside the SLO, p95 91 ms", Goal.CatchSlowdown, 40, Track(91), Track(118.3), None, Documented),
        new("30% slower inside the SLO, p95 140 ms", Goal.CatchSlowdown, 40, Track(140), Track(182), None, Documented),
        new("30% slower inside the SLO, p95 60 ms, 8 req/s", Goal.CatchSlowdown, 8, Track(60), Track(78), None, Documented),
        new("20% slower inside the SLO, p95 60 ms", Goal.Report, 40, Track(60), Track(72), None, Documented),
        new("10% slower inside the SLO, p95 60 ms", Goal.Report, 40, Track(60), Track(66), None, Documented),
        new("2x slower from a random onset (p95 140 -> 280 ms)", Goal.CatchBreach, 40, Track(140), Track(140), Onset(2, null), Documented),
        new("5% errors from a random onset", Goal.CatchBreachAsBestDetector, 40, Track(140), Track(140), Onset(1, 0.05), Documented),
        new("2x slower from a random onset, 400 req/s", Goal.CatchBreach, 400, Track(140), Track(140), Onset(2, null), Documented),
        new("5% errors from a random onset, 400 req/s", Goal.CatchBreach, 400, Track(140), Track(140), Onset(1, 0.05), Documented),
        new("2x slower from a random onset, 8 req/s", Goal.Report, 8, Track(140), Track(140), Onset(2, null), Documented),
        new("too little traffic: 0.5 req/s in all", Goal.Report, 0.5, Track(140), Track(140), None, Documented, Limit: TimeSpan.FromMinutes(60)),
        new("missing canary series (scrape config misses the canary)", Goal.NeverPassed, 40, Track(140), Track(140), None, Documented, CanaryMissing: true, Limit: TimeSpan.FromMinutes(60)),
        // Issue 22: the judge's blind spots.
        new("tail-only: p95 30% worse, median ~unchanged (10% 2m -> 50% 5m)", Goal.CatchSlowdown, 40, Track(140), Tail(140), None, Documented),
        new("tail-only: p95 30% worse, canary held at 10% for 5m", Goal.CatchSlowdown, 40, Track(140), Tail(140), None, TenPercent),
        new("tail-only: p95 30% worse, canary at 50% for 5m", Goal.CatchSlowdown, 40, Track(140), Tail(140), None, FiftyPercent),
        new("tail-only: p95 30% worse, fast model p95 9 ms", Goal.CatchSlowdown, 40, Track(9), Tail(9), None, Documented),
        new("fast model: p95 9 ms, 30% slower", Goal.CatchSlowdown, 40, Track(9), Track(11.7), None, Documented),
        new("healthy fast model: p95 9 ms, canary pod 7% slower", Goal.NoFalseRollback, 40, Track(9), Track(9), None, Documented, CanaryPodSpeed: 1.07),
        new("1.5% errors against a 1% SLO, sustained", Goal.CatchSlowdown, 40, Track(140), Track(140, 0.015), None, Documented),
        new("1.5% errors against a 1% SLO, sustained, stable at 0.8%", Goal.Report, 40, Track(140, 0.008), Track(140, 0.015), None, Documented),
        new("healthy: 0.9% errors against a 1% SLO, stable at 0.8%", Goal.NoFalseRollback, 40, Track(140, 0.008), Track(140, 0.009), None, Documented),
        new("missing stable series (relabelling misses stable)", Goal.NeverPassed, 40, Track(140), Track(140), None, Documented, Limit: TimeSpan.FromMinutes(60), StableMissing: true),
    ];
}

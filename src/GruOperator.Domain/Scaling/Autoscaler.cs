namespace GruOperator.Domain.Scaling;

/// <summary>What the autoscaler sees at one reconcile.</summary>
/// <param name="Observed">The metric's per-pod average over the model's pods; null when Prometheus had no value.</param>
/// <param name="Unschedulable">The model's pods the scheduler could not place (e.g. no free nvidia.com/gpu).</param>
public sealed record AutoscalingInput(AutoscalingPolicy Policy, AutoscalingState State, double? Observed, int Unschedulable, DateTimeOffset Now);

/// <summary>The decision: the replica count for the whole model, why, and the state to keep in status.</summary>
/// <param name="From">The count before this decision.</param>
/// <param name="Recommended">The raw recommendation from the metric alone (before windows, limits and bounds); null without a metric.</param>
public sealed record AutoscalingDecision(int From, int Replicas, int? Recommended, string Reason, string Message, AutoscalingState State)
{
    /// <summary>True when the count changed: worth an Event.</summary>
    public bool Scaled => Replicas != From;
}

/// <summary>
/// Load-driven replicas with the HorizontalPodAutoscaler's v2 behaviour (pkg/controller/podautoscaler): desired =
/// ceil(current × observed / target) outside a 10% tolerance; scale-up follows the lowest and scale-down the highest
/// recommendation of its stabilisation window; each direction moves by at most maxPods or maxPercent per period
/// (whichever allows more) counted from the period's start; min/max bound the result. Two additions for GRU serving:
/// no metric holds the count (reported, never guessed), and a count whose pods could not be scheduled becomes a ceiling
/// for <see cref="AutoscalingPolicy.CapacityHold"/>, so the target never lands above what can run. Pure.
/// </summary>
public static class Autoscaler
{
    /// <summary>How often the metric is read and the decision recomputed (HPA's default sync period).</summary>
    public static readonly TimeSpan SyncPeriod = TimeSpan.FromSeconds(15);

    /// <summary>Decides the model's replica count.</summary>
    public static AutoscalingDecision Decide(AutoscalingInput input)
    {
        var (policy, state, observed, unschedulable, now) = input;
        var current = state.Replicas;

        // The raw recommendation; kept in the history only when the metric gave one.
        int? recommended = null;
        var recommendations = state.Recommendations;
        string measured;
        if (observed is { } value && double.IsFinite(value) && value >= 0)
        {
            var ratio = value / policy.Target;
            // Both compared with a little slack for binary noise: 4.4 / 4 is 1.1000000000000001, and 3 × 1.2 / 4 rounds to 0.9 before its ceiling.
            recommended = Math.Abs(ratio - 1) <= AutoscalingPolicy.Tolerance + 1e-9 ? current : (int)Math.Ceiling(Math.Round(current * ratio, 9));
            recommendations = Remember(recommendations, new Recommendation(now, recommended.Value), now, Longest(policy));
            measured = $"{Name(policy.Metric)} {Format(policy.Metric, value)} per pod against a target of {Format(policy.Metric, policy.Target)}";
        }
        else
        {
            measured = $"no value of {Name(policy.Metric)} from Prometheus";
        }

        // Stabilised: up to the lowest recommendation of the up window, down to the highest of the down window; then
        // rate-limited from the count at each period's start.
        var stabilised = current;
        var limited = current;
        if (recommended is not null)
        {
            var upFloor = InWindow(recommendations, now, policy.Up.StabilizationWindow).Min();
            var downCeiling = InWindow(recommendations, now, policy.Down.StabilizationWindow).Max();
            if (stabilised < upFloor) stabilised = upFloor;
            if (stabilised > downCeiling) stabilised = downCeiling;
            limited = stabilised > current ? Math.Min(stabilised, UpLimit(policy.Up, state.Scales, current, now))
                : stabilised < current ? Math.Max(stabilised, DownLimit(policy.Down, state.Scales, current, now))
                : current;
        }

        // Bounds: a count outside them (a new spec, or the first decision) moves into them at once, like HPA.
        var bounded = Math.Clamp(limited, policy.MinReplicas, policy.MaxReplicas);

        // GPU-aware: pods the scheduler cannot place mark what can run. The count never stays above it (pending pods hold
        // no sequences, so removing them skips the windows), and it stays a ceiling for a while so pods do not churn.
        var ceiling = unschedulable > 0
            ? new CapacityCeiling(Math.Max(current - unschedulable, 0), now)
            : state.Ceiling is { } kept && now - kept.Since < AutoscalingPolicy.CapacityHold ? kept : null;
        var replicas = ceiling is not null && bounded > ceiling.Replicas ? Math.Max(ceiling.Replicas, policy.MinReplicas) : bounded;

        var (reason, why) = Explain(policy, current, recommended, stabilised, limited, bounded, replicas, ceiling, unschedulable, now);

        var scales = Prune(state.Scales, now, Longest(policy));
        var lastScale = state.LastScaleTime;
        if (replicas != current)
        {
            scales = [.. scales, new ScaleEvent(now, current, replicas)];
            lastScale = now;
        }

        return new AutoscalingDecision(current, replicas, recommended, reason, $"{measured}: {why}.",
            new AutoscalingState(replicas, recommendations, scales, ceiling, lastScale));
    }

    /// <summary>The reason and its sentence, from the step that settled the count (the last one that changed it).</summary>
    private static (string Reason, string Why) Explain(
        AutoscalingPolicy policy, int current, int? recommended, int stabilised, int limited, int bounded, int replicas,
        CapacityCeiling? ceiling, int unschedulable, DateTimeOffset now)
    {
        if (replicas != bounded)
        {
            return (AutoscalingReasons.CappedByCapacity, unschedulable > 0
                ? $"{bounded} wanted but {unschedulable} of {current} pods cannot be scheduled (no free GPU?); {Move(current, replicas)}"
                : $"{bounded} wanted; {Move(current, replicas)}, the most that could be scheduled {GoDurationText(now - ceiling!.Since)} ago (tries above it {GoDurationText(AutoscalingPolicy.CapacityHold)} after that)");
        }
        if (bounded != limited || (recommended > policy.MaxReplicas && replicas == policy.MaxReplicas) || (recommended < policy.MinReplicas && replicas == policy.MinReplicas))
        {
            var max = bounded == policy.MaxReplicas && (limited > bounded || recommended > bounded);
            // A move is ScaledUp/ScaledDown (the bound is in the sentence); At*Replicas is a count held at its bound.
            var reason = replicas > current ? AutoscalingReasons.ScaledUp : replicas < current ? AutoscalingReasons.ScaledDown
                : max ? AutoscalingReasons.AtMaxReplicas : AutoscalingReasons.AtMinReplicas;
            return (reason,
                $"{(recommended is { } r ? r : limited)} wanted; {Move(current, replicas)} ({(max ? "maxReplicas" : "minReplicas")} {bounded})");
        }
        if (recommended is not { } wanted) return (AutoscalingReasons.NoMetric, $"holding at {current}");
        if (limited != stabilised)
        {
            var rules = stabilised > current ? policy.Up : policy.Down;
            return (AutoscalingReasons.RateLimited,
                $"{stabilised} wanted; {Move(current, replicas)}, the most {(stabilised > current ? "scaleUp" : "scaleDown")} allows ({rules.MaxPods} pods or {rules.MaxPercent}% per {GoDurationText(rules.Period)})");
        }
        if (replicas > current) return (AutoscalingReasons.ScaledUp, Move(current, replicas));
        if (replicas < current) return (AutoscalingReasons.ScaledDown, Move(current, replicas));
        if (wanted > current)
        {
            return (AutoscalingReasons.ScaleUpStabilizing, $"{wanted} wanted; holding at {current} until the scale-up window ({GoDurationText(policy.Up.StabilizationWindow)}) agrees");
        }
        if (wanted < current)
        {
            return (AutoscalingReasons.ScaleDownStabilizing, $"{wanted} wanted; holding at {current} until the scale-down window ({GoDurationText(policy.Down.StabilizationWindow)}) agrees");
        }
        return (AutoscalingReasons.WithinTolerance, $"keeping {current}");
    }

    private static string Move(int from, int to) => from == to ? $"holding at {from}" : $"{from} → {to}";

    /// <summary>The highest count scale-up may reach now: from the count at the period's start, +maxPods or +maxPercent, whichever is more.</summary>
    private static int UpLimit(ScalingRules rules, IReadOnlyList<ScaleEvent> scales, int current, DateTimeOffset now)
    {
        var added = scales.Where(e => e.To > e.From && now - e.Time < rules.Period).Sum(e => e.To - e.From);
        var start = Math.Max(current - added, 0);
        var byPods = start + rules.MaxPods;
        var byPercent = (int)Math.Ceiling(start * (1 + rules.MaxPercent / 100.0));
        return Math.Max(Math.Max(byPods, byPercent), current);
    }

    /// <summary>The lowest count scale-down may reach now: from the count at the period's start, −maxPods or −maxPercent, whichever is more.</summary>
    private static int DownLimit(ScalingRules rules, IReadOnlyList<ScaleEvent> scales, int current, DateTimeOffset now)
    {
        var removed = scales.Where(e => e.To < e.From && now - e.Time < rules.Period).Sum(e => e.From - e.To);
        var start = current + removed;
        var byPods = start - rules.MaxPods;
        var byPercent = (int)Math.Ceiling(start * (1 - rules.MaxPercent / 100.0));
        return Math.Min(Math.Max(Math.Min(byPods, byPercent), 0), current);
    }

    /// <summary>The recommendations in effect within the window: those made in it and the one already in effect at its start.</summary>
    private static IEnumerable<int> InWindow(IReadOnlyList<Recommendation> history, DateTimeOffset now, TimeSpan window)
    {
        var start = now - window;
        var inEffect = history.LastOrDefault(r => r.Time <= start);
        if (inEffect is not null) yield return inEffect.Replicas;
        foreach (var r in history.Where(r => r.Time > start)) yield return r.Replicas;
    }

    /// <summary>Adds a recommendation when it differs from the one in effect; drops those no window can still see.</summary>
    private static IReadOnlyList<Recommendation> Remember(IReadOnlyList<Recommendation> history, Recommendation next, DateTimeOffset now, TimeSpan keep)
    {
        var list = history.Count > 0 && history[^1].Replicas == next.Replicas ? [.. history] : history.Append(next).ToList();
        // Keep the newest entry older than the window: it is what was in effect when the window began.
        var start = now - keep;
        var firstInside = list.FindIndex(r => r.Time > start);
        var drop = firstInside < 0 ? list.Count - 1 : Math.Max(firstInside - 1, 0);
        return list.Skip(drop).ToList();
    }

    private static IReadOnlyList<ScaleEvent> Prune(IReadOnlyList<ScaleEvent> scales, DateTimeOffset now, TimeSpan keep) =>
        scales.Where(e => now - e.Time < keep).ToList();

    private static TimeSpan Longest(AutoscalingPolicy policy) =>
        new[] { policy.Up.StabilizationWindow, policy.Down.StabilizationWindow, policy.Up.Period, policy.Down.Period }.Max();

    /// <summary>The metric's name as spec.serving.autoscaling.target.metric spells it.</summary>
    public static string Name(ScalingMetric metric) => metric == ScalingMetric.InFlightRequests ? "inFlightRequests" : "queueWait";

    /// <summary>A value of the metric for people: requests with two decimals, queue wait in milliseconds.</summary>
    public static string Format(ScalingMetric metric, double value) => metric == ScalingMetric.QueueWait
        ? (value * 1000).ToString("0.##", System.Globalization.CultureInfo.InvariantCulture) + "ms"
        : value.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture);

    private static string GoDurationText(TimeSpan span) => GruServing.Contract.Durations.GoDuration.Format(span);
}

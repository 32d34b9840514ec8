using GruOperator.Domain.Analysis;

namespace GruOperator.Domain.Rollout;

/// <summary>How a model change reaches the pods (spec.rollout.strategy).</summary>
public enum RolloutStrategyKind
{
    /// <summary>A canary beside stable, judged by analysis, promoted or rolled back by itself.</summary>
    Canary,

    /// <summary>The stable Deployment rolls to the new model in place.</summary>
    Recreate,
}

/// <summary>How traffic is split between the tracks (spec.rollout.canary.trafficRouting).</summary>
public enum TrafficRouter
{
    /// <summary>One Service spans both tracks: the split follows ready replica counts.</summary>
    Replicas,

    /// <summary>Exact weights on a Gateway API HTTPRoute's backendRefs.</summary>
    GatewayApi,
}

/// <summary>One canary step: the traffic weight to reach, then how long to hold it while analysis runs.</summary>
public sealed record RolloutStep(int Weight, TimeSpan Pause)
{
    /// <summary>A shadow step (only ever the first, at weight 0): the canary gets only requests stable mirrors to it.</summary>
    public bool Shadow { get; init; }
}

/// <summary>The rollout part of a GruModel spec, parsed: what the state machine needs and nothing of Kubernetes.</summary>
/// <param name="Strategy">Canary or Recreate.</param>
/// <param name="Paused">spec.rollout.paused: hold a running canary where it is and start no new one.</param>
/// <param name="Steps">spec.rollout.canary.steps; empty means <see cref="DefaultSteps"/>.</param>
/// <param name="Analysis">spec.rollout.canary.analysis.</param>
/// <param name="Router">spec.rollout.canary.trafficRouting.</param>
/// <param name="Surge">true: canary pods come on top of stable's; false: they are taken out of stable's count.</param>
/// <param name="ProgressDeadline">How long the canary may stay not ready at a step before it is rolled back.</param>
public sealed record RolloutPlan(
    RolloutStrategyKind Strategy,
    bool Paused,
    IReadOnlyList<RolloutStep> Steps,
    CanaryAnalysisSpec Analysis,
    TrafficRouter Router,
    bool Surge,
    TimeSpan ProgressDeadline)
{
    /// <summary>The default of <c>canary.mirrorSample</c>: the share of stable's requests copied during a shadow step.</summary>
    public const double DefaultMirrorSample = 0.1;

    /// <summary>canary.mirrorSample: the share of stable's requests (sequences) its pods copy to the canary in a shadow step.</summary>
    public double MirrorSample { get; init; } = DefaultMirrorSample;

    /// <summary>True when step <paramref name="index"/> of <paramref name="steps"/> is a shadow step.</summary>
    public static bool IsShadow(IReadOnlyList<RolloutStep> steps, int index) => index >= 0 && index < steps.Count && steps[index].Shadow;

    /// <summary>Steps of a canary whose spec names none: 10% for 2m, then 50% for 5m (the docs/API.md example).</summary>
    public static IReadOnlyList<RolloutStep> DefaultSteps { get; } =
        [new RolloutStep(10, TimeSpan.FromMinutes(2)), new RolloutStep(50, TimeSpan.FromMinutes(5))];

    /// <summary>A canary plan with the documented defaults.</summary>
    public static RolloutPlan Default { get; } = new(
        RolloutStrategyKind.Canary, Paused: false, DefaultSteps, CanaryAnalysisSpec.Default, TrafficRouter.Replicas, Surge: true,
        TimeSpan.FromMinutes(10));

    /// <summary>The steps the canary walks through.</summary>
    public IReadOnlyList<RolloutStep> EffectiveSteps => Steps.Count == 0 ? DefaultSteps : Steps;
}

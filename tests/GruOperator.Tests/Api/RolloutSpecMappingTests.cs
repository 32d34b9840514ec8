using GruOperator.Api;
using GruOperator.Domain.Analysis;
using GruOperator.Domain.Rollout;
using GruOperator.Rollout;
using GruOperator.Tests.Support;
using k8s.Models;

namespace GruOperator.Tests.Api;

public sealed class RolloutSpecMappingTests
{
    [Fact]
    public void AnOmittedRolloutIsTheDocumentedCanaryPlan()
    {
        var plan = RolloutSpecMapping.ToPlan(Models.Cpu().Spec);

        Assert.Equal((RolloutStrategyKind.Canary, false, TrafficRouter.Replicas, true, TimeSpan.FromMinutes(10)),
            (plan.Strategy, plan.Paused, plan.Router, plan.Surge, plan.ProgressDeadline));
        Assert.Equal(RolloutPlan.DefaultSteps, plan.EffectiveSteps);
        Assert.Equal(CanaryAnalysisSpec.Default, plan.Analysis with { Metrics = CanaryAnalysisSpec.Default.Metrics });
        Assert.Equal(new GruOperator.Domain.Analysis.SloSpec(TimeSpan.FromMilliseconds(200), 0.01, 0.05, 50), RolloutSpecMapping.ToSlo(null));
    }

    [Fact]
    public void EveryFieldOfTheSpecReachesThePlan()
    {
        var spec = Models.Cpu().Spec;
        spec.Slo = new GruOperator.Api.SloSpec { LatencyP95 = "150ms", ErrorRate = "0.02", InputSchemaErrorRate = "0.1", MinRequests = 20 };
        spec.Rollout = new RolloutSpec
        {
            Paused = true,
            Canary = new CanarySpec
            {
                Steps = [new() { SetWeight = 20, Pause = "1m30s" }, new() { SetWeight = 60 }],
                Analysis = new AnalysisSpec
                {
                    Interval = "10s", FailureLimit = 3, InconclusiveLimit = 5, OnInconclusive = GruOperator.Api.InconclusiveAction.Rollback, CompareToStable = false,
                    Metrics = [new() { Name = "score", Query = "avg(x)", ThresholdRange = new() { Min = 0.1, Max = 0.9 } }],
                },
                Surge = false,
                ProgressDeadline = "3m",
            },
        };

        var plan = RolloutSpecMapping.ToPlan(spec);

        Assert.Equal((true, false, TimeSpan.FromMinutes(3)), (plan.Paused, plan.Surge, plan.ProgressDeadline));
        Assert.Equal([new RolloutStep(20, TimeSpan.FromSeconds(90)), new RolloutStep(60, TimeSpan.Zero)], plan.Steps);
        Assert.Equal((TimeSpan.FromSeconds(10), 3, 5, GruOperator.Domain.Analysis.InconclusiveAction.Rollback, false),
            (plan.Analysis.Interval, plan.Analysis.FailureLimit, plan.Analysis.InconclusiveLimit, plan.Analysis.OnInconclusive, plan.Analysis.CompareToStable));
        var metric = Assert.Single(plan.Analysis.Metrics);
        Assert.Equal(("score", "avg(x)", 0.1, 0.9), (metric.Name, metric.Query, metric.ThresholdRange.Min, metric.ThresholdRange.Max));
        Assert.Equal(new GruOperator.Domain.Analysis.SloSpec(TimeSpan.FromMilliseconds(150), 0.02, 0.1, 20), RolloutSpecMapping.ToSlo(spec.Slo));

        spec.Rollout = new RolloutSpec { Strategy = RolloutStrategy.Recreate };
        Assert.Equal(RolloutStrategyKind.Recreate, RolloutSpecMapping.ToPlan(spec).Strategy);
    }

    [Theory]
    [InlineData(null, RolloutCommand.None, null)]
    [InlineData("promote", RolloutCommand.Promote, null)]
    [InlineData("abort", RolloutCommand.Abort, null)]
    [InlineData(" Resume ", RolloutCommand.Resume, null)]
    [InlineData("retry", RolloutCommand.Retry, null)]
    [InlineData("re-resolve", RolloutCommand.None, null)]
    [InlineData("faster", RolloutCommand.None, "faster")]
    public void TheActionAnnotationIsReadAsACommandAndReResolveIsLeftToTheIntegrityCheck(string? value, RolloutCommand command, string? unknown)
    {
        var model = Models.Cpu();
        if (value is not null) model.Metadata.Annotations = new Dictionary<string, string> { [RolloutCommandAnnotation.Name] = value };

        Assert.Equal(new RolloutCommandRequest(command, unknown), RolloutCommandAnnotation.Read(model));
    }
}

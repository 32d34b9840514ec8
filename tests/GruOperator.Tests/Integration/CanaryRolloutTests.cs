using GruOperator.Api;
using GruOperator.Domain.Conditions;
using GruOperator.Domain.Rollout;
using GruOperator.Rollout;
using GruOperator.Serving;
using GruOperator.Tests.RealCluster;
using GruOperator.Tests.Support;

namespace GruOperator.Tests.Integration;

/// <summary>
/// The canary rollout through the operator, on both lanes: the canary Deployment and the replica split, manual
/// promote/abort/retry through the annotation, rollback on progressDeadline, and a restart that resumes at the same step.
/// Analysis runs are pushed out of these tests (interval and pause 1h); the Prometheus-judged runs are
/// <see cref="CanaryAnalysisOnPrometheusTests"/>.
/// </summary>
public abstract class CanaryRolloutTests
{
    private protected abstract Task<OperatorHarness> StartHarnessAsync(bool autoReadyPods = true);

    /// <summary>A model with one canary step at <paramref name="weight"/>% held for an hour: it stays at the step.</summary>
    private static GruModel Canary(string name, string ns, int replicas = 1, int weight = 10, bool surge = true, string progressDeadline = "10m")
    {
        var model = Models.Cpu(name, ns);
        model.Spec.Serving.Replicas = replicas;
        model.Spec.Rollout = new RolloutSpec
        {
            Canary = new CanarySpec
            {
                Steps = [new() { SetWeight = weight, Pause = "1h" }],
                Analysis = new AnalysisSpec { Interval = "1h" },
                Surge = surge,
                ProgressDeadline = progressDeadline,
            },
        };
        return model;
    }

    private static async Task<GruModel> StartCanaryAsync(OperatorHarness harness, GruModel model)
    {
        await harness.CreateAsync(model);
        var name = model.Metadata.Name;
        await harness.WaitForStatusAsync(harness.Namespace, name, m => m.Status!.Phase == ModelPhase.Healthy, "stable healthy");
        await harness.PatchSpecAsync(harness.Namespace, name, new { model = new { sha256 = Models.OtherSha } });
        return await harness.WaitForStatusAsync(harness.Namespace, name, m => m.Status!.Canary is { StepReadyAt: not null }, "the canary at its step, ready");
    }

    [Fact]
    public async Task TheSplitFollowsTheStepWeightWithAndWithoutSurgeAndStatusShowsAskedAndEffective()
    {
        await using var harness = await StartHarnessAsync();
        await harness.StartOperatorAsync();
        await StartCanaryAsync(harness, Canary("split", harness.Namespace, replicas: 4, weight: 25));

        // Surge: stable keeps 4, the canary's count nearest 25% of ready pods is 1 (1 of 5 = 20%).
        var surge = await harness.WaitForStatusAsync(harness.Namespace, "split", m => m.Status!.Canary!.Traffic == "25/20", "25% asked, 20% served");
        Assert.Equal(4, (await harness.DeploymentAsync(harness.Namespace, "split-stable"))!.Spec.Replicas);
        Assert.Equal(1, (await harness.DeploymentAsync(harness.Namespace, "split-canary"))!.Spec.Replicas);
        Assert.Equal(ModelPhase.Progressing, surge.Status!.Phase);

        // Without surge the canary's pod comes out of stable's count: 3 + 1 serve exactly 25%.
        await harness.PatchSpecAsync(harness.Namespace, "split", new { rollout = new { canary = new { surge = false } } });
        await harness.WaitForDeploymentAsync(harness.Namespace, "split-stable", d => d.Spec.Replicas == 3, "stable down to 3");
        await harness.WaitForStatusAsync(harness.Namespace, "split", m => m.Status!.Canary!.Traffic == "25/25", "25% asked and served");

        // A new weight for the step (steps edited under the canary): 50% without surge is 2 + 2.
        await harness.PatchSpecAsync(harness.Namespace, "split", new { rollout = new { canary = new { steps = new[] { new { setWeight = 50, pause = "1h" } } } } });
        await harness.WaitForDeploymentAsync(harness.Namespace, "split-canary", d => d.Spec.Replicas == 2, "canary up to 2");
        await harness.WaitForDeploymentAsync(harness.Namespace, "split-stable", d => d.Spec.Replicas == 2, "stable down to 2");
        var half = await harness.WaitForStatusAsync(harness.Namespace, "split", m => m.Status!.Canary!.Traffic == "50/50", "50% asked and served");
        Assert.Equal("2", half.Status!.Canary!.Revision);
        await Poll.UntilAsync(async () => (await harness.EventsAsync(harness.Namespace, "split")).FirstOrDefault(e => e.Reason == RolloutReasons.CanaryStepChanged),
            _ => true, OperatorHarness.Timeout, "a CanaryStepChanged event");
    }

    [Fact]
    public async Task AnAutoscaledCountIsTheWholeModelsAndTheCanaryKeepsItsShareWhenItChanges()
    {
        await using var harness = await StartHarnessAsync();
        await harness.StartOperatorAsync();
        var model = Canary("autosplit", harness.Namespace, replicas: 1, weight: 50, surge: false);
        // No Prometheus answers here: the autoscaler holds, and minReplicas alone sets the count (4, then 6).
        model.Spec.Serving.Autoscaling = new AutoscalingSpec { MinReplicas = 4, MaxReplicas = 8, Target = new ScalingTargetSpec { Metric = ScalingMetricName.InFlightRequests, AverageValue = "4" } };
        var started = await StartCanaryAsync(harness, model);
        await harness.WaitForDeploymentAsync(harness.Namespace, "autosplit-stable", d => d.Spec.Replicas == 2, "stable at 2 of 4");
        await harness.WaitForDeploymentAsync(harness.Namespace, "autosplit-canary", d => d.Spec.Replicas == 2, "canary at 2 of 4");

        await harness.PatchSpecAsync(harness.Namespace, "autosplit", new { serving = new { autoscaling = new { minReplicas = 6 } } });
        await harness.WaitForDeploymentAsync(harness.Namespace, "autosplit-stable", d => d.Spec.Replicas == 3, "stable at 3 of 6");
        await harness.WaitForDeploymentAsync(harness.Namespace, "autosplit-canary", d => d.Spec.Replicas == 3, "canary at 3 of 6");
        var scaled = await harness.WaitForStatusAsync(harness.Namespace, "autosplit", m => m.Status!.Canary!.Traffic == "50/50" && m.Status.Autoscaling!.DesiredReplicas == 6, "50% of 6 served");

        // The same canary at the same step: a scale neither restarts nor skips it.
        Assert.Equal((started.Status!.Canary!.Revision, 0, started.Status.Canary.StartedAt), (scaled.Status!.Canary!.Revision, scaled.Status.Canary.Step, scaled.Status.Canary.StartedAt));
    }

    [Fact]
    public async Task PromoteThroughTheAnnotationRollsStableToTheCanaryAndRemovesIt()
    {
        await using var harness = await StartHarnessAsync();
        await harness.StartOperatorAsync();
        await StartCanaryAsync(harness, Canary("promo", harness.Namespace));

        await harness.AnnotateAsync(harness.Namespace, "promo", RolloutCommandAnnotation.Name, "promote");

        var promoted = await harness.WaitForStatusAsync(harness.Namespace, "promo",
            m => m.Status!.Canary is null && m.Status.Stable!.Revision == "2" && m.Status.Phase == ModelPhase.Healthy, "revision 2 stable and healthy");
        Assert.Equal("sha256:" + Models.OtherSha, promoted.Status!.Stable!.ModelDigest);
        var entry = promoted.Status.History![0];
        Assert.Equal(("2", nameof(RolloutOutcome.Promoted), RolloutReasons.PromotedByUser), (entry.Revision, entry.Outcome, entry.Reason));
        var stable = await harness.WaitForDeploymentAsync(harness.Namespace, "promo-stable", d => d.Metadata.Labels[Labels.Revision] == "2", "stable at revision 2");
        var args = stable.Spec.Template.Spec.Containers[0].Args;
        Assert.Equal(Models.OtherSha, args[args.IndexOf("--model-sha256") + 1]);
        await harness.WaitForDeploymentGoneAsync(harness.Namespace, "promo-canary");
        var annotations = (await harness.GetAsync(harness.Namespace, "promo"))!.Metadata.Annotations;
        Assert.False(annotations?.ContainsKey(RolloutCommandAnnotation.Name) ?? false, "the action annotation is removed once acted on");
        var events = await Poll.UntilAsync<IReadOnlyList<k8s.Models.Corev1Event>>(async () => await harness.EventsAsync(harness.Namespace, "promo"), es => es.Any(e => e.Reason == RolloutReasons.Promoted),
            OperatorHarness.Timeout, "a Promoted event");
        Assert.Contains(events, e => e.Reason == RolloutReasons.PromotedByUser);
        Assert.Contains(events, e => e.Reason == RolloutReasons.Promoted && e.Type == "Normal");
    }

    [Fact]
    public async Task AbortThroughTheAnnotationRollsBackAndRetryStartsTheSameRevisionAgain()
    {
        await using var harness = await StartHarnessAsync();
        await harness.StartOperatorAsync();
        await StartCanaryAsync(harness, Canary("abort", harness.Namespace));

        await harness.AnnotateAsync(harness.Namespace, "abort", RolloutCommandAnnotation.Name, "abort");

        var aborted = await harness.WaitForStatusAsync(harness.Namespace, "abort",
            m => m.Status!.Phase == ModelPhase.RolledBack && m.Status.Canary is null, "phase RolledBack");
        Assert.Equal(("2", RolloutReasons.AbortedByUser), (aborted.Status!.RolledBack!.Revision, aborted.Status.RolledBack.Reason));
        Assert.Equal(("1", "sha256:" + Models.Sha), (aborted.Status.Stable!.Revision, aborted.Status.Stable.ModelDigest));
        Assert.Equal((nameof(RolloutOutcome.Aborted), RolloutReasons.AbortedByUser), (aborted.Status.History![0].Outcome, aborted.Status.History[0].Reason));
        var progressing = ConditionSet.Find(aborted.Status.Conditions, ConditionTypes.Progressing)!;
        Assert.Equal((Condition.False, RolloutReasons.AbortedByUser), (progressing.Status, progressing.Reason));
        await harness.WaitForDeploymentGoneAsync(harness.Namespace, "abort-canary");
        await Poll.UntilAsync(async () => (await harness.EventsAsync(harness.Namespace, "abort")).FirstOrDefault(e => e.Reason == RolloutReasons.Aborted),
            e => e.Type == "Warning", OperatorHarness.Timeout, "an Aborted warning");
        await Poll.UntilAsync(async () => (await harness.GetAsync(harness.Namespace, "abort"))!.Metadata.Annotations?.ContainsKey(RolloutCommandAnnotation.Name) == true ? null : "removed",
            _ => true, OperatorHarness.Timeout, "the abort annotation to be removed");

        // The rolled-back model is not tried again by itself; retry starts it again under the same revision.
        await harness.AnnotateAsync(harness.Namespace, "abort", RolloutCommandAnnotation.Name, "retry");
        var retried = await harness.WaitForStatusAsync(harness.Namespace, "abort", m => m.Status!.Canary is { Revision: "2" } && m.Status.RolledBack is null, "the canary running again");
        Assert.Equal(nameof(RolloutOutcome.Retried), retried.Status!.History![0].Outcome);
        await harness.WaitForDeploymentAsync(harness.Namespace, "abort-canary", d => d.Metadata.Labels[Labels.Revision] == "2", "the canary Deployment again");
    }

    [Fact]
    public async Task ACanaryThatCannotBeScheduledRollsBackAtItsProgressDeadlineWithTheSchedulersReason()
    {
        await using var harness = await StartHarnessAsync(autoReadyPods: false);
        await harness.StartOperatorAsync();
        await harness.CreateAsync(Canary("stuck", harness.Namespace, progressDeadline: "3s"));
        var stablePod = await harness.FirstPodAsync("stuck");
        await harness.Pods.MarkReadyAsync(harness.Namespace, stablePod.Metadata.Name);
        await harness.WaitForStatusAsync(harness.Namespace, "stuck", m => m.Status!.Phase == ModelPhase.Healthy, "stable healthy");

        await harness.PatchSpecAsync(harness.Namespace, "stuck", new { model = new { sha256 = Models.OtherSha } });
        var canaryPod = await Poll.UntilAsync(async () => (await harness.PodsAsync("stuck", "canary")).FirstOrDefault(), _ => true, OperatorHarness.Timeout, "a canary pod");
        const string why = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.";
        await harness.Pods.MarkUnschedulableAsync(harness.Namespace, canaryPod.Metadata.Name, why);

        var rolledBack = await harness.WaitForStatusAsync(harness.Namespace, "stuck", m => m.Status!.Phase == ModelPhase.RolledBack, "phase RolledBack");
        Assert.Equal(RolloutReasons.CanaryUnschedulable, rolledBack.Status!.RolledBack!.Reason);
        Assert.Contains(why, rolledBack.Status.RolledBack.Message, StringComparison.Ordinal);
        Assert.Equal((nameof(RolloutOutcome.RolledBack), RolloutReasons.CanaryUnschedulable), (rolledBack.Status.History![0].Outcome, rolledBack.Status.History[0].Reason));
        Assert.Equal("1", rolledBack.Status.Stable!.Revision);
        await harness.WaitForDeploymentGoneAsync(harness.Namespace, "stuck-canary");
        // Events follow the status write: wait for it rather than race the reconcile.
        var warning = await Poll.UntilAsync(async () => (await harness.EventsAsync(harness.Namespace, "stuck")).SingleOrDefault(e => e.Reason == RolloutReasons.RolledBack),
            _ => true, OperatorHarness.Timeout, "a RolledBack event");
        Assert.Equal("Warning", warning.Type);
        Assert.Contains("progressDeadline 3s", warning.Message, StringComparison.Ordinal);
        Assert.Equal(1, (await harness.DeploymentAsync(harness.Namespace, "stuck-stable"))!.Status.ReadyReplicas);
    }

    [Fact]
    public async Task AnOperatorRestartMidStepResumesAtTheSameStepWithoutRestartingTheCanary()
    {
        await using var harness = await StartHarnessAsync();
        var first = await harness.StartOperatorAsync("op-a");
        var before = await StartCanaryAsync(harness, Canary("restart", harness.Namespace));
        var deployment = (await harness.DeploymentAsync(harness.Namespace, "restart-canary"))!;
        await harness.StopOperatorAsync(first);

        await harness.StartOperatorAsync("op-b");
        // An action it does not know proves the new operator has reconciled the model: it refuses it and removes it.
        await harness.AnnotateAsync(harness.Namespace, "restart", RolloutCommandAnnotation.Name, "faster");
        await Poll.UntilAsync(async () => (await harness.EventsAsync(harness.Namespace, "restart")).FirstOrDefault(e => e.Reason == RolloutReasons.CommandIgnored),
            e => e.Message.Contains("faster", StringComparison.Ordinal), OperatorHarness.Timeout, "the unknown action refused");
        var after = await harness.WaitForStatusAsync(harness.Namespace, "restart",
            m => m.Metadata.Annotations?.ContainsKey(RolloutCommandAnnotation.Name) != true, "the unknown action removed");

        var (b, a) = (before.Status!.Canary!, after.Status!.Canary!);
        Assert.Equal((b.Revision, b.Step, b.StartedAt, b.StepStartedAt, b.StepReadyAt), (a.Revision, a.Step, a.StartedAt, a.StepStartedAt, a.StepReadyAt));
        Assert.Equal(b.Analysis!.Runs, a.Analysis!.Runs);
        Assert.Equal(ModelPhase.Progressing, after.Status.Phase);
        Assert.Equal(deployment.Metadata.Uid, (await harness.DeploymentAsync(harness.Namespace, "restart-canary"))!.Metadata.Uid);
        Assert.Single(await harness.EventsAsync(harness.Namespace, "restart"), e => e.Reason == RolloutReasons.CanaryStarted);
    }
}

/// <summary>The canary rollout tests on LocalCluster.</summary>
[Collection(IntegrationCollection.Name)]
public sealed class CanaryRolloutOnLocalClusterTests : CanaryRolloutTests
{
    private protected override Task<OperatorHarness> StartHarnessAsync(bool autoReadyPods = true) => OperatorHarness.StartAsync(autoReadyPods);
}

/// <summary>The canary rollout tests on a real kube-apiserver with kube-controller-manager.</summary>
[Collection(KubeApiServerCollection.Name)]
public sealed class CanaryRolloutOnKubeApiServerTests(KubeApiServerFixture cluster) : CanaryRolloutTests
{
    private protected override Task<OperatorHarness> StartHarnessAsync(bool autoReadyPods = true) => OperatorHarness.OnKubeApiServerAsync(cluster, autoReadyPods);
}

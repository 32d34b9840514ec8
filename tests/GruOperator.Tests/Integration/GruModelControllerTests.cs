using ControllerRuntime.Resources;
using GruOperator.Api;
using GruOperator.Domain.Conditions;
using GruOperator.Domain.Scaling;
using GruOperator.Reconciliation;
using GruOperator.Serving;
using GruOperator.Tests.Support;
using k8s;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;

namespace GruOperator.Tests.Integration;

/// <summary>
/// The operator through the real KubernetesClient, asserting the cluster's end state. Every test here runs on both lanes
/// (<see cref="GruModelControllerOnLocalClusterTests"/>, <see cref="GruModelControllerOnKubeApiServerTests"/>): the same
/// code against our LocalCluster and against a real kube-apiserver with kube-controller-manager.
/// </summary>
public abstract class GruModelControllerTests
{
    /// <summary>A harness on this class's lane; each test gets its own cluster (LocalCluster) or namespace (real server).</summary>
    private protected abstract Task<OperatorHarness> StartHarnessAsync(bool autoReadyPods = true);

    [Fact]
    public async Task GpuModelBecomesAGpuScheduledDeploymentAndServiceAndReportsReady()
    {
        await using var harness = await StartHarnessAsync();
        await harness.StartOperatorAsync();
        await harness.CreateAsync(Models.Gpu("recs", harness.Namespace));

        var deployment = await harness.WaitForDeploymentAsync(harness.Namespace, "recs-stable", _ => true, "the stable Deployment");
        var pod = deployment.Spec.Template.Spec;
        var server = pod.Containers.Single(c => c.Name == ServingWorkloadBuilder.ServerContainer);
        Assert.Equal(2, deployment.Spec.Replicas);
        Assert.Equal(OperatorHarness.ServerImage, server.Image);
        Assert.Equal("1", server.Resources.Limits["nvidia.com/gpu"].ToString());
        Assert.Contains(pod.Tolerations, t => t.Key == "nvidia.com/gpu" && t.Effect == "NoSchedule" && t.OperatorProperty == "Exists");
        Assert.Equal("NVIDIA-A100-SXM4-40GB", pod.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0].Values[0]);
        Assert.Equal("nvidia", pod.RuntimeClassName);
        Assert.Equal("/v2/health/ready", server.ReadinessProbe.HttpGet.Path);
        Assert.Equal("/v2/health/live", server.LivenessProbe.HttpGet.Path);
        Assert.True(server.SecurityContext.ReadOnlyRootFilesystem);
        Assert.True(pod.SecurityContext.RunAsNonRoot);
        Assert.Equal("9464", deployment.Spec.Template.Metadata.Annotations["prometheus.io/port"]);
        Assert.Equal(("recs", "stable", "1"), (deployment.Metadata.Labels[Labels.Model], deployment.Metadata.Labels[Labels.Track], deployment.Metadata.Labels[Labels.Revision]));
        Assert.Contains("--model-sha256", server.Args);
        Assert.Equal(ServingWorkloadBuilder.FetcherContainer, pod.InitContainers.Single().Name);

        var model = await harness.GetAsync(harness.Namespace, "recs");
        var owner = Assert.Single(deployment.Metadata.OwnerReferences);
        Assert.Equal((GruModel.KindName, model!.Metadata.Uid, true), (owner.Kind, owner.Uid, owner.Controller));
        Assert.Contains("gru-operator", deployment.Metadata.ManagedFields.Select(f => f.Manager));

        // The operator applies the Service after the Deployment: wait for it rather than race the reconcile.
        var service = await Poll.UntilAsync(() => harness.ServiceAsync(harness.Namespace, "recs"), _ => true, OperatorHarness.Timeout, "the Service");
        Assert.Equal("recs", service.Spec.Selector[Labels.Model]);
        Assert.Equal(model.Metadata.Uid, service.Metadata.OwnerReferences.Single().Uid);

        var ready = await harness.WaitForStatusAsync(harness.Namespace, "recs", m => m.Status!.Phase == ModelPhase.Healthy, "phase Healthy");
        Assert.Equal(1, ready.Status!.ObservedGeneration);
        Assert.Equal(2, ready.Status.Stable!.ReadyReplicas);
        Assert.Equal("2/2", ready.Status.Ready);
        Assert.Equal("sha256:" + Models.Sha, ready.Status.Stable.ModelDigest);
        var readyCondition = ConditionSet.Find(ready.Status.Conditions, ConditionTypes.Ready)!;
        Assert.Equal((Condition.True, ServingConditions.StableServing, 1L), (readyCondition.Status, readyCondition.Reason, readyCondition.ObservedGeneration));
        Assert.Contains(WorkloadFinalizer.Name, ready.Metadata.Finalizers);

        var events = await harness.EventsAsync(harness.Namespace, "recs");
        Assert.Contains(events, e => e.Reason == "DeploymentCreated" && e.Type == "Normal");
        Assert.Contains(events, e => e.Reason == "ServiceCreated");
    }

    [Fact]
    public async Task WithRecreateSpecChangesRollTheDeploymentAndANewModelStartsANewRevisionInPlace()
    {
        await using var harness = await StartHarnessAsync();
        await harness.StartOperatorAsync();
        var recreate = Models.Cpu("roll", harness.Namespace);
        recreate.Spec.Rollout = new RolloutSpec { Strategy = RolloutStrategy.Recreate };
        await harness.CreateAsync(recreate);
        await harness.WaitForStatusAsync(harness.Namespace, "roll", m => m.Status!.Phase == ModelPhase.Healthy, "first rollout");

        await harness.PatchSpecAsync(harness.Namespace, "roll", new { serving = new { replicas = 3 }, model = new { sha256 = Models.OtherSha } });

        var deployment = await harness.WaitForDeploymentAsync(harness.Namespace, "roll-stable",
            d => d.Spec.Replicas == 3 && d.Metadata.Labels[Labels.Revision] == "2", "replicas 3 at revision 2");
        var args = deployment.Spec.Template.Spec.Containers[0].Args;
        Assert.Equal(Models.OtherSha, args[args.IndexOf("--model-sha256") + 1]);
        Assert.Equal("2", args[args.IndexOf("--revision") + 1]);

        var model = await harness.WaitForStatusAsync(harness.Namespace, "roll",
            m => m.Status!.ObservedGeneration == 2 && m.Status.Phase == ModelPhase.Healthy && m.Status.Stable!.ReadyReplicas == 3, "generation 2 healthy");
        Assert.Equal("2", model.Status!.Stable!.Revision);
        Assert.Equal("sha256:" + Models.OtherSha, model.Status.Stable.ModelDigest);
        Assert.Null(model.Status.Canary);
        Assert.All(model.Status.Conditions!, c => Assert.Equal(2, c.ObservedGeneration));
        Assert.Contains(await harness.EventsAsync(harness.Namespace, "roll"), e => e.Reason == "DeploymentUpdated");
        Assert.Null(await harness.DeploymentAsync(harness.Namespace, "roll-canary"));
    }

    [Fact]
    public async Task WithCanaryANewModelStartsACanaryBesideStableAndOtherChangesRollInPlace()
    {
        await using var harness = await StartHarnessAsync();
        await harness.StartOperatorAsync();
        var canary = Models.Cpu("roll", harness.Namespace);
        canary.Spec.Rollout = new RolloutSpec { Canary = new CanarySpec { Steps = [new() { SetWeight = 10, Pause = "1h" }], Analysis = new AnalysisSpec { Interval = "1h" } } };
        await harness.CreateAsync(canary);
        await harness.WaitForStatusAsync(harness.Namespace, "roll", m => m.Status!.Phase == ModelPhase.Healthy, "first rollout");

        // Not a model change: stable rolls in place at its revision, no canary.
        await harness.PatchSpecAsync(harness.Namespace, "roll", new { serving = new { replicas = 3 } });
        await harness.WaitForDeploymentAsync(harness.Namespace, "roll-stable", d => d.Spec.Replicas == 3 && d.Metadata.Labels[Labels.Revision] == "1", "replicas 3 at revision 1");
        await harness.WaitForStatusAsync(harness.Namespace, "roll", m => m.Status!.ObservedGeneration == 2 && m.Status.Stable!.ReadyReplicas == 3, "generation 2 ready");
        Assert.Null(await harness.DeploymentAsync(harness.Namespace, "roll-canary"));

        await harness.PatchSpecAsync(harness.Namespace, "roll", new { model = new { sha256 = Models.OtherSha } });

        // 3 replicas at 10% with surge: stable keeps 3, the canary gets 1 (25% of ready pods).
        var canaryDeployment = await harness.WaitForDeploymentAsync(harness.Namespace, "roll-canary", _ => true, "the canary Deployment");
        Assert.Equal(("canary", "2", 1), (canaryDeployment.Metadata.Labels[Labels.Track], canaryDeployment.Metadata.Labels[Labels.Revision], canaryDeployment.Spec.Replicas));
        var args = canaryDeployment.Spec.Template.Spec.Containers[0].Args;
        Assert.Equal(Models.OtherSha, args[args.IndexOf("--model-sha256") + 1]);
        Assert.Equal("canary", args[args.IndexOf("--track") + 1]);
        var stable = await harness.DeploymentAsync(harness.Namespace, "roll-stable");
        Assert.Equal(("1", 3), (stable!.Metadata.Labels[Labels.Revision], stable.Spec.Replicas));
        Assert.Equal(Models.Sha, stable.Spec.Template.Spec.Containers[0].Args[stable.Spec.Template.Spec.Containers[0].Args.IndexOf("--model-sha256") + 1]);

        var model = await harness.WaitForStatusAsync(harness.Namespace, "roll",
            m => m.Status!.Canary is { StepReadyAt: not null, EffectiveWeight: 25 }, "the canary reached its step at 25% effective");
        Assert.Equal((ModelPhase.Progressing, "10/25", "2"), (model.Status!.Phase, model.Status.Canary!.Traffic, model.Status.Canary.Revision));
        Assert.Equal("sha256:" + Models.OtherSha, model.Status.Canary.ModelDigest);
        Assert.Equal(("1", "sha256:" + Models.Sha), (model.Status.Stable!.Revision, model.Status.Stable.ModelDigest));
        var started = Assert.Single(await harness.EventsAsync(harness.Namespace, "roll"), e => e.Reason == "CanaryStarted");
        Assert.Contains("revision 2", started.Message, StringComparison.Ordinal);

        // The one Service spans both tracks: traffic follows ready replicas.
        var service = await harness.ServiceAsync(harness.Namespace, "roll");
        Assert.False(service!.Spec.Selector.ContainsKey(Labels.Track));
    }

    [Fact]
    public async Task HandEditsOfTheDeploymentAreRestored()
    {
        await using var harness = await StartHarnessAsync();
        await harness.StartOperatorAsync();
        await harness.CreateAsync(Models.Cpu("drift", harness.Namespace));
        await harness.WaitForDeploymentAsync(harness.Namespace, "drift-stable", _ => true, "the Deployment");

        var tamper = new
        {
            spec = new
            {
                replicas = 5,
                template = new { spec = new { containers = new[] { new { name = ServingWorkloadBuilder.ServerContainer, image = "evil.example/other:1" } } } },
            },
        };
        await harness.Client.AppsV1.PatchNamespacedDeploymentAsync(
            new V1Patch(KubernetesJson.Serialize(tamper), V1Patch.PatchType.StrategicMergePatch), "drift-stable", harness.Namespace, fieldManager: "kubectl-edit");

        var restored = await harness.WaitForDeploymentAsync(harness.Namespace, "drift-stable",
            d => d.Spec.Replicas == 1 && d.Spec.Template.Spec.Containers[0].Image == OperatorHarness.ServerImage, "drift to be undone");
        Assert.Equal("drift", restored.Metadata.Labels[Labels.Model]);
        await Poll.UntilAsync(async () => (await harness.EventsAsync(harness.Namespace, "drift")).FirstOrDefault(e => e.Reason == "DeploymentUpdated"),
            _ => true, OperatorHarness.Timeout, "a DeploymentUpdated event");
    }

    [Fact]
    public async Task AConvergedModelNeedsNoFurtherAppliesAndADroppedFieldIsRemoved()
    {
        await using var harness = await StartHarnessAsync();
        var app = await harness.StartOperatorAsync();
        await harness.CreateAsync(Models.Gpu("steady", harness.Namespace));
        var model = await harness.WaitForStatusAsync(harness.Namespace, "steady", m => m.Status!.Phase == ModelPhase.Healthy, "phase Healthy");

        // What the server stores after its defaulting must satisfy the comparison, or every reconcile would apply again.
        var options = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<GruOperator.Hosting.OperatorOptions>>().Value;
        var defaults = new ServingDefaults(options.DefaultServerImage, options.ModelFetcherImage, options.FieldManager);
        var (valid, _) = SpecValidator.Validate(model.Spec, defaults.ServerImage);
        var desired = ServingWorkloadBuilder.BuildStable(model, valid!.Source, model.Status!.Stable!.Revision!, defaults);
        var deployment = await harness.DeploymentAsync(harness.Namespace, "steady-stable");
        var service = await harness.ServiceAsync(harness.Namespace, "steady");
        Assert.True(AppliedConfiguration.Matches(
            AppliedConfiguration.Stamp(desired.Deployment, Labels.AppliedHashAnnotation), deployment!, Labels.AppliedHashAnnotation),
            $"the live Deployment on {harness.Lane} differs from what the operator applies");
        Assert.True(AppliedConfiguration.Matches(
            AppliedConfiguration.Stamp(desired.Service, Labels.AppliedHashAnnotation), service!, Labels.AppliedHashAnnotation),
            $"the live Service on {harness.Lane} differs from what the operator applies");

        // Every field still in the Deployment is one the operator sets, except the one it no longer sets: only the
        // applied hash shows the apply is needed, and the apply removes the field.
        await harness.Client.CustomObjects.PatchNamespacedCustomObjectAsync(
            new V1Patch("{\"spec\":{\"serving\":{\"nodeSelector\":null}}}", V1Patch.PatchType.MergePatch),
            GruModel.Group, GruModel.Version, harness.Namespace, GruModel.Plural, "steady");
        await harness.WaitForDeploymentAsync(harness.Namespace, "steady-stable", d => d.Spec.Template.Spec.NodeSelector is not { Count: > 0 }, "the dropped nodeSelector to be removed");
    }

    [Fact]
    public async Task InvalidSpecIsRefusedWithAConditionAndOneEventAndNothingIsCreated()
    {
        await using var harness = await StartHarnessAsync();
        await harness.StartOperatorAsync();
        var model = Models.Cpu("bad", harness.Namespace);
        model.Spec.Rollout = new RolloutSpec { Canary = new CanarySpec { Steps = [new() { SetWeight = 50 }, new() { SetWeight = 10 }] } };
        await harness.CreateAsync(model);

        var refused = await harness.WaitForStatusAsync(harness.Namespace, "bad", m => m.Status!.Phase == ModelPhase.Failed, "phase Failed");
        var ready = ConditionSet.Find(refused.Status!.Conditions, ConditionTypes.Ready)!;
        Assert.Equal((Condition.False, PhaseRules.InvalidSpecReason), (ready.Status, ready.Reason));
        Assert.Contains("spec.rollout.canary.steps[1].setWeight", ready.Message, StringComparison.Ordinal);

        // More reconciles of the same refusal (annotations change the object, not the spec) must not add Events.
        for (var i = 0; i < 3; i++)
        {
            await harness.Client.CustomObjects.PatchNamespacedCustomObjectAsync(
                new V1Patch(KubernetesJson.Serialize(new { metadata = new { annotations = new Dictionary<string, string> { ["poke"] = i.ToString(System.Globalization.CultureInfo.InvariantCulture) } } }), V1Patch.PatchType.MergePatch),
                GruModel.Group, GruModel.Version, harness.Namespace, GruModel.Plural, "bad");
        }
        await harness.CreateAsync(Models.Cpu("good", harness.Namespace));
        await harness.WaitForDeploymentAsync(harness.Namespace, "good-stable", _ => true, "a valid model to still be served");

        Assert.Null(await harness.DeploymentAsync(harness.Namespace, "bad-stable"));
        Assert.Null(await harness.ServiceAsync(harness.Namespace, "bad"));
        var invalid = (await harness.EventsAsync(harness.Namespace, "bad")).Where(e => e.Reason == PhaseRules.InvalidSpecReason).ToList();
        var single = Assert.Single(invalid);
        Assert.Equal("Warning", single.Type);
        Assert.Contains("weights must increase", single.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DeletingAModelRemovesWhatItOwnsThroughTheFinalizer()
    {
        await using var harness = await StartHarnessAsync();
        await harness.StartOperatorAsync();
        await harness.CreateAsync(Models.Cpu("gone", harness.Namespace));
        await harness.WaitForStatusAsync(harness.Namespace, "gone", m => m.Metadata.Finalizers?.Contains(WorkloadFinalizer.Name) == true && m.Status!.Stable is not null, "finalizer and status");
        Assert.NotNull(await harness.ServiceAsync(harness.Namespace, "gone"));

        await harness.Client.CustomObjects.DeleteNamespacedCustomObjectAsync(GruModel.Group, GruModel.Version, harness.Namespace, GruModel.Plural, "gone");

        await Poll.UntilAsync(async () => await harness.GetAsync(harness.Namespace, "gone") is null ? "gone" : null, _ => true, OperatorHarness.Timeout, "the GruModel to go");
        Assert.Null(await harness.DeploymentAsync(harness.Namespace, "gone-stable"));
        Assert.Null(await harness.ServiceAsync(harness.Namespace, "gone"));
    }

    [Fact]
    public async Task AutoscalingWithoutALoadValueHoldsWithinItsBoundsAndSaysWhy()
    {
        await using var harness = await StartHarnessAsync();
        var metricsPort = LocalServers.FreePort.Next();
        await harness.StartOperatorAsync(metricsPort: metricsPort);
        var model = Models.Cpu("scaled", harness.Namespace);
        model.Spec.Serving.Replicas = 1;
        model.Spec.Serving.Autoscaling = new AutoscalingSpec { MinReplicas = 2, MaxReplicas = 4, Target = new ScalingTargetSpec { Metric = ScalingMetricName.InFlightRequests, AverageValue = "4" } };
        await harness.CreateAsync(model);

        // Prometheus cannot be read: no value, so nothing is guessed; the starting count (1) still moves into [2, 4].
        var status = await harness.WaitForStatusAsync(harness.Namespace, "scaled", m => m.Status?.Autoscaling is { DesiredReplicas: 2 }, "autoscaling at minReplicas");
        var autoscaling = status.Status!.Autoscaling!;
        Assert.Equal((1, AutoscalingReasons.ScaledUp, "inFlightRequests", "4"), (autoscaling.CurrentReplicas, autoscaling.Reason, autoscaling.Metric, autoscaling.Target));
        Assert.Null(autoscaling.CurrentValue);
        Assert.Contains("no value of inFlightRequests from Prometheus", autoscaling.Message, StringComparison.Ordinal);
        // Why there is no value is part of the message: no Deployment yet at the first decision, later the operator's default
        // address (prometheus.monitoring.svc) that does not resolve here.
        Assert.Matches("(The model has no serving track yet|Reading the load from Prometheus failed: )", autoscaling.Message);
        Assert.NotNull(autoscaling.LastScaleTime);
        await harness.WaitForDeploymentAsync(harness.Namespace, "scaled-stable", d => d.Spec.Replicas == 2, "the Deployment at the autoscaler's count");
        await Poll.UntilAsync(async () => (await harness.EventsAsync(harness.Namespace, "scaled")).FirstOrDefault(e => e.Reason == AutoscalingReasons.ScaledUp),
            e => e.Type == "Normal" && e.Message.StartsWith("Replicas 1 → 2: ", StringComparison.Ordinal), OperatorHarness.Timeout, "a scale Event with the reasoning");

        // The operator never writes spec (a GitOps tool would fight it).
        Assert.Equal(1, (await harness.GetAsync(harness.Namespace, "scaled"))!.Spec.Serving.Replicas);

        // The metrics say the same: 2 chosen, one scale up, and no load value rather than a 0.
        using var http = new HttpClient();
        var metrics = await Poll.UntilAsync(async () => (await http.GetStringAsync($"http://127.0.0.1:{metricsPort}/metrics")).Split('\n'),
            ls => ls.Any(l => l.StartsWith("gru_operator_autoscaling_desired_replicas{", StringComparison.Ordinal) && l.Contains("model=\"scaled\"", StringComparison.Ordinal)),
            OperatorHarness.Timeout, "the autoscaling series");
        bool Series(string line, string name) => line.StartsWith(name + "{", StringComparison.Ordinal) && line.Contains("model=\"scaled\"", StringComparison.Ordinal)
            && line.Contains($"namespace=\"{harness.Namespace}\"", StringComparison.Ordinal);
        Assert.Contains(metrics, l => Series(l, "gru_operator_autoscaling_desired_replicas") && l.EndsWith(" 2", StringComparison.Ordinal));
        Assert.Contains(metrics, l => Series(l, "gru_operator_autoscaling_target_value") && l.EndsWith(" 4", StringComparison.Ordinal));
        Assert.Contains(metrics, l => Series(l, "gru_operator_autoscaling_scales_total") && l.Contains("direction=\"up\"", StringComparison.Ordinal) && l.EndsWith(" 1", StringComparison.Ordinal));
        Assert.DoesNotContain(metrics, l => Series(l, "gru_operator_autoscaling_metric_value"));
    }

    [Fact]
    public async Task AutoscalingNeverKeepsReplicasThatCannotGetAGpu()
    {
        await using var harness = await StartHarnessAsync(autoReadyPods: false);
        await harness.StartOperatorAsync();
        var model = Models.Gpu("gpuscaled", harness.Namespace);
        model.Spec.Serving.Replicas = 3;
        model.Spec.Serving.Autoscaling = new AutoscalingSpec { MinReplicas = 1, MaxReplicas = 5, Target = new ScalingTargetSpec { Metric = ScalingMetricName.InFlightRequests, AverageValue = "4" } };
        await harness.CreateAsync(model);
        await harness.WaitForStatusAsync(harness.Namespace, "gpuscaled", m => m.Status?.Autoscaling is { DesiredReplicas: 3 }, "autoscaling holding at 3");
        var pods = await Poll.UntilAsync(async () => await harness.PodsAsync("gpuscaled", "stable"), ps => ps.Count == 3, OperatorHarness.Timeout, "3 pods");

        const string why = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.";
        await harness.Pods.MarkUnschedulableAsync(harness.Namespace, pods[0].Metadata.Name, why);
        await harness.Pods.MarkUnschedulableAsync(harness.Namespace, pods[1].Metadata.Name, why);

        // Capped at what runs (the next evaluation, within the 15 s sync period), shown as unschedulable with the reason.
        var capped = await harness.WaitForStatusAsync(harness.Namespace, "gpuscaled",
            m => m.Status?.Autoscaling is { Reason: AutoscalingReasons.CappedByCapacity }, "the count capped at what can be scheduled");
        var autoscaling = capped.Status!.Autoscaling!;
        Assert.Equal((3, 1, 2), (autoscaling.CurrentReplicas, autoscaling.DesiredReplicas, autoscaling.UnschedulableReplicas));
        Assert.Contains("2 of 3 pods cannot be scheduled", autoscaling.Message, StringComparison.Ordinal);
        Assert.Equal(1, autoscaling.Capacity!.Replicas);
        await harness.WaitForDeploymentAsync(harness.Namespace, "gpuscaled-stable", d => d.Spec.Replicas == 1, "the Deployment down to what can run");
    }

    [Fact]
    public async Task UnschedulablePodsShowInStatusWithTheSchedulersReason()
    {
        await using var harness = await StartHarnessAsync(autoReadyPods: false);
        await harness.StartOperatorAsync();
        var model = Models.Gpu("nogpu", harness.Namespace);
        model.Spec.Serving.Replicas = 1;
        await harness.CreateAsync(model);

        var pod = await harness.FirstPodAsync("nogpu");
        const string why = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.";
        await harness.Pods.MarkUnschedulableAsync(harness.Namespace, pod.Metadata.Name, why);

        // The Deployment counts the pod as updated only on its controller's next status write, which can land after the
        // operator has seen the pod's scheduling failure: until then the operator truthfully reports Progressing. So wait
        // for the settled state as a whole (a wrong final state still times out), then check its details.
        var status = await harness.WaitForStatusAsync(harness.Namespace, "nogpu",
            m => ConditionSet.Find(m.Status!.Conditions, ConditionTypes.Ready)?.Reason == ServingConditions.Unschedulable
                && m.Status.Phase == ModelPhase.Pending && m.Status.Stable?.UnschedulableReplicas == 1,
            "Ready=False Unschedulable, phase Pending, 1 unschedulable replica");
        Assert.Contains(why, ConditionSet.Find(status.Status!.Conditions, ConditionTypes.Ready)!.Message, StringComparison.Ordinal);
        Assert.False(ConditionSet.Find(status.Status.Conditions, ConditionTypes.Progressing)!.IsTrue);
        await Poll.UntilAsync(async () => (await harness.EventsAsync(harness.Namespace, "nogpu")).FirstOrDefault(e => e.Reason == ServingConditions.Unschedulable),
            e => e.Type == "Warning" && e.Message.Contains(why, StringComparison.Ordinal), OperatorHarness.Timeout, "an Unschedulable event");

        // Once the pod is placed and ready the condition clears.
        await harness.Pods.MarkReadyAsync(harness.Namespace, pod.Metadata.Name);
        await harness.WaitForStatusAsync(harness.Namespace, "nogpu", m => m.Status!.Phase == ModelPhase.Healthy, "healthy once scheduled");
    }

    [Fact]
    public async Task FailingPodsShowInStatusWithTheirReason()
    {
        await using var harness = await StartHarnessAsync(autoReadyPods: false);
        await harness.StartOperatorAsync();
        await harness.CreateAsync(Models.Cpu("crashy", harness.Namespace));
        var pod = await harness.FirstPodAsync("crashy");

        await harness.Pods.MarkFailedAsync(harness.Namespace, pod.Metadata.Name, "ModelDigestMismatch");

        var status = await harness.WaitForStatusAsync(harness.Namespace, "crashy",
            m => ConditionSet.Find(m.Status!.Conditions, ConditionTypes.Ready)?.Reason == ServingConditions.PodsFailing, "Ready=False PodsFailing");
        var message = ConditionSet.Find(status.Status!.Conditions, ConditionTypes.Ready)!.Message;
        Assert.Contains(pod.Metadata.Name, message, StringComparison.Ordinal);
        Assert.Contains("ModelDigestMismatch", message, StringComparison.Ordinal);
        await Poll.UntilAsync(async () => (await harness.EventsAsync(harness.Namespace, "crashy")).FirstOrDefault(e => e.Reason == ServingConditions.PodsFailing),
            e => e.Type == "Warning", OperatorHarness.Timeout, "a PodsFailing event");
    }

    [Fact]
    public async Task OwnedObjectsAreGarbageCollectedThroughTheirOwnerReferencesWhenNoOperatorRuns()
    {
        await using var harness = await StartHarnessAsync();
        var op = await harness.StartOperatorAsync();
        await harness.CreateAsync(Models.Cpu("orphan", harness.Namespace));
        await harness.WaitForStatusAsync(harness.Namespace, "orphan", m => m.Status!.Stable is not null && m.Metadata.Finalizers?.Contains(WorkloadFinalizer.Name) == true, "owned objects and finalizer");
        Assert.NotNull(await harness.ServiceAsync(harness.Namespace, "orphan"));
        await harness.StopOperatorAsync(op);

        // Without the operator the finalizer cannot run: take it off, as an admin would, and delete. Only the garbage
        // collector, following the ownerReferences the operator wrote, can remove the Deployment, its pods and the Service.
        await harness.Client.CustomObjects.PatchNamespacedCustomObjectAsync(
            new V1Patch("""{"metadata":{"finalizers":null}}""", V1Patch.PatchType.MergePatch),
            GruModel.Group, GruModel.Version, harness.Namespace, GruModel.Plural, "orphan");
        await harness.Client.CustomObjects.DeleteNamespacedCustomObjectAsync(GruModel.Group, GruModel.Version, harness.Namespace, GruModel.Plural, "orphan");

        await Poll.UntilAsync(async () => await harness.DeploymentAsync(harness.Namespace, "orphan-stable") is null ? "gone" : null, _ => true, OperatorHarness.Timeout, "the Deployment to be collected");
        await Poll.UntilAsync(async () => await harness.ServiceAsync(harness.Namespace, "orphan") is null ? "gone" : null, _ => true, OperatorHarness.Timeout, "the Service to be collected");
        await Poll.UntilAsync(async () => (await harness.Client.CoreV1.ListNamespacedPodAsync(harness.Namespace, labelSelector: $"{Labels.Model}=orphan")).Items.Count == 0 ? "gone" : null,
            _ => true, OperatorHarness.Timeout, "the pods to be collected");
    }

    [Fact]
    public async Task OnlyTheLeaderActsAndTheOtherTakesOverWhenItStops()
    {
        await using var harness = await StartHarnessAsync();
        var first = await harness.StartOperatorAsync("op-a", leaderElection: true);
        await Poll.UntilAsync(() => OperatorHarness.IsLeader(first), OperatorHarness.Timeout, "op-a to lead");
        var second = await harness.StartOperatorAsync("op-b", leaderElection: true);

        await harness.CreateAsync(Models.Cpu("led", harness.Namespace));
        await harness.WaitForStatusAsync(harness.Namespace, "led", m => m.Status!.Phase == ModelPhase.Healthy, "led healthy");
        Assert.False(OperatorHarness.IsLeader(second));
        var ledEvents = await harness.EventsAsync(harness.Namespace, "led");
        Assert.NotEmpty(ledEvents);
        Assert.All(ledEvents, e => Assert.Equal("op-a", e.ReportingInstance));
        var lease = await harness.Client.CoordinationV1.ReadNamespacedLeaseAsync("gru-operator-leader", harness.Namespace);
        Assert.Equal("op-a", lease.Spec.HolderIdentity);

        await harness.StopOperatorAsync(first);
        await Poll.UntilAsync(() => OperatorHarness.IsLeader(second), OperatorHarness.Timeout, "op-b to take over");
        await harness.CreateAsync(Models.Cpu("after", harness.Namespace));
        await harness.WaitForStatusAsync(harness.Namespace, "after", m => m.Status!.Phase == ModelPhase.Healthy, "a model created after the handover");
        var afterEvents = await harness.EventsAsync(harness.Namespace, "after");
        Assert.NotEmpty(afterEvents);
        Assert.All(afterEvents, e => Assert.Equal("op-b", e.ReportingInstance));
    }
}

/// <summary>Integration tests each start a cluster and operators: run them one at a time on a small machine.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class IntegrationCollection
{
    public const string Name = "Integration";
}

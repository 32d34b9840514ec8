using GruOperator.Api;
using GruOperator.Api.Schema;
using GruOperator.Tests.Support;
using GruServing.Contract.Serving;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace GruOperator.Tests.RealCluster;

/// <summary>
/// Each CEL rule of the CRD (x-kubernetes-validations), evaluated by the real API server: a GruModel that breaks it is
/// refused with the rule's own message on the rule's field path. LocalCluster does not evaluate CEL, so this is the only
/// proof the rules work.
/// </summary>
[Collection(KubeApiServerCollection.Name)]
public sealed class CelRuleTests(KubeApiServerFixture cluster)
{
    /// <summary>name → (how to break the rule, the field the server must name, the rule's message).</summary>
    public static TheoryData<string> Violations => new(Cases.Keys);

    private static readonly Dictionary<string, (Action<GruModelSpec> Break, string Field, string Message)> Cases = new()
    {
        ["canary settings without strategy Canary"] = (
            s => s.Rollout = new RolloutSpec { Strategy = RolloutStrategy.Recreate, Canary = new CanarySpec() },
            "spec.rollout.canary", "rollout.canary applies only to strategy Canary"),
        ["https source without sha256"] = (
            s => s.Model = new ModelSpec { Name = "m", Source = "https://models.example/m.onnx" },
            "spec.model.sha256", "model.sha256 is required for https:// and file:// sources"),
        ["CUDA without a GPU"] = (
            s => s.Serving.ExecutionProvider = ExecutionProvider.CUDA,
            "spec.serving.executionProvider", "serving.executionProvider CUDA needs a GPU"),
        ["GPU product with count 0"] = (
            s => s.Serving.Gpu = new GpuSpec { Count = 0, Product = "NVIDIA-A100-SXM4-40GB" },
            "spec.serving.gpu.product", "serving.gpu.product pins a GPU model and needs serving.gpu.count > 0"),
        ["toleration Exists with a value"] = (
            s => s.Serving.Tolerations = [new TolerationSpec { Key = "k", Operator = TolerationOperator.Exists, Value = "v" }],
            "spec.serving.tolerations[0].value", "a toleration with operator Exists must not set value"),
        ["threshold range without bounds"] = (
            s => s.Rollout = Analysis(new ThresholdRange()),
            "spec.rollout.canary.analysis.metrics[0].thresholdRange", "thresholdRange needs min, max or both"),
        ["threshold range min above max"] = (
            s => s.Rollout = Analysis(new ThresholdRange { Min = 0.9, Max = 0.1 }),
            "spec.rollout.canary.analysis.metrics[0].thresholdRange.min", "thresholdRange.min must not exceed thresholdRange.max"),
        ["autoscaling min above max"] = (
            s => s.Serving.Autoscaling = Autoscaling(min: 3, max: 2),
            "spec.serving.autoscaling.minReplicas", "autoscaling.minReplicas must not exceed autoscaling.maxReplicas"),
        ["autoscaling with replicas 0"] = (
            s => { s.Serving.Replicas = 0; s.Serving.Autoscaling = Autoscaling(); },
            "spec.serving.replicas", "serving.replicas 0 turns the model off but serving.autoscaling keeps at least minReplicas"),
        ["in-flight target 0"] = (
            s => s.Serving.Autoscaling = Autoscaling(value: "0.0"),
            "spec.serving.autoscaling.target.averageValue", "target.averageValue for inFlightRequests is a number of requests above 0"),
        ["queue wait target not a duration"] = (
            s => s.Serving.Autoscaling = Autoscaling(ScalingMetricName.QueueWait, "50"),
            "spec.serving.autoscaling.target.averageValue", "target.averageValue for queueWait is a duration above 0"),
        ["scale-up rules that never move"] = (
            s => s.Serving.Autoscaling = Autoscaling(behavior: new ScalingBehaviorSpec { ScaleUp = new ScalingRulesSpec { MaxPods = 0, MaxPercent = 0 } }),
            "spec.serving.autoscaling.behavior.scaleUp.maxPods", "maxPods and maxPercent are both 0"),
        ["scale-down rules that never move"] = (
            s => s.Serving.Autoscaling = Autoscaling(behavior: new ScalingBehaviorSpec { ScaleDown = new ScalingRulesSpec { MaxPods = 0, MaxPercent = 0 } }),
            "spec.serving.autoscaling.behavior.scaleDown.maxPods", "maxPods and maxPercent are both 0"),
        ["shadow step with a weight"] = (
            s => s.Rollout = Shadow(new CanaryStep { Shadow = true, SetWeight = 10, Pause = "2m" }),
            "spec.rollout.canary.steps[0].setWeight", "a shadow step gives the canary no live traffic: set setWeight: 0"),
        ["shadow step without a pause"] = (
            s => s.Rollout = Shadow(new CanaryStep { Shadow = true, SetWeight = 0 }),
            "spec.rollout.canary.steps[0].pause", "a shadow step needs a pause"),
        ["shadow as a later step"] = (
            s => s.Rollout = new RolloutSpec { Canary = new CanarySpec { Steps = [new CanaryStep { SetWeight = 10, Pause = "1m" }, new CanaryStep { Shadow = true, SetWeight = 0, Pause = "1m" }] } },
            "spec.rollout.canary.steps", "only steps[0] may be a shadow step"),
        ["mirrorSample without a shadow step"] = (
            s => s.Rollout = new RolloutSpec { Canary = new CanarySpec { MirrorSample = "0.5", Steps = [new CanaryStep { SetWeight = 10, Pause = "1m" }] } },
            "spec.rollout.canary.mirrorSample", "canary.mirrorSample needs a shadow first step"),
        ["mirrorSample zero"] = (
            s => s.Rollout = Shadow(new CanaryStep { Shadow = true, SetWeight = 0, Pause = "1m" }, mirrorSample: "0"),
            "spec.rollout.canary.mirrorSample", "canary.mirrorSample must be above 0"),
        ["divergence maxAbs off the grid"] = (
            s => s.Rollout = Shadow(new CanaryStep { Shadow = true, SetWeight = 0, Pause = "1m" }, divergence: new DivergenceSpec { MaxAbs = "0.003" }),
            "spec.rollout.canary.analysis.divergence.maxAbs", "divergence.maxAbs must be a histogram bound"),
        ["divergence maxRel off the grid"] = (
            s => s.Rollout = Shadow(new CanaryStep { Shadow = true, SetWeight = 0, Pause = "1m" }, divergence: new DivergenceSpec { MaxRel = "0.3" }),
            "spec.rollout.canary.analysis.divergence.maxRel", "divergence.maxRel must be a histogram bound"),
        ["divergence within zero"] = (
            s => s.Rollout = Shadow(new CanaryStep { Shadow = true, SetWeight = 0, Pause = "1m" }, divergence: new DivergenceSpec { MaxAbs = "1e-2", Within = "0" }),
            "spec.rollout.canary.analysis.divergence.within", "divergence.within must be above 0"),
        ["both traffic routings"] = (
            s => s.Rollout = new RolloutSpec { Canary = new CanarySpec { TrafficRouting = new TrafficRoutingSpec { Replicas = new ReplicaRouting(), GatewayApi = new GatewayApiRouting { HttpRoute = "r" } } } },
            "spec.rollout.canary.trafficRouting", "set either trafficRouting.replicas or trafficRouting.gatewayAPI, not both"),
    };

    [Theory]
    [MemberData(nameof(Violations))]
    public async Task TheServerRefusesAViolationWithTheRulesMessageAndField(string violation)
    {
        var (breakRule, field, message) = Cases[violation];
        var model = Models.Cpu("cel", "default");
        model.Metadata.Uid = null;
        model.Metadata.Generation = null;
        breakRule(model.Spec);

        var error = await Assert.ThrowsAsync<HttpOperationException>(() => cluster.Client.CustomObjects.CreateNamespacedCustomObjectAsync(
            model, GruModel.Group, GruModel.Version, "default", GruModel.Plural, dryRun: "All"));

        Assert.Equal(422, (int)error.Response.StatusCode);
        var status = KubernetesJson.Deserialize<V1Status>(error.Response.Content);
        var cause = Assert.Single(status.Details.Causes, c => c.Message.Contains(message, StringComparison.Ordinal));
        Assert.Equal(field, cause.Field);
        Assert.Contains($"{field}: Invalid value", status.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AValidModelWithEveryRulesFieldSetIsAccepted()
    {
        var model = Models.Gpu("cel-ok", "default");
        model.Metadata.Uid = null;
        model.Metadata.Generation = null;
        model.Spec.Serving.ExecutionProvider = ExecutionProvider.CUDA;
        model.Spec.Serving.Tolerations = [new TolerationSpec { Key = "k", Operator = TolerationOperator.Exists }];
        model.Spec.Rollout = Analysis(new ThresholdRange { Min = 0.1, Max = 0.9 });
        model.Spec.Rollout.Canary!.TrafficRouting = new TrafficRoutingSpec { Replicas = new ReplicaRouting() };
        model.Spec.Serving.Autoscaling = Autoscaling(ScalingMetricName.QueueWait, "50ms", 2, 4, new ScalingBehaviorSpec { ScaleUp = new ScalingRulesSpec { MaxPods = 0, MaxPercent = 50, StabilizationWindow = "1m30s" } });
        model.Spec.Rollout.Canary.Steps = [new CanaryStep { Shadow = true, SetWeight = 0, Pause = "2m" }, new CanaryStep { SetWeight = 50, Pause = "1m" }];
        model.Spec.Rollout.Canary.MirrorSample = "0.5";
        model.Spec.Rollout.Canary.Analysis!.Divergence = new DivergenceSpec { MaxAbs = "1e-2", MaxRel = "0.05", Within = "0.99", MinArgMaxAgreement = "0.98" };

        var created = await cluster.Client.CustomObjects.CreateNamespacedCustomObjectAsync<GruModel>(
            model, GruModel.Group, GruModel.Version, "default", GruModel.Plural, dryRun: "All");
        Assert.Equal("cel-ok", created.Metadata.Name);
    }

    [Fact]
    public void EveryRuleOfTheCrdHasACase()
    {
        var messages = new List<string>();
        Collect(CrdGenerator.Build().Spec.Versions.Single().Schema.OpenAPIV3Schema, messages);
        Assert.Equal(Cases.Count, messages.Count);
        Assert.All(messages, m => Assert.Contains(Cases.Values, c => m.StartsWith(c.Message, StringComparison.Ordinal)));
    }

    private static AutoscalingSpec Autoscaling(ScalingMetricName metric = ScalingMetricName.InFlightRequests, string value = "4", int min = 1, int max = 4, ScalingBehaviorSpec? behavior = null) =>
        new() { MinReplicas = min, MaxReplicas = max, Target = new ScalingTargetSpec { Metric = metric, AverageValue = value }, Behavior = behavior };
    private static RolloutSpec Shadow(CanaryStep first, string? mirrorSample = null, DivergenceSpec? divergence = null) => new()
    {
        Canary = new CanarySpec
        {
            Steps = [first, new CanaryStep { SetWeight = 50, Pause = "1m" }],
            MirrorSample = mirrorSample,
            Analysis = divergence is null ? null : new AnalysisSpec { Divergence = divergence },
        },
    };

    private static RolloutSpec Analysis(ThresholdRange range) => new()
    {
        Canary = new CanarySpec
        {
            Analysis = new AnalysisSpec { Metrics = [new AnalysisMetric { Name = "score", Query = "avg(x)", ThresholdRange = range }] },
        },
    };

    private static void Collect(V1JSONSchemaProps? schema, List<string> messages)
    {
        if (schema is null) return;
        messages.AddRange(schema.XKubernetesValidations?.Select(v => v.Message) ?? []);
        foreach (var child in schema.Properties?.Values ?? []) Collect(child, messages);
        Collect(schema.Items as V1JSONSchemaProps, messages);
        Collect(schema.AdditionalProperties as V1JSONSchemaProps, messages);
    }
}

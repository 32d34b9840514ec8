using GruOperator.Api;
using GruServing.Contract.Serving;
using GruOperator.Reconciliation;
using GruOperator.Tests.Support;
using k8s.Models;

namespace GruOperator.Tests.Reconciliation;

public sealed class SpecValidatorTests
{
    public static TheoryData<string, Action<GruModelSpec>, string> Rows => new()
    {
        { "unsupported scheme", s => s.Model.Source = "s3://bucket/m.onnx", "spec.model.source" },
        { "missing digest for file", s => s.Model.Sha256 = null, "spec.model.sha256 is required" },
        { "CUDA without GPU", s => s.Serving.ExecutionProvider = ExecutionProvider.CUDA, "spec.serving.executionProvider" },
        { "GPU product without GPU", s => s.Serving.Gpu = new GpuSpec { Count = 0, Product = "A100" }, "spec.serving.gpu.product" },
        { "GPU asked through resources", s => s.Serving.Resources = new ResourcesSpec { Limits = new() { ["nvidia.com/gpu"] = new ResourceQuantity("1") } }, "spec.serving.gpu.count instead" },
        { "request above limit", s => s.Serving.Resources = new ResourcesSpec { Requests = new() { ["memory"] = new ResourceQuantity("2Gi") }, Limits = new() { ["memory"] = new ResourceQuantity("1Gi") } }, "exceeds limits.memory" },
        { "bad duration", s => s.Serving.Sessions = new SessionsSpec { IdleTimeout = "2 ms" }, "spec.serving.sessions.idleTimeout" },
        { "stateful sessions idle longer than the server allows", s => s.Serving.Sessions = new SessionsSpec { Mode = SessionMode.Stateful, IdleTimeout = "200h" }, "spec.serving.sessions.idleTimeout 200h is longer than GruServer allows (168h)" },
        { "bad drain timeout", s => s.Serving.Sessions = new SessionsSpec { Mode = SessionMode.Stateful, DrainTimeout = "soon" }, "spec.serving.sessions.drainTimeout" },
        { "sequence drain longer than the server allows", s => s.Serving.Sessions = new SessionsSpec { Mode = SessionMode.Stateful, DrainTimeout = "2h" }, "spec.serving.sessions.drainTimeout 2h is longer than GruServer allows (30m)" },
        { "queue delay GruServer refuses", s => s.Serving.Batching = new BatchingSpec { MaxQueueDelay = "11s" }, "spec.serving.batching.maxQueueDelay 11s is longer than GruServer allows (10s)" },
        { "queue delay not a duration", s => s.Serving.Batching = new BatchingSpec { MaxQueueDelay = "2 ms" }, "spec.serving.batching.maxQueueDelay" },
        { "weights not increasing", s => s.Rollout = new RolloutSpec { Canary = new CanarySpec { Steps = [new() { SetWeight = 50 }, new() { SetWeight = 10 }] } }, "spec.rollout.canary.steps[1].setWeight" },
        { "canary with Recreate", s => s.Rollout = new RolloutSpec { Strategy = RolloutStrategy.Recreate, Canary = new CanarySpec() }, "strategy Canary" },
        { "duplicate metric names", s => s.Rollout = new RolloutSpec { Canary = new CanarySpec { Analysis = new AnalysisSpec { Metrics = [new() { Name = "a", Query = "q", ThresholdRange = new() { Min = 1 } }, new() { Name = "a", Query = "q", ThresholdRange = new() { Max = 1 } }] } } }, "used twice" },
        { "inverted threshold", s => s.Rollout = new RolloutSpec { Canary = new CanarySpec { Analysis = new AnalysisSpec { Metrics = [new() { Name = "a", Query = "q", ThresholdRange = new() { Min = 2, Max = 1 } }] } } }, "thresholdRange.min" },
        { "custom metric named like a built-in SLI", s => s.Rollout = new RolloutSpec { Canary = new CanarySpec { Analysis = new AnalysisSpec { Metrics = [new() { Name = "latencyP95", Query = "sum(up)", ThresholdRange = new() { Max = 1 } }] } } }, "spec.rollout.canary.analysis.metrics[0].name 'latencyP95' is a built-in SLI name; choose another name" },
        { "custom query with an unknown placeholder", s => s.Rollout = new RolloutSpec { Canary = new CanarySpec { Analysis = new AnalysisSpec { Metrics = [new() { Name = "score", Query = "avg(x{pod=\"{{pod}}\"})", ThresholdRange = new() { Max = 1 } }] } } }, "spec.rollout.canary.analysis.metrics[0].query" },
        { "analysis interval below a second", s => s.Rollout = new RolloutSpec { Canary = new CanarySpec { Analysis = new AnalysisSpec { Interval = "500ms" } } }, "spec.rollout.canary.analysis.interval must be at least 1s" },
        { "shadow as a later step", s => s.Rollout = Steps([new() { SetWeight = 10, Pause = "1m" }, new() { Shadow = true, SetWeight = 20, Pause = "1m" }]), "spec.rollout.canary.steps[1].shadow: only steps[0] may be a shadow step" },
        { "shadow step with live weight", s => s.Rollout = Steps([new() { Shadow = true, SetWeight = 5, Pause = "1m" }]), "spec.rollout.canary.steps[0].setWeight 5: a shadow step gives the canary no live traffic; set setWeight: 0" },
        { "shadow step without a pause", s => s.Rollout = Steps([new() { Shadow = true, SetWeight = 0 }]), "spec.rollout.canary.steps[0].pause is required for a shadow step" },
        { "mirrorSample without a shadow step", s => s.Rollout = Steps([new() { SetWeight = 10, Pause = "1m" }], mirrorSample: "0.5"), "spec.rollout.canary.mirrorSample applies only with a shadow first step" },
        { "mirrorSample zero", s => s.Rollout = Steps([new() { Shadow = true, SetWeight = 0, Pause = "1m" }], mirrorSample: "0"), "spec.rollout.canary.mirrorSample '0' must be a fraction above 0 and at most 1" },
        { "divergence without a shadow step", s => s.Rollout = Steps([new() { SetWeight = 10, Pause = "1m" }], divergence: new() { MaxAbs = "1e-2" }), "spec.rollout.canary.analysis.divergence needs a shadow first step" },
        { "divergence maxAbs off the grid", s => s.Rollout = Steps([new() { Shadow = true, SetWeight = 0, Pause = "1m" }], divergence: new() { MaxAbs = "0.003" }), "spec.rollout.canary.analysis.divergence.maxAbs 0.003 is not a histogram bound" },
        { "divergence within zero", s => s.Rollout = Steps([new() { Shadow = true, SetWeight = 0, Pause = "1m" }], divergence: new() { MaxRel = "0.05", Within = "0" }), "spec.rollout.canary.analysis.divergence.within must be a fraction above 0" },
        { "custom metric named divergence", s => s.Rollout = new RolloutSpec { Canary = new CanarySpec { Analysis = new AnalysisSpec { Metrics = [new() { Name = "divergence", Query = "sum(up)", ThresholdRange = new() { Max = 1 } }] } } }, "'divergence' is a built-in SLI name" },
        { "zero pause", s => s.Rollout = new RolloutSpec { Canary = new CanarySpec { Steps = [new() { SetWeight = 10, Pause = "0s" }] } }, "longer than 0" },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void InvalidSpecsAreRefusedNamingTheField(string scenario, Action<GruModelSpec> breakIt, string expected)
    {
        var spec = Models.Cpu().Spec;
        breakIt(spec);
        var (valid, problems) = SpecValidator.Validate(spec, "img");
        Assert.Null(valid);
        Assert.True(problems.Any(p => p.Contains(expected, StringComparison.Ordinal)), $"{scenario}: {string.Join(" | ", problems)}");
    }

    [Fact]
    public void AShadowStepWithDivergenceIsAccepted()
    {
        var spec = Models.Cpu().Spec;
        spec.Rollout = Steps([new() { Shadow = true, SetWeight = 0, Pause = "2m" }, new() { SetWeight = 50, Pause = "1m" }], mirrorSample: "1",
            divergence: new() { MaxAbs = "1e-2", MaxRel = "0.05", Within = "0.99", MinArgMaxAgreement = "0.98" });

        var (valid, problems) = SpecValidator.Validate(spec, "img");

        Assert.Empty(problems);
        Assert.NotNull(valid);
    }

    private static RolloutSpec Steps(List<CanaryStep> steps, string? mirrorSample = null, DivergenceSpec? divergence = null) =>
        new() { Canary = new CanarySpec { Steps = steps, MirrorSample = mirrorSample, Analysis = divergence is null ? null : new AnalysisSpec { Divergence = divergence } } };

    [Theory]
    [InlineData(1, "0ms")]
    [InlineData(32, "2ms")]
    [InlineData(4096, "10s")]
    public void BatchingGruServerCanServeIsAccepted(int maxBatchSize, string maxQueueDelay)
    {
        var spec = Models.Cpu().Spec;
        spec.Serving.Batching = new BatchingSpec { MaxBatchSize = maxBatchSize, MaxQueueDelay = maxQueueDelay };
        var (valid, problems) = SpecValidator.Validate(spec, "img");
        Assert.Empty(problems);
        Assert.NotNull(valid);
    }

    [Fact]
    public void AValidSpecYieldsItsSourceAndImage()
    {
        var (valid, problems) = SpecValidator.Validate(Models.Gpu().Spec, "img:1");
        Assert.Empty(problems);
        Assert.Equal("img:1", valid!.Image);
        Assert.Equal("sha256:" + Models.Sha, valid.Source.Digest);
    }

    [Theory]
    [InlineData("cpu-minimal.yaml")]
    [InlineData("gpu-canary.yaml")]
    [InlineData("autoscaled-cpu.yaml")]
    [InlineData("clickstream-sequences.yaml")]
    public void ShippedSamplesAreValid(string file)
    {
        var model = Models.Load(RepositoryRoot.Combine("config", "samples", file));
        var (valid, problems) = SpecValidator.Validate(model.Spec, "img");
        Assert.Empty(problems);
        Assert.NotNull(valid);
    }
}

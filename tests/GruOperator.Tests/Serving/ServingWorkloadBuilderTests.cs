using GruOperator.Api;
using GruOperator.Domain.Rollout;
using GruOperator.Serving;
using GruOperator.Tests.Support;
using k8s.Models;

namespace GruOperator.Tests.Serving;

public sealed class ServingWorkloadBuilderTests
{
    private static readonly ServingDefaults Defaults = new("registry.local/gru-server:1", "alpine:3.20", "gru-operator");

    private static ServingWorkload Build(GruModel model, string revision = "1")
    {
        Assert.True(ModelSource.TryParse(model.Spec.Model.Source, model.Spec.Model.Sha256, out var source, out var error), error);
        return ServingWorkloadBuilder.BuildStable(model, source!, revision, Defaults);
    }

    [Fact]
    public void GpuModelGetsLimitsTolerationAffinityAndRuntimeClass()
    {
        var deployment = Build(Models.Gpu()).Deployment;
        var pod = deployment.Spec.Template.Spec;
        var server = pod.Containers.Single(c => c.Name == ServingWorkloadBuilder.ServerContainer);

        Assert.Equal("1", server.Resources.Limits["nvidia.com/gpu"].ToString());
        Assert.Equal("1", server.Resources.Requests["cpu"].ToString());
        var toleration = Assert.Single(pod.Tolerations);
        Assert.Equal(("nvidia.com/gpu", "Exists", "NoSchedule"), (toleration.Key, toleration.OperatorProperty, toleration.Effect));
        var term = Assert.Single(pod.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms);
        var expression = Assert.Single(term.MatchExpressions);
        Assert.Equal(("nvidia.com/gpu.product", "In", "NVIDIA-A100-SXM4-40GB"), (expression.Key, expression.OperatorProperty, expression.Values.Single()));
        Assert.Equal("nvidia", pod.RuntimeClassName);
        Assert.Equal("gpu", pod.NodeSelector["pool"]);
    }

    [Fact]
    public void MigResourceIsRequestedAndToleratedUnderItsOwnName()
    {
        var pod = Build(Models.Gpu(resourceName: "nvidia.com/mig-1g.10gb", product: null)).Deployment.Spec.Template.Spec;
        Assert.Equal("1", pod.Containers[0].Resources.Limits["nvidia.com/mig-1g.10gb"].ToString());
        Assert.False(pod.Containers[0].Resources.Limits.ContainsKey("nvidia.com/gpu"));
        Assert.Equal(["nvidia.com/gpu", "nvidia.com/mig-1g.10gb"], pod.Tolerations.Select(t => t.Key));
        Assert.Null(pod.Affinity);
    }

    [Fact]
    public void CpuModelHasNoGpuFields()
    {
        var pod = Build(Models.Cpu()).Deployment.Spec.Template.Spec;
        Assert.Null(pod.Tolerations);
        Assert.Null(pod.Affinity);
        Assert.Null(pod.RuntimeClassName);
        Assert.True(pod.Containers[0].Resources.Limits is null || !pod.Containers[0].Resources.Limits.Keys.Any(k => k.Contains("gpu", StringComparison.Ordinal)));
    }

    [Fact]
    public void ServerGetsTheContractFlagsProbesAndHardenedSecurityContext()
    {
        var model = Models.Cpu("recs");
        model.Spec.Serving.MaxSequenceLength = 256;
        model.Spec.Serving.MaxRequestBatchSize = 8;
        model.Spec.Serving.Batching = new BatchingSpec { MaxBatchSize = 16, MaxQueueDelay = "3ms" };
        var deployment = Build(model, revision: "7").Deployment;
        var server = deployment.Spec.Template.Spec.Containers.Single();

        Assert.Equal(Defaults.ServerImage, server.Image);
        Assert.Equal(
            ["--model", "/opt/gru/models/m.onnx", "--model-name", "recs", "--model-sha256", Models.Sha, "--host", "0.0.0.0", "--port", "8080",
             "--metrics-port", "9464", "--revision", "7", "--track", "stable", "--execution-provider", "CPU", "--max-sequence-length", "256", "--max-request-batch-size", "8",
             "--max-batch-size", "16", "--max-queue-delay", "3ms", "--shutdown-delay", "5s", "--shutdown-timeout", "30s",
             "--latency-slo-boundaries", "200ms"], // spec.slo.latencyP95's default becomes an exact histogram bound
            server.Args);
        // SIGKILL must not cut the graceful shutdown short: the grace period covers the delay and the drain.
        Assert.True(deployment.Spec.Template.Spec.TerminationGracePeriodSeconds >= 5 + 30,
            $"terminationGracePeriodSeconds {deployment.Spec.Template.Spec.TerminationGracePeriodSeconds} < shutdown delay + timeout");
        Assert.Equal("/v2/health/ready", server.ReadinessProbe.HttpGet.Path);
        Assert.Equal("/v2/health/live", server.LivenessProbe.HttpGet.Path);
        Assert.NotNull(server.StartupProbe);
        Assert.True(server.StartupProbe.FailureThreshold * server.StartupProbe.PeriodSeconds >= 300, "slow model loads get minutes, not seconds");
        Assert.Equal(["http", "metrics"], server.Ports.Select(p => p.Name));
        Assert.True(server.SecurityContext.ReadOnlyRootFilesystem);
        Assert.True(server.SecurityContext.RunAsNonRoot);
        Assert.False(server.SecurityContext.AllowPrivilegeEscalation);
        Assert.Equal(["ALL"], server.SecurityContext.Capabilities.Drop);
        Assert.True(deployment.Spec.Template.Spec.SecurityContext.RunAsNonRoot);
        Assert.Equal("RuntimeDefault", deployment.Spec.Template.Spec.SecurityContext.SeccompProfile.Type);

        var annotations = deployment.Spec.Template.Metadata.Annotations;
        Assert.Equal("true", annotations["prometheus.io/scrape"]);
        Assert.Equal("9464", annotations["prometheus.io/port"]);
        Assert.Equal("/metrics", annotations["prometheus.io/path"]);
    }

    [Fact]
    public void FileSourcesNeedNoFetcherWhileHttpsSourcesAreFetchedIntoTheSharedVolume()
    {
        Assert.Null(Build(Models.Cpu()).Deployment.Spec.Template.Spec.InitContainers);

        var pod = Build(Models.Gpu()).Deployment.Spec.Template.Spec;
        var fetcher = Assert.Single(pod.InitContainers);
        Assert.Equal(ServingWorkloadBuilder.FetcherContainer, fetcher.Name);
        Assert.Equal("https://models.example/g.onnx", fetcher.Env.Single(e => e.Name == "MODEL_SOURCE").Value);
        Assert.Equal(Models.Sha, fetcher.Env.Single(e => e.Name == "MODEL_SHA256").Value);
        Assert.Equal("/models", fetcher.VolumeMounts.Single().MountPath);
        var server = pod.Containers.Single();
        Assert.Equal("/models/model.onnx", server.Args[server.Args.IndexOf("--model") + 1]);
        Assert.True(server.VolumeMounts.Single(m => m.MountPath == "/models").ReadOnlyProperty);
    }

    [Fact]
    public void EverythingCarriesTheApiLabelsAndAnOwnerReference()
    {
        var model = Models.Gpu("recs", "ml");
        var (deployment, service) = Build(model, revision: "3");

        foreach (var meta in new[] { deployment.Metadata, deployment.Spec.Template.Metadata })
        {
            Assert.Equal("recs", meta.Labels[Labels.Model]);
            Assert.Equal("stable", meta.Labels[Labels.Track]);
            Assert.Equal("3", meta.Labels[Labels.Revision]);
        }
        // The selector is immutable: it must not contain the revision, or a new model could never roll.
        Assert.Equal(new Dictionary<string, string> { [Labels.Model] = "recs", [Labels.Track] = "stable" }, deployment.Spec.Selector.MatchLabels);
        // One Service spans both tracks by design: no track (or revision) in its selector or labels.
        Assert.Equal(new Dictionary<string, string> { [Labels.Model] = "recs" }, service.Spec.Selector);
        Assert.Equal("recs", service.Metadata.Labels[Labels.Model]);
        Assert.False(service.Metadata.Labels.ContainsKey(Labels.Track));
        Assert.False(service.Metadata.Labels.ContainsKey(Labels.Revision));

        foreach (var owner in new[] { deployment.Metadata.OwnerReferences.Single(), service.Metadata.OwnerReferences.Single() })
        {
            Assert.Equal(("serving.gru.dev/v1alpha1", "GruModel", "recs", "uid-recs"), (owner.ApiVersion, owner.Kind, owner.Name, owner.Uid));
            Assert.True(owner.Controller);
        }
        Assert.Equal(("recs-stable", "ml"), (deployment.Metadata.Name, deployment.Metadata.NamespaceProperty));
    }

    [Fact]
    public void OmittedBatchingWritesTheBatcherDefaults()
    {
        var args = Build(Models.Cpu()).Deployment.Spec.Template.Spec.Containers.Single().Args;

        Assert.Equal("32", args[args.IndexOf("--max-batch-size") + 1]);
        Assert.Equal("2ms", args[args.IndexOf("--max-queue-delay") + 1]);
    }

    [Theory]
    [InlineData(SessionMode.Stateless, "None")]
    [InlineData(SessionMode.Stateful, "ClientIP")]
    public void StatefulSessionsPinClientsToAPod(SessionMode mode, string affinity)
    {
        var model = Models.Cpu();
        model.Spec.Serving.Sessions = new SessionsSpec { Mode = mode };
        Assert.Equal(affinity, Build(model).Service.Spec.SessionAffinity);
    }

    [Fact]
    public void ImageFromSpecWinsOverTheDefault()
    {
        var model = Models.Cpu();
        model.Spec.Serving.Image = "example.com/custom:2";
        Assert.Equal("example.com/custom:2", Build(model).Deployment.Spec.Template.Spec.Containers[0].Image);
    }
}

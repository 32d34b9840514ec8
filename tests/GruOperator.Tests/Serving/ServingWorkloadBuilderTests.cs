using GruOperator.Api;
using GruOperator.Domain.Rollout;
using GruOperator.ModelResolution;
using GruOperator.Serving;
using GruOperator.Tests.Support;
using GruServing.Contract.Serving;
using k8s.Models;

namespace GruOperator.Tests.Serving;

public sealed class ServingWorkloadBuilderTests
{
    private static readonly ServingDefaults Defaults = new("registry.local/gru-server:1", "registry.local/gru-model:1", "gru-operator");

    private static ServingWorkload Build(GruModel model, string revision = "1")
    {
        Assert.True(ModelSource.TryParse(model.Spec.Model.Source, model.Spec.Model.Sha256, out var source, out var error), error);
        return ServingWorkloadBuilder.BuildStable(model, source!, revision, Defaults);
    }

    [Fact]
    public void InAShadowStepStablePodsMirrorToTheCanaryServiceAndTheModelServiceSelectsStableOnly()
    {
        var model = Models.Cpu();
        Assert.True(ModelSource.TryParse(model.Spec.Model.Source, model.Spec.Model.Sha256, out var source, out _));

        var stable = ServingWorkloadBuilder.BuildTrack(model, source!, "3", "stable", 2, Defaults, mirror: new ShadowMirror(new Uri("http://10.96.0.12:8080"), 0.5));
        var plain = ServingWorkloadBuilder.BuildTrack(model, source!, "3", "stable", 2, Defaults);

        var args = stable.Spec.Template.Spec.Containers.Single(c => c.Name == ServingWorkloadBuilder.ServerContainer).Args;
        Assert.Equal("http://10.96.0.12:8080", args[args.IndexOf(ServerFlags.MirrorUrl) + 1]);
        Assert.Equal("0.5", args[args.IndexOf(ServerFlags.MirrorSample) + 1]);
        Assert.DoesNotContain(ServerFlags.MirrorUrl, plain.Spec.Template.Spec.Containers.Single(c => c.Name == ServingWorkloadBuilder.ServerContainer).Args);
        Assert.Equal("stable", ServingWorkloadBuilder.BuildService(model, Defaults, stableOnly: true).Spec.Selector[Labels.Track]);
        Assert.False(ServingWorkloadBuilder.BuildService(model, Defaults).Spec.Selector.ContainsKey(Labels.Track));
    }

    [Fact]
    public void TheCanaryTrackIsTheSameTemplateWithItsOwnNameTrackRevisionModelAndReplicas()
    {
        var model = Models.Gpu();
        Assert.True(ModelSource.TryParse(model.Spec.Model.Source, Models.OtherSha, out var canarySource, out _));
        var canary = ServingWorkloadBuilder.BuildTrack(model, canarySource!, "4", "canary", 1, Defaults);
        var stable = Build(model, "3").Deployment;

        Assert.Equal(("g-canary", "canary", "4", 1), (canary.Metadata.Name, canary.Metadata.Labels[Labels.Track], canary.Metadata.Labels[Labels.Revision], canary.Spec.Replicas));
        Assert.Equal(("g", "canary"), (canary.Spec.Selector.MatchLabels[Labels.Model], canary.Spec.Selector.MatchLabels[Labels.Track]));
        Assert.Equal("canary", canary.Spec.Template.Metadata.Labels[Labels.Track]);
        var args = canary.Spec.Template.Spec.Containers[0].Args;
        Assert.Equal(("canary", "4", Models.OtherSha), (args[args.IndexOf("--track") + 1], args[args.IndexOf("--revision") + 1], args[args.IndexOf("--model-sha256") + 1]));
        Assert.Equal(Models.OtherSha, canary.Metadata.Annotations[Labels.ModelSha256Annotation]);
        // Everything else is the spec's, as for stable: one GPU, the same probes and scheduling.
        Assert.Equal(stable.Spec.Template.Spec.Containers[0].Resources.Limits["nvidia.com/gpu"], canary.Spec.Template.Spec.Containers[0].Resources.Limits["nvidia.com/gpu"]);
        Assert.Equal(stable.Spec.Template.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0].Values,
            canary.Spec.Template.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0].Values);
        // The one Service selects both tracks.
        var service = ServingWorkloadBuilder.BuildService(model, Defaults);
        Assert.All(service.Spec.Selector, kv => Assert.Equal(kv.Value, canary.Spec.Template.Metadata.Labels[kv.Key]));
        Assert.All(service.Spec.Selector, kv => Assert.Equal(kv.Value, stable.Spec.Template.Metadata.Labels[kv.Key]));
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

    private static V1Deployment BuildOci(string source, RegistrySecret? secret = null, ServingDefaults? defaults = null)
    {
        var model = Models.Cpu();
        model.Spec.Model.Source = source;
        model.Spec.Model.Sha256 = null;
        Assert.True(ModelSource.TryParse(source, null, out var parsed, out var error), error);
        return ServingWorkloadBuilder.BuildStable(model, ModelPinner.PinByDigest(parsed!)!, "1", defaults ?? Defaults, secret).Deployment;
    }

    [Fact]
    public void OciSourcesArePulledByGruServerFromThePinnedReferenceWithoutAnInitContainer()
    {
        const string hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        var deployment = BuildOci("oci://reg.example:5000/models/m@sha256:" + hex, defaults: Defaults with { PlainHttpRegistries = ["reg.example:5000"] });
        var pod = deployment.Spec.Template.Spec;
        var server = pod.Containers.Single();

        Assert.Null(pod.InitContainers);
        var args = server.Args.ToList();
        Assert.Equal("oci://reg.example:5000/models/m@sha256:" + hex, args[args.IndexOf("--model") + 1]);
        Assert.DoesNotContain("--model-sha256", args); // the manifest digest pins the layer; it is not the file's sha256
        Assert.Equal(ServingWorkloadBuilder.ModelCacheDirectory, args[args.IndexOf("--model-cache-dir") + 1]);
        Assert.Equal("reg.example:5000", args[args.IndexOf("--registry-plain-http") + 1]);
        var cache = server.VolumeMounts.Single(m => m.MountPath == ServingWorkloadBuilder.ModelCacheDirectory);
        Assert.NotNull(pod.Volumes.Single(v => v.Name == cache.Name).EmptyDir);
        Assert.Equal("oci://reg.example:5000/models/m@sha256:" + hex, deployment.Metadata.Annotations[Labels.ModelSourceAnnotation]);
        Assert.DoesNotContain("--registry-config", args);
        Assert.DoesNotContain(server.Env, e => e.Name.StartsWith("GRU_REGISTRY", StringComparison.Ordinal));
    }

    [Fact]
    public void RegistrySecretsReachGruServerAsItsFlagsExpect()
    {
        const string source = "oci://reg.example/models/m@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        var docker = BuildOci(source, new RegistrySecret("creds", RegistrySecretFormat.DockerConfigJson)).Spec.Template.Spec;
        var dockerArgs = docker.Containers.Single().Args.ToList();
        Assert.Equal(ServingWorkloadBuilder.RegistryConfigPath, dockerArgs[dockerArgs.IndexOf("--registry-config") + 1]);
        Assert.DoesNotContain("--registry-plain-http", dockerArgs);
        var mount = docker.Containers.Single().VolumeMounts.Single(m => m.MountPath == ServingWorkloadBuilder.RegistryConfigDirectory);
        Assert.True(mount.ReadOnlyProperty);
        var secretVolume = docker.Volumes.Single(v => v.Name == mount.Name).Secret;
        Assert.Equal(("creds", ".dockerconfigjson", "config.json"), (secretVolume.SecretName, secretVolume.Items.Single().Key, secretVolume.Items.Single().Path));

        var basic = BuildOci(source, new RegistrySecret("creds", RegistrySecretFormat.UsernamePassword)).Spec.Template.Spec.Containers.Single();
        Assert.DoesNotContain("--registry-config", basic.Args);
        Assert.Equal(("creds", "username"), (basic.Env.Single(e => e.Name == "GRU_REGISTRY_USERNAME").ValueFrom.SecretKeyRef.Name, basic.Env.Single(e => e.Name == "GRU_REGISTRY_USERNAME").ValueFrom.SecretKeyRef.Key));
        Assert.Equal("password", basic.Env.Single(e => e.Name == "GRU_REGISTRY_PASSWORD").ValueFrom.SecretKeyRef.Key);
        Assert.DoesNotContain(basic.Args, a => a.Contains("password", StringComparison.OrdinalIgnoreCase) && a != "--registry-password");
    }

    [Fact]
    public void AnOciTagNeverReachesADeployment()
    {
        var model = Models.Cpu();
        Assert.True(ModelSource.TryParse("oci://reg.example/models/m:1.0", null, out var tag, out _));

        var refused = Assert.Throws<InvalidOperationException>(() => ServingWorkloadBuilder.BuildStable(model, tag!, "1", Defaults));
        Assert.Contains("not pinned to a digest", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FileSourcesNeedNoFetcherWhileHttpsSourcesAreFetchedIntoTheSharedVolume()
    {
        Assert.Null(Build(Models.Cpu()).Deployment.Spec.Template.Spec.InitContainers);

        var pod = Build(Models.Gpu()).Deployment.Spec.Template.Spec;
        var fetcher = Assert.Single(pod.InitContainers);
        Assert.Equal(ServingWorkloadBuilder.FetcherContainer, fetcher.Name);
        // The gru-model image's own entrypoint, no shell: gru-model pull verifies the sha256 before the file is in place.
        Assert.Equal("registry.local/gru-model:1", fetcher.Image);
        Assert.Null(fetcher.Command);
        Assert.Equal(["pull", "https://models.example/g.onnx", "--sha256", Models.Sha, "--output", "/models/model.onnx"], fetcher.Args);
        Assert.Null(fetcher.Env);
        Assert.Equal(["/models", "/tmp"], fetcher.VolumeMounts.Select(m => m.MountPath));
        Assert.Null(fetcher.VolumeMounts[0].ReadOnlyProperty);
        Assert.Equal((true, true, false), (fetcher.SecurityContext.RunAsNonRoot, fetcher.SecurityContext.ReadOnlyRootFilesystem, fetcher.SecurityContext.AllowPrivilegeEscalation));
        Assert.Equal(["ALL"], fetcher.SecurityContext.Capabilities.Drop);
        Assert.Equal("FallbackToLogsOnError", fetcher.TerminationMessagePolicy);
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
        model.Spec.Serving.Sessions = new SessionsSpec { Mode = mode, IdleTimeout = "10m", MaxSessions = 500, DrainTimeout = "2m" };
        var (deployment, service) = Build(model);
        Assert.Equal(affinity, service.Spec.SessionAffinity);

        // The server keeps state only when told; Stateless writes no session flags at all.
        var args = deployment.Spec.Template.Spec.Containers.Single().Args;
        var expected = mode == SessionMode.Stateful
            ? new[] { "--sessions-mode", "Stateful", "--sessions-idle-timeout", "10m", "--max-sessions", "500", "--sequence-drain-timeout", "2m" }
            : [];
        Assert.Equal(expected, args.SkipWhile(a => a != "--sessions-mode").Take(8));
        // The kubelet waits for the sequence drain (2m), then in-flight requests (30s), plus 5s to exit; Stateless
        // needs only the shutdown delay (5s) before the 30s.
        Assert.Equal(mode == SessionMode.Stateful ? 120 + 30 + 5 : 5 + 30 + 5, deployment.Spec.Template.Spec.TerminationGracePeriodSeconds);
    }

    [Theory]
    [InlineData("0s", 5 + 30 + 5)]
    [InlineData("3s", 5 + 30 + 5)]
    [InlineData("30s", 30 + 30 + 5)]
    [InlineData("1m30s", 90 + 30 + 5)]
    public void A_Stateful_models_grace_period_covers_the_longer_of_the_shutdown_delay_and_the_sequence_drain(string drain, long grace)
    {
        var model = Models.Cpu();
        model.Spec.Serving.Sessions = new SessionsSpec { Mode = SessionMode.Stateful, DrainTimeout = drain };
        Assert.Equal(grace, Build(model).Deployment.Spec.Template.Spec.TerminationGracePeriodSeconds);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GrpcIsServedAndExposedOnlyWhenAsked(bool enabled)
    {
        var model = Models.Cpu();
        model.Spec.Serving.Grpc = enabled ? new GrpcSpec { Enabled = true } : null;
        var (deployment, service) = Build(model);
        var container = deployment.Spec.Template.Spec.Containers.Single();

        Assert.Equal(enabled, container.Args.Contains("--grpc-port"));
        if (enabled)
        {
            Assert.Equal("9000", container.Args[container.Args.IndexOf("--grpc-port") + 1]);
        }

        Assert.Equal(enabled ? ["http", "metrics", "grpc"] : new[] { "http", "metrics" }, container.Ports.Select(p => p.Name));
        Assert.Equal(enabled ? ["http", "metrics", "grpc"] : new[] { "http", "metrics" }, service.Spec.Ports.Select(p => p.Name));
        Assert.Equal(enabled ? "kubernetes.io/h2c" : null, service.Spec.Ports.SingleOrDefault(p => p.Name == "grpc")?.AppProtocol);
    }

    [Fact]
    public void ImageFromSpecWinsOverTheDefault()
    {
        var model = Models.Cpu();
        model.Spec.Serving.Image = "example.com/custom:2";
        Assert.Equal("example.com/custom:2", Build(model).Deployment.Spec.Template.Spec.Containers[0].Image);
    }

    public static TheoryData<string, Dictionary<string, string>?, Dictionary<string, string>?, string, string?> MemoryLimits => new()
    {
        { "nothing set: the default limit and a small request (a limit alone would be the request)", null, null, "4Gi", "256Mi" },
        { "the spec's limit wins", null, new() { ["memory"] = "1Gi" }, "1Gi", null },
        { "a request above the default raises the limit to it", new() { ["memory"] = "6Gi" }, null, "6Gi", "6Gi" },
        { "a request below keeps the default", new() { ["memory"] = "512Mi" }, new() { ["cpu"] = "2" }, "4Gi", "512Mi" },
    };

    [Theory]
    [MemberData(nameof(MemoryLimits))]
    public void EveryServerContainerHasAMemoryLimitAndEveryEmptyDirASizeLimit(string scenario, Dictionary<string, string>? requests, Dictionary<string, string>? limits, string expected, string? request)
    {
        var model = Models.Cpu();
        model.Spec.Serving!.Resources = new ResourcesSpec
        {
            Requests = requests?.ToDictionary(kv => kv.Key, kv => new ResourceQuantity(kv.Value)),
            Limits = limits?.ToDictionary(kv => kv.Key, kv => new ResourceQuantity(kv.Value)),
        };
        var oci = new ModelSource(ModelSourceKind.Oci, "oci://reg.example:5000/m@sha256:" + Models.Sha, "reg.example:5000/m@sha256:" + Models.Sha, Models.Sha);

        Assert.True(ModelSource.TryParse(model.Spec.Model.Source, model.Spec.Model.Sha256, out var file, out _));
        foreach (var source in new[] { file!, oci })
        {
            var pod = ServingWorkloadBuilder.BuildDeployment(model, source, "1", "stable", Defaults).Spec.Template.Spec;
            Assert.True(expected == pod.Containers[0].Resources.Limits["memory"].ToString(), scenario);
            Assert.True(request == (pod.Containers[0].Resources.Requests is { } asked && asked.TryGetValue("memory", out var memory) ? memory.ToString() : null), scenario);
            Assert.All(pod.Volumes.Where(v => v.EmptyDir is not null), v => Assert.NotNull(v.EmptyDir.SizeLimit));
        }
    }
}

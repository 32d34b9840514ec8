using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using GruOperator.Api;
using GruOperator.Domain.Conditions;
using GruOperator.Integrity;
using GruOperator.ModelResolution;
using GruOperator.Serving;
using GruOperator.Tests.RealCluster;
using GruOperator.Tests.Support;
using GruRegistry.Distribution;
using GruRegistry.Models;
using GruRegistry.References;
using GruServing.Contract.Serving;
using k8s;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using TestSupport;

namespace GruOperator.Tests.Integration;

/// <summary>
/// Tag pinning and served-model verification against the real registry (docker-registry) and real GruServer processes
/// playing the pods on 127.0.0.N addresses, on both API server lanes.
/// </summary>
public abstract class ModelIntegrityTests
{
    private protected abstract Task<OperatorHarness> StartHarnessAsync(bool autoReadyPods = true);

    [Fact]
    public async Task ATagIsPinnedToItsDigestAMovedTagChangesNothingUntilReResolve()
    {
        await using var registry = await RegistryProcess.StartAnonymousAsync(CancellationToken.None);
        using var clients = new RegistryClients(registry.Host);
        var first = await clients.PushAsync(await GruTestModels.WriteAsync(GruTestModels.Small with { Seed = 11 }), $"oci://{registry.Host}/models/recs:1.0");
        await using var harness = await StartHarnessAsync();
        await harness.StartOperatorAsync(verifyServedModels: true, extraArgs: ["--registry-plain-http", registry.Host]);
        await harness.CreateAsync(OciModel("recs", harness.Namespace, $"oci://{registry.Host}/models/recs:1.0", "2s", MismatchAction.Alert));

        var deployment = await harness.WaitForDeploymentAsync(harness.Namespace, "recs-stable", _ => true, "the stable Deployment");
        var pinned = $"oci://{registry.Host}/models/recs@{first.ManifestDigest}";
        Assert.Equal(pinned, ModelArg(deployment));
        Assert.DoesNotContain(":1.0", KubernetesJson.Serialize(deployment.Spec), StringComparison.Ordinal); // no Deployment names a tag
        Assert.Null(deployment.Spec.Template.Spec.InitContainers);
        var resolved = await harness.WaitForStatusAsync(harness.Namespace, "recs",
            m => m.Status!.Stable?.ModelDigest == first.ManifestDigest.ToString() && Reason(m, ConditionTypes.ModelResolved) == ModelResolutionReasons.Resolved, "the tag pinned in status");
        Assert.Equal((pinned, first.LayerDigest.ToString()), (resolved.Status!.ResolvedModel!.Reference, resolved.Status.ResolvedModel.LayerDigest));
        Assert.Equal(pinned, resolved.Status.Stable!.ModelSource);

        // The tag moves: reported, but nothing served changes.
        var second = await clients.PushAsync(await GruTestModels.WriteAsync(GruTestModels.Small with { Seed = 12 }), $"oci://{registry.Host}/models/recs:1.0");
        var moved = await harness.WaitForStatusAsync(harness.Namespace, "recs",
            m => Reason(m, ConditionTypes.ModelResolved) == ModelResolutionReasons.TagMoved, "TagMoved after the tag moved");
        Assert.Equal(second.ManifestDigest.ToString(), moved.Status!.ResolvedModel!.TagDigest);
        Assert.Equal(first.ManifestDigest.ToString(), moved.Status.Stable!.ModelDigest);
        Assert.Equal(pinned, ModelArg((await harness.DeploymentAsync(harness.Namespace, "recs-stable"))!));
        Assert.Contains(await harness.EventsAsync(harness.Namespace, "recs"), e => e.Reason == ModelResolutionReasons.TagMoved && e.Message.Contains(second.ManifestDigest.ToString(), StringComparison.Ordinal));

        // re-resolve moves the pin to where the tag points now, and the annotation is acknowledged (removed).
        await harness.Client.CustomObjects.PatchNamespacedCustomObjectAsync<GruModel>(
            new V1Patch(KubernetesJson.Serialize(new { metadata = new { annotations = new Dictionary<string, string> { [ModelPinner.ActionAnnotation] = ModelPinner.ReResolveAction } } }), V1Patch.PatchType.MergePatch),
            GruModel.Group, GruModel.Version, harness.Namespace, GruModel.Plural, "recs");
        // A moved pin is a model change: it reaches users through a canary (revision 2), stable keeps the old digest.
        var canary = await harness.WaitForDeploymentAsync(harness.Namespace, "recs-canary",
            d => ModelArg(d) == $"oci://{registry.Host}/models/recs@{second.ManifestDigest}", "the canary Deployment on the re-resolved digest");
        Assert.Equal("2", canary.Metadata.Labels[Labels.Revision]);
        var after = await harness.WaitForStatusAsync(harness.Namespace, "recs",
            m => m.Status!.Canary?.ModelDigest == second.ManifestDigest.ToString() && m.Metadata.Annotations?.ContainsKey(ModelPinner.ActionAnnotation) != true
                 && Reason(m, ConditionTypes.ModelResolved) == ModelResolutionReasons.Resolved, "status: canary on the new digest, annotation removed");
        Assert.Equal(first.ManifestDigest.ToString(), after.Status!.Stable!.ModelDigest);
        Assert.Equal(pinned, ModelArg((await harness.DeploymentAsync(harness.Namespace, "recs-stable"))!));
        Assert.Null(after.Status!.ResolvedModel!.TagDigest);
        Assert.Contains(await harness.EventsAsync(harness.Namespace, "recs"), e => e.Reason == ModelResolutionReasons.ReResolved);
    }

    [Fact]
    public async Task TheRegistrySecretPinsAPrivateTagAndReachesThePodsAsGruServerExpects()
    {
        await using var registry = await RegistryProcess.StartWithBasicAuthAsync(new Dictionary<string, string> { ["puller"] = "s3cret" }, CancellationToken.None);
        using var clients = new RegistryClients(registry.Host, RegistryCredentials.For(registry.Host, "puller", "s3cret"));
        var pushed = await clients.PushAsync(await GruTestModels.WriteAsync(GruTestModels.Small with { Seed = 31 }), $"oci://{registry.Host}/models/private:1.0");
        await using var harness = await StartHarnessAsync();
        await harness.StartOperatorAsync(verifyServedModels: true, extraArgs: ["--registry-plain-http", registry.Host]);

        // No Secret yet: refused with the fix named, nothing deployed.
        var model = OciModel("private", harness.Namespace, $"oci://{registry.Host}/models/private:1.0", "2s", MismatchAction.Alert);
        model.Spec.Model.RegistrySecretRef = new LocalObjectReference { Name = "pull-creds" };
        await harness.CreateAsync(model);
        var refused = await harness.WaitForStatusAsync(harness.Namespace, "private",
            m => Reason(m, ConditionTypes.ModelResolved) == ModelResolutionReasons.RegistrySecretInvalid, "RegistrySecretInvalid");
        Assert.Contains("pull-creds does not exist", refused.Status!.Message, StringComparison.Ordinal);
        Assert.Null(await harness.DeploymentAsync(harness.Namespace, "private-stable"));

        // The Secret appears (Secrets are not watched: the backoff retry finds it) and the tag is pinned with it.
        await harness.Client.CoreV1.CreateNamespacedSecretAsync(new V1Secret
        {
            Metadata = new V1ObjectMeta { Name = "pull-creds", Labels = new Dictionary<string, string> { [RegistrySecret.OptInLabel] = "true" } },
            StringData = new Dictionary<string, string> { ["username"] = "puller", ["password"] = "s3cret", ["registry"] = registry.Host },
        }, harness.Namespace);
        var deployment = await harness.WaitForDeploymentAsync(harness.Namespace, "private-stable", _ => true, "the Deployment once the Secret exists");
        Assert.Equal($"oci://{registry.Host}/models/private@{pushed.ManifestDigest}", ModelArg(deployment));
        var server = deployment.Spec.Template.Spec.Containers.Single(c => c.Name == ServingWorkloadBuilder.ServerContainer);
        Assert.Equal(("pull-creds", "password"), (server.Env.Single(e => e.Name == "GRU_REGISTRY_PASSWORD").ValueFrom.SecretKeyRef.Name, server.Env.Single(e => e.Name == "GRU_REGISTRY_PASSWORD").ValueFrom.SecretKeyRef.Key));
        Assert.DoesNotContain(server.Args, a => a.Contains("s3cret", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnUnreachableRegistryIsReportedAndRetriedWhileNothingIsDeployedFromAGuess()
    {
        var port = FreePort.Next(); // nothing listens: connection refused, as for a registry that is down
        await using var harness = await StartHarnessAsync();
        await harness.StartOperatorAsync(verifyServedModels: true, extraArgs: ["--registry-plain-http", $"127.0.0.1:{port}"]);
        await harness.CreateAsync(OciModel("down", harness.Namespace, $"oci://127.0.0.1:{port}/models/recs:1.0", "2s", MismatchAction.Alert));

        var refused = await harness.WaitForStatusAsync(harness.Namespace, "down",
            m => Reason(m, ConditionTypes.ModelResolved) == ModelResolutionReasons.RegistryUnreachable, "RegistryUnreachable");
        Assert.Equal(Condition.False, ConditionSet.Find(refused.Status!.Conditions, ConditionTypes.ModelResolved)!.Status);
        Assert.Contains($"127.0.0.1:{port}", refused.Status.Message, StringComparison.Ordinal);
        Assert.Null(await harness.DeploymentAsync(harness.Namespace, "down-stable"));
        Assert.Contains(await harness.EventsAsync(harness.Namespace, "down"), e => e.Reason == ModelResolutionReasons.RegistryUnreachable && e.Type == "Warning");
    }

    [Fact]
    public async Task APodServingAnotherModelIsFoundWithinOneVerifyIntervalAndRolledBack()
    {
        var interval = TimeSpan.FromSeconds(3);
        await using var registry = await RegistryProcess.StartAnonymousAsync(CancellationToken.None);
        using var clients = new RegistryClients(registry.Host);
        var pushed = await clients.PushAsync(await GruTestModels.WriteAsync(GruTestModels.Small with { Seed = 21 }), $"oci://{registry.Host}/models/recs:1.0");
        var other = await GruTestModels.WriteAsync(GruTestModels.Small with { Seed = 22 });
        await using var harness = await StartHarnessAsync(autoReadyPods: false);
        var app = await harness.StartOperatorAsync(verifyServedModels: true, extraArgs: ["--registry-plain-http", registry.Host]);
        using var mismatches = new GaugeReader("gru_operator_served_model_mismatches");
        await harness.CreateAsync(OciModel("recs", harness.Namespace, $"oci://{registry.Host}/models/recs:1.0", "3s", MismatchAction.Alert));

        var deployment = await harness.WaitForDeploymentAsync(harness.Namespace, "recs-stable", _ => true, "the stable Deployment");
        var pod = await harness.FirstPodAsync("recs");
        var address = PodAddress.Next();
        var cache = Path.Combine(Path.GetTempPath(), "gru-integrity-cache", Guid.NewGuid().ToString("N"));
        // The pod's server: GruServer pulling the reference the operator put in the Deployment, from the real registry.
        var right = await GruServerProcess.StartAsync(new GruServerStartOptions
        {
            ModelPath = ModelArg(deployment), ModelName = "recs", Host = address, Port = ServingWorkloadBuilder.HttpPort,
            ExtraArguments = ["--model-cache-dir", cache, "--registry-plain-http", registry.Host],
        });
        using (var http = new HttpClient { BaseAddress = right.BaseUrl })
        {
            // The pod's own answer, before the operator asks: the layer digest of what was pushed.
            Assert.Equal(pushed.LayerDigest.ToString(), await ServedDigestAsync(http));
        }
        await harness.Pods.MarkReadyAtAsync(harness.Namespace, pod.Metadata.Name, address);
        var verified = await harness.WaitForStatusAsync(harness.Namespace, "recs", m => Reason(m, ConditionTypes.ModelVerified) == IntegrityReasons.DigestsMatch, "ModelVerified=True");
        Assert.Equal((1, 0, 0), (verified.Status!.ServedModels!.Verified, verified.Status.ServedModels.Mismatched, verified.Status.ServedModels.Unverified));
        Assert.Equal(Condition.True, ConditionSet.Find(verified.Status.Conditions, ConditionTypes.ModelVerified)!.Status);

        // Behind the same pod IP, another model starts to serve (a stale node file, a hand-swapped binary): no pod event
        // announces it, only the periodic check can find it.
        await right.DisposeAsync();
        await using var wrong = await GruServerProcess.StartAsync(new GruServerStartOptions
        {
            ModelPath = other.Path, ModelName = "recs", Host = address, Port = ServingWorkloadBuilder.HttpPort,
        });
        var serving = Stopwatch.StartNew();
        var found = await harness.WaitForStatusAsync(harness.Namespace, "recs",
            m => ConditionSet.Find(m.Status!.Conditions, ConditionTypes.ModelVerified)?.Status == Condition.False, "ModelVerified=False");
        var elapsed = serving.Elapsed;
        Console.WriteLine($"[{harness.Lane}] wrong model serving -> ModelVerified=False in {elapsed.TotalSeconds:0.0}s (verifyInterval {interval.TotalSeconds:0}s)");

        var condition = ConditionSet.Find(found.Status!.Conditions, ConditionTypes.ModelVerified)!;
        Assert.Equal(IntegrityReasons.DigestMismatch, condition.Reason);
        Assert.Contains(pod.Metadata.Name, condition.Message, StringComparison.Ordinal);
        Assert.Contains("sha256:" + other.Sha256[..12], condition.Message, StringComparison.Ordinal);
        Assert.Equal(ModelPhase.Degraded, found.Status.Phase);
        Assert.Equal(1, found.Status.ServedModels!.Mismatched);
        var events = await harness.EventsAsync(harness.Namespace, "recs");
        Assert.Contains(events, e => e.Reason == IntegrityReasons.DigestMismatch && e.Type == "Warning" && e.Message.Contains(pod.Metadata.Name, StringComparison.Ordinal));
        Assert.Equal(1, mismatches.Value(harness.Namespace, "recs"));

        // Alert only reports; onMismatch Rollback deletes the offending pod so its ReplicaSet recreates it from the pinned model.
        Assert.Contains((await harness.Client.CoreV1.ListNamespacedPodAsync(harness.Namespace)).Items, p => p.Metadata.Uid == pod.Metadata.Uid && p.Metadata.DeletionTimestamp is null);
        await harness.PatchSpecAsync(harness.Namespace, "recs", new { integrity = new { onMismatch = "Rollback" } });
        await Poll.UntilAsync<IReadOnlyList<Corev1Event>>(async () => await harness.EventsAsync(harness.Namespace, "recs"),
            e => e.Any(x => x.Reason == IntegrityReasons.MismatchedPodDeleted && x.Message.Contains(pod.Metadata.Name, StringComparison.Ordinal)), OperatorHarness.Timeout, "the pod deleted");
        await Poll.UntilAsync<IList<V1Pod>>(async () => (await harness.Client.CoreV1.ListNamespacedPodAsync(harness.Namespace)).Items,
            pods => pods.All(p => p.Metadata.Uid != pod.Metadata.Uid || p.Metadata.DeletionTimestamp is not null), OperatorHarness.Timeout, "the mismatched pod gone");
        // Its replacement has no ready server yet: the mismatch stays on record until a check verifies every ready pod.
        var after = await harness.GetAsync(harness.Namespace, "recs");
        Assert.Equal(Condition.False, ConditionSet.Find(after!.Status!.Conditions, ConditionTypes.ModelVerified)!.Status);
        Assert.NotNull(app);
    }

    private static GruModel OciModel(string name, string ns, string source, string verifyInterval, MismatchAction onMismatch) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
        Spec = new GruModelSpec
        {
            Model = new ModelSpec { Name = name, Source = source },
            Serving = new ServingSpec { Replicas = 1, ExecutionProvider = ExecutionProvider.CPU },
            Integrity = new IntegritySpec { VerifyInterval = verifyInterval, OnMismatch = onMismatch },
        },
    };

    private static async Task<string?> ServedDigestAsync(HttpClient http) =>
        System.Text.Json.JsonDocument.Parse(await http.GetStringAsync("v2/models/recs")).RootElement.GetProperty("parameters").GetProperty("digest").GetString();

    private static string? Reason(GruModel model, string type) => ConditionSet.Find(model.Status?.Conditions, type)?.Reason;

    private static string ModelArg(V1Deployment deployment)
    {
        var args = deployment.Spec.Template.Spec.Containers.Single(c => c.Name == ServingWorkloadBuilder.ServerContainer).Args.ToList();
        return args[args.IndexOf(ServerFlags.Model) + 1];
    }

    /// <summary>Registry clients wired as in the operator, pushing models the way gru-model does.</summary>
    private sealed class RegistryClients(string plainHttpHost, RegistryCredentials? credentials = null) : IDisposable
    {
        private readonly ServiceProvider _services = new ServiceCollection().AddLogging()
            .AddRegistryClient(o => o.PlainHttpRegistries.Add(plainHttpHost)).BuildServiceProvider();

        public Task<PushedModel> PushAsync(GruModelFile model, string reference) =>
            new ModelArtifactClient(_services.GetRequiredService<DistributionClientFactory>().Create(credentials ?? RegistryCredentials.Anonymous)).PushAsync(
                model.Path,
                new ModelConfig("recs", "gru-operator-tests",
                    [new TensorSignature("input", "FP32", [-1, -1, model.Spec.InputSize])],
                    [new TensorSignature("output", "FP32", [-1, model.Spec.DenseOutputs])],
                    new GruShape(model.Spec.InputSize, model.Spec.HiddenSize, model.Spec.Layers, "Forward", false)),
                OciReference.Parse(reference), mountFrom: null, progress: null, CancellationToken.None);

        public void Dispose() => _services.Dispose();
    }

    /// <summary>A 127.0.0.N address whose port 8080 is free: where a test runs one pod's server.</summary>
    private static class PodAddress
    {
        public static string Next()
        {
            for (var attempt = 0; attempt < 50; attempt++)
            {
                var address = $"127.0.0.{Random.Shared.Next(20, 250)}";
                try
                {
                    using var probe = new TcpListener(IPAddress.Parse(address), ServingWorkloadBuilder.HttpPort);
                    probe.Start();
                    return address;
                }
                catch (SocketException)
                {
                    // taken by another test's pod: try another address
                }
            }
            throw new InvalidOperationException($"no 127.0.0.N address with port {ServingWorkloadBuilder.HttpPort} free");
        }
    }

    /// <summary>Reads an observable gauge the way an exporter does, through a MeterListener.</summary>
    private sealed class GaugeReader : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly Dictionary<(string, string), int> _values = [];

        public GaugeReader(string instrument)
        {
            _listener.InstrumentPublished = (i, l) =>
            {
                if (i.Name == instrument) l.EnableMeasurementEvents(i);
            };
            _listener.SetMeasurementEventCallback<int>((_, value, tags, _) =>
            {
                string ns = "", model = "";
                foreach (var tag in tags)
                {
                    if (tag.Key == "namespace") ns = (string)tag.Value!;
                    if (tag.Key == "model") model = (string)tag.Value!;
                }
                lock (_values) _values[(ns, model)] = value;
            });
            _listener.Start();
        }

        public int? Value(string ns, string model)
        {
            _listener.RecordObservableInstruments();
            lock (_values) return _values.TryGetValue((ns, model), out var v) ? v : null;
        }

        public void Dispose() => _listener.Dispose();
    }
}

/// <summary>The integrity tests on LocalCluster.</summary>
[Collection(IntegrationCollection.Name)]
public sealed class ModelIntegrityOnLocalClusterTests : ModelIntegrityTests
{
    private protected override Task<OperatorHarness> StartHarnessAsync(bool autoReadyPods = true) => OperatorHarness.StartAsync(autoReadyPods);
}

/// <summary>The integrity tests on a real kube-apiserver with kube-controller-manager.</summary>
[Collection(KubeApiServerCollection.Name)]
public sealed class ModelIntegrityOnKubeApiServerTests(KubeApiServerFixture cluster) : ModelIntegrityTests
{
    private protected override Task<OperatorHarness> StartHarnessAsync(bool autoReadyPods = true) => OperatorHarness.OnKubeApiServerAsync(cluster, autoReadyPods);
}

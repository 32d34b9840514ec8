using GruOperator.Api;
using GruOperator.Domain.Conditions;
using GruOperator.ModelResolution;
using GruOperator.Serving;
using GruOperator.Tests.Integration;
using GruOperator.Tests.RealCluster;
using GruOperator.Tests.Support;
using k8s;
using k8s.Models;
using Microsoft.AspNetCore.Http;
using TestSupport;

namespace GruOperator.Tests.Tenancy;

/// <summary>
/// Hostile-tenant suite, the operator's routes: a GruModel author in one namespace aims each field the operator acts on
/// (spec.prometheus.address, spec.model.source with registrySecretRef, spec.serving.image) at capture servers on
/// 127.0.0.1. They get no credential and a clear refusal naming the bound. Every test runs on both lanes (LocalCluster
/// and the real kube-apiserver).
/// </summary>
public abstract class HostileTenantTests
{
    private const string OperatorToken = "the-operators-prometheus-token";

    private protected abstract Task<OperatorHarness> StartHarnessAsync(bool autoReadyPods = true);

    [Fact]
    public async Task APrometheusAddressOutsideTheAllowedListIsRefusedAndGetsNoCredential()
    {
        await using var capture = await CaptureServer.StartAsync(context => context.Response.WriteAsync("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}"));
        await using var allowed = await CaptureServer.StartAsync(context => context.Response.WriteAsync("{}"));
        await using var harness = await StartHarnessAsync();
        await harness.StartOperatorAsync(
            extraArgs: ["--prometheus-address", "http://127.0.0.1:9/", "--prometheus-allowed-addresses", allowed.Address.ToString()],
            overrides: new Dictionary<string, string?> { ["Prometheus:BearerToken"] = OperatorToken });

        var hostile = Canary("stealer", harness.Namespace);
        hostile.Spec.Prometheus = new PrometheusSpec { Address = capture.Address.ToString() };
        var fine = Canary("fine", harness.Namespace);
        fine.Spec.Prometheus = new PrometheusSpec { Address = new Uri(allowed.Address, "prom").ToString() };
        await harness.CreateAsync(hostile);
        await harness.CreateAsync(fine);

        var refused = await harness.WaitForStatusAsync(harness.Namespace, "stealer", m => m.Status!.Phase == ModelPhase.Failed, "InvalidSpec");
        Assert.Contains($"spec.prometheus.address '{capture.Address}' is not a Prometheus the operator may send its credentials to", refused.Status!.Message, StringComparison.Ordinal);
        Assert.Contains("http://127.0.0.1:9", refused.Status.Message, StringComparison.Ordinal); // the allowed list is named
        Assert.Contains(allowed.Address.ToString().TrimEnd('/'), refused.Status.Message, StringComparison.Ordinal);
        Assert.Null(await harness.DeploymentAsync(harness.Namespace, "stealer-stable"));
        await harness.WaitForDeploymentAsync(harness.Namespace, "fine-stable", _ => true, "the model on an allowed Prometheus");
        Assert.Empty(capture.Requests);
    }

    [Fact]
    public async Task ARegistryPasswordIsNeverSentToAnotherHostAndTheMismatchIsNamed()
    {
        await using var capture = await CaptureServer.StartAsync(BasicChallenge);
        await using var harness = await StartHarnessAsync();
        await harness.StartOperatorAsync(extraArgs: ["--registry-plain-http", capture.Host]);
        await CreateSecretAsync(harness, "creds", optIn: true, new() { ["username"] = "puller", ["password"] = "s3cret", ["registry"] = "registry.internal:5000" });

        await harness.CreateAsync(Oci("pull", harness.Namespace, $"oci://{capture.Host}/models/recs:1.0", "creds"));

        var refused = await harness.WaitForStatusAsync(harness.Namespace, "pull",
            m => Reason(m, ConditionTypes.ModelResolved) == ModelResolutionReasons.RegistrySecretInvalid, "RegistrySecretInvalid");
        Assert.Contains($"holds credentials for registry registry.internal:5000, not {capture.Host}", refused.Status!.Message, StringComparison.Ordinal);
        Assert.Empty(capture.Credentials);
        Assert.Null(await harness.DeploymentAsync(harness.Namespace, "pull-stable"));
    }

    [Fact]
    public async Task ASecretWithoutTheOptInLabelOrWithoutItsRegistryIsNotUsed()
    {
        await using var capture = await CaptureServer.StartAsync(BasicChallenge);
        await using var harness = await StartHarnessAsync();
        await harness.StartOperatorAsync(extraArgs: ["--registry-plain-http", capture.Host]);
        await CreateSecretAsync(harness, "unlabelled", optIn: false, new() { ["username"] = "puller", ["password"] = "s3cret", ["registry"] = capture.Host });
        await CreateSecretAsync(harness, "unstated", optIn: true, new() { ["username"] = "puller", ["password"] = "s3cret" });

        await harness.CreateAsync(Oci("a", harness.Namespace, $"oci://{capture.Host}/models/recs:1.0", "unlabelled"));
        await harness.CreateAsync(Oci("b", harness.Namespace, $"oci://{capture.Host}/models/recs:1.0", "unstated"));

        var a = await harness.WaitForStatusAsync(harness.Namespace, "a", m => Reason(m, ConditionTypes.ModelResolved) == ModelResolutionReasons.RegistrySecretInvalid, "a refused");
        var b = await harness.WaitForStatusAsync(harness.Namespace, "b", m => Reason(m, ConditionTypes.ModelResolved) == ModelResolutionReasons.RegistrySecretInvalid, "b refused");
        Assert.Contains($"is not labelled {RegistrySecret.OptInLabel}=true", a.Status!.Message, StringComparison.Ordinal);
        Assert.Contains($"has no key registry naming the registry its password is for: add it (e.g. registry={capture.Host})", b.Status!.Message, StringComparison.Ordinal);
        Assert.Empty(capture.Credentials);
    }

    [Fact]
    public async Task AHostileRegistrysErrorTextNeverReachesStatus()
    {
        await using var capture = await CaptureServer.StartAsync(async context =>
        {
            context.Response.StatusCode = 400;
            await context.Response.WriteAsync("{\"errors\":[{\"code\":\"DENIED\",\"message\":\"<ssrf-reply from an internal service>\"},{\"code\":\"<not-a-code>\"}]}");
        });
        await using var harness = await StartHarnessAsync();
        await harness.StartOperatorAsync(extraArgs: ["--registry-plain-http", capture.Host]);

        await harness.CreateAsync(Oci("echo", harness.Namespace, $"oci://{capture.Host}/models/recs:1.0", secret: null));

        var refused = await harness.WaitForStatusAsync(harness.Namespace, "echo",
            m => Reason(m, ConditionTypes.ModelResolved) == ModelResolutionReasons.RegistryError, "RegistryError");
        Assert.Contains("unexpected answer 400 BadRequest DENIED", refused.Status!.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("ssrf-reply", refused.Status.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("not-a-code", refused.Status.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ImagesOutsideTheAllowedPrefixesAreRefusedAndPodsAreBounded()
    {
        await using var harness = await StartHarnessAsync();
        await harness.StartOperatorAsync(extraArgs: ["--allowed-image-prefixes", "test.local/,registry.internal/gru/", "--default-memory-limit", "3Gi"]);
        var hostile = Models.Cpu("miner", harness.Namespace);
        hostile.Spec.Serving!.Image = "docker.io/attacker/miner:latest";
        await harness.CreateAsync(hostile);
        await harness.CreateAsync(Models.Cpu("plain", harness.Namespace));

        var refused = await harness.WaitForStatusAsync(harness.Namespace, "miner", m => m.Status!.Phase == ModelPhase.Failed, "InvalidSpec");
        Assert.Contains("spec.serving.image 'docker.io/attacker/miner:latest' is not allowed here: images must start with one of test.local/, registry.internal/gru/",
            refused.Status!.Message, StringComparison.Ordinal);
        Assert.Null(await harness.DeploymentAsync(harness.Namespace, "miner-stable"));

        // The default image is the admin's; the pod it makes has a memory limit and bounded emptyDirs (accepted by the API server).
        var deployment = await harness.WaitForDeploymentAsync(harness.Namespace, "plain-stable", _ => true, "the model on the default image");
        var pod = deployment.Spec.Template.Spec;
        Assert.Equal("3Gi", pod.Containers.Single(c => c.Name == ServingWorkloadBuilder.ServerContainer).Resources.Limits["memory"].ToString());
        Assert.All(pod.Volumes.Where(v => v.EmptyDir is not null), v => Assert.NotNull(v.EmptyDir.SizeLimit));
    }

    [Fact]
    public async Task APresignedQueryAndUserInfoAreNeverCopiedIntoAnnotationsEnvOrStatus()
    {
        const string signature = "X-Amz-Signature=f00dfacecafe";
        await using var harness = await StartHarnessAsync();
        await harness.StartOperatorAsync();
        var presigned = Models.Cpu("presigned", harness.Namespace);
        presigned.Spec.Model.Source = $"https://models.example/m.onnx?X-Amz-Expires=600&{signature}";
        var userInfo = Models.Cpu("userinfo", harness.Namespace);
        userInfo.Spec.Model.Source = "https://puller:hunter2@models.example/m.onnx";
        await harness.CreateAsync(presigned);
        await harness.CreateAsync(userInfo);

        var refused = await harness.WaitForStatusAsync(harness.Namespace, "userinfo", m => m.Status!.Phase == ModelPhase.Failed, "InvalidSpec");
        Assert.True(refused.Status!.Message!.Contains("spec.model.source 'https://models.example/m.onnx' carries user:password@", StringComparison.Ordinal), refused.Status.Message);
        Assert.DoesNotContain("hunter2", KubernetesJson.Serialize(refused.Status), StringComparison.Ordinal);
        Assert.DoesNotContain(await harness.EventsAsync(harness.Namespace, "userinfo"), e => e.Message.Contains("hunter2", StringComparison.Ordinal));

        var deployment = await harness.WaitForDeploymentAsync(harness.Namespace, "presigned-stable", _ => true, "the presigned model's Deployment");
        var healthy = await harness.WaitForStatusAsync(harness.Namespace, "presigned", m => m.Status!.Stable?.ModelSource is not null, "status naming the source");
        Assert.Equal("https://models.example/m.onnx?…", deployment.Metadata.Annotations[Labels.ModelSourceAnnotation]);
        var server = deployment.Spec.Template.Spec.Containers.Single(c => c.Name == ServingWorkloadBuilder.ServerContainer);
        Assert.DoesNotContain(server.Env, e => e.Value?.Contains(signature, StringComparison.Ordinal) == true);
        Assert.DoesNotContain(signature, KubernetesJson.Serialize(healthy.Status), StringComparison.Ordinal);
        Assert.DoesNotContain(await harness.EventsAsync(harness.Namespace, "presigned"), e => e.Message.Contains(signature, StringComparison.Ordinal));
    }

    private static Task BasicChallenge(HttpContext context)
    {
        context.Response.StatusCode = 401;
        context.Response.Headers.WWWAuthenticate = "Basic realm=\"capture\"";
        return Task.CompletedTask;
    }

    private static Task CreateSecretAsync(OperatorHarness harness, string name, bool optIn, Dictionary<string, string> data) =>
        harness.Client.CoreV1.CreateNamespacedSecretAsync(new V1Secret
        {
            Metadata = new V1ObjectMeta
            {
                Name = name,
                Labels = optIn ? new Dictionary<string, string> { [RegistrySecret.OptInLabel] = "true" } : null,
            },
            StringData = data,
        }, harness.Namespace);

    private static GruModel Canary(string name, string ns)
    {
        var model = Models.Cpu(name, ns);
        model.Spec.Rollout = new RolloutSpec { Strategy = RolloutStrategy.Canary };
        return model;
    }

    private static GruModel Oci(string name, string ns, string source, string? secret) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
        Spec = new GruModelSpec
        {
            Model = new ModelSpec { Name = name, Source = source, RegistrySecretRef = secret is null ? null : new LocalObjectReference { Name = secret } },
            Serving = new ServingSpec { Replicas = 1, ExecutionProvider = GruServing.Contract.Serving.ExecutionProvider.CPU },
        },
    };

    private static string? Reason(GruModel model, string type) => ConditionSet.Find(model.Status?.Conditions, type)?.Reason;
}

/// <summary>The hostile-tenant suite on LocalCluster.</summary>
[Collection(IntegrationCollection.Name)]
public sealed class HostileTenantOnLocalClusterTests : HostileTenantTests
{
    private protected override Task<OperatorHarness> StartHarnessAsync(bool autoReadyPods = true) => OperatorHarness.StartAsync(autoReadyPods);
}

/// <summary>The hostile-tenant suite on a real kube-apiserver with kube-controller-manager.</summary>
[Collection(KubeApiServerCollection.Name)]
public sealed class HostileTenantOnKubeApiServerTests(KubeApiServerFixture cluster) : HostileTenantTests
{
    private protected override Task<OperatorHarness> StartHarnessAsync(bool autoReadyPods = true) => OperatorHarness.OnKubeApiServerAsync(cluster, autoReadyPods);
}

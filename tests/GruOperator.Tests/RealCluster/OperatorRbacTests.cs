using System.Text.Json;
using GruOperator.Api;
using GruOperator.Domain.Conditions;
using GruOperator.Hosting;
using GruOperator.Reconciliation;
using GruOperator.Serving;
using GruOperator.Tests.Integration;
using GruOperator.Tests.Support;
using k8s;
using k8s.Models;
using TestSupport.ControlPlane;

namespace GruOperator.Tests.RealCluster;

/// <summary>
/// The operator as installed by config/default: its own ServiceAccount's token (TokenRequest), bound only by
/// config/rbac, watching every namespace with leader election in gru-system. It must reconcile every sample and clean up
/// after them without one 403, which the API server's audit log proves.
/// </summary>
[Collection(KubeApiServerCollection.Name)]
public sealed class OperatorRbacTests(KubeApiServerFixture cluster)
{
    private const string ServiceAccountUser = "system:serviceaccount:gru-system:gru-operator";

    [Fact]
    public async Task UnderItsOwnServiceAccountTheOperatorServesEverySampleAndCleansUpWithoutAForbidden()
    {
        var token = await cluster.Client.CoreV1.CreateNamespacedServiceAccountTokenAsync(
            new Authenticationv1TokenRequest { Spec = new V1TokenRequestSpec { ExpirationSeconds = 3600 } }, "gru-operator", "gru-system");
        using var asOperator = new Kubernetes(cluster.ControlPlane.ConfigurationFor(token.Status.Token));
        var review = await asOperator.AuthenticationV1.CreateSelfSubjectReviewAsync(new V1SelfSubjectReview());
        Assert.Equal(ServiceAccountUser, review.Status.UserInfo.Username);

        var samples = Directory.GetFiles(RepositoryRoot.Combine("config", "samples"), "*.yaml").Order().ToList();
        var models = samples.Select(Models.Load).ToList();
        foreach (var sample in samples)
        {
            var applied = await cluster.Kubectl.RunAsync(["apply", "-f", sample]);
            Assert.True(applied.ExitCode == 0, $"{Path.GetFileName(sample)} does not install on a fresh cluster:\n{applied}");
        }

        using var kubelet = new CancellationTokenSource();
        var pods = new PodStatusWriter(cluster.Client);
        var kubelets = models.Select(m => m.Metadata.NamespaceProperty).Distinct().Select(ns => Task.Run(() => pods.MarkAllReadyAsync(ns, kubelet.Token))).ToList();
        var app = OperatorHost.Build(
        [
            "--metrics-port", "0", "--health-port", "0", "--bind-address", "127.0.0.1", "--server-image", OperatorHarness.ServerImage,
            "--leader-elect", "true", "--identity", "rbac-op", "--lease-namespace", "gru-system",
        ],
        cluster.ControlPlane.ConfigurationFor(token.Status.Token),
        new Dictionary<string, string?> { ["Logging:LogLevel:Default"] = Environment.GetEnvironmentVariable("GRU_TEST_LOG_LEVEL") ?? "Warning" });
        await app.StartAsync();
        try
        {
            foreach (var model in models)
            {
                var (ns, name) = (model.Metadata.NamespaceProperty, model.Metadata.Name);
                await Poll.UntilAsync(() => Get(ns, name), m => m.Status?.Phase == ModelPhase.Healthy && m.Metadata.Finalizers?.Contains(WorkloadFinalizer.Name) == true,
                    OperatorHarness.Timeout, $"sample {ns}/{name} Healthy with its finalizer");
                Assert.NotNull(await cluster.Client.AppsV1.ReadNamespacedDeploymentAsync($"{name}-stable", ns));
                Assert.NotNull(await cluster.Client.CoreV1.ReadNamespacedServiceAsync(name, ns));
                var events = (await cluster.Client.CoreV1.ListNamespacedEventAsync(ns)).Items.Where(e => e.InvolvedObject.Name == name && e.InvolvedObject.Kind == GruModel.KindName);
                Assert.Contains(events, e => e.Reason == "DeploymentCreated" && e.ReportingInstance == "rbac-op");
            }

            var lease = await cluster.Client.CoordinationV1.ReadNamespacedLeaseAsync("gru-operator-leader", "gru-system");
            Assert.Equal("rbac-op", lease.Spec.HolderIdentity);

            foreach (var model in models)
            {
                await cluster.Client.CustomObjects.DeleteNamespacedCustomObjectAsync(GruModel.Group, GruModel.Version, model.Metadata.NamespaceProperty, GruModel.Plural, model.Metadata.Name);
            }

            foreach (var model in models)
            {
                var (ns, name) = (model.Metadata.NamespaceProperty, model.Metadata.Name);
                await Poll.UntilAsync(async () => await Get(ns, name) is null ? "gone" : null, _ => true, OperatorHarness.Timeout, $"{ns}/{name} to be deleted");
                var left = await cluster.Client.AppsV1.ListNamespacedDeploymentAsync(ns, labelSelector: $"{Labels.Model}={name}");
                Assert.Empty(left.Items);
            }
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            await kubelet.CancelAsync();
            await Task.WhenAll(kubelets);
        }

        var requests = AuditEvents().Where(e => e.User == ServiceAccountUser).ToList();
        Assert.Contains(requests, r => r.Resource == "leases" && r.Verb is "create" or "update" && r.Code < 300);
        Assert.Contains(requests, r => r.Resource == "grumodels" && r.Subresource == "status" && r.Code < 300);
        Assert.Contains(requests, r => r.Resource == "grumodels" && r.Subresource is null && r.Verb == "patch" && r.Code < 300); // the finalizer
        Assert.Contains(requests, r => r.Resource == "deployments" && r.Verb == "patch" && r.Code < 300); // server-side apply, blockOwnerDeletion set
        Assert.Contains(requests, r => r.Resource == "events" && r.Verb == "create" && r.Code < 300);
        var forbidden = requests.Where(r => r.Code == 403).ToList();
        Assert.True(forbidden.Count == 0, "the operator's RBAC is missing: " + string.Join("; ", forbidden.Select(r => $"{r.Verb} {r.Resource}/{r.Subresource} in {r.Namespace}")));
    }

    private async Task<GruModel?> Get(string ns, string name)
    {
        try
        {
            return await cluster.Client.CustomObjects.GetNamespacedCustomObjectAsync<GruModel>(GruModel.Group, GruModel.Version, ns, GruModel.Plural, name);
        }
        catch (k8s.Autorest.HttpOperationException ex) when (ex.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    private sealed record AuditedRequest(string User, string Verb, string? Resource, string? Subresource, string? Namespace, int Code);

    private IEnumerable<AuditedRequest> AuditEvents()
    {
        foreach (var line in File.ReadLines(cluster.ControlPlane.AuditLogPath))
        {
            using var json = JsonDocument.Parse(line);
            var e = json.RootElement;
            var target = e.TryGetProperty("objectRef", out var o) ? o : default;
            yield return new AuditedRequest(
                e.GetProperty("user").GetProperty("username").GetString()!,
                e.GetProperty("verb").GetString()!,
                Text(target, "resource"), Text(target, "subresource"), Text(target, "namespace"),
                e.TryGetProperty("responseStatus", out var status) && status.TryGetProperty("code", out var code) ? code.GetInt32() : 0);
        }
    }

    private static string? Text(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) ? value.GetString() : null;
}

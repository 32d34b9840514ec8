using System.Net;
using GruOperator.Tests.Integration;
using GruOperator.Tests.RealCluster;
using GruOperator.Traffic;
using k8s;
using k8s.Models;

namespace GruOperator.Tests.Traffic;

/// <summary>The Gateway API router tests on LocalCluster (a fresh cluster per test, without the CRD until a test installs it).</summary>
[Collection(IntegrationCollection.Name)]
public sealed class GatewayApiTrafficRouterOnLocalClusterTests : GatewayApiTrafficRouterTests
{
    private protected override Task<OperatorHarness> StartHarnessAsync() => OperatorHarness.StartAsync(autoReadyPods: false);
}

/// <summary>The Gateway API router tests on a real kube-apiserver, plus the operator's own RBAC for routes.</summary>
[Collection(KubeApiServerCollection.Name)]
public sealed class GatewayApiTrafficRouterOnKubeApiServerTests(KubeApiServerFixture cluster) : GatewayApiTrafficRouterTests
{
    private protected override Task<OperatorHarness> StartHarnessAsync() => OperatorHarness.OnKubeApiServerAsync(cluster, autoReadyPods: false);

    /// <summary>
    /// The ServiceAccount config/rbac binds may read and apply the route; one that may manage Services but not routes
    /// gets the Forbidden reason naming the rule to add.
    /// </summary>
    [Fact]
    public async Task UnderConfigRbacTheOperatorWritesTheWeightsAndWithoutItTheErrorNamesTheRule()
    {
        await using var harness = await StartHarnessAsync();
        await GatewayApiCrd.InstallAsync(harness.Client, harness.Namespace);
        var model = await CreateModelAsync(harness);
        await GitApplyAsync(harness, GitRoute(harness.Namespace, 100, 0));

        var token = await harness.Client.CoreV1.CreateNamespacedServiceAccountTokenAsync(
            new Authenticationv1TokenRequest { Spec = new V1TokenRequestSpec { ExpirationSeconds = 600 } }, "gru-operator", "gru-system");
        using var asOperator = new Kubernetes(cluster.ControlPlane.ConfigurationFor(token.Status.Token));
        await Router(asOperator).SetWeightsAsync(model, 70, 30, CancellationToken.None);
        var route = await ReadRouteAsync(harness);
        Assert.Equal(70, route["spec"]!["rules"]![0]!["backendRefs"]![0]!["weight"]!.GetValue<int>());

        // The namespace's default ServiceAccount, allowed Services only.
        await harness.Client.RbacAuthorizationV1.CreateNamespacedRoleAsync(new V1Role
        {
            Metadata = new V1ObjectMeta { Name = "services-only" },
            Rules = [new V1PolicyRule { ApiGroups = [""], Resources = ["services"], Verbs = ["get", "create", "patch"] }],
        }, harness.Namespace);
        await harness.Client.RbacAuthorizationV1.CreateNamespacedRoleBindingAsync(new V1RoleBinding
        {
            Metadata = new V1ObjectMeta { Name = "services-only" },
            RoleRef = new V1RoleRef { ApiGroup = "rbac.authorization.k8s.io", Kind = "Role", Name = "services-only" },
            Subjects = [new Rbacv1Subject { Kind = "ServiceAccount", Name = "default", NamespaceProperty = harness.Namespace }],
        }, harness.Namespace);
        var limited = await harness.Client.CoreV1.CreateNamespacedServiceAccountTokenAsync(
            new Authenticationv1TokenRequest { Spec = new V1TokenRequestSpec { ExpirationSeconds = 600 } }, "default", harness.Namespace);
        using var asLimited = new Kubernetes(cluster.ControlPlane.ConfigurationFor(limited.Status.Token));

        var denied = await Assert.ThrowsAsync<TrafficRoutingException>(() => Router(asLimited).SetWeightsAsync(model, 50, 50, CancellationToken.None));

        Assert.Equal(TrafficRoutingException.Forbidden, denied.Reason);
        Assert.Contains($"get HTTPRoute {harness.Namespace}/web", denied.Message);
        Assert.Contains("config/rbac/role.yaml", denied.Message);
    }
}

using GruOperator.Api;
using GruOperator.Hosting;
using GruOperator.Tests.Integration;
using GruOperator.Tests.Support;
using k8s;
using k8s.Models;

namespace GruOperator.Tests.RealCluster;

/// <summary>
/// config/rbac-namespaced: an operator watching listed namespaces holds a Role in each instead of the ClusterRole, so
/// it may read Secrets only where it works. On the real API server, under its own ServiceAccount's token.
/// </summary>
[Collection(KubeApiServerCollection.Name)]
public sealed class NamespacedRbacTests(KubeApiServerFixture cluster)
{
    [Fact]
    public void TheNamespacedRoleGrantsExactlyTheClusterRolesRules()
    {
        var clusterRole = KubernetesYaml.Deserialize<V1ClusterRole>(File.ReadAllText(RepositoryRoot.Combine("config", "rbac", "role.yaml")));
        var role = KubernetesYaml.Deserialize<V1Role>(File.ReadAllText(RepositoryRoot.Combine("config", "rbac-namespaced", "role.yaml")));

        Assert.Equal(KubernetesJson.Serialize(clusterRole.Rules), KubernetesJson.Serialize(role.Rules));
    }

    [Fact]
    public async Task WithRolesInItsNamespacesOnlyTheOperatorServesThereAndReadsNoOtherNamespacesSecrets()
    {
        var watched = await cluster.NewNamespaceAsync("rbac-ns");
        var other = await cluster.NewNamespaceAsync("rbac-other");
        var account = "op-" + watched;
        await cluster.Client.CoreV1.CreateNamespacedServiceAccountAsync(new V1ServiceAccount { Metadata = new V1ObjectMeta { Name = account } }, watched);
        var role = await cluster.Kubectl.RunAsync(["apply", "-n", watched, "-f", RepositoryRoot.Combine("config", "rbac-namespaced", "role.yaml")]);
        Assert.True(role.ExitCode == 0, role.ToString());
        // The same binding, bound to this test's ServiceAccount (config/default already bound gru-system/gru-operator cluster-wide).
        var binding = File.ReadAllText(RepositoryRoot.Combine("config", "rbac-namespaced", "role_binding.yaml"))
            .Replace("    name: gru-operator\n    namespace: gru-system", $"    name: {account}\n    namespace: {watched}", StringComparison.Ordinal);
        Assert.Contains(account, binding, StringComparison.Ordinal);
        var bound = await cluster.Kubectl.RunAsync(["apply", "-n", watched, "-f", "-"], stdin: binding);
        Assert.True(bound.ExitCode == 0, bound.ToString());

        var user = $"system:serviceaccount:{watched}:{account}";
        Assert.True(await AllowedAsync(user, watched, "secrets", "get"));
        Assert.False(await AllowedAsync(user, other, "secrets", "get"));
        Assert.False(await AllowedAsync(user, other, "grumodels", "list", GruModel.Group));

        var token = await cluster.Client.CoreV1.CreateNamespacedServiceAccountTokenAsync(
            new Authenticationv1TokenRequest { Spec = new V1TokenRequestSpec { ExpirationSeconds = 3600 } }, account, watched);
        var app = OperatorHost.Build(
        [
            "--metrics-port", "0", "--health-port", "0", "--bind-address", "127.0.0.1", "--server-image", OperatorHarness.ServerImage,
            "--leader-elect", "false", "--namespaces", watched,
        ],
        cluster.ControlPlane.ConfigurationFor(token.Status.Token),
        new Dictionary<string, string?> { ["Logging:LogLevel:Default"] = "Warning" });
        await app.StartAsync();
        try
        {
            await cluster.Client.CustomObjects.CreateNamespacedCustomObjectAsync(Models.Cpu("scoped", watched), GruModel.Group, GruModel.Version, watched, GruModel.Plural);
            await Poll.UntilAsync(
                async () => (await cluster.Client.AppsV1.ListNamespacedDeploymentAsync(watched)).Items.FirstOrDefault(d => d.Metadata.Name == "scoped-stable"),
                _ => true, OperatorHarness.Timeout, "the Deployment made under the namespaced Role");
            await Poll.UntilAsync(
                async () => (GruModel?)await cluster.Client.CustomObjects.GetNamespacedCustomObjectAsync<GruModel>(GruModel.Group, GruModel.Version, watched, GruModel.Plural, "scoped"),
                m => m.Status?.ObservedGeneration == 1, OperatorHarness.Timeout, "status written under the namespaced Role");
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    private async Task<bool> AllowedAsync(string user, string ns, string resource, string verb, string group = "")
    {
        var review = await cluster.Client.AuthorizationV1.CreateSubjectAccessReviewAsync(new V1SubjectAccessReview
        {
            Spec = new V1SubjectAccessReviewSpec
            {
                User = user,
                Groups = ["system:serviceaccounts", "system:authenticated"],
                ResourceAttributes = new V1ResourceAttributes { NamespaceProperty = ns, Resource = resource, Verb = verb, Group = group },
            },
        });
        return review.Status.Allowed;
    }
}

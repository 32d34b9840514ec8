using System.Net;
using GruOperator.Tests.Integration;
using GruOperator.Tests.Support;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace GruOperator.Tests.Traffic;

/// <summary>The vendored Gateway API HTTPRoute CRD (tests/crds/gateway-api), installed and removed as a user would.</summary>
internal static class GatewayApiCrd
{
    public const string Name = "httproutes.gateway.networking.k8s.io";

    public static string Path => RepositoryRoot.Combine("tests", "crds", "gateway-api", Name + ".yaml");

    /// <summary>Creates the CRD unless it exists, then waits until HTTPRoutes are served in <paramref name="ns"/>.</summary>
    public static async Task InstallAsync(IKubernetes client, string ns)
    {
        var crd = KubernetesYaml.Deserialize<V1CustomResourceDefinition>(await File.ReadAllTextAsync(Path));
        try
        {
            await client.ApiextensionsV1.CreateCustomResourceDefinitionAsync(crd);
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.Conflict)
        {
            // already installed (the real lane's cluster is shared)
        }
        await Poll.UntilAsync(() => ServedAsync(client, ns), served => served == true, OperatorHarness.Timeout, "HTTPRoutes to be served");
    }

    /// <summary>Deletes the CRD if present and waits until HTTPRoutes are no longer served.</summary>
    public static async Task UninstallAsync(IKubernetes client, string ns)
    {
        try
        {
            await client.ApiextensionsV1.DeleteCustomResourceDefinitionAsync(Name);
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound)
        {
            // not installed
        }
        await Poll.UntilAsync(async () => !await ServedAsync(client, ns), gone => gone == true, OperatorHarness.Timeout, "HTTPRoutes to be gone");
    }

    private static async Task<bool?> ServedAsync(IKubernetes client, string ns)
    {
        try
        {
            await client.CustomObjects.ListNamespacedCustomObjectAsync("gateway.networking.k8s.io", "v1", ns, "httproutes");
            return true;
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }
}

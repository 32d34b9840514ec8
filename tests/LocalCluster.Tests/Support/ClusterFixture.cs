using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;

namespace Kube.Local.Tests.Support;

/// <summary>One LocalCluster per test class; tests isolate themselves in their own namespaces.</summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    private int _next;

    public LocalCluster Cluster { get; private set; } = null!;
    public Kubernetes Client { get; private set; } = null!;

    /// <summary>A raw HTTP client that trusts the cluster's CA, for what the typed client cannot express.</summary>
    public HttpClient Http { get; private set; } = null!;

    private static LocalClusterOptions Options => new();

    public async Task InitializeAsync()
    {
        Cluster = await LocalCluster.StartAsync(Options);
        Client = new Kubernetes(Cluster.ClientConfiguration);
        Http = TrustingHttpClient(Cluster);
    }

    internal static HttpClient TrustingHttpClient(LocalCluster cluster)
    {
        var ca = X509CertificateLoader.LoadCertificate(Encoding.ASCII.GetBytes(cluster.CertificateAuthorityPem!));
        var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, cert, _, _) =>
            {
                if (cert is null) return false;
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(ca);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(cert);
            },
        };
        return new HttpClient(handler) { BaseAddress = cluster.Url, Timeout = TimeSpan.FromSeconds(60) };
    }

    /// <summary>Creates a fresh namespace for one test.</summary>
    public async Task<string> NamespaceAsync(string prefix = "t")
    {
        var name = $"{prefix}-{Interlocked.Increment(ref _next)}";
        await Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = name } });
        return name;
    }

    public async Task<(int Status, JsonNode? Body)> SendAsync(HttpMethod method, string path, string? body = null,
        string contentType = "application/json", string? accept = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, MediaTypeHeaderValue.Parse(contentType));
        if (accept is not null) request.Headers.TryAddWithoutValidation("Accept", accept);
        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        Client.Dispose();
        await Cluster.DisposeAsync();
    }
}

/// <summary>A cluster with the deployment controller on.</summary>
public sealed class ControllerClusterFixture : IAsyncLifetime
{
    public LocalCluster Cluster { get; private set; } = null!;
    public Kubernetes Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Cluster = await LocalCluster.StartAsync(new LocalClusterOptions { DeploymentController = true, AutoReadyPods = true });
        Client = new Kubernetes(Cluster.ClientConfiguration);
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Cluster.DisposeAsync();
    }
}

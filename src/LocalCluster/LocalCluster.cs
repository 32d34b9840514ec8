using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using k8s;
using Kube.Local.Api;
using Kube.Local.Certificates;
using Kube.Local.Controllers;
using Kube.Local.Resources;
using Kube.Local.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kube.Local;

/// <summary>An embedded Kubernetes API server on 127.0.0.1 for tests, benchmarks and <c>make cluster</c>.</summary>
public sealed class LocalCluster : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ClusterCertificates? _certificates;
    private readonly LifecycleController _lifecycle;
    private readonly List<IAsyncDisposable> _controllers;

    private LocalCluster(WebApplication app, ClusterCertificates? certificates, Uri url, ObjectRegistry registry,
        LifecycleController lifecycle, List<IAsyncDisposable> controllers, LocalClusterFaults faults, PodDriver pods)
    {
        _app = app;
        _certificates = certificates;
        Url = url;
        Registry = registry;
        _lifecycle = lifecycle;
        _controllers = controllers;
        Faults = faults;
        Pods = pods;
    }

    /// <summary>Where the API server listens, e.g. https://127.0.0.1:41234/.</summary>
    public Uri Url { get; }

    /// <summary>Fault injection: dropped watches, failing requests, latency, expired history.</summary>
    public LocalClusterFaults Faults { get; }

    /// <summary>Reports Pod statuses a kubelet would (Ready, Running-not-ready, Unschedulable, Failed).</summary>
    public PodDriver Pods { get; }

    /// <summary>PEM of the CA that signed the serving certificate (null over plain HTTP).</summary>
    public string? CertificateAuthorityPem => _certificates?.CaPem;

    internal ObjectRegistry Registry { get; }

    /// <summary>A client configuration that verifies TLS against the generated CA.</summary>
    public KubernetesClientConfiguration ClientConfiguration
    {
        get
        {
            var config = new KubernetesClientConfiguration
            {
                Host = Url.ToString().TrimEnd('/'),
                Namespace = "default",
                AccessToken = BearerToken,
            };
            if (_certificates is not null)
            {
                config.SslCaCerts = new X509Certificate2Collection(X509CertificateLoader.LoadCertificate(_certificates.Ca.RawData));
                config.SkipTlsVerify = false;
            }
            return config;
        }
    }

    /// <summary>The token written into kubeconfigs. The server does not authenticate: any token, or none, is accepted.</summary>
    public const string BearerToken = "local-cluster-admin";

    /// <summary>Starts a cluster with default options (HTTPS, free port, no controllers).</summary>
    public static Task<LocalCluster> StartAsync(CancellationToken ct = default) => StartAsync(new LocalClusterOptions(), ct);

    /// <summary>Starts a cluster; dispose it to stop.</summary>
    public static Task<LocalCluster> StartAsync(LocalClusterOptions options, CancellationToken ct = default) =>
        StartAsync(options, NullLoggerFactory.Instance, ct);

    internal static async Task<LocalCluster> StartAsync(LocalClusterOptions options, ILoggerFactory loggerFactory, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var time = options.TimeProvider;
        var certificates = options.UseHttps ? ClusterCertificates.Create(time) : null;
        var store = new ObjectStore(options.WatchHistorySize);
        var catalog = new ResourceCatalog();
        var registry = new ObjectRegistry(store, catalog, time);
        SeedNamespaces(registry);
        var faults = new LocalClusterFaults(store);
        var pods = new PodDriver(registry, time);
        var handler = new ApiHandler(registry, faults, time, options.BookmarkInterval, loggerFactory.CreateLogger("LocalCluster.Api"));

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.AddSingleton<Microsoft.Extensions.Hosting.IHostLifetime, EmbeddedLifetime>();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = 3 * 1024 * 1024;
            // Informers multiplex many watches over one HTTP/2 connection; the real server allows 1000 streams.
            kestrel.Limits.Http2.MaxStreamsPerConnection = 1000;
            kestrel.Listen(IPAddress.Loopback, options.Port, listen =>
            {
                if (certificates is not null)
                {
                    listen.Protocols = HttpProtocols.Http1AndHttp2;
                    listen.UseHttps(certificates.Server);
                }
                else
                {
                    listen.Protocols = HttpProtocols.Http1;
                }
            });
        });
        var app = builder.Build();
        app.Run(handler.HandleAsync);
        await app.StartAsync(ct);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var port = new Uri(address).Port;
        var url = new Uri($"{(certificates is null ? "http" : "https")}://127.0.0.1:{port}/");
        handler.ServerAddress = $"127.0.0.1:{port}";

        var lifecycle = new LifecycleController(registry, loggerFactory.CreateLogger("LocalCluster.Lifecycle"));
        var controllers = new List<IAsyncDisposable>();
        if (options.AutoReadyPods) controllers.Add(new AutoReadyPods(registry, pods, loggerFactory.CreateLogger("LocalCluster.AutoReadyPods")));
        if (options.DeploymentController) controllers.Add(new DeploymentController(registry, time, loggerFactory.CreateLogger("LocalCluster.Deployments")));
        return new LocalCluster(app, certificates, url, registry, lifecycle, controllers, faults, pods);
    }

    private static void SeedNamespaces(ObjectRegistry registry)
    {
        var nsType = registry.Catalog.Find("", "v1", "namespaces")!;
        foreach (var name in new[] { "default", "kube-system", "kube-public", "kube-node-lease" })
        {
            registry.Create(nsType, "", new System.Text.Json.Nodes.JsonObject
            {
                ["apiVersion"] = "v1",
                ["kind"] = "Namespace",
                ["metadata"] = new System.Text.Json.Nodes.JsonObject { ["name"] = name },
            }, new WriteOptions(false, "local-cluster", FieldValidation.Ignore));
        }
    }

    /// <summary>Writes a kubeconfig for this cluster (CA data inline, context "local-cluster", namespace default) and returns its full path.</summary>
    public string WriteKubeconfig(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var sb = new StringBuilder();
        sb.AppendLine("apiVersion: v1");
        sb.AppendLine("kind: Config");
        sb.AppendLine("clusters:");
        sb.AppendLine("- name: local-cluster");
        sb.AppendLine("  cluster:");
        sb.AppendLine($"    server: {Url.ToString().TrimEnd('/')}");
        if (_certificates is not null)
        {
            sb.AppendLine($"    certificate-authority-data: {Convert.ToBase64String(Encoding.ASCII.GetBytes(_certificates.CaPem))}");
        }
        sb.AppendLine("contexts:");
        sb.AppendLine("- name: local-cluster");
        sb.AppendLine("  context:");
        sb.AppendLine("    cluster: local-cluster");
        sb.AppendLine("    user: local-cluster-admin");
        sb.AppendLine("    namespace: default");
        sb.AppendLine("current-context: local-cluster");
        sb.AppendLine("preferences: {}");
        sb.AppendLine("users:");
        sb.AppendLine("- name: local-cluster-admin");
        sb.AppendLine("  user:");
        sb.AppendLine($"    token: {BearerToken}");
        File.WriteAllText(full, sb.ToString());
        return full;
    }

    /// <summary>Stops serving, ends open watches and the controllers.</summary>
    public async ValueTask DisposeAsync()
    {
        Registry.Store.DropAllWatches();
        foreach (var c in _controllers) await c.DisposeAsync();
        await _lifecycle.DisposeAsync();
        // Bounded graceful stop: open streams were ended above, so this is quick; never hang a test run.
        using var stopTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(stopTimeout.Token);
        await _app.DisposeAsync();
        _certificates?.Dispose();
    }
}

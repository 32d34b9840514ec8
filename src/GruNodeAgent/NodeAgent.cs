using System.Net;
using System.Text.Json;
using ControllerRuntime.Controllers;
using ControllerRuntime.Informers;
using ControllerRuntime.Metrics;
using GruNodeAgent.Discovery;
using GruNodeAgent.Node;
using GruNodeAgent.Pods;
using GruNodeAgent.Runtime;
using GruNodeAgent.Scheduling;
using k8s;
using k8s.Models;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GruNodeAgent;

/// <summary>
/// A small kubelet and scheduler for one simulated node, against any API server: registers the Node and its Lease,
/// schedules pending pods onto it, runs them as local processes, and serves Prometheus http_sd of their metrics ports.
/// </summary>
public sealed partial class NodeAgent : IAsyncDisposable
{
    private readonly WebApplication _web;
    private readonly CancellationTokenSource _stop = new();
    private readonly PodReconciler _reconciler;
    private readonly Controller _controller;
    private readonly List<Task> _loops = [];
    private readonly ILogger _logger;

    private NodeAgent(WebApplication web, PodReconciler reconciler, Controller controller, NodeAgentOptions options, string stateDirectory, ILogger logger)
    {
        _web = web;
        _reconciler = reconciler;
        _controller = controller;
        Options = options;
        StateDirectory = stateDirectory;
        _logger = logger;
    }

    /// <summary>The options in effect (build placeholders resolved).</summary>
    public NodeAgentOptions Options { get; }

    /// <summary>Where pod directories and logs live.</summary>
    public string StateDirectory { get; }

    /// <summary>The http_sd endpoint for Prometheus' http_sd_configs.</summary>
    public Uri DiscoveryUrl { get; private set; } = null!;

    /// <summary>Resident memory of each running pod's processes, by namespace/name (as GET /pods reports it).</summary>
    public IReadOnlyDictionary<string, long> PodMemory() => _reconciler.Workers.ToDictionary(kv => kv.Key, kv => kv.Value.ResidentBytes());

    /// <summary>Registers the node, starts watching pods and serving discovery; dispose to stop.</summary>
    public static async Task<NodeAgent> StartAsync(IKubernetes client, NodeAgentOptions options, ILoggerFactory loggerFactory, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        var logger = loggerFactory.CreateLogger("GruNodeAgent");
        var state = string.IsNullOrEmpty(options.StateDirectory)
            ? Directory.CreateTempSubdirectory("gru-node-agent-").FullName
            : Directory.CreateDirectory(options.StateDirectory).FullName;
        foreach (var mapping in options.Images)
        {
            mapping.Entrypoint = mapping.Entrypoint.Select(BuildPlaceholders.Resolve).ToList();
            mapping.Command = mapping.Command?.Select(BuildPlaceholders.Resolve).ToList();
        }

        var time = TimeProvider.System;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggerFactory);
        var discovery = new Uri(options.DiscoveryUrl);
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Parse(discovery.Host), discovery.Port));
        builder.Services.AddMetrics();
        var web = builder.Build();
        var metrics = new ControllerMetrics(web.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());

        var registration = new NodeRegistration(client, options, time, loggerFactory.CreateLogger("GruNodeAgent.Node"));
        var cache = new ResourceCache<V1Pod>();
        var informer = new ResourceInformer<V1Pod>(
            new KubernetesListWatcher<V1Pod, V1PodList>(null, (r, ct) => client.CoreV1.ListPodForAllNamespacesWithHttpMessagesAsync(
                allowWatchBookmarks: r.Watch ? true : null, continueParameter: r.Continue, limit: r.Limit,
                resourceVersion: r.ResourceVersion, timeoutSeconds: r.TimeoutSeconds, watch: r.Watch, cancellationToken: ct)),
            cache, metrics, time, loggerFactory.CreateLogger("GruNodeAgent.Informer"), "pods");
        var http = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseProxy = false,
            PooledConnectionLifetime = TimeSpan.FromMinutes(1),
            SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true }, // the kubelet does not verify probe certificates either
        });
        var runtime = new PodRuntimeContext(client, options, state, new ImageCommands(options.Images), new LoopbackAddresses(options.FirstPodAddress),
            new ContainerProbe(http), time, loggerFactory.CreateLogger("GruNodeAgent.Pods"));
        var scheduler = new PodScheduler(client, cache, registration.View, options.UnschedulableRetry, time, loggerFactory.CreateLogger("GruNodeAgent.Scheduler"));
        var reconciler = new PodReconciler(cache, scheduler, runtime, new HashSet<string>(["default-scheduler"], StringComparer.Ordinal));
        var controller = new Controller("pods", reconciler, new ControllerOptions { Workers = 4, ResyncPeriod = TimeSpan.FromMinutes(1) }, metrics, time,
            loggerFactory.CreateLogger("GruNodeAgent.Controller"));
        informer.OnChange(change =>
        {
            var pod = change.New ?? change.Old!;
            controller.Enqueue(ObjectKey.Of(pod));
            // Capacity freed on the node (a pod gone or finished): pending pods get another try at once.
            var freed = change.Old?.Spec?.NodeName == options.NodeName && (change.New is null || PodScheduler.IsTerminal(change.New) && !PodScheduler.IsTerminal(change.Old));
            if (freed)
            {
                foreach (var pending in cache.List(null, p => string.IsNullOrEmpty(p.Spec?.NodeName))) controller.Enqueue(ObjectKey.Of(pending));
            }
        });

        var agent = new NodeAgent(web, reconciler, controller, options, state, logger);
        web.MapGet("/http_sd", () => Results.Json(
            ScrapeTargets.For(cache.List(null, p => p.Spec?.NodeName == options.NodeName)).Select(g => new { targets = g.Targets, labels = g.Labels }),
            JsonOptions));
        web.MapGet("/pods", () => Results.Json(reconciler.Workers.Select(kv => new
        {
            pod = kv.Key,
            podIP = kv.Value.PodIp,
            residentBytes = kv.Value.ResidentBytes(),
            logs = Path.Combine(state, "pods"),
        }), JsonOptions));
        web.MapGet("/healthz", () => "ok");
        try
        {
            await registration.RegisterAsync(cancellationToken).ConfigureAwait(false);
            await web.StartAsync(cancellationToken).ConfigureAwait(false);
            var address = web.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            agent.DiscoveryUrl = new Uri(new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal)), "/http_sd");
            var stop = agent._stop.Token;
            agent._loops.Add(Task.Run(() => informer.RunAsync(stop), CancellationToken.None));
            await informer.WaitForSyncAsync(cancellationToken).ConfigureAwait(false);
            agent._loops.Add(Task.Run(() => controller.RunAsync(stop), CancellationToken.None));
            agent._loops.Add(Task.Run(() => registration.RunAsync(stop), CancellationToken.None));
        }
        catch
        {
            await agent.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        Log.Started(logger, options.NodeName, state, agent.DiscoveryUrl);
        return agent;
    }

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    /// <summary>Stops the pods' processes (the pods stay in the API, as when a kubelet stops), the watch and discovery.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _reconciler.DisposeAsync().ConfigureAwait(false);
        await Task.WhenAll(_loops).ConfigureAwait(false);
        _controller.Dispose();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _web.StopAsync(timeout.Token).ConfigureAwait(false);
        await _web.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
        Log.Stopped(_logger, Options.NodeName);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Node agent for node {Node} running; pod directories and logs under {StateDirectory}; Prometheus http_sd at {DiscoveryUrl}")]
        public static partial void Started(ILogger logger, string node, string stateDirectory, Uri discoveryUrl);

        [LoggerMessage(2, LogLevel.Information, "Node agent for node {Node} stopped")]
        public static partial void Stopped(ILogger logger, string node);
    }
}

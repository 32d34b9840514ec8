using ControllerRuntime.Controllers;
using ControllerRuntime.Events;
using ControllerRuntime.Finalizers;
using ControllerRuntime.Informers;
using ControllerRuntime.Leadership;
using ControllerRuntime.Metrics;
using ControllerRuntime.Resources;
using GruOperator.Alerting;
using GruOperator.Api;
using GruOperator.Integrity;
using GruOperator.ModelResolution;
using GruRegistry.Distribution;
using GruOperator.Reconciliation;
using GruOperator.Providers.Prometheus;
using GruOperator.Rollout;
using GruOperator.Scaling;
using GruOperator.Serving;
using GruOperator.Tenancy;
using GruOperator.Traffic;
using k8s;
using k8s.Models;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace GruOperator.Hosting;

/// <summary>Builds the operator process: configuration, Kubernetes client, informers, controller, leader election, endpoints.</summary>
internal static class OperatorHost
{
    /// <summary>The controller reconciling GruModels into serving workloads.</summary>
    public const string GruModelControllerName = "grumodel";

    /// <summary>
    /// Creates the application from command-line <paramref name="args"/> (the operator's own flags; an unknown one
    /// throws <see cref="OperatorConfigurationException"/>). <paramref name="clientConfiguration"/> overrides kubeconfig
    /// discovery (tests pass the embedded cluster's); <paramref name="overrides"/> are configuration entries applied last.
    /// </summary>
    public static WebApplication Build(string[] args, KubernetesClientConfiguration? clientConfiguration = null, IDictionary<string, string?>? overrides = null) =>
        Build(OperatorCommand.ParseFlags(args), clientConfiguration, overrides);

    /// <summary>Creates the application from flags already parsed into configuration keys.</summary>
    /// <exception cref="OperatorConfigurationException">A value (from a flag, the environment or an override) is unusable.</exception>
    public static WebApplication Build(IReadOnlyDictionary<string, string?> flags, KubernetesClientConfiguration? clientConfiguration = null, IDictionary<string, string?>? overrides = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        // Precedence, lowest first: the settings table's defaults, KUBECONFIG, GRU_OPERATOR_* variables, flags, overrides.
        builder.Configuration.AddInMemoryCollection(OperatorSettings.Defaults);
        // kubectl's KUBECONFIG (first file of the list) is the lowest-precedence source of --kubeconfig.
        var kubeconfigEnv = Environment.GetEnvironmentVariable("KUBECONFIG")?.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
        if (kubeconfigEnv is not null) builder.Configuration.AddInMemoryCollection([new(nameof(OperatorOptions.Kubeconfig), kubeconfigEnv)]);
        builder.Configuration.AddEnvironmentVariables(OperatorSettings.EnvironmentPrefix);
        builder.Configuration.AddInMemoryCollection(flags);
        if (overrides is not null) builder.Configuration.AddInMemoryCollection(overrides);
        var errors = OperatorSettings.Validate(builder.Configuration);
        if (errors.Count > 0) throw new OperatorConfigurationException(errors);
        builder.Configuration.AddInMemoryCollection(OperatorSettings.DurationsForBinding(builder.Configuration).ToList());
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.IncludeScopes = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });

        builder.Services.AddOptions<OperatorOptions>().Bind(builder.Configuration).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<LeaderElectionOptions>().Bind(builder.Configuration.GetSection("LeaderElection")).ValidateDataAnnotations().ValidateOnStart();
        var options = builder.Configuration.Get<OperatorOptions>() ?? new OperatorOptions();

        builder.WebHost.UseUrls(options.MetricsPort > 0
            ? [$"http://{options.BindAddress}:{options.HealthPort}", $"http://{options.BindAddress}:{options.MetricsPort}"]
            : [$"http://{options.BindAddress}:{options.HealthPort}"]);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<IKubernetes>(_ => new Kubernetes(clientConfiguration ?? LoadClientConfiguration(options)));
        builder.Services.AddSingleton<LeadershipState>();
        builder.Services.AddSingleton<ControllerMetrics>();
        builder.Services.AddMetrics();
        if (options.MetricsPort > 0)
        {
            // OpenTelemetry subscribes to meters by name, process-wide: in-process hosts (tests, the benchmark) see one
            // another's ControllerRuntime series, so at most one of them at a time should serve /metrics.
            builder.Services.AddOpenTelemetry()
                .ConfigureResource(resource => resource.AddService(OperatorCommand.Name))
                .WithMetrics(metrics => metrics
                .AddMeter(ControllerMetrics.MeterName)
                .AddMeter(RolloutMetrics.MeterName)
                .AddMeter(Scaling.AutoscalingMetrics.MeterName)
                .AddMeter(IntegrityMetrics.MeterName)
                .AddMeter(SloObjectiveMetrics.MeterName)
                .AddPrometheusExporter());
        }

        // Registered before the provider, which would otherwise allow only Prometheus:Address: --prometheus-address is allowed too.
        builder.Services.AddSingleton(sp => PrometheusAddressPolicy.From(sp.GetRequiredService<IOptions<PrometheusOptions>>().Value, options.DefaultPrometheusAddress));
        builder.Services.AddPrometheusMetricProvider(builder.Configuration.GetSection(PrometheusOptions.Section));
        builder.Services.AddSingleton(sp => new TenantBounds(sp.GetRequiredService<PrometheusAddressPolicy>(), options.ImagePrefixes()));
        AddGruModelController(builder.Services, options);
        AddSloRuleController(builder.Services, options);
        AddPodDeletionCostController(builder.Services);
        builder.Services.AddHostedService<ControllerHost>();

        var app = builder.Build();
        if (options.MetricsPort > 0)
        {
            // Prometheus text or OpenMetrics as the scraper asks; only on the metrics port, not the health port.
            app.MapPrometheusScrapingEndpoint().RequireHost($"*:{options.MetricsPort}");
            // Its gauge reads the GruModel cache at scrape time; nothing else asks for it, so create it here.
            app.Services.GetRequiredService<SloObjectiveMetrics>();
        }
        app.MapGet("/healthz", () => Results.Ok("ok"));
        // A standby replica is ready too: readiness is about the process, leadership about who acts.
        app.MapGet("/readyz", () => Results.Ok("ok"));
        return app;
    }

    private static void AddGruModelController(IServiceCollection services, OperatorOptions options)
    {
        var type = new CustomResourceType(GruModel.Group, GruModel.Version, GruModel.Plural, GruModel.KindName);
        services.AddSingleton(new ResourceCache<GruModel>());
        services.AddSingleton(new ResourceCache<V1Deployment>());
        services.AddSingleton(new ResourceCache<V1Service>());
        services.AddSingleton(new ResourceCache<V1Pod>());
        services.AddSingleton(sp => new CustomResourceClient<GruModel>(
            sp.GetRequiredService<IKubernetes>(), type, options.FieldManager));
        services.AddSingleton(sp => new ServerSideApply(sp.GetRequiredService<IKubernetes>(), options.FieldManager, Labels.AppliedHashAnnotation));
        services.AddSingleton(sp => new EventRecorder(
            sp.GetRequiredService<IKubernetes>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<EventRecorder>>(),
            "gru-operator", options.LeaderElection.Identity ?? Environment.MachineName, options.FieldManager));
        services.AddSingleton(sp =>
        {
            var registry = new FinalizerRegistry<GruModel>();
            registry.Register(WorkloadFinalizer.Name, new WorkloadFinalizer(sp.GetRequiredService<IKubernetes>(), sp.GetRequiredService<EventRecorder>()));
            return registry;
        });
        // One definition of the workload defaults for everything that builds owned objects (both tracks, the track Services).
        services.AddSingleton(new ServingDefaults(options.DefaultServerImage, options.ModelFetcherImage, options.FieldManager)
        {
            PlainHttpRegistries = options.PlainHttpRegistries(),
            MemoryLimit = options.DefaultMemoryLimit,
            ModelVolumeSizeLimit = options.ModelVolumeSizeLimit,
        });
        services.AddSingleton<RolloutMetrics>();
        services.AddSingleton<SloObjectiveMetrics>();
        services.AddSingleton<RolloutObserver>();
        services.AddSingleton<AnalysisRunner>();
        services.AddSingleton<Scaling.AutoscalingMetrics>();
        services.AddSingleton<Scaling.ModelAutoscaler>();
        // trafficRouting.gatewayAPI: the rollout asks the router for exact weights (replica routing needs no writes).
        services.AddSingleton<GatewayApiTrafficRouter>();
        services.AddSingleton<ITrafficRouter>(sp => sp.GetRequiredService<GatewayApiTrafficRouter>());
        // Served-model verification is the canary's promotion gate.
        if (options.VerifyServedModels) services.AddSingleton<IPromotionGateSource>(sp => sp.GetRequiredService<CanaryPromotionGate>());
        else services.AddSingleton<IPromotionGateSource, UncheckedPromotionGate>();
        services.AddSingleton(sp => new ActionAnnotationRemover(sp.GetRequiredService<IKubernetes>(), options.FieldManager));
        services.AddSingleton(sp => new RolloutExecutor(
            sp.GetRequiredService<IKubernetes>(), sp.GetRequiredService<ResourceCache<V1Service>>(), sp.GetRequiredService<ServerSideApply>(),
            sp.GetRequiredService<EventRecorder>(), sp.GetRequiredService<ITrafficRouter>(),
            sp.GetRequiredService<ServingDefaults>(), sp.GetRequiredService<ActionAnnotationRemover>()));
        AddModelIntegrity(services, options);
        services.AddSingleton<GruModelReconciler>();
        services.AddSingleton(sp => new Controller(
            GruModelControllerName,
            sp.GetRequiredService<GruModelReconciler>(),
            new ControllerOptions { Workers = options.Workers, ResyncPeriod = options.ResyncPeriod },
            sp.GetRequiredService<ControllerMetrics>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<Controller>>()));

        foreach (var ns in options.WatchedNamespaces())
        {
            var scope = ns ?? "all";
            services.AddSingleton<IInformer>(sp =>
            {
                var models = Informer(sp, $"grumodels/{scope}", WatchSources.GruModels(sp.GetRequiredService<IKubernetes>(), ns, type), EnqueueSelf);
                // One GruModel cache feeds every controller keyed by GruModel.
                var sloRules = ControllerNamed(sp, SloRuleReconciler.ControllerName);
                models.OnChange(change => EnqueueSelf(sloRules, change));
                var deletionCost = ControllerNamed(sp, PodDeletionCostReconciler.ControllerName);
                models.OnChange(change => EnqueueSelf(deletionCost, change));
                return models;
            });
            services.AddSingleton<IInformer>(sp => Informer(sp, $"deployments/{scope}", WatchSources.Deployments(sp.GetRequiredService<IKubernetes>(), ns, Labels.Model), EnqueueOwner<V1Deployment>));
            services.AddSingleton<IInformer>(sp => Informer(sp, $"services/{scope}", WatchSources.Services(sp.GetRequiredService<IKubernetes>(), ns, Labels.Model), EnqueueOwner<V1Service>));
            services.AddSingleton<IInformer>(sp =>
            {
                var pods = Informer(sp, $"pods/{scope}", WatchSources.Pods(sp.GetRequiredService<IKubernetes>(), ns, Labels.Model), EnqueueOwner<V1Pod>);
                pods.TransformWith(WatchSources.DropPodSpec);
                return pods;
            });
        }
    }

    /// <summary>Tag pinning (ModelResolution) and served-model verification (Integrity).</summary>
    private static void AddModelIntegrity(IServiceCollection services, OperatorOptions options)
    {
        services.AddRegistryClient(registry =>
        {
            foreach (var host in options.PlainHttpRegistries()) registry.PlainHttpRegistries.Add(host);
            registry.CaCertificateFile = string.IsNullOrEmpty(options.RegistryCaFile) ? null : options.RegistryCaFile;
            // A reconcile waits for these calls: fail within seconds and retry with the model's backoff instead.
            registry.AttemptTimeout = TimeSpan.FromSeconds(5);
            registry.TotalTimeout = TimeSpan.FromSeconds(15);
            registry.MaxRetries = 1;
        });
        // No per-request logs: every pod is asked every interval; the outcome is in status, Events and the metric.
        services.AddHttpClient(ServedDigestProbe.HttpClientName, http => http.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { ConnectTimeout = ServedDigestProbe.Timeout, UseProxy = false })
            .RemoveAllLoggers();
        services.AddSingleton(sp => new ServedDigestProbe(sp.GetRequiredService<IHttpClientFactory>().CreateClient(ServedDigestProbe.HttpClientName)));
        services.AddSingleton(sp => new RegistrySecretReader(sp.GetRequiredService<IKubernetes>(), options.RequireRegistrySecretLabel));
        services.AddSingleton<ModelPinner>();
        services.AddSingleton<LayerDigestIndex>();
        services.AddSingleton<IntegrityMetrics>();
        services.AddSingleton<CanaryPromotionGate>();
        services.AddSingleton<ServedModelVerifier>();
    }

    // Several controllers are registered as Controller; each is found by its name.
    private static Controller ControllerNamed(IServiceProvider sp, string name) =>
        sp.GetServices<Controller>().Single(c => c.Name == name);

    /// <summary>
    /// Per-model SLO alert rules (PrometheusRule) as a controller of its own over the shared GruModel cache, so serving
    /// never waits on it and a cluster without the Prometheus Operator only loses the rules.
    /// </summary>
    private static void AddSloRuleController(IServiceCollection services, OperatorOptions options)
    {
        services.AddSingleton<SloRuleReconciler>();
        services.AddSingleton(sp => new Controller(
            SloRuleReconciler.ControllerName,
            sp.GetRequiredService<SloRuleReconciler>(),
            new ControllerOptions { Workers = 1, ResyncPeriod = options.ResyncPeriod },
            sp.GetRequiredService<ControllerMetrics>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<Controller>>()));
    }

    /// <summary>
    /// pod-deletion-cost from each Stateful model's pods' live sequences (<see cref="PodDeletionCostReconciler"/>): its own
    /// controller, requeued every 10s per model, so a scale-down removes the pods holding the fewest sequences first.
    /// </summary>
    private static void AddPodDeletionCostController(IServiceCollection services)
    {
        // No per-request logs: every pod of a Stateful model is asked every period.
        services.AddHttpClient(SessionCountProbe.HttpClientName, http =>
            {
                http.Timeout = Timeout.InfiniteTimeSpan;
                http.MaxResponseContentBufferSize = SessionCountProbe.MaxResponseBytes;
            })
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { ConnectTimeout = SessionCountProbe.Timeout, UseProxy = false })
            .RemoveAllLoggers();
        services.AddSingleton(sp => new SessionCountProbe(sp.GetRequiredService<IHttpClientFactory>().CreateClient(SessionCountProbe.HttpClientName)));
        services.AddSingleton<PodDeletionCostReconciler>();
        services.AddSingleton(sp => new Controller(
            PodDeletionCostReconciler.ControllerName,
            sp.GetRequiredService<PodDeletionCostReconciler>(),
            new ControllerOptions { Workers = 1 },
            sp.GetRequiredService<ControllerMetrics>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<Controller>>()));
    }

    private static ResourceInformer<T> Informer<T>(IServiceProvider sp, string name, IListWatcher<T> source, Action<Controller, ResourceChange<T>> route)
        where T : IKubernetesObject<V1ObjectMeta>
    {
        var informer = new ResourceInformer<T>(
            source, sp.GetRequiredService<ResourceCache<T>>(), sp.GetRequiredService<ControllerMetrics>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ResourceInformer<T>>>(), name);
        var controller = ControllerNamed(sp, GruModelControllerName);
        informer.OnChange(change => route(controller, change));
        return informer;
    }

    private static void EnqueueSelf(Controller controller, ResourceChange<GruModel> change)
    {
        var item = change.New ?? change.Old;
        if (item is not null) controller.Enqueue(ObjectKey.Of(item));
    }

    // Owned objects (and the pods of owned Deployments) carry the model label: a change wakes the owning GruModel.
    private static void EnqueueOwner<T>(Controller controller, ResourceChange<T> change) where T : IKubernetesObject<V1ObjectMeta>
    {
        var item = change.New ?? change.Old;
        if (item?.Metadata.Labels?.TryGetValue(Labels.Model, out var model) == true)
        {
            controller.Enqueue(ObjectKey.Format(item.Metadata.NamespaceProperty, model));
        }
    }

    private static KubernetesClientConfiguration LoadClientConfiguration(OperatorOptions options)
    {
        if (string.IsNullOrEmpty(options.Kubeconfig) && KubernetesClientConfiguration.IsInCluster())
        {
            return KubernetesClientConfiguration.InClusterConfig();
        }
        return KubernetesClientConfiguration.BuildConfigFromConfigFile(
            string.IsNullOrEmpty(options.Kubeconfig) ? null : options.Kubeconfig,
            string.IsNullOrEmpty(options.Context) ? null : options.Context);
    }
}

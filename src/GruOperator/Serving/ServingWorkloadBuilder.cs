using System.Globalization;
using GruOperator.Api;
using GruOperator.Domain.Rollout;
using GruOperator.ModelResolution;
using GruServing.Contract.Durations;
using GruServing.Contract.Serving;
using k8s.Models;

namespace GruOperator.Serving;

/// <summary>Images and names the operator fills in where a GruModel leaves them out.</summary>
internal sealed record ServingDefaults(string ServerImage, string ModelFetcherImage, string ManagedBy)
{
    /// <summary>Registries (host[:port]) reached over plain http: the operator's --registry-plain-http, passed on to GruServer.</summary>
    public IReadOnlyList<string> PlainHttpRegistries { get; init; } = [];

    /// <summary>GruServer's memory limit when the spec sets none (--default-memory-limit): no pod is unbounded.</summary>
    public string MemoryLimit { get; init; } = "4Gi";

    /// <summary>sizeLimit of the emptyDirs holding the model and the oci:// cache (--model-volume-size-limit).</summary>
    public string ModelVolumeSizeLimit { get; init; } = "20Gi";

    /// <summary>sizeLimit of the /tmp emptyDir: GruServer writes little there.</summary>
    public const string TmpSizeLimit = "1Gi";

    /// <summary>GruServer's memory request when the spec sets neither a request nor a limit (the limit is then the default one).</summary>
    public const string MemoryRequest = "256Mi";
}

/// <summary>The objects one track of a GruModel consists of.</summary>
internal sealed record ServingWorkload(V1Deployment Deployment, V1Service Service);

/// <summary>
/// Builds the desired Deployments (stable and canary tracks) and the Service of a GruModel: pure, no I/O, so every field can be table-tested.
/// </summary>
internal static class ServingWorkloadBuilder
{
    public const int HttpPort = ServerPorts.Http;
    public const int GrpcPort = ServerPorts.Grpc;
    public const int MetricsPort = ServerPorts.Metrics;
    public const string ServerContainer = "gru-server";
    public const string FetcherContainer = "model-fetcher";
    public const string ModelDirectory = "/models";
    public const string FetchedModelPath = ModelDirectory + "/model.onnx";
    /// <summary>GruServer's --model-cache-dir for oci:// models: an emptyDir, so a container restart reuses the verified file.</summary>
    public const string ModelCacheDirectory = "/var/cache/gru-models";
    /// <summary>Where a dockerconfigjson registry Secret is mounted for GruServer's --registry-config.</summary>
    public const string RegistryConfigDirectory = "/var/run/secrets/gru-registry";
    public const string RegistryConfigPath = RegistryConfigDirectory + "/config.json";
    public const string GpuTaintKey = "nvidia.com/gpu";
    public const string GpuProductLabel = "nvidia.com/gpu.product";
    public const long RunAsUser = 10001;

    /// <summary>
    /// GruServer's --shutdown-delay: after SIGTERM it reports not ready but keeps serving this long, so the endpoints
    /// controller and kube-proxy (or a load balancer) drop the pod before its listener closes and connections are refused.
    /// </summary>
    public static readonly TimeSpan ShutdownDelay = TimeSpan.FromSeconds(5);

    /// <summary>GruServer's --shutdown-timeout (its default, passed explicitly so the grace period below is computed from it).</summary>
    public static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The pod's terminationGracePeriodSeconds: the shutdown delay, or for a Stateful model the sequence drain
    /// (sessions.drainTimeout from the signal; the delay runs inside it), then draining in-flight requests, plus a few
    /// seconds to dispose the ONNX session and exit, so the kubelet's SIGKILL never cuts a graceful shutdown short.
    /// </summary>
    public static long GracePeriodSeconds(ServingSpec serving)
    {
        ArgumentNullException.ThrowIfNull(serving);
        var drain = serving.Sessions is { Mode: SessionMode.Stateful } sessions && GoDuration.TryParse(sessions.DrainTimeout, out var d, out _) ? d : TimeSpan.Zero;
        return (long)Math.Ceiling(((drain > ShutdownDelay ? drain : ShutdownDelay) + ShutdownTimeout).TotalSeconds) + 5;
    }

    public static string DeploymentName(string model, string track) => $"{model}-{track}";

    /// <param name="registrySecret">spec.model.registrySecretRef as read (its form decides how the pods get it); oci:// only.</param>
    public static ServingWorkload BuildStable(GruModel model, ModelSource source, string revision, ServingDefaults defaults, RegistrySecret? registrySecret = null) =>
        new(BuildDeployment(model, source, revision, Tracks.StableLabel, defaults, registrySecret), BuildService(model, defaults));

    /// <summary>
    /// One track's Deployment (stable or canary) serving <paramref name="source"/> at <paramref name="revision"/> with
    /// <paramref name="replicas"/> pods: the rollout decides the split between the tracks, the spec everything else. Both
    /// tracks' pods carry the model label the one Service selects on, so with replicas routing they share its traffic.
    /// </summary>
    /// <param name="registrySecret">spec.model.registrySecretRef as read (its form decides how the pods get it); oci:// only.</param>
    /// <param name="mirror">During a shadow step (stable only): where and how much of its traffic the pods copy.</param>
    public static V1Deployment BuildTrack(GruModel model, ModelSource source, string revision, string track, int replicas, ServingDefaults defaults, RegistrySecret? registrySecret = null, ShadowMirror? mirror = null)
    {
        var deployment = BuildDeployment(model, source, revision, track, defaults, registrySecret);
        deployment.Spec.Replicas = replicas;
        if (mirror is not null)
        {
            var server = deployment.Spec.Template.Spec.Containers.Single(c => c.Name == ServerContainer);
            server.Args = [.. server.Args, .. mirror.Args];
        }

        return deployment;
    }

    public static V1Deployment BuildDeployment(GruModel model, ModelSource source, string revision, string track, ServingDefaults defaults, RegistrySecret? registrySecret = null)
    {
        var name = model.Metadata.Name;
        var serving = model.Spec.Serving ?? new ServingSpec();
        var selector = new Dictionary<string, string> { [Labels.Model] = name, [Labels.Track] = track };
        var labels = CommonLabels(name, defaults);
        labels[Labels.Track] = track;
        labels[Labels.Revision] = revision;

        // One way of fetching each kind: https by the init container, oci:// by GruServer (pinned digest), file:// in the image.
        var fetches = source.Kind == ModelSourceKind.Https;
        var oci = source.Kind == ModelSourceKind.Oci ? OciModel.Of(source, defaults, registrySecret) : null;
        var modelPath = oci?.Reference ?? (fetches ? FetchedModelPath : source.Location);
        var gpu = serving.Gpu is { Count: > 0 } g ? g : null;

        var server = new V1Container
        {
            Name = ServerContainer,
            Image = serving.Image ?? defaults.ServerImage,
            ImagePullPolicy = "IfNotPresent",
            // Set explicitly (the API server would default them) so every apply states the same template: no spurious
            // rollouts. FallbackToLogsOnError puts a crash's last log lines into the pod status, where status reporting reads them.
            TerminationMessagePath = "/dev/termination-log",
            TerminationMessagePolicy = "FallbackToLogsOnError",
            Args = [.. ServerArgs(model, source, modelPath, revision, track, serving), .. oci?.Args ?? []],
            // Informational, outside GruServer's GRU_* namespace so the server never mistakes them for settings.
            Env =
            [
                new V1EnvVar { Name = "MODEL_SOURCE", Value = source.Shown },
                new V1EnvVar { Name = "POD_NAME", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "metadata.name" } } },
                new V1EnvVar { Name = "POD_NAMESPACE", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "metadata.namespace" } } },
                .. oci?.Env ?? [],
            ],
            Ports =
            [
                new V1ContainerPort { ContainerPort = HttpPort, Name = "http", Protocol = "TCP" },
                new V1ContainerPort { ContainerPort = MetricsPort, Name = "metrics", Protocol = "TCP" },
                .. serving.Grpc?.Enabled == true ? [new V1ContainerPort { ContainerPort = GrpcPort, Name = "grpc", Protocol = "TCP" }] : Array.Empty<V1ContainerPort>(),
            ],
            Resources = Resources(serving, gpu, defaults),
            ReadinessProbe = Probe("/v2/health/ready", periodSeconds: 5, failureThreshold: 3),
            LivenessProbe = Probe("/v2/health/live", periodSeconds: 10, failureThreshold: 3),
            // Loading and warming a large model can take minutes; liveness must not kill the pod meanwhile.
            StartupProbe = Probe("/v2/health/ready", periodSeconds: 5, failureThreshold: 120),
            SecurityContext = ContainerSecurity(),
            VolumeMounts =
            [
                new V1VolumeMount { MountPath = ModelDirectory, Name = "model", ReadOnlyProperty = true },
                new V1VolumeMount { MountPath = "/tmp", Name = "tmp" },
                .. oci?.Mounts ?? [],
            ],
        };

        var podSpec = new V1PodSpec
        {
            Containers = [server],
            InitContainers = fetches ? [Fetcher(source, defaults)] : null,
            Volumes =
            [
                new V1Volume { Name = "model", EmptyDir = new V1EmptyDirVolumeSource { SizeLimit = new ResourceQuantity(defaults.ModelVolumeSizeLimit) } },
                new V1Volume { Name = "tmp", EmptyDir = new V1EmptyDirVolumeSource { SizeLimit = new ResourceQuantity(ServingDefaults.TmpSizeLimit) } },
                .. oci?.Volumes ?? [],
            ],
            SecurityContext = new V1PodSecurityContext
            {
                RunAsNonRoot = true,
                RunAsUser = RunAsUser,
                RunAsGroup = RunAsUser,
                FsGroup = RunAsUser,
                SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" },
            },
            NodeSelector = serving.NodeSelector is { Count: > 0 } ns ? new Dictionary<string, string>(ns) : null,
            Tolerations = Tolerations(serving, gpu),
            Affinity = gpu?.Product is { Length: > 0 } product
                ? new V1Affinity
                {
                    NodeAffinity = new V1NodeAffinity
                    {
                        RequiredDuringSchedulingIgnoredDuringExecution = new V1NodeSelector
                        {
                            NodeSelectorTerms =
                            [
                                new V1NodeSelectorTerm
                                {
                                    MatchExpressions = [new V1NodeSelectorRequirement { Key = GpuProductLabel, OperatorProperty = "In", Values = [product] }],
                                },
                            ],
                        },
                    },
                }
                : null,
            RuntimeClassName = string.IsNullOrEmpty(serving.RuntimeClassName) ? null : serving.RuntimeClassName,
            AutomountServiceAccountToken = false,
            EnableServiceLinks = false,
            TerminationGracePeriodSeconds = GracePeriodSeconds(serving),
        };

        return new V1Deployment
        {
            ApiVersion = "apps/v1",
            Kind = "Deployment",
            Metadata = new V1ObjectMeta
            {
                Name = DeploymentName(name, track),
                NamespaceProperty = model.Metadata.NamespaceProperty,
                Labels = labels,
                Annotations = new Dictionary<string, string>
                {
                    [Labels.ModelSourceAnnotation] = source.Shown,
                    [Labels.ModelSha256Annotation] = source.Sha256Hex ?? "",
                },
                OwnerReferences = [OwnerReference(model)],
            },
            Spec = new V1DeploymentSpec
            {
                Replicas = serving.Replicas,
                Selector = new V1LabelSelector { MatchLabels = selector },
                RevisionHistoryLimit = 3,
                Strategy = new V1DeploymentStrategy
                {
                    Type = "RollingUpdate",
                    // Never take a GPU pod away before its replacement is ready: maxUnavailable 0.
                    RollingUpdate = new V1RollingUpdateDeployment { MaxSurge = "25%", MaxUnavailable = 0 },
                },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta
                    {
                        Labels = new Dictionary<string, string>(labels),
                        Annotations = new Dictionary<string, string>
                        {
                            ["prometheus.io/scrape"] = "true",
                            ["prometheus.io/port"] = MetricsPort.ToString(CultureInfo.InvariantCulture),
                            ["prometheus.io/path"] = "/metrics",
                        },
                    },
                    Spec = podSpec,
                },
            },
        };
    }

    /// <param name="stableOnly">A shadow step: the Service selects stable's pods only, so no user reaches the canary.</param>
    public static V1Service BuildService(GruModel model, ServingDefaults defaults, bool stableOnly = false)
    {
        var service = BuildSharedService(model, defaults);
        if (stableOnly)
        {
            service.Spec.Selector[Labels.Track] = Tracks.StableLabel;
        }

        return service;
    }

    private static V1Service BuildSharedService(GruModel model, ServingDefaults defaults)
    {
        var name = model.Metadata.Name;
        var stateful = model.Spec.Serving?.Sessions?.Mode == SessionMode.Stateful;
        var grpc = model.Spec.Serving?.Grpc?.Enabled == true;
        return new V1Service
        {
            ApiVersion = "v1",
            Kind = "Service",
            Metadata = new V1ObjectMeta
            {
                Name = name,
                NamespaceProperty = model.Metadata.NamespaceProperty,
                Labels = CommonLabels(name, defaults),
                OwnerReferences = [OwnerReference(model)],
            },
            Spec = new V1ServiceSpec
            {
                Type = "ClusterIP",
                // Both tracks behind one Service: without a traffic router, traffic follows ready replicas.
                Selector = new Dictionary<string, string> { [Labels.Model] = name },
                Ports =
                [
                    new V1ServicePort { Port = HttpPort, Name = "http", Protocol = "TCP", TargetPort = "http" },
                    new V1ServicePort { Port = MetricsPort, Name = "metrics", Protocol = "TCP", TargetPort = "metrics" },
                    // h2c: gRPC without TLS, so meshes and gateways speak HTTP/2 to it from the first byte.
                    .. grpc ? [new V1ServicePort { Port = GrpcPort, Name = "grpc", Protocol = "TCP", TargetPort = "grpc", AppProtocol = "kubernetes.io/h2c" }] : Array.Empty<V1ServicePort>(),
                ],
                // Stateful sessions keep hidden state in one pod: keep a client on the pod that holds its sessions.
                SessionAffinity = stateful ? "ClientIP" : "None",
            },
        };
    }

    public static V1OwnerReference OwnerReference(GruModel model) => new()
    {
        ApiVersion = GruModel.GroupVersion,
        Kind = GruModel.KindName,
        Name = model.Metadata.Name,
        Uid = model.Metadata.Uid,
        Controller = true,
        BlockOwnerDeletion = true,
    };

    private static Dictionary<string, string> CommonLabels(string name, ServingDefaults defaults) => new()
    {
        [Labels.Name] = "gru-server",
        [Labels.Instance] = name,
        [Labels.ManagedBy] = defaults.ManagedBy,
        [Labels.Model] = name,
    };

    private static List<string> ServerArgs(GruModel model, ModelSource source, string modelPath, string revision, string track, ServingSpec serving)
    {
        // Flag names come from the serving contract GruServer parses with; a contract test feeds these args to its parser.
        var batching = serving.Batching ?? new BatchingSpec();
        var args = new List<string>
        {
            ServerFlags.Model, modelPath,
            ServerFlags.ModelName, model.Spec.Model.Name,
        };
        // For oci:// the reference's manifest digest pins the layer (GruServer verifies both); Sha256Hex is the manifest's
        // digest there, not the file's, so it must not become --model-sha256.
        if (source.Kind != ModelSourceKind.Oci && source.Sha256Hex is { } hex) args.AddRange([ServerFlags.ModelSha256, hex]);
        args.AddRange(
        [
            ServerFlags.Host, "0.0.0.0",
            ServerFlags.Port, HttpPort.ToString(CultureInfo.InvariantCulture),
            ServerFlags.MetricsPort, MetricsPort.ToString(CultureInfo.InvariantCulture),
            ServerFlags.Revision, revision,
            ServerFlags.Track, track,
            ServerFlags.ExecutionProvider, serving.ExecutionProvider.ToString(),
            ServerFlags.MaxSequenceLength, serving.MaxSequenceLength.ToString(CultureInfo.InvariantCulture),
            ServerFlags.MaxRequestBatchSize, serving.MaxRequestBatchSize.ToString(CultureInfo.InvariantCulture),
            // Always written, so the pod spec shows the batcher's settings even when the GruModel takes the defaults.
            ServerFlags.MaxBatchSize, batching.MaxBatchSize.ToString(CultureInfo.InvariantCulture),
            ServerFlags.MaxQueueDelay, batching.MaxQueueDelay,
            ServerFlags.ShutdownDelay, GoDuration.Format(ShutdownDelay),
            ServerFlags.ShutdownTimeout, GoDuration.Format(ShutdownTimeout),
        ]);
        if (serving.Grpc?.Enabled == true)
        {
            args.AddRange([ServerFlags.GrpcPort, GrpcPort.ToString(CultureInfo.InvariantCulture)]);
        }

        if (serving.Sessions is { Mode: SessionMode.Stateful } sessions)
        {
            args.AddRange(
            [
                ServerFlags.SessionsMode, sessions.Mode.ToString(),
                ServerFlags.SessionsIdleTimeout, sessions.IdleTimeout,
                ServerFlags.MaxSessions, sessions.MaxSessions.ToString(CultureInfo.InvariantCulture),
                ServerFlags.SequenceDrainTimeout, sessions.DrainTimeout,
            ]);
        }

        // The latency SLO becomes an exact histogram bound, so analysis counts the requests slower than it (issue 13).
        if (GoDuration.TryParse((model.Spec.Slo ?? new()).LatencyP95, out var latencySlo, out _))
        {
            args.AddRange([ServerFlags.LatencySloBoundaries, LatencyBuckets.Format([latencySlo])]);
        }
        return args;
    }

    /// <summary>
    /// The init container for https:// sources: the gru-model image's entrypoint (no shell) fetches the model into the
    /// shared emptyDir and refuses a file whose sha256 differs (<c>gru-model pull URL --sha256 HEX --output PATH</c>), with
    /// one error line the pod status carries. oci:// models are pulled by GruServer itself (digest-pinned, verified, cached).
    /// </summary>
    private static V1Container Fetcher(ModelSource source, ServingDefaults defaults) => new()
    {
        Name = FetcherContainer,
        Image = defaults.ModelFetcherImage,
        ImagePullPolicy = "IfNotPresent",
        TerminationMessagePath = "/dev/termination-log",
        TerminationMessagePolicy = "FallbackToLogsOnError",
        Args = FetcherArgs(source),
        // .NET keeps its diagnostics socket in /tmp; the root filesystem is read-only.
        VolumeMounts = [new V1VolumeMount { MountPath = ModelDirectory, Name = "model" }, new V1VolumeMount { MountPath = "/tmp", Name = "tmp" }],
        SecurityContext = ContainerSecurity(),
        Resources = new V1ResourceRequirements
        {
            Requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("50m"), ["memory"] = new("64Mi") },
            Limits = new Dictionary<string, ResourceQuantity> { ["memory"] = new("256Mi") },
        },
    };

    /// <summary>gru-model's command line in the model-fetcher init container (https:// sources always carry a sha256).</summary>
    private static List<string> FetcherArgs(ModelSource source) =>
    [
        "pull", source.Uri,
        "--sha256", source.Sha256Hex ?? throw new ArgumentException($"an https:// source needs its sha256 ({source.Uri})", nameof(source)),
        "--output", FetchedModelPath,
    ];

    private static V1ResourceRequirements Resources(ServingSpec serving, GpuSpec? gpu, ServingDefaults defaults)
    {
        var requests = serving.Resources?.Requests is { Count: > 0 } r ? new Dictionary<string, ResourceQuantity>(r) : null;
        var limits = serving.Resources?.Limits is { Count: > 0 } l ? new Dictionary<string, ResourceQuantity>(l) : [];
        // Never unbounded: a pod without a memory limit can take its node's memory. A request above the default limit
        // raises the limit to it, so a spec asking for more memory than the default still validates.
        if (!limits.ContainsKey("memory"))
        {
            var fallback = new ResourceQuantity(defaults.MemoryLimit);
            if (requests?.TryGetValue("memory", out var asked) == true)
            {
                limits["memory"] = asked.ToDecimal() > fallback.ToDecimal() ? asked : fallback;
            }
            else
            {
                // Kubernetes takes a limit without a request as the request: every pod would reserve the whole default
                // limit on its node. A small request keeps scheduling as it was without one.
                limits["memory"] = fallback;
                requests ??= [];
                var request = new ResourceQuantity(ServingDefaults.MemoryRequest);
                requests["memory"] = request.ToDecimal() < fallback.ToDecimal() ? request : fallback;
            }
        }
        if (gpu is not null)
        {
            // Extended resources are requested through limits; the scheduler sets requests equal to them.
            limits[gpu.ResourceName] = new ResourceQuantity(gpu.Count.ToString(CultureInfo.InvariantCulture));
        }
        return new V1ResourceRequirements { Requests = requests, Limits = limits };
    }

    private static List<V1Toleration>? Tolerations(ServingSpec serving, GpuSpec? gpu)
    {
        var tolerations = new List<V1Toleration>();
        if (gpu is not null)
        {
            // GPU nodes are usually tainted nvidia.com/gpu:NoSchedule, whatever the (MIG) resource name.
            tolerations.Add(new V1Toleration { Key = GpuTaintKey, OperatorProperty = "Exists", Effect = "NoSchedule" });
            if (gpu.ResourceName != GpuTaintKey)
            {
                tolerations.Add(new V1Toleration { Key = gpu.ResourceName, OperatorProperty = "Exists", Effect = "NoSchedule" });
            }
        }
        foreach (var t in serving.Tolerations ?? [])
        {
            tolerations.Add(new V1Toleration
            {
                Key = t.Key,
                OperatorProperty = t.Operator.ToString(),
                Value = t.Operator == TolerationOperator.Exists ? null : t.Value,
                Effect = t.Effect?.ToString(),
                TolerationSeconds = t.TolerationSeconds,
            });
        }
        return tolerations.Count == 0 ? null : tolerations;
    }

    private static V1Probe Probe(string path, int periodSeconds, int failureThreshold) => new()
    {
        HttpGet = new V1HTTPGetAction { Path = path, Port = "http", Scheme = "HTTP" },
        PeriodSeconds = periodSeconds,
        FailureThreshold = failureThreshold,
        TimeoutSeconds = 2,
    };

    private static V1SecurityContext ContainerSecurity() => new()
    {
        RunAsNonRoot = true,
        ReadOnlyRootFilesystem = true,
        AllowPrivilegeEscalation = false,
        Capabilities = new V1Capabilities { Drop = ["ALL"] },
    };
}

/// <summary>Shadow traffic a stable Deployment's pods send (GruServer's --mirror-* flags): the canary's address and the share.</summary>
/// <param name="Target">The canary track Service, as http://ClusterIP:8080 (no DNS needed on the node).</param>
/// <param name="Sample">canary.mirrorSample.</param>
internal sealed record ShadowMirror(Uri Target, double Sample)
{
    /// <summary>The flags GruServer reads, from the serving contract.</summary>
    public IReadOnlyList<string> Args =>
    [
        ServerFlags.MirrorUrl, Target.GetLeftPart(UriPartial.Authority),
        ServerFlags.MirrorSample, Sample.ToString("R", CultureInfo.InvariantCulture),
    ];
}

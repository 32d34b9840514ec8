using System.ComponentModel.DataAnnotations;
using ControllerRuntime.Leadership;

namespace GruOperator.Hosting;

/// <summary>The operator's configuration, bound from flags (--workers 8) and environment (GRU_OPERATOR_WORKERS=8).</summary>
/// <remarks>Defaults, flags, variables and help text live in one table, <see cref="OperatorSettings"/>.</remarks>
internal sealed class OperatorOptions
{
    /// <summary>The Lease the operator's replicas elect a leader on (ControllerRuntime names no lease of its own).</summary>
    public const string DefaultLeaseName = "gru-operator-leader";

    /// <summary>The namespace of that Lease when none is given (in a pod, config/manager passes the pod's own).</summary>
    public const string DefaultLeaseNamespace = "gru-system";

    /// <summary>Comma-separated namespaces to watch; empty watches all namespaces.</summary>
    public string Namespaces { get; set; } = "";

    /// <summary>Concurrent reconciles.</summary>
    [Range(1, 256)]
    public int Workers { get; set; }

    /// <summary>GruServer image for models that set no spec.serving.image.</summary>
    [Required]
    public string DefaultServerImage { get; set; } = "";

    /// <summary>Image of the model-fetcher init container: gru-model as its entrypoint (the gru-model image).</summary>
    [Required]
    public string ModelFetcherImage { get; set; } = "";

    /// <summary>Registries (host[:port], comma-separated) reached over plain http, by the operator and by GruServer pods.</summary>
    public string RegistryPlainHttp { get; set; } = "";

    /// <summary>PEM file of CA certificates the operator trusts for registries with a private CA.</summary>
    public string? RegistryCaFile { get; set; }

    /// <summary>Prometheus for models that set no spec.prometheus.address.</summary>
    [Url]
    public string DefaultPrometheusAddress { get; set; } = "";

    /// <summary>Image prefixes spec.serving.image must start with (comma-separated); empty allows any image.</summary>
    public string AllowedImagePrefixes { get; set; } = "";

    /// <summary>Whether a registrySecretRef Secret must carry serving.gru.dev/registry-secret=true to be used.</summary>
    public bool RequireRegistrySecretLabel { get; set; } = true;

    /// <summary>Memory limit of the GruServer container when spec.serving.resources.limits.memory is not set.</summary>
    public string DefaultMemoryLimit { get; set; } = "";

    /// <summary>sizeLimit of the emptyDir volumes holding the model file and the oci:// model cache.</summary>
    public string ModelVolumeSizeLimit { get; set; } = "";

    /// <summary>
    /// Whether served models are verified through the pods' IPs. Off: no ModelVerified condition, and the promotion gate
    /// is open and says the served models are not checked (for clusters whose NetworkPolicy keeps the operator out).
    /// </summary>
    public bool VerifyServedModels { get; set; } = true;

    /// <summary>Port of the operator's own /metrics (0: off).</summary>
    [Range(0, 65535)]
    public int MetricsPort { get; set; }

    /// <summary>Port of /healthz and /readyz (0: any free port, for tests).</summary>
    [Range(0, 65535)]
    public int HealthPort { get; set; }

    /// <summary>Address the health and metrics endpoints bind to.</summary>
    [Required]
    public string BindAddress { get; set; } = "";

    /// <summary>Field manager of every write: server-side apply, status, finalizer patches.</summary>
    [Required]
    public string FieldManager { get; set; } = "";

    /// <summary>Every model is reconciled again after this long, even with no change.</summary>
    public TimeSpan ResyncPeriod { get; set; }

    /// <summary>Path of a kubeconfig file; empty uses in-cluster config or ~/.kube/config.</summary>
    public string? Kubeconfig { get; set; }

    /// <summary>Kubeconfig context to use; empty uses the current one.</summary>
    public string? Context { get; set; }

    /// <summary>Leader election.</summary>
    public LeaderElectionOptions LeaderElection { get; set; } = new();

    /// <summary>The prefixes of <see cref="AllowedImagePrefixes"/>.</summary>
    public IReadOnlyList<string> ImagePrefixes() =>
        AllowedImagePrefixes.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>The registries of <see cref="RegistryPlainHttp"/>.</summary>
    public IReadOnlyList<string> PlainHttpRegistries() =>
        RegistryPlainHttp.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct(StringComparer.OrdinalIgnoreCase).ToList();

    /// <summary>The namespaces to watch, or a single null meaning all.</summary>
    public IReadOnlyList<string?> WatchedNamespaces()
    {
        var names = Namespaces.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToList();
        return names.Count == 0 ? [null] : names.Cast<string?>().ToList();
    }
}

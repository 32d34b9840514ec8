using System.Globalization;
using GruServing.Contract.Durations;
using Microsoft.Extensions.Configuration;

namespace GruOperator.Hosting;

/// <summary>What kind of value a setting takes, so a bad one is refused with the form it should have.</summary>
internal enum SettingKind
{
    Text,
    Integer,
    Boolean,
    Duration,
    Url,
    Quantity,
}

/// <summary>One operator setting: its flag, its configuration key, its GRU_OPERATOR_* variable and its help text.</summary>
internal sealed record OperatorSetting(string Flag, string Key, SettingKind Kind, string Description, string? Default, int Min = 0, int Max = int.MaxValue)
{
    /// <summary>The environment variable, e.g. <c>GRU_OPERATOR_LEADERELECTION__ENABLED</c> for key <c>LeaderElection:Enabled</c>.</summary>
    public string EnvironmentVariable => OperatorSettings.EnvironmentPrefix + Key.Replace(":", "__", StringComparison.Ordinal).ToUpperInvariant();

    /// <summary>How errors name the setting, so the user knows both ways to fix it.</summary>
    public string DisplayName => $"{Flag} ({EnvironmentVariable})";

    /// <summary>The problem with <paramref name="value"/>, or null when it is acceptable.</summary>
    public string? Check(string value) => Kind switch
    {
        SettingKind.Integer when !int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) || n < Min || n > Max =>
            $"{DisplayName}: '{value}' must be a whole number from {Min} to {Max}.",
        SettingKind.Boolean when !bool.TryParse(value, out _) =>
            $"{DisplayName}: '{value}' must be true or false.",
        SettingKind.Duration when ParseDuration(value) is not { } d || d <= TimeSpan.Zero =>
            $"{DisplayName}: '{value}' must be a positive duration such as {GoDuration.Examples}.",
        SettingKind.Url when !Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") =>
            $"{DisplayName}: '{value}' must be an http(s) URL, e.g. http://prometheus.monitoring.svc:9090.",
        SettingKind.Quantity when !IsQuantity(value) =>
            $"{DisplayName}: '{value}' must be a Kubernetes quantity such as 4Gi or 512Mi.",
        SettingKind.Text when Default is not null && string.IsNullOrWhiteSpace(value) =>
            $"{DisplayName} must not be empty (default {Default}).",
        _ => null,
    };

    /// <summary>
    /// A duration in the product's one grammar (<see cref="GoDuration"/>: "15s", "10m", as the CRD and GruServer take
    /// them), or in .NET's hh:mm:ss, still taken so that configurations written for earlier versions keep working.
    /// </summary>
    public static TimeSpan? ParseDuration(string value) =>
        GoDuration.TryParse(value, out var go, out _) ? go
        : value.Contains(':', StringComparison.Ordinal) && TimeSpan.TryParse(value, CultureInfo.InvariantCulture, out var legacy) ? legacy
        : null;

    private static bool IsQuantity(string value)
    {
        try
        {
            return new k8s.Models.ResourceQuantity(value).ToDecimal() > 0;
        }
        catch (Exception e) when (e is FormatException or ArgumentException or OverflowException)
        {
            return false;
        }
    }
}

/// <summary>Every setting the operator reads: one table for the command line, the environment, --help and validation.</summary>
internal static class OperatorSettings
{
    public const string EnvironmentPrefix = "GRU_OPERATOR_";

    public static IReadOnlyList<OperatorSetting> All { get; } =
    [
        new("--namespaces", nameof(OperatorOptions.Namespaces), SettingKind.Text, "Comma-separated namespaces to watch; empty watches all.", null),
        new("--workers", nameof(OperatorOptions.Workers), SettingKind.Integer, "Concurrent reconciles (never two for one GruModel).", "4", 1, 256),
        new("--server-image", nameof(OperatorOptions.DefaultServerImage), SettingKind.Text, "GruServer image for models that set no spec.serving.image.", BuiltImages.Server),
        new("--model-fetcher-image", nameof(OperatorOptions.ModelFetcherImage), SettingKind.Text, "Image of the model-fetcher init container, which runs gru-model pull for https:// sources (its entrypoint).", BuiltImages.ModelFetcher),
        new("--prometheus-address", nameof(OperatorOptions.DefaultPrometheusAddress), SettingKind.Url, "Prometheus for models that set no spec.prometheus.address.", "http://prometheus.monitoring.svc:9090"),
        new("--prometheus-allowed-addresses", "Prometheus:AllowedAddresses", SettingKind.Text, "Prometheus URLs (comma-separated) besides --prometheus-address that spec.prometheus.address may name; the operator's Prometheus credentials go nowhere else.", null),
        new("--allowed-image-prefixes", nameof(OperatorOptions.AllowedImagePrefixes), SettingKind.Text, "Prefixes (comma-separated, e.g. ghcr.io/acme/) spec.serving.image must start with; empty allows any image.", null),
        new("--require-registry-secret-label", nameof(OperatorOptions.RequireRegistrySecretLabel), SettingKind.Boolean, "Use a registrySecretRef Secret only when it is labelled serving.gru.dev/registry-secret=true.", "true"),
        new("--default-memory-limit", nameof(OperatorOptions.DefaultMemoryLimit), SettingKind.Quantity, "Memory limit of GruServer containers whose GruModel sets no spec.serving.resources.limits.memory.", "4Gi"),
        new("--model-volume-size-limit", nameof(OperatorOptions.ModelVolumeSizeLimit), SettingKind.Quantity, "sizeLimit of the emptyDir volumes holding the model file and the oci:// model cache.", "20Gi"),
        new("--verify-served-models", nameof(OperatorOptions.VerifyServedModels), SettingKind.Boolean, "Ask every ready pod which model digest it serves (ModelVerified, the canary's promotion gate); false only where the operator cannot reach pod IPs.", "true"),
        new("--registry-plain-http", nameof(OperatorOptions.RegistryPlainHttp), SettingKind.Text, "Registries (host:port, comma-separated) reached over plain http, by the operator and by GruServer pods: local or trusted networks only.", null),
        new("--registry-ca-file", nameof(OperatorOptions.RegistryCaFile), SettingKind.Text, "PEM file of CA certificates the operator trusts for registries with a private CA.", null),
        new("--metrics-port", nameof(OperatorOptions.MetricsPort), SettingKind.Integer, "Port of the operator's /metrics (0: off).", "8080", 0, 65535),
        new("--health-port", nameof(OperatorOptions.HealthPort), SettingKind.Integer, "Port of /healthz and /readyz (0: any free port).", "8081", 0, 65535),
        new("--bind-address", nameof(OperatorOptions.BindAddress), SettingKind.Text, "Address the health and metrics endpoints listen on.", "0.0.0.0"),
        new("--field-manager", nameof(OperatorOptions.FieldManager), SettingKind.Text, "Field manager of every write (server-side apply, status, finalizers).", "gru-operator"),
        new("--resync-period", nameof(OperatorOptions.ResyncPeriod), SettingKind.Duration, "Every model is reconciled again after this long, even with no change.", "10m"),
        new("--kubeconfig", nameof(OperatorOptions.Kubeconfig), SettingKind.Text, "Kubeconfig file; default $KUBECONFIG, in-cluster, then ~/.kube/config.", null),
        new("--context", nameof(OperatorOptions.Context), SettingKind.Text, "Kubeconfig context; default the current one.", null),
        new("--leader-elect", "LeaderElection:Enabled", SettingKind.Boolean, "Lease-based leader election, so only one replica acts.", "true"),
        new("--lease-name", "LeaderElection:LeaseName", SettingKind.Text, "Name of the leader election Lease.", OperatorOptions.DefaultLeaseName),
        new("--lease-namespace", "LeaderElection:LeaseNamespace", SettingKind.Text, "Namespace of the leader election Lease (in a pod: its own).", OperatorOptions.DefaultLeaseNamespace),
        new("--lease-duration", "LeaderElection:LeaseDuration", SettingKind.Duration, "How long a lease is valid without renewal.", "15s"),
        new("--identity", "LeaderElection:Identity", SettingKind.Text, "This replica's identity in the Lease; default host name plus a random suffix.", null),
    ];

    // Keys set through configuration only (no flag), still checked so an environment typo in a value is refused.
    private static readonly OperatorSetting[] ConfigurationOnly =
    [
        new("--lease-renew-deadline", "LeaderElection:RenewDeadline", SettingKind.Duration, "", "10s"),
        new("--lease-retry-period", "LeaderElection:RetryPeriod", SettingKind.Duration, "", "2s"),
    ];

    /// <summary>Every setting's default as a configuration entry: the lowest-precedence configuration source.</summary>
    public static IEnumerable<KeyValuePair<string, string?>> Defaults =>
        All.Concat(ConfigurationOnly).Where(s => s.Default is not null).Select(s => new KeyValuePair<string, string?>(s.Key, s.Default));

    /// <summary>
    /// The duration settings of <paramref name="configuration"/> rewritten in the form the options binder reads
    /// (TimeSpan's "c" format), to be added as the last configuration source once <see cref="Validate"/> passed.
    /// </summary>
    public static IEnumerable<KeyValuePair<string, string?>> DurationsForBinding(IConfiguration configuration) =>
        All.Concat(ConfigurationOnly)
            .Where(s => s.Kind == SettingKind.Duration)
            .Select(s => (s.Key, Value: configuration[s.Key] is { } text ? OperatorSetting.ParseDuration(text.Trim()) : null))
            .Where(d => d.Value is not null)
            .Select(d => new KeyValuePair<string, string?>(d.Key, d.Value!.Value.ToString("c", CultureInfo.InvariantCulture)));

    /// <summary>Every problem with the values in <paramref name="configuration"/>, each naming the flag, the variable and the fix.</summary>
    public static IReadOnlyList<string> Validate(IConfiguration configuration)
    {
        var errors = new List<string>();
        foreach (var setting in All)
        {
            if (configuration[setting.Key] is { } value && setting.Check(value.Trim()) is { } error) errors.Add(error);
        }
        foreach (var setting in ConfigurationOnly)
        {
            if (configuration[setting.Key] is { } value && setting.Check(value.Trim()) is { } error)
            {
                errors.Add(error.Replace(setting.DisplayName, setting.EnvironmentVariable, StringComparison.Ordinal));
            }
        }
        return errors;
    }
}

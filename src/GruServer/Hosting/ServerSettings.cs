namespace GruServer.Hosting;

/// <summary>One configuration setting: its command-line flag, its GRU_* environment variable and its help text.</summary>
internal sealed record ServerSetting(string Key, string Description, string? Default)
{
    /// <summary>The flag, e.g. <c>--model-name</c> for key <c>MODEL_NAME</c>.</summary>
    public string Flag => "--" + Key.ToLowerInvariant().Replace('_', '-');

    /// <summary>The environment variable, e.g. <c>GRU_MODEL_NAME</c>.</summary>
    public string EnvironmentVariable => ServerSettings.EnvironmentPrefix + Key;

    /// <summary>How error messages name the setting, so the user knows both ways to fix it.</summary>
    public string DisplayName => $"{Flag} ({EnvironmentVariable})";
}

/// <summary>The settings GruServer reads; the operator relies on these flag and variable names.</summary>
internal static class ServerSettings
{
    public const string EnvironmentPrefix = "GRU_";

    public static readonly ServerSetting Model = new("MODEL", "Path of the ONNX model file to serve.", null);
    public static readonly ServerSetting ModelName = new("MODEL_NAME", "Name the model is served under on /v2/models/{name}; default: the file name without extension.", null);
    public static readonly ServerSetting ModelSha256 = new("MODEL_SHA256", "Expected sha256 of the model file (hex, with or without 'sha256:'); on mismatch the model is never served.", null);
    public static readonly ServerSetting Host = new("HOST", "Address the inference endpoint listens on (an IP address or localhost).", "0.0.0.0");
    public static readonly ServerSetting Port = new("PORT", "Port of the Open Inference Protocol (v2) HTTP endpoint.", "8080");
    public static readonly ServerSetting MetricsPort = new("METRICS_PORT", "Port of the Prometheus /metrics endpoint (same address as --host).", "9464");
    public static readonly ServerSetting Revision = new("REVISION", "Revision label on every metric and in model metadata.", "0");
    public static readonly ServerSetting Track = new("TRACK", "Track label on every metric and in model metadata: stable or canary.", "stable");
    public static readonly ServerSetting ExecutionProvider = new("EXECUTION_PROVIDER", "Auto (CUDA when available, else CPU), CUDA (fail when unavailable) or CPU.", "Auto");
    public static readonly ServerSetting MaxSequenceLength = new("MAX_SEQUENCE_LENGTH", "Largest time axis (dimension 1 of a rank-3 input) a request may carry.", "4096");
    public static readonly ServerSetting MaxBatchSize = new("MAX_BATCH_SIZE", "Largest batch (dimension 0) a request may carry.", "64");
    public static readonly ServerSetting MaxRequestBytes = new("MAX_REQUEST_BYTES", "Largest request body accepted, in bytes.", "16777216");
    public static readonly ServerSetting FaultLatency = new("FAULT_LATENCY", "Fault injection: extra latency added to every infer request, e.g. 150ms or 2s. Off by default.", "0ms");
    public static readonly ServerSetting FaultErrorRate = new("FAULT_ERROR_RATE", "Fault injection: fraction (0..1) of infer requests answered 500. Off by default.", "0");
    public static readonly ServerSetting ShutdownDelay = new("SHUTDOWN_DELAY", "On SIGTERM, keep serving (while reporting not ready) this long before closing the listener, so load balancers stop routing first, e.g. 5s.", "0s");
    public static readonly ServerSetting ShutdownTimeout = new("SHUTDOWN_TIMEOUT", "How long SIGTERM waits for in-flight requests before exiting, e.g. 30s.", "30s");

    public static IReadOnlyList<ServerSetting> All { get; } =
    [
        Model, ModelName, ModelSha256, Host, Port, MetricsPort, Revision, Track, ExecutionProvider,
        MaxSequenceLength, MaxBatchSize, MaxRequestBytes, FaultLatency, FaultErrorRate, ShutdownDelay, ShutdownTimeout,
    ];
}

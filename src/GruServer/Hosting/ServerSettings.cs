using System.Globalization;
using GruServing.Contract.Durations;
using GruServing.Contract.Models;
using GruServing.Contract.Serving;

namespace GruServer.Hosting;

/// <summary>One configuration setting: its command-line flag, its GRU_* environment variable and its help text.</summary>
internal sealed record ServerSetting(string Flag, string Description, string? Default)
{
    /// <summary>The configuration key, e.g. <c>MODEL_NAME</c> for flag <c>--model-name</c>.</summary>
    public string Key => Flag.TrimStart('-').Replace('-', '_').ToUpperInvariant();

    /// <summary>The environment variable, e.g. <c>GRU_MODEL_NAME</c>.</summary>
    public string EnvironmentVariable => ServerSettings.EnvironmentPrefix + Key;

    /// <summary>How error messages name the setting, so the user knows both ways to fix it.</summary>
    public string DisplayName => $"{Flag} ({EnvironmentVariable})";
}

/// <summary>The settings GruServer reads. Flag names, grammars and defaults come from the serving contract the
/// operator writes its args with.</summary>
internal static class ServerSettings
{
    public const string EnvironmentPrefix = "GRU_";

    public static readonly ServerSetting Model = new(ServerFlags.Model, "The ONNX model to serve: a file path, or oci://host[:port]/repo@sha256:<manifest digest> to pull it from a registry (tags are refused: pin a digest).", null);
    public static readonly ServerSetting ModelName = new(ServerFlags.ModelName, "Name the model is served under on /v2/models/{name}; default: the file name without extension.", null);
    public static readonly ServerSetting ModelSha256 = new(ServerFlags.ModelSha256, $"Expected sha256 of the model file: {ModelDigest.Expected}; on mismatch the model is never served.", null);
    public static readonly ServerSetting ModelCacheDir = new(ServerFlags.ModelCacheDir, "Directory where an oci:// model is cached by layer digest; a cached file is re-verified at start, never downloaded twice.", Path.Combine(Path.GetTempPath(), "gru-model-cache"));
    public static readonly ServerSetting RegistryUsername = new(ServerFlags.RegistryUsername, "Username for the oci:// model's registry (basic or bearer-token auth); needs --registry-password.", null);
    public static readonly ServerSetting RegistryPassword = new(ServerFlags.RegistryPassword, "Password or token for --registry-username; prefer the environment variable.", null);
    public static readonly ServerSetting RegistryHost = new(ServerFlags.RegistryHost, "The registry (host[:port]) --registry-username and --registry-password are for; required with them. A model on any other registry is refused, so the password never goes elsewhere.", null);
    public static readonly ServerSetting RegistryConfig = new(ServerFlags.RegistryConfig, "Path of a Docker config.json (e.g. a mounted dockerconfigjson Secret) with the registry's credentials.", null);
    public static readonly ServerSetting RegistryCaFile = new(ServerFlags.RegistryCaFile, "PEM file of CA certificates to trust for a registry with a private CA.", null);
    public static readonly ServerSetting RegistryPlainHttp = new(ServerFlags.RegistryPlainHttp, "Registries (host[:port], comma-separated) reached over plain http instead of https: local or trusted networks only.", null);
    public static readonly ServerSetting Host = new(ServerFlags.Host, "Address the inference endpoint listens on (an IP address or localhost).", "0.0.0.0");
    public static readonly ServerSetting Port = new(ServerFlags.Port, "Port of the Open Inference Protocol (v2) HTTP endpoint.", $"{ServerPorts.Http}");
    public static readonly ServerSetting GrpcPort = new(ServerFlags.GrpcPort, "Port of the Open Inference Protocol (v2) gRPC endpoint, inference.GRPCInferenceService over HTTP/2 without TLS (same address as --host); off unless given.", null);
    public static readonly ServerSetting MetricsPort = new(ServerFlags.MetricsPort, "Port of the Prometheus /metrics endpoint (same address as --host).", $"{ServerPorts.Metrics}");
    public static readonly ServerSetting Revision = new(ServerFlags.Revision, "Revision label on every metric and in model metadata.", "0");
    public static readonly ServerSetting Track = new(ServerFlags.Track, $"Track label on every metric and in model metadata: {Tracks.Choices}.", Tracks.StableLabel);
    public static readonly ServerSetting ExecutionProvider = new(ServerFlags.ExecutionProvider, "Auto (CUDA when available, else CPU), CUDA (fail when unavailable) or CPU.", nameof(GruServing.Contract.Serving.ExecutionProvider.Auto));
    public static readonly ServerSetting MaxSequenceLength = new(ServerFlags.MaxSequenceLength, "Largest time axis (as read from the model) one request may carry.", Invariant(ServingLimits.MaxSequenceLength));
    public static readonly ServerSetting MaxRequestBatchSize = new(ServerFlags.MaxRequestBatchSize, "Largest batch (the batch axis read from the model) one request may carry; larger requests get 400. Not the dynamic batcher's maximum.", Invariant(ServingLimits.MaxRequestBatchSize));
    public static readonly ServerSetting MaxBatchSize = new(ServerFlags.MaxBatchSize, "Dynamic batching: most sequences concurrent requests are gathered into for one model run; 1 turns batching off. A larger single request runs as its own batch.", Invariant(ServingLimits.MaxBatchSize));
    public static readonly ServerSetting MaxQueueDelay = new(ServerFlags.MaxQueueDelay, $"Dynamic batching: longest a queued request waits for its batch to fill, a duration like {GoDuration.Examples} (at most 10s); 0ms batches only what is already queued.", ServingLimits.MaxQueueDelay);
    public static readonly ServerSetting MaxQueueSize = new(ServerFlags.MaxQueueSize, "Dynamic batching: most requests waiting for a model run; beyond it requests get 503 with Retry-After at once.", Invariant(ServingLimits.MaxQueueSize));
    public static readonly ServerSetting SessionsMode = new(ServerFlags.SessionsMode, $"Stateless (each request carries whole sequences) or Stateful (the server keeps each sequence's GRU hidden state between requests, by the {Sequences.SequenceParameters.Id}/{Sequences.SequenceParameters.Start}/{Sequences.SequenceParameters.End} request parameters; the model must expose its GRUs' initial_h inputs and Y_h outputs).", nameof(SessionMode.Stateless));
    public static readonly ServerSetting SessionsIdleTimeout = new(ServerFlags.SessionsIdleTimeout, $"Stateful: a sequence idle this long is dropped, a duration like {GoDuration.Examples}.", ServingLimits.SessionIdleTimeout);
    public static readonly ServerSetting MaxSessions = new(ServerFlags.MaxSessions, "Stateful: most live sequences; a new sequence beyond it is refused (429) until one ends or expires.", Invariant(ServingLimits.MaxSessions));
    public static readonly ServerSetting TensorAxes = new(ServerFlags.TensorAxes, "Batch and time axes of tensors the model cannot tell (the server traces each input to the GRU node it feeds and reads its layout, then dimension names; outputs by probe runs): name=axes, one letter per dimension, b batch, t time, any other letter a feature, comma-separated, e.g. X=tbf,Y=tbf.", null);
    public static readonly ServerSetting IntraOpThreads = new(ServerFlags.IntraOpThreads, "ONNX Runtime intra-op threads for the model; 0 uses one per core (ONNX Runtime's default). Idle threads never spin, so they leave the cores to request handling between runs.", "0");
    public static readonly ServerSetting MaxRequestBytes = new(ServerFlags.MaxRequestBytes, "Largest request body accepted, in bytes.", "16777216");
    public static readonly ServerSetting MaxRequestBytesInFlight = new(ServerFlags.MaxRequestBytesInFlight, "Most request-body bytes admitted at once across all requests (each counts its Content-Length, or --max-request-bytes when chunked); a request beyond it gets 503 with Retry-After at once, so slow or many bodies cannot exhaust memory.", "134217728");
    public static readonly ServerSetting RequestBodyTimeout = new(ServerFlags.RequestBodyTimeout, $"Longest a request body may take to arrive, a duration like {GoDuration.Examples}; a slower (trickled) body has its connection closed.", "30s");
    public static readonly ServerSetting MaxConnections = new(ServerFlags.MaxConnections, "Most open client connections on the inference and gRPC ports; further connections are refused until one closes.", "1024");
    public static readonly ServerSetting FaultLatency = new(ServerFlags.FaultLatency, $"Fault injection: extra latency added to every infer request, a duration like {GoDuration.Examples}. Off by default.", "0ms");
    public static readonly ServerSetting FaultErrorRate = new(ServerFlags.FaultErrorRate, "Fault injection: fraction (0..1) of infer requests answered 500. Off by default.", "0");
    public static readonly ServerSetting LatencySloBoundaries = new(ServerFlags.LatencySloBoundaries, "SLO latency thresholds (comma-separated durations such as 200ms,1s) added as exact bounds of the gru_request_duration_seconds histogram, so canary analysis counts the requests slower than each; the operator sets it from spec.slo.latencyP95.", null);
    public static readonly ServerSetting MirrorUrl = new(ServerFlags.MirrorUrl, "Shadow traffic: base URL (http://host:port) of a canary GruServer; after answering the client, sampled infer requests are copied there (header x-gru-mirror: 1) and its outputs compared with this server's (gru_mirror_* metrics). Off unless given.", null);
    public static readonly ServerSetting MirrorSample = new(ServerFlags.MirrorSample, "Shadow traffic: fraction (0..1] of infer requests copied to --mirror-url; Stateful sequences are sampled whole by sequence id.", "0.1");
    public static readonly ServerSetting MirrorMaxConcurrency = new(ServerFlags.MirrorMaxConcurrency, "Shadow traffic: most copies in flight to --mirror-url at once (each with a small queue; a copy that finds its queue full is dropped and counted).", "4");
    public static readonly ServerSetting MirrorMaxRate = new(ServerFlags.MirrorMaxRate, "Shadow traffic: most copies (new sequences, for Stateful) started per second; beyond it they are dropped and counted.", "100");
    public static readonly ServerSetting ShutdownDelay = new(ServerFlags.ShutdownDelay, "On SIGTERM, keep serving (while reporting not ready) this long before closing the listener, so load balancers stop routing first, e.g. 5s.", "0s");
    public static readonly ServerSetting SequenceDrainTimeout = new(ServerFlags.SequenceDrainTimeout, $"Stateful: on SIGTERM, refuse new sequences (503) but keep serving live ones, each answer handing the client its state, until they end or idle out, at most this long, e.g. {ServingLimits.SequenceDrainTimeout}.", ServingLimits.SequenceDrainTimeout);
    public static readonly ServerSetting ShutdownTimeout = new(ServerFlags.ShutdownTimeout, "How long SIGTERM waits for in-flight requests before exiting, e.g. 30s.", "30s");

    public static IReadOnlyList<ServerSetting> All { get; } =
    [
        Model, ModelName, ModelSha256, ModelCacheDir, RegistryUsername, RegistryPassword, RegistryHost, RegistryConfig, RegistryCaFile, RegistryPlainHttp, Host, Port, GrpcPort, MetricsPort, Revision, Track, ExecutionProvider,
        MaxSequenceLength, MaxRequestBatchSize, MaxBatchSize, MaxQueueDelay, MaxQueueSize, SessionsMode, SessionsIdleTimeout, MaxSessions, TensorAxes, IntraOpThreads, MaxRequestBytes, MaxRequestBytesInFlight, RequestBodyTimeout, MaxConnections, FaultLatency, FaultErrorRate, LatencySloBoundaries, MirrorUrl, MirrorSample, MirrorMaxConcurrency, MirrorMaxRate, ShutdownDelay, SequenceDrainTimeout, ShutdownTimeout,
    ];

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
